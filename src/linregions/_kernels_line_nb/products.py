"""Matrix products of the 1D kernels, row-invariant per segment (a segment's rows get the same
values whatever the other segments are): one BLAS call per segment (on one thread, see
``_kernels_line.one_blas_thread``), or the fixed-order row-wise kernel (b first, then a_k w_k for
k in order, zeros skipped) where a segment has few points on a large layer or the layer has very
few inputs (``_rowwise``); the first layer's
values, tangent and rounding scale in one pass; and the extension of a layer's values and tangents
to the points the previous layer inserted (``_extend``: a few multiply-adds per point instead of a
row of the product). The batched engine calls the same products on the same row blocks
(``blocks_matmul``, ``blocks_mm2``, ``first_layers``, ``blocks_scale``), so both give identical
rows."""
import numpy as np
from numba import njit
from .states import _tangent


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
    zeros skipped: ``_tol_scale``'s sum exactly).

    Rows are taken four at a time, skipping the inputs k that are 0 on all four (and, for the
    scale, where amax_k = 0); the other inputs four at a time, each output's sums held across the
    four terms: every row gets b + a_k w_k for k in order (a zero a_k adds +-0, so the value is the
    same whichever rows share its group), with a quarter of the loads and stores."""
    M, K = A.shape
    N = WT.shape[1]
    out = np.empty((M + 3, N))  # three spare rows: a last group of fewer than four writes there
    for i in range(M):
        for j in range(N):
            out[i, j] = b[j] if i < P else 0.0
    with_tol = amax.size > 0
    tolb = np.empty(N if with_tol else 0)
    for j in range(tolb.size):
        tolb[j] = abs(b[j])
    if M == 0:
        for k in range(K):
            if with_tol:
                _axpy_abs(tolb, amax[k], WT[k])
        return out[:0], tolb
    Z = np.zeros((3, K))  # the coefficients of the spare rows
    ks = np.empty(K, np.int64)
    pending = with_tol  # the scale is added in the first group's pass over WT
    for i0 in range(0, M, 4):
        A0 = A[i0]
        A1 = A[i0 + 1] if i0 + 1 < M else Z[0]
        A2 = A[i0 + 2] if i0 + 2 < M else Z[1]
        A3 = A[i0 + 3] if i0 + 3 < M else Z[2]
        r0, r1, r2, r3 = out[i0], out[i0 + 1], out[i0 + 2], out[i0 + 3]
        m = 0
        for k in range(K):
            if A0[k] != 0.0 or A1[k] != 0.0 or A2[k] != 0.0 or A3[k] != 0.0 or (pending and amax[k] != 0.0):
                ks[m] = k
                m += 1
        c = 0
        while c + 4 <= m:
            k0, k1, k2, k3 = ks[c], ks[c + 1], ks[c + 2], ks[c + 3]
            w0, w1, w2, w3 = WT[k0], WT[k1], WT[k2], WT[k3]
            a00, a01, a02, a03 = A0[k0], A0[k1], A0[k2], A0[k3]
            a10, a11, a12, a13 = A1[k0], A1[k1], A1[k2], A1[k3]
            a20, a21, a22, a23 = A2[k0], A2[k1], A2[k2], A2[k3]
            a30, a31, a32, a33 = A3[k0], A3[k1], A3[k2], A3[k3]
            for j in range(N):
                v0, v1, v2, v3 = w0[j], w1[j], w2[j], w3[j]
                r0[j] = (((r0[j] + a00 * v0) + a01 * v1) + a02 * v2) + a03 * v3
                r1[j] = (((r1[j] + a10 * v0) + a11 * v1) + a12 * v2) + a13 * v3
                r2[j] = (((r2[j] + a20 * v0) + a21 * v1) + a22 * v2) + a23 * v3
                r3[j] = (((r3[j] + a30 * v0) + a31 * v1) + a32 * v2) + a33 * v3
            if pending:
                t0, t1, t2, t3 = amax[k0], amax[k1], amax[k2], amax[k3]
                for j in range(N):
                    tolb[j] = (((tolb[j] + t0 * abs(w0[j])) + t1 * abs(w1[j])) + t2 * abs(w2[j])) + t3 * abs(w3[j])
            c += 4
        while c < m:
            k = ks[c]
            w = WT[k]
            a0, a1, a2, a3 = A0[k], A1[k], A2[k], A3[k]
            for j in range(N):
                v = w[j]
                r0[j] += a0 * v
                r1[j] += a1 * v
                r2[j] += a2 * v
                r3[j] += a3 * v
            if pending:
                _axpy_abs(tolb, amax[k], w)
            c += 1
        pending = False
    return out[:M], tolb


@njit(cache=True, nogil=True, inline="always")
def _axpy(r, a, w):  # pragma: no cover - compiled
    """r += a w, skipped where a == 0 (the row-wise kernels' zero skipping)."""
    if a != 0.0:
        for j in range(r.size):
            r[j] += a * w[j]


@njit(cache=True, nogil=True, inline="always")
def _axpy_abs(r, a, w):  # pragma: no cover - compiled
    """r += a |w|, skipped where a == 0 (rounding scales)."""
    if a != 0.0:
        for j in range(r.size):
            r[j] += a * abs(w[j])


@njit(cache=True, nogil=True)
def _first_layer(x0, x1, WT, b):  # pragma: no cover - compiled
    """The first layer on a segment [x0, x1] in one pass over W_0 (which is read once: for wide
    inputs it does not fit in cache, and three BLAS calls read it three times): its values at both
    ends (b, then x_k w_k added for k in order), its tangent (x1 - x0 in place of x) and the raw
    rounding scale of its values, |b| + max(|x0|, |x1|) |W_0| (``_tol_scale``'s terms in the same
    order). Inputs k where x0 and x1 are both 0 are skipped (their terms are +-0); the others are
    taken four at a time, each unit's four sums held across the four terms (the same additions, in
    the same order, with a quarter of the loads and stores). The blocking is ``_rowwise_tol``'s;
    calling that kernel on [x0; x1; x1 - x0] gave the same results but ran 8-9% slower (the
    2,000 short segments and 784-[64]x3 of ``benchmarks/line.py``), so the loop stays here."""
    K, N = WT.shape
    U = np.empty((2, N))
    dU = np.empty((2, N))
    tolb = np.empty(N)
    r0, r1, r2 = U[0], U[1], dU[0]
    for j in range(N):
        r0[j] = b[j]
        r1[j] = b[j]
        r2[j] = 0.0
        tolb[j] = abs(b[j])
    ks = np.empty(K, np.int64)
    m = 0
    for k in range(K):
        if x0[k] != 0.0 or x1[k] != 0.0:
            ks[m] = k
            m += 1
    c = 0
    while c + 4 <= m:
        k0, k1, k2, k3 = ks[c], ks[c + 1], ks[c + 2], ks[c + 3]
        w0, w1, w2, w3 = WT[k0], WT[k1], WT[k2], WT[k3]
        a00, a01, a02, a03 = x0[k0], x0[k1], x0[k2], x0[k3]
        a10, a11, a12, a13 = x1[k0], x1[k1], x1[k2], x1[k3]
        a20, a21, a22, a23 = a10 - a00, a11 - a01, a12 - a02, a13 - a03
        t0, t1 = max(abs(a00), abs(a10)), max(abs(a01), abs(a11))
        t2, t3 = max(abs(a02), abs(a12)), max(abs(a03), abs(a13))
        for j in range(N):
            v0, v1, v2, v3 = w0[j], w1[j], w2[j], w3[j]
            r0[j] = (((r0[j] + a00 * v0) + a01 * v1) + a02 * v2) + a03 * v3
            r1[j] = (((r1[j] + a10 * v0) + a11 * v1) + a12 * v2) + a13 * v3
            r2[j] = (((r2[j] + a20 * v0) + a21 * v1) + a22 * v2) + a23 * v3
            tolb[j] = (((tolb[j] + t0 * abs(v0)) + t1 * abs(v1)) + t2 * abs(v2)) + t3 * abs(v3)
        c += 4
    while c < m:
        k = ks[c]
        w = WT[k]
        a0, a1 = x0[k], x1[k]
        a2, at = a1 - a0, max(abs(a0), abs(a1))
        for j in range(N):
            wj = w[j]
            r0[j] += a0 * wj
            r1[j] += a1 * wj
            r2[j] += a2 * wj
            tolb[j] += at * abs(wj)
        c += 1
    for j in range(N):
        dU[1, j] = r2[j]
    return U, dU, tolb


@njit(cache=True, nogil=True)
def first_layers(X0, X1, WT, b):  # pragma: no cover - compiled
    """``_first_layer`` of every segment [X0[i], X1[i]] (the batched engine's first layer, the
    same float operations): values at the ends (2S rows, segment by segment), tangents (S rows) and
    raw rounding scales (S rows)."""
    S, N = X0.shape[0], WT.shape[1]
    U = np.empty((2 * S, N))
    dU = np.empty((S, N))
    tolb = np.empty((S, N))
    for i in range(S):
        u, du, tb = _first_layer(X0[i], X1[i], WT, b)
        U[2 * i:2 * i + 2] = u
        dU[i] = du[0]
        tolb[i] = tb
    return U, dU, tolb


@njit(cache=True, nogil=True)
def _tol_scale(amax, aW, bl):  # pragma: no cover - compiled
    """The rounding scale |b| + |W| amax of a layer's values (``tolerances.snap_scale`` without
    the breakpoint; |b| first, then the terms in order, zeros skipped)."""
    tolb = np.empty(bl.size)
    for z in range(bl.size):
        tolb[z] = abs(bl[z])
    for k in range(aW.shape[0]):
        _axpy(tolb, amax[k], aW[k])
    return tolb


#: A segment with at most ``SHORT_POINTS`` points on a layer with at least ``ROWWISE_MIN_WEIGHTS``
#: weights gets that layer's values, tangents and rounding scale from the fixed-order row-wise
#: kernel, in one pass over W: on such layers W is not in cache when the next segment comes, and a
#: BLAS product plus a separate pass for the scale read it twice (the local-complexity workload of
#: many short segments on 256-wide layers ran 25% slower that way). Everywhere else BLAS, which
#: beat the row-wise kernel on every product measured with W in cache, from one row to hundreds
#: and from 32 x 1 to 256 x 256 (``benchmarks/line.py``, issue 15).
SHORT_POINTS = 16
ROWWISE_MIN_WEIGHTS = 2**14

#: Layers with at most this many inputs also take the row-wise kernel: there BLAS saves nothing,
#: and its fused multiply-adds leave residues of exactly cancelling terms (a slope of
#: 0.7 * 0.6 - 0.7 * 0.6 came out as -2.7e-17), where the row-wise kernel rounds each product
#: and cancels them exactly.
TINY_FANIN = 8


@njit(cache=True, nogil=True, inline="always")
def _rowwise(P, WT):  # pragma: no cover - compiled
    """Whether a product of P points (of one segment) with W^T takes the row-wise kernel."""
    return (P <= SHORT_POINTS and WT.size >= ROWWISE_MIN_WEIGHTS) or WT.shape[0] <= TINY_FANIN


@njit(cache=True, nogil=True)
def _mm(A, WT, b):  # pragma: no cover - compiled
    """A @ WT + b for one segment's rows (``_rowwise`` decides the kernel)."""
    if _rowwise(A.shape[0], WT):
        return _rowwise_matmul(A, WT, b)
    out = A @ WT
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] += b[j]
    return out


@njit(cache=True, nogil=True)
def blocks_matmul(A, WT, b, starts):  # pragma: no cover - compiled
    """``_mm`` on each block ``starts[i]:starts[i + 1]`` of rows (a segment), so every row gets
    the value it gets in the per-segment kernel; row-wise blocks together in one call."""
    M = A.shape[0]
    N = WT.shape[1]
    out = np.empty((M, N))
    short = np.zeros(M, np.bool_)
    for s in range(starts.size - 1):
        s0, s1 = starts[s], starts[s + 1]
        if s1 == s0:
            continue
        if _rowwise(s1 - s0, WT):
            short[s0:s1] = True
        else:
            out[s0:s1] = _mm(A[s0:s1], WT, b)
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
def blocks_mm2(A, dA, WT, b, starts):  # pragma: no cover - compiled
    """``_mm2`` on each block (segment) of rows of [A; dA]: the values and tangents of every row
    exactly as the per-segment kernel computes them; row-wise blocks together in one call."""
    M = A.shape[0]
    N = WT.shape[1]
    U = np.empty((M, N))
    dU = np.empty((M, N))
    short = np.zeros(M, np.bool_)
    for s in range(starts.size - 1):
        s0, s1 = starts[s], starts[s + 1]
        P = s1 - s0
        if P == 0:
            continue
        if _rowwise(P, WT):
            short[s0:s1] = True
            continue
        AA = np.empty((2 * P, A.shape[1]))
        AA[:P] = A[s0:s1]
        AA[P:] = dA[s0:s1]
        u, du = _mm2(AA, P, WT, b, np.empty(2 * P * N))
        U[s0:s1] = u
        dU[s0:s1] = du
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
def blocks_scale(Amax, aW, b):  # pragma: no cover - compiled
    """``_tol_scale`` of each row of ``Amax`` (one segment each): the batched engine's rounding
    scales, as the per-segment kernel computes them."""
    out = np.empty((Amax.shape[0], aW.shape[1]))
    for i in range(Amax.shape[0]):
        out[i] = _tol_scale(Amax[i], aW, b)
    return out


#: Columns of a segment's rows that are zero on every row (units off on the whole segment) are
#: left out of its BLAS product only when the product has at least ``DROP_MIN_WORK`` multiply-adds
#: and at most ``DROP_LIVE_FRACTION`` of the columns are live: below either, finding and copying
#: them cost more than the product saves (measured on one BLAS thread, widths 64-256, 30-500
#: points, 15-50% dead columns; narrow output layers never pay).
DROP_MIN_WORK = 2**20
DROP_LIVE_FRACTION = 0.75


@njit(cache=True, nogil=True)
def _dead_columns_dropped(AA, WT, R):  # pragma: no cover - compiled
    """R = AA @ WT without the columns of AA that are zero on every row, if at most
    ``DROP_LIVE_FRACTION`` of them are live (returns True); else R untouched and False."""
    M, K = AA.shape
    N = WT.shape[1]
    live = np.zeros(K, np.bool_)
    for i in range(M):
        for k in range(K):
            live[k] |= AA[i, k] != 0.0
    cols = np.nonzero(live)[0]
    if cols.size > DROP_LIVE_FRACTION * K:
        return False
    if cols.size == 0:
        R[:] = 0.0
        return True
    A2 = np.empty((M, cols.size))
    W2 = np.empty((cols.size, N))
    for c in range(cols.size):
        for j in range(N):
            W2[c, j] = WT[cols[c], j]
    for i in range(M):
        for c in range(cols.size):
            A2[i, c] = AA[i, cols[c]]
    np.dot(A2, W2, R)
    return True


@njit(cache=True, nogil=True)
def _mm2(AA, P, WT, b, out):  # pragma: no cover - compiled
    """(A @ WT + b, dA @ WT) for AA = [A; dA] (2P rows of one segment) in one product; the
    two results are row blocks of one array (no copies), written into the buffer ``out`` (at least
    2P N entries) unless the product is row-wise. Columns of AA that are zero on every row
    (units off on the whole segment, e.g. ReLU) are left out of the product where that pays
    (``DROP_MIN_WORK``, ``DROP_LIVE_FRACTION``): the result depends only on the segment's own
    rows. Where ``_rowwise`` says so (short segments on large layers, tiny fan-in): the
    fixed-order row-wise kernel."""
    if _rowwise(P, WT):
        R = _rowwise_matmul2(AA, WT, b, P)
        return R[:P], R[P:]
    M, K = AA.shape
    N = WT.shape[1]
    R = out[:M * N].reshape((M, N))
    if M * K * N < DROP_MIN_WORK or not _dead_columns_dropped(AA, WT, R):
        np.dot(AA, WT, R)
    U = R[:P]
    for i in range(P):
        for j in range(U.shape[1]):
            U[i, j] += b[j]
    return U, R[P:]


@njit(cache=True, nogil=True, inline="always")
def _mm2t(AA, P, WT, b, amax, aW, out):  # pragma: no cover - compiled
    """``_mm2`` and the raw rounding scale |b| + amax |W| of its result (``_tol_scale``), the scale
    in the same pass over WT where the product is row-wise."""
    if _rowwise(P, WT):
        R, tolb = _rowwise_tol(AA, WT, b, P, amax)
        return R[:P], R[P:], tolb
    U, dU = _mm2(AA, P, WT, b, out)
    return U, dU, _tol_scale(amax, aW, b)


@njit(cache=True, nogil=True)
def _extend(Uo, dUo, oi, t, dUp, C, dp, du, q, pt, relu, WT):  # pragma: no cover - compiled
    """A layer's pre-activations at all P points of a segment and their tangents on its intervals,
    from the product at the points ``oi`` only (``Uo``, ``dUo``: the points that were there before
    the previous layer split the segment, and the intervals that start there).

    The points in between were inserted by the previous layer, at crossings inside one interval
    where its pre-activations are affine (tangent ``dUp[k]`` on the interval that starts at
    ``oi[k]``, the same on all its pieces). Its activation is therefore affine on each piece, and
    only the units whose state code changes at an inserted point (``C``: the previous layer's
    codes, ``du[dp[j]:dp[j + 1]]`` the units whose code differs between intervals j - 1 and j,
    ``_row_diffs``) change its tangent there. Hence, exactly: U_j = U_{j-1} + (t_j - t_{j-1})
    dU_{j-1} and dU_j = dU_{j-1} + sum_z (phi'_z(C_j) - phi'_z(C_{j-1})) dUp_{k,z} W_z (the terms
    added one by one in increasing z, zero terms skipped): O(n) per inserted point instead of a
    row of the product. Valid only while no crossing has been merged into another point (the
    caller, ``segments._next_layer``, checks): a merged kink is not in the codes."""
    P = t.size
    n = WT.shape[1]
    U = np.empty((P, n))
    dU = np.empty((P, n))
    Po = oi.size
    for k in range(Po):
        i0 = oi[k]
        for z in range(n):
            U[i0, z] = Uo[k, z]
            dU[i0, z] = dUo[k, z]
        i1 = oi[k + 1] if k + 1 < Po else P
        for j in range(i0 + 1, i1):
            dt = t[j] - t[j - 1]
            for z in range(n):
                U[j, z] = U[j - 1, z] + dt * dU[j - 1, z]
                dU[j, z] = dU[j - 1, z]
            for m in range(dp[j], dp[j + 1]):
                zp = du[m]
                g = dUp[k, zp]
                a = _tangent(g, C[j, zp], zp, q, pt, relu) - _tangent(g, C[j - 1, zp], zp, q, pt, relu)
                if a != 0.0:  # zero terms skipped
                    for z in range(n):
                        dU[j, z] += a * WT[zp, z]
    return U, dU
