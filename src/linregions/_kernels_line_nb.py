"""The compiled (numba, ``cache=True``) kernels of the 1D engine; imported on first use by
``linregions._kernels_line`` so that ``import linregions`` does not load numba."""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _rowwise_matmul(A, WT, b):  # pragma: no cover - compiled
    """A @ WT + b, each row on its own: b, then a_k w_k added for k in order (zeros skipped).
    Rows are processed four at a time (sharing the loads of WT) without changing any row's order
    of operations."""
    M, K = A.shape
    N = WT.shape[1]
    out = np.empty((M, N))
    for i in range(M):
        for j in range(N):
            out[i, j] = b[j]
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


@njit(cache=True, nogil=True)
def _mm(A, WT, b, blas):  # pragma: no cover - compiled
    """A @ WT + b for one segment's rows (BLAS for large layers, a fixed-order loop else)."""
    if blas:
        out = A @ WT
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] += b[j]
        return out
    return _rowwise_matmul(A, WT, b)

@njit(cache=True, nogil=True)
def _mm2(AA, P, WT, b, blas):  # pragma: no cover - compiled
    """(A @ WT + b, dA @ WT) for AA = [A; dA] (2P rows of one segment) in one product; the two
    results are row blocks of one array (no copies)."""
    if not blas:  # b first, then the products in order: the numpy engine's rows_matmul exactly
        return _rowwise_matmul(AA[:P], WT, b), _rowwise_matmul(AA[P:], WT, np.zeros(WT.shape[1]))
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
def segment_partition(x0, x1, Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off,
                      swf, ptf, clipf, code_off, blas, snap_rtol, t_merge, close_factor):  # pragma: no cover - compiled
    """The layer loop of ``linregions.line._partition_chunk`` for one segment, compiled (same
    algorithm, same tolerances; see there). Returns t (P,), the interval state codes of all
    layers side by side (P, sum n_l) (row i: interval [t_i, t_{i+1}]), N at the points,
    dN/dt on the intervals, the close/erased decision counts, the t of close decisions, and
    the index of a layer whose values overflowed (-1: none). The parameters come flat (one
    compiled signature for every depth): layer l's W^T is ``Wf[w_off[l]:w_off[l + 1]]`` of
    shape (dims[l], dims[l + 1]), and likewise for the others (``_flat_params``)."""
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
    codes = np.zeros((2, code_off[d]), np.int16)
    n_close = 0
    n_erased = 0
    sus = []
    bad = -1
    for l in range(d):
        xi = xif[xi_off[l]:xi_off[l + 1]]
        sw = swf[code_off[l]:code_off[l + 1]]
        bl = bf[b_off[l]:b_off[l + 1]]
        P = t.size
        if l > 0:
            qp, php = _Q(qf, q_off, dims, l - 1), _Q(phif, phi_off, dims, l - 1)
            xip, ptp = xif[xi_off[l - 1]:xi_off[l]], ptf[code_off[l - 1]:code_off[l]]
            n_prev = U.shape[1]
            AA = np.empty((2 * P, n_prev))
            A = AA[:P]
            dA = AA[P:]
            o = code_off[l - 1]
            for i in range(P):
                for z in range(n_prev):
                    A[i, z] = _act(U[i, z], z, xip, qp, php, ptp, clipf[l - 1])
                    c = codes[i, o + z]
                    dA[i, z] = dU[i, z] if ptp[z] else dU[i, z] * qp[z, c // 2]
            amax = np.zeros(n_prev)
            for i in range(P):
                for z in range(n_prev):
                    a = abs(A[i, z])
                    if a > amax[z]:
                        amax[z] = a
            U, dU = _mm2(AA, P, _W(Wf, w_off, dims, l), bl, blas[l])
        n = U.shape[1]
        for i in range(P):
            for z in range(n):
                if not (np.isfinite(U[i, z]) and np.isfinite(dU[i, z])):
                    bad = l
        if bad >= 0:
            break
        tolb = np.empty(n)
        aW = _W(aWf, w_off, dims, l)
        for z in range(n):
            tolb[z] = abs(bl[z])
        for k in range(aW.shape[0]):
            a = amax[k]
            if a != 0.0:
                for z in range(n):
                    tolb[z] += a * aW[k, z]
        for z in range(n):
            tolb[z] *= snap_rtol
        T = xi.size
        # strict crossings inside intervals, in interval order
        ks = []
        ts = []
        lams = []
        for i in range(P - 1):  # order of generation: as the numpy engine (interval, breakpoint, unit)
            for j in range(T):
                for z in range(n):
                    if not sw[z]:
                        continue
                    tol = tolb[z] + snap_rtol * abs(xi[j])
                    D0 = U[i, z] - xi[j]
                    D1 = U[i + 1, z] - xi[j]
                    if (D0 > tol and D1 < -tol) or (D0 < -tol and D1 > tol):
                        lam = D0 / (D0 - D1)
                        ks.append(i)
                        lams.append(lam)
                        ts.append(t[i] + lam * (t[i + 1] - t[i]))
        K = len(ks)
        if K > 0:
            ka = np.array(ks)
            ta = np.array(ts)
            la = np.array(lams)
            # sort by t within each interval (ks is already non-decreasing)
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
                t2 = np.empty(P + Kn)
                U2 = np.empty((P + Kn, n))
                dU2 = np.empty((P + Kn, n))
                codes2 = np.empty((P + Kn, codes.shape[1]), np.int16)
                r = 0
                c = 0
                for i in range(P):
                    t2[r] = t[i]
                    U2[r] = U[i]
                    dU2[r] = dU[i]
                    codes2[r] = codes[i]
                    r += 1
                    while c < K and ka[c] == i:
                        if sel[c]:
                            t2[r] = ta[c]
                            lam = la[c]
                            for z in range(n):
                                U2[r, z] = U[i, z] + lam * (U[i + 1, z] - U[i, z])
                            dU2[r] = dU[i]
                            codes2[r] = codes[i]
                            r += 1
                        c += 1
                t, U, dU, codes = t2, U2, dU2, codes2
                P = t.size
        # state codes of layer l on the intervals, close snaps at the points
        o = code_off[l]
        for i in range(P):
            row_close = False
            for z in range(n):
                if not sw[z]:
                    continue
                for j in range(T):
                    tol = tolb[z] + snap_rtol * abs(xi[j])
                    a = abs(U[i, z] - xi[j]) * close_factor
                    if a > tol and a <= close_factor * close_factor * tol:
                        n_close += 1
                        row_close = True
                        if a <= close_factor * tol:
                            n_erased += 1
            if row_close:
                sus.append(t[i])
            for z in range(n):
                codes[i, o + z] = 0
            if i == P - 1:
                continue
            for z in range(n):
                if not sw[z]:
                    continue
                m2 = U[i, z] + U[i + 1, z]
                cz = 0
                for j in range(T):
                    if m2 >= 2.0 * xi[j]:
                        cz += 1
                cz *= 2
                for j in range(T):
                    tol = tolb[z] + snap_rtol * abs(xi[j])
                    if abs(U[i, z] - xi[j]) <= tol and abs(U[i + 1, z] - xi[j]) <= tol:
                        cz = 2 * j + 1
                codes[i, o + z] = cz
    P = t.size
    WT, b = _W(Wf, w_off, dims, d), bf[b_off[d]:b_off[d + 1]]
    n_out = WT.shape[1]
    if bad >= 0:
        return t, codes, np.zeros((P, n_out)), np.zeros((P, n_out)), n_close, n_erased, np.zeros(0), bad
    qp, php = _Q(qf, q_off, dims, d - 1), _Q(phif, phi_off, dims, d - 1)
    xip, ptp = xif[xi_off[d - 1]:xi_off[d]], ptf[code_off[d - 1]:code_off[d]]
    n_prev = U.shape[1]
    AA = np.empty((2 * P, n_prev))
    A = AA[:P]
    dA = AA[P:]
    o = code_off[d - 1]
    for i in range(P):
        for z in range(n_prev):
            A[i, z] = _act(U[i, z], z, xip, qp, php, ptp, clipf[d - 1])
            c = codes[i, o + z]
            dA[i, z] = dU[i, z] if ptp[z] else dU[i, z] * qp[z, c // 2]
    N, dN = _mm2(AA, P, WT, b, blas[d])
    sus_a = np.empty(len(sus))
    for i in range(len(sus)):
        sus_a[i] = sus[i]
    return t, codes, N, dN, n_close, n_erased, sus_a, bad


@njit(cache=True, nogil=True)
def segments_partition(X0, X1, Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off,
                       swf, ptf, clipf, code_off, blas, snap_rtol, t_merge, close_factor):  # pragma: no cover - compiled
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
            clipf, code_off, blas, snap_rtol, t_merge, close_factor)
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
