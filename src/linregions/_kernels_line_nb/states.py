"""Per-layer passes of the 1D kernels on one segment's points: activations and tangents, the
rounding scale and snap tolerances (``tolerances.snap_scale``), strict crossings of breakpoints
inside intervals, the state codes of the intervals with their close snap decisions, and the units
whose code differs between consecutive intervals."""
import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _reserve(buf, need):  # pragma: no cover - compiled
    """``buf``, or a copy at least twice as large when it holds fewer than ``need`` items."""
    if need <= buf.size:
        return buf
    out = np.empty(max(need, 2 * buf.size), buf.dtype)
    out[:buf.size] = buf
    return out


@njit(cache=True, nogil=True, inline="always")
def _scratch(buf, need):  # pragma: no cover - compiled
    """``buf``, or a new buffer at least twice as large when it holds fewer than ``need`` items
    (``_reserve`` without the copy: for scratch space whose content is not needed any more)."""
    if need <= buf.size:
        return buf
    return np.empty(max(need, 2 * buf.size), buf.dtype)


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


@njit(cache=True, nogil=True, inline="always")
def _W(Wf, w_off, dims, l):  # pragma: no cover - compiled
    return Wf[w_off[l]:w_off[l + 1]].reshape((dims[l], dims[l + 1]))


@njit(cache=True, nogil=True, inline="always")
def _Q(qf, q_off, dims, l):  # pragma: no cover - compiled
    n = dims[l + 1]
    return qf[q_off[l]:q_off[l + 1]].reshape((n, (q_off[l + 1] - q_off[l]) // n))


@njit(cache=True, nogil=True, inline="always")
def _tangent(g, c, z, q, pt, relu):  # pragma: no cover - compiled
    """d phi(u_z) / dt on an interval where unit z has state code ``c`` and du_z / dt = ``g`` (on
    a breakpoint: the slope on its left); ReLU: g where code >= 2, 0 else."""
    if relu:
        return g if c >= 2 else 0.0
    return g if pt[z] else g * q[z, c // 2]


@njit(cache=True, nogil=True, inline="always")
def _act_tangent(U, dU, C, oi, full, xi, q, phi, pt, clip, relu, buf):  # pragma: no cover - compiled
    """One fused pass over the P points of a segment: ``AA = [phi(U[oi]); phi'(C[oi]) dU]``
    (2 len(oi) rows: the values at the points ``oi`` and the tangents on the intervals that start
    there, ``dU`` having one row per point of ``oi``, for one product), or with ``full`` the
    values at all P points and the tangents on all intervals (2P rows; interval i lies in the
    interval of ``dU`` that starts at the last ``oi[k] <= i``: the layer is affine there), and the
    column maxima of |phi(U)| over all P points (rounding scale of the next layer). ``C`` are the
    layer's interval state codes (the slope of the piece on each interval; on a breakpoint the
    slope on its left). ReLU layers (``relu``): max(u, 0), the same values as the general formula.
    Both are written into ``buf`` (at least (2 R + 1) n entries, R the number of rows)."""
    P, n = U.shape
    Po = oi.size
    R = P if full else Po
    AA = buf[:2 * R * n].reshape((2 * R, n))
    amax = buf[2 * R * n:(2 * R + 1) * n]
    amax[:] = 0.0
    if relu and full:  # one pass: every point is a row
        k = 0
        for i in range(P):
            while k + 1 < Po and oi[k + 1] <= i:
                k += 1
            for z in range(n):
                u = U[i, z]
                amax[z] = max(amax[z], u)  # max(amax, max(u, 0)) = max(amax, u) as amax >= 0
                AA[i, z] = u if u > 0.0 else 0.0
                AA[P + i, z] = dU[k, z] if C[i, z] >= 2 else 0.0
        return AA, amax
    if relu:  # rows at the points oi only
        for i in range(P):
            for z in range(n):
                amax[z] = max(amax[z], U[i, z])
        for k in range(Po):
            i = oi[k]
            for z in range(n):
                u = U[i, z]
                AA[k, z] = u if u > 0.0 else 0.0
                AA[Po + k, z] = dU[k, z] if C[i, z] >= 2 else 0.0
        return AA, amax
    k = -1
    r = 0
    for i in range(P):
        if k + 1 < Po and oi[k + 1] == i:
            k += 1
            row = True
        else:
            row = full
        for z in range(n):
            a = _act(U[i, z], z, xi, q, phi, pt, clip)
            if row:
                AA[r, z] = a
            amax[z] = max(amax[z], abs(a))
        if row:
            for z in range(n):
                AA[R + r, z] = _tangent(dU[k, z], C[i, z], z, q, pt, relu)
            r += 1
    return AA, amax


@njit(cache=True, nogil=True)
def _all_finite(U, dU):  # pragma: no cover - compiled
    """Whether every entry of U and dU is finite (not inf, not NaN), without branches."""
    ok = True
    for i in range(U.shape[0]):
        for z in range(U.shape[1]):
            ok &= abs(U[i, z]) < np.inf
    for i in range(dU.shape[0]):
        for z in range(dU.shape[1]):
            ok &= abs(dU[i, z]) < np.inf
    return ok


@njit(cache=True, nogil=True, inline="always")
def _tolerances(tolb, xi, snap_rtol, close_factor):  # pragma: no cover - compiled
    """Snap tolerance of each (unit, breakpoint) from the scale ``tolb`` (``_tol_scale``):
    SNAP_RTOL (tolb + |xi_j|) (``tolerances.snap_scale``), and the upper end CLOSE_FACTOR^2 tol of
    a close snap decision; both (T, n), a breakpoint's row contiguous."""
    n = tolb.size
    T = xi.size
    both = np.empty((2, T, n))
    tol, hi = both[0], both[1]
    for z in range(n):
        tz = tolb[z] * snap_rtol
        for j in range(T):
            tol[j, z] = tz + snap_rtol * abs(xi[j])
            hi[j, z] = close_factor * close_factor * tol[j, z]
    return tol, hi


@njit(cache=True, nogil=True)
def _strict_crossings(U, t, xi, tol, sw, allsw, ib, fb):  # pragma: no cover - compiled
    """Strict crossings of breakpoints inside intervals (interval i, lam, t), in the order of
    generation of the numpy engine (interval, breakpoint, unit), written in one pass into arrays
    of a few per interval; only if they overflow, counted first and written again (no growing
    arrays in the loop, which keeps it fast). A unit crosses xi_j strictly inside interval i when
    u - xi_j is beyond its tolerance on both sides with opposite signs; the units of an interval
    that do are collected without branches (each unit's index written, the count advanced by the
    test), which pays where most intervals have several. The arrays are views of the scratch
    buffers ``ib[0]`` and ``fb[4]`` (grown as needed)."""
    P, n = U.shape
    T = xi.size
    cap = min((P - 1) * T * n, 4 * P + 64)
    for attempt in range(2):
        ib[0] = _scratch(ib[0], cap + n)
        fb[4] = _scratch(fb[4], 2 * cap)
        cap = min(ib[0].size - n, fb[4].size // 2)
        ka, zs = ib[0][:cap], ib[0][cap:cap + n]
        ta, la = fb[4][:cap], fb[4][cap:2 * cap]
        K = 0
        for i in range(P - 1):
            for j in range(T):
                x = xi[j]
                nc = 0  # sign changes (a branch-free count first: most intervals have none or few)
                for z in range(n):
                    nc += (U[i, z] - x < 0.0) != (U[i + 1, z] - x < 0.0)
                if nc == 0:
                    continue
                m = 0
                for z in range(n):
                    D0 = U[i, z] - x
                    D1 = U[i + 1, z] - x
                    tz = tol[j, z]
                    zs[m] = z
                    m += (((D0 > tz) & (D1 < -tz)) | ((D0 < -tz) & (D1 > tz))) & (allsw | sw[z])
                for c in range(m):
                    if K < cap:
                        z = zs[c]
                        D0 = U[i, z] - x
                        lam = D0 / (D0 - (U[i + 1, z] - x))
                        ka[K] = i
                        la[K] = lam
                        ta[K] = t[i] + lam * (t[i + 1] - t[i])
                    K += 1
        if K <= cap:
            return ka[:K], ta[:K], la[:K]
        cap = K
    return ka, ta, la  # not reached: the second pass has room for every crossing


@njit(cache=True, nogil=True)
def _states_close(U, xi, tol, hi, sw, allsw, close_factor, C, dp, bb):  # pragma: no cover - compiled
    """State codes of one layer on the intervals, written into ``C`` (P, n) (row i:
    [t_i, t_{i+1}]; the last row 0), and the close snap decisions at the points (counts, and which
    rows have one), the decisions of ``interval_states``. A first branch-free pass marks the
    (point, breakpoint) pairs where some unit is near xi_j (within the close range, or snapped: the
    same expressions as the tests below); only those pairs are looked at unit by unit. Also the
    number of units whose code differs between rows r - 1 and r, accumulated into ``dp`` (P + 1:
    ``_row_diffs``' offsets); the marks go to the scratch ``bb[1]``."""
    P, n = U.shape
    T = xi.size
    for z in range(n):
        C[P - 1, z] = 0
    dp[0] = 0
    dp[1] = 0
    bb[1] = _scratch(bb[1], P * (T + 1))
    marks = bb[1][:P * (T + 1)].reshape((P, T + 1))  # near (columns < T) and flag (column T), all written
    near = marks[:, :T]
    flag = marks[:, T]
    for i in range(P):
        for j in range(T):
            x = xi[j]
            cnt = 0
            for z in range(n):
                d = abs(U[i, z] - x)
                cnt += (d * close_factor <= hi[j, z]) | (d <= tol[j, z])
            near[i, j] = cnt > 0
    n_close = 0
    n_erased = 0
    for i in range(P):
        nc = 0
        ne = 0
        for j in range(T):
            if not near[i, j]:
                continue
            x = xi[j]
            for z in range(n):
                a = abs(U[i, z] - x) * close_factor
                tz = tol[j, z]
                c = (a > tz) & (a <= hi[j, z]) & (allsw or sw[z])
                nc += c
                ne += c & (a <= close_factor * tz)
        n_close += nc
        n_erased += ne
        flag[i] = nc > 0
        if i == P - 1:
            continue
        if T == 1:
            x2 = 2.0 * xi[0]
            for z in range(n):
                C[i, z] = 2 * (U[i, z] + U[i + 1, z] >= x2)
        else:
            for z in range(n):
                m2 = U[i, z] + U[i + 1, z]
                cz = 0
                for j in range(T):
                    cz += m2 >= 2.0 * xi[j]
                C[i, z] = 2 * cz
        for j in range(T):
            if not (near[i, j] and near[i + 1, j]):
                continue
            x = xi[j]
            for z in range(n):
                tz = tol[j, z]
                on = (abs(U[i, z] - x) <= tz) & (abs(U[i + 1, z] - x) <= tz)
                C[i, z] = 2 * j + 1 if on else C[i, z]
        if not allsw:
            for z in range(n):
                if not sw[z]:
                    C[i, z] = 0
        if i > 0:
            c = 0
            for z in range(n):
                c += C[i - 1, z] != C[i, z]
            dp[i + 1] = dp[i] + c
    dp[P] = dp[P - 1]
    return n_close, n_erased, flag


@njit(cache=True, nogil=True)
def _row_diffs(C, dp, du):  # pragma: no cover - compiled
    """The units whose state code differs between interval rows r - 1 and r of one layer's codes
    ``C`` (rows 0..R-2 are intervals, the last row is not), as CSR: ``du[dp[r]:dp[r + 1]]`` in
    increasing order (empty for r = 0 and the last row), given their counts ``dp`` (from
    ``_states_close``), written into ``du`` (n spare entries at its end: each unit's index is
    written, kept if it differs). Two consecutive final intervals lie in the same row of a layer or in
    consecutive rows (later layers only split intervals), so these are all the comparisons the
    crossings pass needs, made once per layer."""
    R, n = C.shape
    for r in range(1, R - 1):
        if dp[r + 1] > dp[r]:
            k, e = dp[r], dp[r + 1]
            for z in range(n):
                du[k] = z
                k += C[r - 1, z] != C[r, z]
                if k == e:
                    break
