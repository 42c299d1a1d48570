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
    M, K = A.shape
    N = WT.shape[1]
    out = np.empty((M, N))
    for i in range(M):
        for j in range(N):
            out[i, j] = b[j] if i < P else 0.0
    i0 = 0
    while i0 + 4 <= M:
        r0, r1, r2, r3 = out[i0], out[i0 + 1], out[i0 + 2], out[i0 + 3]
        for k in range(K):
            w = WT[k]
            a0, a1, a2, a3 = A[i0, k], A[i0 + 1, k], A[i0 + 2, k], A[i0 + 3, k]
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
        i0 += 4
    for i in range(i0, M):
        row = out[i]
        for k in range(K):
            a = A[i, k]
            if a != 0.0:
                w = WT[k]
                for j in range(N):
                    row[j] += a * w[j]
    return out


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


@njit(cache=True, nogil=True)
def _mm2(AA, P, WT, b, blas):  # pragma: no cover - compiled
    """(A @ WT + b, dA @ WT) for AA = [A; dA] (2P rows of one segment) in one product; the two
    results are row blocks of one array (no copies). With BLAS, columns of AA that are zero on
    every row (units off on the whole segment, e.g. ReLU) are left out of the product when that
    saves at least a tenth of it: the result depends only on the segment's own rows."""
    if not blas or P <= SHORT_POINTS:  # b first, then the products in order (rows_matmul exactly)
        R = _rowwise_matmul2(AA, WT, b, P)
        return R[:P], R[P:]
    M, K = AA.shape
    live = np.zeros(K, np.bool_)
    for i in range(M):
        for k in range(K):
            live[k] |= AA[i, k] != 0.0
    cols = np.nonzero(live)[0]
    if cols.size < 0.9 * K:
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
def _tolerances(amax, aW, bl, xi, snap_rtol, close_factor):  # pragma: no cover - compiled
    """Snap tolerance of each (unit, breakpoint): SNAP_RTOL (|b| + |W| amax + |xi_j|) (the
    rounding scale ``tolerances.snap_scale``; |b| first, then the terms in order), and the upper
    end CLOSE_FACTOR^2 tol of a close snap decision."""
    n = bl.size
    T = xi.size
    tolb = np.empty(n)
    for z in range(n):
        tolb[z] = abs(bl[z])
    for k in range(aW.shape[0]):
        a = amax[k]
        if a != 0.0:
            for z in range(n):
                tolb[z] += a * aW[k, z]
    tol = np.empty((n, T))
    hi = np.empty((n, T))
    for z in range(n):
        tolb[z] *= snap_rtol
        for j in range(T):
            tol[z, j] = tolb[z] + snap_rtol * abs(xi[j])
            hi[z, j] = close_factor * close_factor * tol[z, j]
    return tol, hi


@njit(cache=True, nogil=True)
def _strict_crossings(U, t, xi, tol, sw, allsw):  # pragma: no cover - compiled
    """Strict crossings of breakpoints inside intervals (interval i, lam, t), in the order of
    generation of the numpy engine (interval, breakpoint, unit). A branch-free count per interval
    first; only intervals with a crossing are scanned again."""
    P, n = U.shape
    T = xi.size
    cap = 64
    ka = np.empty(cap, np.int64)
    ta = np.empty(cap)
    la = np.empty(cap)
    K = 0
    for i in range(P - 1):
        cnt = 0
        for j in range(T):
            x = xi[j]
            for z in range(n):
                tz = tol[z, j]
                D0 = U[i, z] - x
                D1 = U[i + 1, z] - x
                cnt += ((D0 > tz) & (D1 < -tz)) | ((D0 < -tz) & (D1 > tz))
        if cnt == 0:
            continue
        for j in range(T):
            x = xi[j]
            for z in range(n):
                if not allsw and not sw[z]:
                    continue
                tz = tol[z, j]
                D0 = U[i, z] - x
                D1 = U[i + 1, z] - x
                if (D0 > tz and D1 < -tz) or (D0 < -tz and D1 > tz):
                    if K == cap:
                        cap *= 2
                        ka2, ta2, la2 = np.empty(cap, np.int64), np.empty(cap), np.empty(cap)
                        ka2[:K], ta2[:K], la2[:K] = ka[:K], ta[:K], la[:K]
                        ka, ta, la = ka2, ta2, la2
                    lam = D0 / (D0 - D1)
                    ka[K] = i
                    la[K] = lam
                    ta[K] = t[i] + lam * (t[i + 1] - t[i])
                    K += 1
    return ka[:K], ta[:K], la[:K]


@njit(cache=True, nogil=True)
def _states_close(U, t, xi, tol, hi, sw, allsw, close_factor, sus):  # pragma: no cover - compiled
    """State codes of one layer on the intervals (row i: [t_i, t_{i+1}]; the last row 0) and the
    close snap decisions at the points (counts; the t of each row with one goes to ``sus``), in
    one pass (see ``interval_states``; branch-free over the units)."""
    P, n = U.shape
    T = xi.size
    C = np.zeros((P, n), np.int16)
    n_close = 0
    n_erased = 0
    for i in range(P):
        nc = 0
        ne = 0
        for j in range(T):
            x = xi[j]
            for z in range(n):
                a = abs(U[i, z] - x) * close_factor
                tz = tol[z, j]
                c = (a > tz) & (a <= hi[z, j]) & (allsw or sw[z])
                nc += c
                ne += c & (a <= close_factor * tz)
        n_close += nc
        n_erased += ne
        if nc > 0:
            sus.append(t[i])
        if i == P - 1:
            continue
        Ci = C[i]
        for z in range(n):
            m2 = U[i, z] + U[i + 1, z]
            cz = 0
            for j in range(T):
                cz += m2 >= 2.0 * xi[j]
            Ci[z] = 2 * cz
        for j in range(T):
            x = xi[j]
            for z in range(n):
                tz = tol[z, j]
                on = (abs(U[i, z] - x) <= tz) & (abs(U[i + 1, z] - x) <= tz)
                Ci[z] = 2 * j + 1 if on else Ci[z]
        if not allsw:
            for z in range(n):
                if not sw[z]:
                    Ci[z] = 0
    return C, n_close, n_erased


@njit(cache=True, nogil=True)
def segment_partition(x0, x1, Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off,
                      swf, ptf, clipf, code_off, blas, reluf, snap_rtol, t_merge, close_factor):  # pragma: no cover - compiled
    """The layer loop of ``linregions.line._partition_chunk`` for one segment, compiled (same
    algorithm, same tolerances; see there). Returns t (P,), the interval state codes of all
    layers side by side (P, sum n_l) (row i: interval [t_i, t_{i+1}]), N at the points,
    dN/dt on the intervals, the close/erased decision counts, the t of close decisions, and
    the index of a layer whose values overflowed (-1: none). The parameters come flat (one
    compiled signature for every depth): layer l's W^T is ``Wf[w_off[l]:w_off[l + 1]]`` of
    shape (dims[l], dims[l + 1]), and likewise for the others (``_flat_params``).

    Each layer's codes are kept as computed (on the points of that time) with a row map per
    layer (the row of the interval that contains each current interval), updated at insertions;
    the codes of all layers are gathered once at the end."""
    d = xi_off.size - 1
    n_in = x0.size
    t = np.empty(2)
    t[0], t[1] = 0.0, 1.0
    X = np.empty((2, n_in))
    X[0], X[1] = x0, x1
    V = np.empty((1, n_in))
    V[0] = x1 - x0
    amax = np.maximum(np.abs(x0), np.abs(x1))
    U = _mm(X, _W(Wf, w_off, dims, 0), bf[b_off[0]:b_off[1]], blas[0])
    n0 = U.shape[1]
    dU = np.empty((2, n0))
    dv = _mm(V, _W(Wf, w_off, dims, 0), np.zeros(n0), blas[0])
    dU[0], dU[1] = dv[0], dv[0]
    Cs = [np.zeros((0, 0), np.int16) for _ in range(0)]
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
            U, dU = _mm2(AA, P, _W(Wf, w_off, dims, l), bl, blas[l])
        if not _all_finite(U, dU):
            bad = l
            break
        tol, hi = _tolerances(amax, _W(aWf, w_off, dims, l), bl, xi, snap_rtol, close_factor)
        ka, ta, la = _strict_crossings(U, t, xi, tol, sw, allsw)
        K = ka.size
        if K > 0:
            # sort by t within each interval (ka is already non-decreasing)
            s0 = 0
            while s0 < K:
                s1 = s0
                while s1 < K and ka[s1] == ka[s0]:
                    s1 += 1
                if s1 - s0 > 1:
                    order = np.argsort(ta[s0:s1], kind="mergesort")
                    ta[s0:s1] = ta[s0:s1][order]
                    la[s0:s1] = la[s0:s1][order]
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
                for i in range(P):
                    t2[r] = t[i]
                    U2[r] = U[i]
                    dU2[r] = dU[i]
                    for m in range(l):
                        rm2[m, r] = rm[m, i]
                    r += 1
                    while c < K and ka[c] == i:
                        if sel[c]:
                            t2[r] = ta[c]
                            lam = la[c]
                            for z in range(n):
                                U2[r, z] = U[i, z] + lam * (U[i + 1, z] - U[i, z])
                            dU2[r] = dU[i]
                            for m in range(l):
                                rm2[m, r] = rm[m, i]
                            r += 1
                        c += 1
                t, U, dU, rm = t2, U2, dU2, rm2
                P = t.size
        # state codes of layer l on the intervals, close snaps at the points
        C, c_close, c_erased = _states_close(U, t, xi, tol, hi, sw, allsw, close_factor, sus)
        n_close += c_close
        n_erased += c_erased
        Cs.append(C)
        for i in range(P):
            rm[l, i] = i
    P = t.size
    codes = np.zeros((P, code_off[d]), np.int16)
    WT, b = _W(Wf, w_off, dims, d), bf[b_off[d]:b_off[d + 1]]
    n_out = WT.shape[1]
    if bad >= 0:
        return t, codes, np.zeros((P, n_out)), np.zeros((P, n_out)), n_close, n_erased, np.zeros(0), bad
    for l in range(d):
        Cl = Cs[l]
        o = code_off[l]
        for i in range(P):
            src = Cl[rm[l, i]]
            for z in range(Cl.shape[1]):
                codes[i, o + z] = src[z]
    AA, amax = _act_tangent(U, dU, Cs[d - 1], xif[xi_off[d - 1]:xi_off[d]], _Q(qf, q_off, dims, d - 1),
                            _Q(phif, phi_off, dims, d - 1), ptf[code_off[d - 1]:code_off[d]], clipf[d - 1], reluf[d - 1])
    N, dN = _mm2(AA, P, WT, b, blas[d])
    sus_a = np.empty(len(sus))
    for i in range(len(sus)):
        sus_a[i] = sus[i]
    return t, codes, N, dN, n_close, n_erased, sus_a, bad


@njit(cache=True, nogil=True)
def segments_partition(X0, X1, Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off,
                       swf, ptf, clipf, code_off, blas, reluf, snap_rtol, t_merge, close_factor):  # pragma: no cover - compiled
    """``segment_partition`` for every row of X0/X1 in one call (no per-segment dispatch), results
    concatenated: t, codes, N, dN (rows of all segments), points per segment, close and erased
    counts per segment, close t's with their segment, and (segment, layer) of an overflow or -1."""
    S = X0.shape[0]
    ts = [np.empty(0) for _ in range(0)]
    cs = [np.empty((0, 1), np.int16) for _ in range(0)]
    Ns = [np.empty((0, 1)) for _ in range(0)]
    dNs = [np.empty((0, 1)) for _ in range(0)]
    sus = [np.empty(0) for _ in range(0)]
    sizes = np.zeros(S, np.int64)
    n_close = np.zeros(S, np.int64)
    n_erased = np.zeros(S, np.int64)
    n_sus = np.zeros(S, np.int64)
    for i in range(S):
        t, codes, N, dN, c, e, s, bad = segment_partition(
            X0[i], X1[i], Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off, swf, ptf,
            clipf, code_off, blas, reluf, snap_rtol, t_merge, close_factor)
        if bad >= 0:
            return (np.zeros(0), np.zeros((0, code_off[-1]), np.int16), np.zeros((0, dims[-1])), np.zeros((0, dims[-1])),
                    sizes, n_close, n_erased, np.zeros(0), n_sus, i, bad)
        ts.append(np.ascontiguousarray(t))
        cs.append(np.ascontiguousarray(codes))
        Ns.append(np.ascontiguousarray(N))
        dNs.append(np.ascontiguousarray(dN))
        sus.append(np.ascontiguousarray(s))
        sizes[i], n_close[i], n_erased[i], n_sus[i] = t.size, c, e, s.size
    P = int(sizes.sum())
    t_all = np.empty(P)
    c_all = np.empty((P, code_off[-1]), np.int16)
    N_all = np.empty((P, dims[-1]))
    dN_all = np.empty((P, dims[-1]))
    s_all = np.empty(int(n_sus.sum()))
    r = 0
    q = 0
    for i in range(S):
        m = sizes[i]
        t_all[r:r + m] = ts[i]
        c_all[r:r + m] = cs[i]
        N_all[r:r + m] = Ns[i]
        dN_all[r:r + m] = dNs[i]
        r += m
        s_all[q:q + n_sus[i]] = sus[i]
        q += n_sus[i]
    return t_all, c_all, N_all, dN_all, sizes, n_close, n_erased, s_all, n_sus, -1, -1
