"""Matrix products of the 1D kernels: row-invariant per segment (a segment's rows get the same
values whatever the other segments are). The fixed-order row-wise kernel (b first, then a_k w_k for
k in order, zeros skipped), the first layer's values, tangent and rounding scale in one pass, and
per-segment BLAS products of values and tangents with dead columns left out where that pays."""
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
            _axpy(r0, a0, w)
            _axpy(r1, a1, w)
            _axpy(r2, a2, w)
            _axpy(r3, a3, w)
            if pending:
                _axpy_abs(tolb, amax[k], w)
        pending = False
        i0 += 4
    if pending:
        for k in range(K):
            _axpy_abs(tolb, amax[k], WT[k])
    return out, tolb


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
        _axpy(r0, a0, w)
        _axpy(r1, a1, w)
        _axpy(r2, a2, w)
        _axpy_abs(tolb, at, w)
    return out, tolb


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
