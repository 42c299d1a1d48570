"""The compiled (numba, ``cache=True``) kernels of the 1D engine; imported on first use by
``linregions._kernels_line`` so that ``import linregions`` does not load numba."""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _rowwise_matmul(A, WT, b):  # pragma: no cover - compiled
    """A @ WT + b, each row on its own: b, then a_k w_k added for k in order (zeros skipped).
    Rows are processed four at a time (sharing the loads of WT) without changing any row's order
    of operations."""
    return _rowwise_matmul2(A, WT, b, A.shape[0])


@njit(cache=True, nogil=True)
def _rowwise_matmul2(A, WT, b, P):  # pragma: no cover - compiled
    """``_rowwise_matmul`` with b added to the first P rows only (0 to the others): values and
    tangents of one segment in one call, each row still computed on its own."""
    return _rowwise_tol(A, WT, b, P, np.empty(0))[0]


@njit(cache=True, nogil=True)
def _rowwise_tol(A, WT, b, P, amax):  # pragma: no cover - compiled
    """``_rowwise_matmul2``, and unless ``amax`` is empty the rounding scale of the product's result in
    the same pass over WT: |b| + amax |WT| (|b| first, then amax_k |w_k| added for k in order,
    zeros skipped: ``_tolerances``'s sum exactly)."""
    M, K = A.shape
    N = WT.shape[1]
    out = np.empty((M, N))
    for i in range(M):
        for j in range(N):
            out[i, j] = b[j] if i < P else 0.0
    with_tol = amax.size > 0
    tolb = np.empty(N if with_tol else 0)
    for j in range(tolb.size):
        tolb[j] = abs(b[j])
    pending = with_tol  # the scale is added in the first pass over WT
    i0 = 0
    while i0 < M:  # rows i0..i0+3 (rows past M read as zeros: never written)
        i1, i2, i3 = min(i0 + 1, M - 1), min(i0 + 2, M - 1), min(i0 + 3, M - 1)
        r0, r1, r2, r3 = out[i0], out[i1], out[i2], out[i3]
        A0, A1, A2, A3 = A[i0], A[i1], A[i2], A[i3]
        m1, m2, m3 = i0 + 1 < M, i0 + 2 < M, i0 + 3 < M
        for k in range(K):
            w = WT[k]
            a0 = A0[k]
            a1 = A1[k] if m1 else 0.0
            a2 = A2[k] if m2 else 0.0
            a3 = A3[k] if m3 else 0.0
            if a0 != 0.0:
                for j in range(N):
                    r0[j] += a0 * w[j]
            if a1 != 0.0:
                for j in range(N):
                    r1[j] += a1 * w[j]
            if a2 != 0.0:
                for j in range(N):
                    r2[j] += a2 * w[j]
            if a3 != 0.0:
                for j in range(N):
                    r3[j] += a3 * w[j]
            if pending and amax[k] != 0.0:
                a = amax[k]
                for j in range(N):
                    tolb[j] += a * abs(w[j])
        pending = False
        i0 += 4
    if pending:
        for k in range(K):
            a = amax[k]
            if a != 0.0:
                w = WT[k]
                for j in range(N):
                    tolb[j] += a * abs(w[j])
    return out, tolb


@njit(cache=True, nogil=True)
def segment_ends(X0, X1):  # pragma: no cover - compiled
    """One pass over segment ends (S, n): the largest |x| (NaN if some end is NaN) and the first
    segment with x0 == x1 (-1: none), for ``line.core._check_segments``."""
    big = 0.0
    nan = False
    for i in range(X0.shape[0]):
        for k in range(X0.shape[1]):
            a, b = abs(X0[i, k]), abs(X1[i, k])
            big = max(big, max(a, b))
            nan |= (a != a) | (b != b)
    if nan:
        big = np.nan
    for i in range(X0.shape[0]):
        same = True
        for k in range(X0.shape[1]):
            if X0[i, k] != X1[i, k]:
                same = False
                break
        if same:
            return big, i
    return big, -1


@njit(cache=True, nogil=True)
def _first_layer(x0, x1, WT, b, amax):  # pragma: no cover - compiled
    """``_rowwise_tol`` of the rows [x0; x1; x1 - x0] (b on the first two) with the scale
    ``amax``: the first layer's values at a segment's ends, its tangent and rounding scale in one
    pass over W_0, the same float operations. Where the three rows and ``amax`` are all non-zero at
    input k (dense inputs), the four updates share one loop over the units."""
    K, N = WT.shape
    out = np.empty((3, N))
    tolb = np.empty(N)
    for j in range(N):
        out[0, j] = b[j]
        out[1, j] = b[j]
        out[2, j] = 0.0
        tolb[j] = abs(b[j])
    r0, r1, r2 = out[0], out[1], out[2]
    for k in range(K):
        w = WT[k]
        a0, a1, at = x0[k], x1[k], amax[k]
        a2 = a1 - a0
        if a0 != 0.0 and a1 != 0.0 and a2 != 0.0 and at != 0.0:
            for j in range(N):
                wj = w[j]
                r0[j] += a0 * wj
                r1[j] += a1 * wj
                r2[j] += a2 * wj
                tolb[j] += at * abs(wj)
            continue
        if a0 != 0.0:
            for j in range(N):
                r0[j] += a0 * w[j]
        if a1 != 0.0:
            for j in range(N):
                r1[j] += a1 * w[j]
        if a2 != 0.0:
            for j in range(N):
                r2[j] += a2 * w[j]
        if at != 0.0:
            for j in range(N):
                tolb[j] += at * abs(w[j])
    return out, tolb


@njit(cache=True, nogil=True)
def interval_states(U, same, xi, tolb, sw, snap_rtol, close_factor):  # pragma: no cover - compiled
    """``linregions.line.core._interval_states`` in one pass (same decisions): state codes of the
    intervals and, per row, the close snap decisions and the snaps beyond rounding noise."""
    P, n = U.shape
    T = xi.size
    s = np.zeros((P, n), np.int16)
    n_close = np.zeros(P, np.int64)
    n_erased = np.zeros(P, np.int64)
    cf2 = close_factor * close_factor
    for i in range(P):
        for z in range(n):
            if not sw[z]:
                continue
            for j in range(T):
                tol = tolb[i, z] + snap_rtol * abs(xi[j]) if xi[j] != 0 else tolb[i, z]
                a = abs(U[i, z] - xi[j]) * close_factor
                if a > tol and a <= cf2 * tol:
                    n_close[i] += 1
                    if abs(U[i, z] - xi[j]) <= tol:
                        n_erased[i] += 1
    for i in range(P - 1):
        if not same[i]:
            continue
        for z in range(n):
            if not sw[z]:
                continue
            m2 = U[i, z] + U[i + 1, z]
            c = 0
            for j in range(T):
                if m2 >= 2 * xi[j]:
                    c += 1
            c *= 2
            for j in range(T):
                tol = tolb[i, z] + snap_rtol * abs(xi[j]) if xi[j] != 0 else tolb[i, z]
                tol1 = tolb[i + 1, z] + snap_rtol * abs(xi[j]) if xi[j] != 0 else tolb[i + 1, z]
                if abs(U[i, z] - xi[j]) <= tol and abs(U[i + 1, z] - xi[j]) <= tol1:
                    c = 2 * j + 1
            s[i, z] = c
    return s, n_close, n_erased


#: A segment with at most this many points at a layer gets that layer's products from the
#: fixed-order row-wise kernel even for large layers (BLAS on a few rows is slower, and row-wise
#: products let the batched engine compute many short segments in one call with the same result).
SHORT_POINTS = 16


@njit(cache=True, nogil=True)
def _mm(A, WT, b, blas):  # pragma: no cover - compiled
    """A @ WT + b for one segment's rows (BLAS for large layers and more than ``SHORT_POINTS``
    rows, the fixed-order row-wise loop else)."""
    if blas and A.shape[0] > SHORT_POINTS:
        out = A @ WT
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] += b[j]
        return out
    return _rowwise_matmul(A, WT, b)


@njit(cache=True, nogil=True)
def blocks_matmul(A, WT, b, starts, blas):  # pragma: no cover - compiled
    """``_mm`` on each block ``starts[i]:starts[i + 1]`` of rows (a segment), so every row gets
    the value it gets in the per-segment kernel; short blocks together in one row-wise call."""
    M = A.shape[0]
    N = WT.shape[1]
    out = np.empty((M, N))
    short = np.zeros(M, np.bool_)
    for s in range(starts.size - 1):
        s0, s1 = starts[s], starts[s + 1]
        if blas and s1 - s0 > SHORT_POINTS:
            out[s0:s1] = _mm(A[s0:s1], WT, b, True)
        else:
            short[s0:s1] = True
    rows = np.nonzero(short)[0]
    if rows.size == M:
        return _rowwise_matmul(A, WT, b)
    if rows.size:
        Ar = np.empty((rows.size, A.shape[1]))
        for r in range(rows.size):
            Ar[r] = A[rows[r]]
        Or = _rowwise_matmul(Ar, WT, b)
        for r in range(rows.size):
            out[rows[r]] = Or[r]
    return out


@njit(cache=True, nogil=True)
def blocks_mm2(A, dA, WT, b, starts, blas):  # pragma: no cover - compiled
    """``_mm2`` on each block (segment) of rows of [A; dA]: the values and tangents of every row
    exactly as the per-segment kernel computes them; short blocks in one row-wise call."""
    M = A.shape[0]
    N = WT.shape[1]
    U = np.empty((M, N))
    dU = np.empty((M, N))
    short = np.zeros(M, np.bool_)
    for s in range(starts.size - 1):
        s0, s1 = starts[s], starts[s + 1]
        P = s1 - s0
        if blas and P > SHORT_POINTS:
            AA = np.empty((2 * P, A.shape[1]))
            AA[:P] = A[s0:s1]
            AA[P:] = dA[s0:s1]
            u, du = _mm2(AA, P, WT, b, True)
            U[s0:s1] = u
            dU[s0:s1] = du
        else:
            short[s0:s1] = True
    rows = np.nonzero(short)[0]
    if rows.size == M:
        return _rowwise_matmul(A, WT, b), _rowwise_matmul(dA, WT, np.zeros(N))
    if rows.size:
        Ar = np.empty((rows.size, A.shape[1]))
        dAr = np.empty((rows.size, A.shape[1]))
        for r in range(rows.size):
            Ar[r] = A[rows[r]]
            dAr[r] = dA[rows[r]]
        Ur = _rowwise_matmul(Ar, WT, b)
        dUr = _rowwise_matmul(dAr, WT, np.zeros(N))
        for r in range(rows.size):
            U[rows[r]] = Ur[r]
            dU[rows[r]] = dUr[r]
    return U, dU


#: Columns of a segment's rows that are zero on every row (units off on the whole segment) are
#: left out of its BLAS product only when the product has at least ``DROP_MIN_WORK`` multiply-adds
#: and at most ``DROP_LIVE_FRACTION`` of the columns are live: below either, finding and copying
#: them cost more than the product saves (measured on one BLAS thread, widths 64-256, 30-500
#: points, 15-50% dead columns; narrow output layers never pay).
DROP_MIN_WORK = 2**20
DROP_LIVE_FRACTION = 0.75


@njit(cache=True, nogil=True)
def _mm2(AA, P, WT, b, blas):  # pragma: no cover - compiled
    """(A @ WT + b, dA @ WT) for AA = [A; dA] (2P rows of one segment) in one product; the two
    results are row blocks of one array (no copies). With BLAS, columns of AA that are zero on
    every row (units off on the whole segment, e.g. ReLU) are left out of the product where that
    pays (``DROP_MIN_WORK``, ``DROP_LIVE_FRACTION``): the result depends only on the segment's own
    rows."""
    if not blas or P <= SHORT_POINTS:  # b first, then the products in order (rows_matmul exactly)
        R = _rowwise_matmul2(AA, WT, b, P)
        return R[:P], R[P:]
    M, K = AA.shape
    N = WT.shape[1]
    live = np.ones(K, np.bool_)
    if M * K * N >= DROP_MIN_WORK:
        live[:] = False
        for i in range(M):
            Ai = AA[i]
            for k in range(K):
                live[k] |= Ai[k] != 0.0
    cols = np.nonzero(live)[0]
    if cols.size <= DROP_LIVE_FRACTION * K:
        A2 = np.empty((M, cols.size))
        W2 = np.empty((cols.size, WT.shape[1]))
        for c in range(cols.size):
            W2[c] = WT[cols[c]]
        for i in range(M):
            for c in range(cols.size):
                A2[i, c] = AA[i, cols[c]]
        R = A2 @ W2 if cols.size > 0 else np.zeros((M, WT.shape[1]))
    else:
        R = AA @ WT
    U = R[:P]
    for i in range(P):
        for j in range(U.shape[1]):
            U[i, j] += b[j]
    return U, R[P:]


@njit(cache=True, nogil=True)
def _mm2t(AA, P, WT, b, blas, amax, aW):  # pragma: no cover - compiled
    """``_mm2`` and the raw rounding scale |b| + amax |W| of its result (``_tol_scale``), the scale
    in the same pass over WT where the product is row-wise."""
    if not blas or P <= SHORT_POINTS:
        R, tolb = _rowwise_tol(AA, WT, b, P, amax)
        return R[:P], R[P:], tolb
    U, dU = _mm2(AA, P, WT, b, blas)
    return U, dU, _tol_scale(amax, aW, b)


@njit(cache=True, nogil=True, inline="always")
def _act(u, z, xi, q, phi, pt, clip):  # pragma: no cover - compiled
    """phi(u) of unit z, the same float operations as ``PiecewiseLinear.__call__`` (a clip for hard
    tanh / ReLU6, phi(xi_a) + q_p (u - xi_a) else), so both engines give identical values."""
    if pt[z]:
        return u
    p = 0
    while p < xi.size and u >= xi[p]:
        p += 1
    if clip:
        return xi[0] if p == 0 else (u if p == 1 else xi[1])
    j = p - 1 if p > 0 else 0
    return phi[z, j] + q[z, p] * (u - xi[j])

@njit(cache=True, nogil=True)
def _W(Wf, w_off, dims, l):  # pragma: no cover - compiled
    return Wf[w_off[l]:w_off[l + 1]].reshape((dims[l], dims[l + 1]))

@njit(cache=True, nogil=True)
def _Q(qf, q_off, dims, l):  # pragma: no cover - compiled
    n = dims[l + 1]
    return qf[q_off[l]:q_off[l + 1]].reshape((n, (q_off[l + 1] - q_off[l]) // n))

@njit(cache=True, nogil=True)
def _act_tangent(U, dU, C, xi, q, phi, pt, clip, relu):  # pragma: no cover - compiled
    """One fused pass over the P points of a segment: ``AA = [phi(U); phi'(C) dU]`` (2P rows, the
    values and the tangents, for one product) and the column maxima of |phi(U)| (rounding scale
    of the next layer). ``C`` are the layer's interval state codes (the slope of the piece on each
    interval; on a breakpoint the slope on its left). ReLU layers (``relu``): max(u, 0) and
    (code >= 2) dU, the same values as the general formula."""
    P, n = U.shape
    AA = np.empty((2 * P, n))
    amax = np.zeros(n)
    if relu:
        for i in range(P):
            for z in range(n):
                u = U[i, z]
                a = u if u > 0.0 else 0.0
                AA[i, z] = a
                if a > amax[z]:
                    amax[z] = a
                AA[P + i, z] = dU[i, z] if C[i, z] >= 2 else 0.0
        return AA, amax
    for i in range(P):
        for z in range(n):
            a = _act(U[i, z], z, xi, q, phi, pt, clip)
            AA[i, z] = a
            a = abs(a)
            if a > amax[z]:
                amax[z] = a
            AA[P + i, z] = dU[i, z] if pt[z] else dU[i, z] * q[z, C[i, z] // 2]
    return AA, amax


@njit(cache=True, nogil=True)
def _all_finite(U, dU):  # pragma: no cover - compiled
    ok = True
    for i in range(U.shape[0]):
        for z in range(U.shape[1]):
            ok = ok and abs(U[i, z]) < np.inf and abs(dU[i, z]) < np.inf
    return ok


@njit(cache=True, nogil=True)
def _tol_scale(amax, aW, bl):  # pragma: no cover - compiled
    """The rounding scale |b| + |W| amax of a layer's values (``tolerances.snap_scale`` without
    the breakpoint; |b| first, then the terms in order, zeros skipped)."""
    tolb = np.empty(bl.size)
    for z in range(bl.size):
        tolb[z] = abs(bl[z])
    for k in range(aW.shape[0]):
        a = amax[k]
        if a != 0.0:
            for z in range(bl.size):
                tolb[z] += a * aW[k, z]
    return tolb


@njit(cache=True, nogil=True)
def _tolerances(tolb, xi, snap_rtol, close_factor):  # pragma: no cover - compiled
    """Snap tolerance of each (unit, breakpoint) from the scale ``tolb`` (``_tol_scale``):
    SNAP_RTOL (tolb + |xi_j|) (``tolerances.snap_scale``), and the upper end CLOSE_FACTOR^2 tol of
    a close snap decision."""
    n = tolb.size
    T = xi.size
    tol = np.empty((n, T))
    hi = np.empty((n, T))
    for z in range(n):
        tz = tolb[z] * snap_rtol
        for j in range(T):
            tol[z, j] = tz + snap_rtol * abs(xi[j])
            hi[z, j] = close_factor * close_factor * tol[z, j]
    return tol, hi


@njit(cache=True, nogil=True, inline="always")
def _crosses(D0, D1, tz):  # pragma: no cover - compiled
    """u - xi_j beyond the tolerance on both sides of an interval, with opposite signs (tested
    only after a sign change, which every such crossing makes)."""
    return (D0 < 0.0) != (D1 < 0.0) and ((D0 > tz and D1 < -tz) or (D0 < -tz and D1 > tz))


@njit(cache=True, nogil=True)
def _strict_crossings(U, t, xi, tol, sw, allsw):  # pragma: no cover - compiled
    """Strict crossings of breakpoints inside intervals (interval i, lam, t), in the order of
    generation of the numpy engine (interval, breakpoint, unit), written in one pass into arrays
    of a few per interval; only if they overflow, counted first and written again (no growing
    arrays in the loop, which keeps it fast)."""
    P, n = U.shape
    T = xi.size
    cap = min((P - 1) * T * n, 4 * P + 64)
    for attempt in range(2):
        ka = np.empty(cap, np.int64)
        ta = np.empty(cap)
        la = np.empty(cap)
        K = 0
        for i in range(P - 1):
            U0, U1 = U[i], U[i + 1]
            for j in range(T):
                x = xi[j]
                for z in range(n):
                    D0 = U0[z] - x
                    D1 = U1[z] - x
                    if _crosses(D0, D1, tol[z, j]) and (allsw or sw[z]):
                        if K < cap:
                            lam = D0 / (D0 - D1)
                            ka[K] = i
                            la[K] = lam
                            ta[K] = t[i] + lam * (t[i + 1] - t[i])
                        K += 1
        if K <= cap:
            return ka[:K], ta[:K], la[:K]
        cap = K
    return ka, ta, la  # not reached: the second pass has room for every crossing


@njit(cache=True, nogil=True)
def _states_close(U, xi, tol, hi, sw, allsw, close_factor):  # pragma: no cover - compiled
    """State codes of one layer on the intervals (row i: [t_i, t_{i+1}]; the last row 0) and the
    close snap decisions at the points (counts, and which rows have one), the decisions of
    ``interval_states``. A first branch-free pass marks the (point, breakpoint) pairs where some
    unit is near xi_j (within the close range, or snapped: the same expressions as the tests
    below); only those pairs are looked at unit by unit."""
    P, n = U.shape
    T = xi.size
    C = np.zeros((P, n), np.int16)
    flag = np.zeros(P, np.bool_)
    near = np.zeros((P, T), np.bool_)
    for i in range(P):
        Ui = U[i]
        for j in range(T):
            x = xi[j]
            cnt = 0
            for z in range(n):
                d = abs(Ui[z] - x)
                cnt += (d * close_factor <= hi[z, j]) | (d <= tol[z, j])
            near[i, j] = cnt > 0
    n_close = 0
    n_erased = 0
    for i in range(P):
        Ui = U[i]
        nc = 0
        ne = 0
        for j in range(T):
            if not near[i, j]:
                continue
            x = xi[j]
            for z in range(n):
                a = abs(Ui[z] - x) * close_factor
                tz = tol[z, j]
                c = (a > tz) & (a <= hi[z, j]) & (allsw or sw[z])
                nc += c
                ne += c & (a <= close_factor * tz)
        n_close += nc
        n_erased += ne
        flag[i] = nc > 0
        if i == P - 1:
            continue
        Ci = C[i]
        U1 = U[i + 1]
        if T == 1:
            x2 = 2.0 * xi[0]
            for z in range(n):
                Ci[z] = 2 * (Ui[z] + U1[z] >= x2)
        else:
            for z in range(n):
                m2 = Ui[z] + U1[z]
                cz = 0
                for j in range(T):
                    cz += m2 >= 2.0 * xi[j]
                Ci[z] = 2 * cz
        for j in range(T):
            if not (near[i, j] and near[i + 1, j]):
                continue
            x = xi[j]
            for z in range(n):
                tz = tol[z, j]
                on = (abs(Ui[z] - x) <= tz) & (abs(U1[z] - x) <= tz)
                Ci[z] = 2 * j + 1 if on else Ci[z]
        if not allsw:
            for z in range(n):
                if not sw[z]:
                    Ci[z] = 0
    return C, n_close, n_erased, flag


@njit(cache=True, nogil=True)
def _row_diffs(C):  # pragma: no cover - compiled
    """The units whose state code differs between interval rows r - 1 and r of one layer's codes
    ``C`` (rows 0..R-2 are intervals, the last row is not), as CSR: ``du[dp[r]:dp[r + 1]]`` in
    increasing order (empty for r = 0 and the last row). Two consecutive final intervals lie in
    the same row of a layer or in consecutive rows (later layers only split intervals), so these
    are all the comparisons the crossings pass needs, made once per layer."""
    R, n = C.shape
    dp = np.zeros(R + 1, np.int64)
    for r in range(1, R - 1):
        C0, C1 = C[r - 1], C[r]
        c = 0
        for z in range(n):
            c += C0[z] != C1[z]
        dp[r + 1] = dp[r] + c
    dp[R] = dp[R - 1]  # R >= 2: a segment has two ends
    du = np.empty(dp[R], np.int64)
    for r in range(1, R - 1):
        if dp[r + 1] > dp[r]:
            C0, C1 = C[r - 1], C[r]
            k = dp[r]
            for z in range(n):
                if C0[z] != C1[z]:
                    du[k] = z
                    k += 1
    return dp, du


#: Crossings of one interval at one layer are sorted by t with a stable insertion sort up to this
#: many (no allocation), with numpy's stable merge sort above (the same order).
INSERTION_SORT_MAX = 64


@njit(cache=True, nogil=True)
def _layer_loop(x0, x1, Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off,
                swf, ptf, clipf, code_off, blas, reluf, snap_rtol, t_merge, close_factor):  # pragma: no cover - compiled
    """The layer loop of ``linregions.line._partition_chunk`` for one segment, compiled (same
    algorithm, same tolerances; see there). Returns t (P,), the state codes of each layer as
    computed (``Cs[l]``, on the intervals of that time), the units whose code differs between
    consecutive rows of ``Cs[l]`` (``_row_diffs``: ``Dp[l]``, ``Du[l]``), the row map ``rm`` (d, P):
    interval i of the final points lies in row ``rm[l, i]`` of ``Cs[l]``; N at the points, dN/dt on the
    intervals (row i: [t_i, t_{i+1}]), the close/erased decision counts, the t of close
    decisions, and the index of a layer whose values overflowed (-1: none). The parameters come
    flat (one compiled signature for every depth): layer l's W^T is ``Wf[w_off[l]:w_off[l + 1]]``
    of shape (dims[l], dims[l + 1]), and likewise for the others (``line.core._kernel_params``).

    Each layer's codes are kept as computed, with a row map per layer updated at insertions (no
    copy of all layers' codes at every insertion)."""
    d = xi_off.size - 1
    n_in = x0.size
    t = np.empty(2)
    t[0], t[1] = 0.0, 1.0
    amax = np.maximum(np.abs(x0), np.abs(x1))
    # layer 0: the ends' values, the tangent and the rounding scale in one row-wise pass over W_0
    R0, tolb = _first_layer(x0, x1, _W(Wf, w_off, dims, 0), bf[b_off[0]:b_off[1]], amax)
    U = R0[:2]
    n0 = U.shape[1]
    dU = np.empty((2, n0))
    dU[0], dU[1] = R0[2], R0[2]
    Cs = [np.zeros((0, 0), np.int16) for _ in range(0)]
    Dp = [np.zeros(0, np.int64) for _ in range(0)]
    Du = [np.zeros(0, np.int64) for _ in range(0)]
    rm = np.zeros((d, 2), np.int64)
    n_close = 0
    n_erased = 0
    sus = [0.0 for _ in range(0)]
    bad = -1
    for l in range(d):
        xi = xif[xi_off[l]:xi_off[l + 1]]
        sw = swf[code_off[l]:code_off[l + 1]]
        allsw = sw.all()
        bl = bf[b_off[l]:b_off[l + 1]]
        P = t.size
        if l > 0:
            AA, amax = _act_tangent(U, dU, Cs[l - 1], xif[xi_off[l - 1]:xi_off[l]], _Q(qf, q_off, dims, l - 1),
                                    _Q(phif, phi_off, dims, l - 1), ptf[code_off[l - 1]:code_off[l]], clipf[l - 1],
                                    reluf[l - 1])
            U, dU, tolb = _mm2t(AA, P, _W(Wf, w_off, dims, l), bl, blas[l], amax, _W(aWf, w_off, dims, l))
        if not _all_finite(U, dU):
            bad = l
            break
        tol, hi = _tolerances(tolb, xi, snap_rtol, close_factor)
        ka, ta, la = _strict_crossings(U, t, xi, tol, sw, allsw)
        K = ka.size
        if K > 0:
            # sort by t within each interval (ka is already non-decreasing)
            s0 = 0
            while s0 < K:
                s1 = s0
                while s1 < K and ka[s1] == ka[s0]:
                    s1 += 1
                if s1 - s0 > INSERTION_SORT_MAX:
                    order = np.argsort(ta[s0:s1], kind="mergesort")
                    ta[s0:s1] = ta[s0:s1][order]
                    la[s0:s1] = la[s0:s1][order]
                else:  # a stable insertion sort: the same order as the stable merge sort
                    for c in range(s0 + 1, s1):
                        tc, lc = ta[c], la[c]
                        m = c - 1
                        while m >= s0 and ta[m] > tc:
                            ta[m + 1] = ta[m]
                            la[m + 1] = la[m]
                            m -= 1
                        ta[m + 1] = tc
                        la[m + 1] = lc
                s0 = s1
            keep = np.empty(K, np.bool_)
            first = np.empty(K, np.bool_)
            for c in range(K):
                k = ka[c]
                g0 = ta[c] - t[k]
                g1 = t[k + 1] - ta[c]
                keep[c] = g0 > t_merge and g1 > t_merge
                dt = np.inf
                if c > 0 and ka[c - 1] == k:
                    dt = ta[c] - ta[c - 1]
                first[c] = dt > t_merge
                gap = min(g0, g1, dt)
                if gap > t_merge / close_factor and gap <= close_factor * t_merge:
                    n_close += 1
                    if gap <= t_merge:
                        n_erased += 1
                    sus.append(ta[c])
            sel = np.zeros(K, np.bool_)
            c = 0
            while c < K:
                e = c + 1
                while e < K and not first[e]:
                    e += 1
                anyk = False
                for m in range(c, e):
                    anyk = anyk or keep[m]
                sel[c] = anyk
                c = e
            Kn = int(sel.sum())
            if Kn > 0:
                n = U.shape[1]
                t2 = np.empty(P + Kn)
                U2 = np.empty((P + Kn, n))
                dU2 = np.empty((P + Kn, n))
                rm2 = np.empty((d, P + Kn), np.int64)
                r = 0
                c = 0
                for i in range(P):  # element loops: a row assignment costs more than the copy here
                    Ui, dUi, U2r, dU2r = U[i], dU[i], U2[r], dU2[r]
                    t2[r] = t[i]
                    for z in range(n):
                        U2r[z] = Ui[z]
                        dU2r[z] = dUi[z]
                    for m in range(l):
                        rm2[m, r] = rm[m, i]
                    r += 1
                    while c < K and ka[c] == i:
                        if sel[c]:
                            t2[r] = ta[c]
                            lam = la[c]
                            Un, U2r, dU2r = U[i + 1], U2[r], dU2[r]
                            for z in range(n):
                                U2r[z] = Ui[z] + lam * (Un[z] - Ui[z])
                                dU2r[z] = dUi[z]
                            for m in range(l):
                                rm2[m, r] = rm[m, i]
                            r += 1
                        c += 1
                t, U, dU, rm = t2, U2, dU2, rm2
                P = t.size
        # state codes of layer l on the intervals, close snaps at the points
        C, c_close, c_erased, flag = _states_close(U, xi, tol, hi, sw, allsw, close_factor)
        for i in range(P):
            if flag[i]:
                sus.append(t[i])
        n_close += c_close
        n_erased += c_erased
        Cs.append(C)
        dp, du = _row_diffs(C)
        Dp.append(dp)
        Du.append(du)
        for i in range(P):
            rm[l, i] = i
    P = t.size
    n_out = dims[d + 1]
    sus_a = np.empty(len(sus))
    for i in range(len(sus)):
        sus_a[i] = sus[i]
    if bad >= 0:
        return t, Cs, Dp, Du, rm, np.zeros((P, n_out)), np.zeros((P, n_out)), n_close, n_erased, sus_a, bad
    AA, amax = _act_tangent(U, dU, Cs[d - 1], xif[xi_off[d - 1]:xi_off[d]], _Q(qf, q_off, dims, d - 1),
                            _Q(phif, phi_off, dims, d - 1), ptf[code_off[d - 1]:code_off[d]], clipf[d - 1], reluf[d - 1])
    N, dN = _mm2(AA, P, _W(Wf, w_off, dims, d), bf[b_off[d]:b_off[d + 1]], blas[d])
    return t, Cs, Dp, Du, rm, N, dN, n_close, n_erased, sus_a, bad


@njit(cache=True, nogil=True, inline="always")
def _vnorm(x):  # pragma: no cover - compiled
    """Euclidean norm scaled by the largest entry (``tolerances.vector_norm``, to rounding)."""
    if x.size == 1:
        return abs(x[0])
    m = 0.0
    for v in x:
        m = max(m, abs(v))
    if m == 0.0:
        return 0.0
    s = 0.0
    for v in x:
        s += (v / m) * (v / m)
    return m * np.sqrt(s)


#: Relative margin under which the compiled slope-jump test leaves a point to the exact numpy
#: decision (``line.core._slope_jumps``): its norms round differently from numpy's by a few ulps.
JUMP_MARGIN = 1e-9


@njit(cache=True, nogil=True)
def _finish(t, Cs, Dp, Du, rm, N, dN, Wf, w_off, dims, code_off, opens, reach_out, nzall, bound, slope_rtol,
            close_factor):  # pragma: no cover - compiled
    """The crossings of one segment from its layer loop (``line.core._partition_chunk`` after the
    layers: ``_records``, ``_goodness``, the clear cases of ``_slope_jumps``, the kept points and
    intervals), in its order: kept points (where some neuron's code differs on the two intervals
    around the point), crossings sorted by (point, layer, unit) with their breakpoint and
    structural goodness (a path of open neurons with non-zero weights to an output, Prop. 9),
    slopes and intercepts of the intervals that start at 0 or at a kept point, and the points
    whose slope jump is not certain above ``max(CLOSE_FACTOR SLOPE_RTOL (|dl| + |dr|), bound)``
    (``JUMP_MARGIN``): their index, the slopes on both sides and the codes of both intervals, for
    the exact numpy decision. Only layers whose row map differs across a point have units whose
    code differs there (the others have one source row); those units are read off the layer's
    row differences (``_row_diffs``), so no code is compared here."""
    P = t.size
    d = rm.shape[0]
    n_out = N.shape[1]
    ntot = code_off[d]
    cnt = np.zeros(P, np.int64)
    M = 0
    n_rec = 0
    for p in range(1, P - 1):
        c = 0
        for l in range(d):
            r1 = rm[l, p]
            if rm[l, p - 1] != r1:
                c += Dp[l][r1 + 1] - Dp[l][r1]
        cnt[p] = c
        if c > 0:
            M += 1
            n_rec += c
    tk = np.empty(M)
    rec = np.empty((4, n_rec), np.int64)  # point index, layer, unit, breakpoint
    cp, ly, un, bp = rec[0], rec[1], rec[2], rec[3]
    good = np.empty(n_rec, np.bool_)
    sl = np.empty((M + 1, 2 * n_out))  # slopes, intercepts
    for j in range(n_out):
        sl[0, j] = dN[0, j]
        sl[0, n_out + j] = N[0, j] - dN[0, j] * t[0]
    R = np.empty(ntot, np.bool_)
    G = np.empty(ntot, np.bool_)
    uni = np.zeros(d, np.bool_)  # R of layer l is the one value rv[l] for all its units
    rv = np.zeros(d, np.bool_)
    o = code_off[d - 1]
    for z in range(dims[d]):
        R[o + z] = reach_out[z]
    diff = np.empty(n_out)
    unc = np.zeros(M, np.bool_)
    m = 0
    c = 0
    for p in range(1, P - 1):
        if cnt[p] == 0:
            continue
        tk[m] = t[p]
        c0 = c
        lmin = d
        for l in range(d):
            r0, r1 = rm[l, p - 1], rm[l, p]
            if r0 == r1:
                continue
            C0, C1, du = Cs[l][r0], Cs[l][r1], Du[l]
            for k in range(Dp[l][r1], Dp[l][r1 + 1]):
                z = du[k]
                a, b = np.int64(C0[z]), np.int64(C1[z])
                cp[c] = m
                ly[c] = l
                un[c] = z
                bp[c] = (a - 1) // 2 if a % 2 == 1 else ((b - 1) // 2 if b % 2 == 1 else min(a, b) // 2)
                c += 1
                lmin = min(lmin, l)
        # reachability of the output from each layer >= lmin through open neurons (_reachability);
        # after a layer whose weights have no zero it is one value for all units (any open unit
        # that reaches: the scan stops at the first)
        for l in range(d - 1, lmin, -1):
            o, o1 = code_off[l], code_off[l - 1]
            C0, C1 = Cs[l][rm[l, p - 1]], Cs[l][rm[l, p]]
            if nzall[l]:
                g = False
                if not uni[l] or rv[l]:
                    for z in range(dims[l + 1]):
                        if (uni[l] or R[o + z]) and (opens[o + z, C0[z]] or opens[o + z, C1[z]]):
                            g = True
                            break
                uni[l - 1] = True
                rv[l - 1] = g
            else:
                for z in range(dims[l + 1]):
                    G[z] = (rv[l] if uni[l] else R[o + z]) and (opens[o + z, C0[z]] or opens[o + z, C1[z]])
                WT = _W(Wf, w_off, dims, l)
                for zp in range(dims[l]):
                    r = False
                    for z in range(dims[l + 1]):
                        if G[z] and WT[zp, z] != 0.0:
                            r = True
                            break
                    R[o1 + zp] = r
                uni[l - 1] = False
        for k in range(c0, c):
            good[k] = rv[ly[k]] if uni[ly[k]] else R[code_off[ly[k]] + un[k]]
        # slope jump: certain where the difference is clearly above both thresholds
        for j in range(n_out):
            diff[j] = dN[p, j] - dN[p - 1, j]
        thr = max(close_factor * (slope_rtol * (_vnorm(dN[p - 1]) + _vnorm(dN[p]))), bound)
        unc[m] = not _vnorm(diff) > thr + JUMP_MARGIN * thr
        m += 1
        for j in range(n_out):
            sl[m, j] = dN[p, j]
            sl[m, n_out + j] = N[p, j] - dN[p, j] * t[p]
    # the uncertain points: index, both slopes, both intervals' codes
    ui = np.nonzero(unc)[0]
    K = ui.size
    dlr = np.empty((2 * K, n_out))  # slopes left (rows < K) and right of each
    clr = np.empty((2 * K, ntot), np.int16)  # codes of the intervals left and right
    if K > 0:
        pts = np.nonzero(cnt)[0]
        for k in range(K):
            p = pts[ui[k]]
            dlr[k] = dN[p - 1]
            dlr[K + k] = dN[p]
            for l in range(d):
                clr[k, code_off[l]:code_off[l + 1]] = Cs[l][rm[l, p - 1]]
                clr[K + k, code_off[l]:code_off[l + 1]] = Cs[l][rm[l, p]]
    return tk, rec, good, sl, ui, dlr, clr


@njit(cache=True, nogil=True)
def segments_line(X0, X1, Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off, swf, ptf, clipf,
                  code_off, blas, reluf, opens, reach_out, nzall, c_bound, snap_rtol, t_merge, close_factor,
                  slope_rtol):  # pragma: no cover - compiled
    """Exact partitions of the segments [X0[i], X1[i]], each on its own (``_layer_loop`` then
    ``_finish``; ``opens``, ``reach_out``, ``nzall``: ``line.core._finish_params``;
    ``c_bound |X1[i] - X0[i]|``: the a-priori rounding floor of slope jumps on segment i), results
    concatenated as ``line.core._partition_chunk`` returns them: kept t, crossings (rows: point
    index in the chunk, layer, unit, breakpoint) and their goodness, slopes and intercepts of the
    kept intervals side by side, counts per segment (rows: kept points, crossings, close and
    erased decisions, close t's, uncertain jumps), the close t's, the uncertain slope jumps (point
    index in the chunk; slopes and codes left then right), and (segment, layer) of a hidden layer
    that overflowed (-1: none) and the first segment whose output is not finite (-1: none)."""
    S = X0.shape[0]
    n_out = dims[-1]
    ntot = code_off[-1]
    cnt = np.zeros((6, S), np.int64)
    tks = [np.empty(0) for _ in range(0)]
    recs = [np.empty((4, 0), np.int64) for _ in range(0)]
    goods = [np.empty(0, np.bool_) for _ in range(0)]
    sls = [np.empty((0, 2)) for _ in range(0)]
    uis = [np.empty(0, np.int64) for _ in range(0)]
    dlrs = [np.empty((0, 2)) for _ in range(0)]
    clrs = [np.empty((0, 2), np.int16) for _ in range(0)]
    sus = [np.empty(0) for _ in range(0)]
    bad_out = -1
    for i in range(S):
        t, Cs, Dp, Du, rm, N, dN, c, e, s, bad = _layer_loop(
            X0[i], X1[i], Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off, swf, ptf,
            clipf, code_off, blas, reluf, snap_rtol, t_merge, close_factor)
        if bad >= 0:
            e0 = np.zeros(0, np.int64)
            return (np.zeros(0), np.zeros((4, 0), np.int64), np.zeros(0, np.bool_), np.zeros((0, n_out)),
                    np.zeros((0, n_out)), e0, e0, cnt, e0, np.zeros(0), e0, np.zeros((0, n_out)),
                    np.zeros((0, ntot), np.int16), i, bad, bad_out)
        if bad_out < 0 and not _all_finite(N, dN):
            bad_out = i
        tk, rec, good, sl, ui, dlr, clr = _finish(
            t, Cs, Dp, Du, rm, N, dN, Wf, w_off, dims, code_off, opens, reach_out, nzall,
            c_bound * _vnorm(X1[i] - X0[i]), slope_rtol, close_factor)
        tks.append(tk)
        recs.append(rec)
        goods.append(good)
        sls.append(sl)
        uis.append(ui)
        dlrs.append(dlr)
        clrs.append(clr)
        sus.append(s)
        cnt[0, i], cnt[1, i], cnt[2, i], cnt[3, i], cnt[4, i], cnt[5, i] = tk.size, good.size, c, e, s.size, ui.size
    M, C, Q, K = int(cnt[0].sum()), int(cnt[1].sum()), int(cnt[4].sum()), int(cnt[5].sum())
    tk_a = np.empty(M)
    rec_a = np.empty((4, C), np.int64)
    good_a = np.empty(C, np.bool_)
    slope_a = np.empty((M + S, n_out))
    icpt_a = np.empty((M + S, n_out))
    pt_off = np.zeros(S + 1, np.int64)
    cr_off = np.zeros(S + 1, np.int64)
    ui_a = np.empty(K, np.int64)
    dlr_a = np.empty((2 * K, n_out))
    clr_a = np.empty((2 * K, ntot), np.int16)
    sus_a = np.empty(Q)
    sus_seg = np.empty(Q, np.int64)
    m0, c0, q0, k0 = 0, 0, 0, 0
    for i in range(S):
        m, c, q, k = cnt[0, i], cnt[1, i], cnt[4, i], cnt[5, i]
        tk_a[m0:m0 + m] = tks[i]
        rec_a[:, c0:c0 + c] = recs[i]
        rec_a[0, c0:c0 + c] += m0
        good_a[c0:c0 + c] = goods[i]
        slope_a[m0 + i:m0 + i + m + 1] = sls[i][:, :n_out]
        icpt_a[m0 + i:m0 + i + m + 1] = sls[i][:, n_out:]
        ui_a[k0:k0 + k] = uis[i] + m0
        dlr_a[k0:k0 + k] = dlrs[i][:k]
        dlr_a[K + k0:K + k0 + k] = dlrs[i][k:]
        clr_a[k0:k0 + k] = clrs[i][:k]
        clr_a[K + k0:K + k0 + k] = clrs[i][k:]
        sus_a[q0:q0 + q] = sus[i]
        sus_seg[q0:q0 + q] = i
        m0, c0, q0, k0 = m0 + m, c0 + c, q0 + q, k0 + k
        pt_off[i + 1] = m0
        cr_off[i + 1] = c0
    return (tk_a, rec_a, good_a, slope_a, icpt_a, pt_off, cr_off, cnt, sus_seg, sus_a, ui_a, dlr_a, clr_a, -1, -1,
            bad_out)
