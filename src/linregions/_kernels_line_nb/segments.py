"""The per-segment layer loop of ``linregions.line`` (layer-by-layer splitting of a segment at
the breakpoints of each layer, Hanin & Rolnick's activation regions along a line) and the
crossings pass that turns its points into a partition (kept points, crossings with their
goodness, slope jumps, affine pieces), for a chunk of segments in one compiled call."""
import numpy as np
from numba import njit
from .._kernels_line import EXTEND_MIN_FANIN
from .products import _extend, _first_layer, _mm2, _mm2t
from .states import _Q, _W, _act_tangent, _all_finite, _reserve, _row_diffs, _scratch, _states_close, _strict_crossings, _tolerances


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


@njit(cache=True, nogil=True, inline="always")
def _next_layer(U, dU, t, oi, merged, C, dp, du, xi, q, phi, pt, clip, relu, WT, b, aW, fb, parity):  # pragma: no cover - compiled
    """The next layer's pre-activations at a segment's points and their tangents on its intervals
    from this layer's: values ``U`` at all P points, codes ``C`` (with their row differences
    ``dp``, ``du``) on all intervals, and tangents ``dU`` on the intervals as they were before this
    layer inserted points (row k for the points ``oi[k]`` to ``oi[k + 1] - 1``: this layer's
    pre-activations are affine there). Where the next layer has at least ``EXTEND_MIN_FANIN``
    inputs and no crossing of this segment has been merged into another point so far
    (``merged``): one product at the points ``oi`` and ``_extend`` for the others; one product at
    all points else. (A merged crossing leaves a kink within ``T_MERGE`` of a point that the codes
    do not show; the product evaluates the activations at each point itself, the extension would
    carry the merged kink's offset to the points after it.) With ``aW`` = |W^T| non-empty, also
    the raw rounding scale of the result (``_mm2t``).

    Scratch space comes from the float buffers ``fb`` (grown as needed and kept from segment to
    segment, rather than allocated for every layer of every segment): the activations and tangents
    in ``fb[0]``, the product in ``fb[1 + parity]`` (layers alternate, as the extension reads the
    previous layer's tangents while it writes the next)."""
    P = t.size
    full = merged or WT.shape[0] < EXTEND_MIN_FANIN or oi.size == P
    R = P if full else oi.size
    n, N = WT.shape
    fb[0] = _scratch(fb[0], (2 * R + 1) * n)
    fb[1 + parity] = _scratch(fb[1 + parity], 2 * R * N)
    AA, amax = _act_tangent(U, dU, C, oi, full, xi, q, phi, pt, clip, relu, fb[0])
    if aW.size > 0:
        Uo, dUo, tolb = _mm2t(AA, R, WT, b, amax, aW, fb[1 + parity])
    else:
        Uo, dUo = _mm2(AA, R, WT, b, fb[1 + parity])
        tolb = amax[:0]
    if full:
        return Uo, dUo, tolb
    U2, dU2 = _extend(Uo, dUo, oi, t, dU, C, dp, du, q, pt, relu, WT)
    return U2, dU2, tolb


#: Crossings of one interval at one layer are sorted by t with a stable insertion sort up to this
#: many (no allocation), with numpy's stable merge sort above (the same order).
INSERTION_SORT_MAX = 64


@njit(cache=True, nogil=True)
def _layer_loop(x0, x1, Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off,
                swf, ptf, clipf, code_off, reluf, snap_rtol, t_merge, close_factor, cbuf, dpbuf, dubuf, fb, ib,
                bb):  # pragma: no cover - compiled
    """The layer loop of ``linregions.line._partition_chunk`` for one segment, compiled (same
    algorithm, same tolerances; see there). Returns t (P,), the state codes of each layer as
    computed (on the intervals of that time) and the units whose code differs between consecutive
    rows of them (``_row_diffs``), flat: the buffers ``cbuf``, ``dpbuf``, ``dubuf`` (given,
    grown if too small, reused from segment to segment) and ``off`` (3, d + 1): layer l's codes
    are ``cbuf[off[0, l]:off[0, l + 1]]`` (rows of dims[l + 1]), its ``dp`` and ``du``
    ``dpbuf[off[1, l]:off[1, l + 1]]`` and ``dubuf[off[2, l]:off[2, l + 1]]``; the row map ``rm``
    (d, P): interval i of the final points lies in row ``rm[l, i]`` of layer l's codes; N at the
    points, dN/dt on the intervals (row i: [t_i, t_{i+1}]), the close/erased decision counts, the t
    of close decisions, and the index of a layer whose values overflowed (-1: none). The parameters
    come flat (one compiled signature for every depth): layer l's W^T is
    ``Wf[w_off[l]:w_off[l + 1]]`` of shape (dims[l], dims[l + 1]), and likewise for the others
    (``line.core._kernel_params``).

    Each layer's codes are kept as computed, with a row map per layer updated at insertions (no
    copy of all layers' codes at every insertion). Hot loops index 2D arrays directly rather than
    through row views, and per-layer results live in flat buffers rather than lists: every view
    or list item costs an atomic reference count in numba (a quarter of the time on 32-wide nets).

    Scratch buffers of the chunk (lists, so that a grown buffer replaces its slot; nothing in
    them outlives the step that uses it, so they grow without copying, ``_scratch``): ``fb[0]`` the activations and tangents of a product,
    ``fb[1]``/``fb[2]`` the products of even/odd layers (``_next_layer``), ``fb[3]`` the values
    after an insertion (never the values it reads: those are a product or layer 0's), ``fb[4]``
    and ``ib[0]`` the crossings (``_strict_crossings``), ``ib[1]`` the map ``oi``, ``bb[0]`` the
    merge flags, ``bb[1]`` the near marks (``_states_close``)."""
    d = xi_off.size - 1
    t = np.empty(2)
    t[0], t[1] = 0.0, 1.0
    # layer 0: the ends' values, the tangent and the rounding scale
    U, dU, tolb = _first_layer(x0, x1, _W(Wf, w_off, dims, 0), bf[b_off[0]:b_off[1]])
    off = np.zeros((3, d + 1), np.int64)
    C = cbuf[:0].reshape((0, 0))  # the last layer's codes and row differences
    dp = dpbuf[:0]
    du = dubuf[:0]
    rm = np.zeros((d, 2), np.int64)
    oi = np.arange(2)
    merged = False  # some crossing was merged into another point (or an end): no extension after it
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
            U, dU, tolb = _next_layer(U, dU, t, oi, merged, C, dp, du, xif[xi_off[l - 1]:xi_off[l]],
                                      _Q(qf, q_off, dims, l - 1), _Q(phif, phi_off, dims, l - 1),
                                      ptf[code_off[l - 1]:code_off[l]], clipf[l - 1], reluf[l - 1],
                                      _W(Wf, w_off, dims, l), bl, _W(aWf, w_off, dims, l), fb, l % 2)
        ib[1] = _scratch(ib[1], P)
        oi = ib[1][:P]  # the points before this layer's insertions (where the next product runs)
        for i in range(P):
            oi[i] = i
        if not _all_finite(U, dU):
            bad = l
            break
        tol, hi = _tolerances(tolb, xi, snap_rtol, close_factor)
        ka, ta, la = _strict_crossings(U, t, xi, tol, sw, allsw, ib, fb)
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
            bb[0] = _scratch(bb[0], 3 * K)
            flags = bb[0][:3 * K].reshape((3, K))
            flags[:] = False
            keep, first, sel = flags[0], flags[1], flags[2]
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
            merged = merged or Kn < K
            if Kn > 0:
                n = U.shape[1]
                t2 = np.empty(P + Kn)
                fb[3] = _scratch(fb[3], (P + Kn) * n)  # U is never in fb[3] here (a product or layer 0)
                U2 = fb[3][:(P + Kn) * n].reshape((P + Kn, n))
                rm2 = np.empty((d, P + Kn), np.int64)
                r = 0
                c = 0
                for i in range(P):  # element loops (2D indexing: a row view costs a reference count)
                    t2[r] = t[i]
                    oi[i] = r
                    for z in range(n):
                        U2[r, z] = U[i, z]
                    for m in range(l):
                        rm2[m, r] = rm[m, i]
                    r += 1
                    while c < K and ka[c] == i:
                        if sel[c]:
                            t2[r] = ta[c]
                            lam = la[c]
                            for z in range(n):
                                U2[r, z] = U[i, z] + lam * (U[i + 1, z] - U[i, z])
                            for m in range(l):
                                rm2[m, r] = rm[m, i]
                            r += 1
                        c += 1
                t, U, rm = t2, U2, rm2  # dU keeps its rows: interval k splits into oi[k]..oi[k + 1]
                P = t.size
        # state codes of layer l on the intervals, close snaps at the points
        n = U.shape[1]
        c0 = off[0, l]
        cbuf = _reserve(cbuf, c0 + P * n)
        C = cbuf[c0:c0 + P * n].reshape((P, n))
        off[0, l + 1] = c0 + P * n
        dpbuf = _reserve(dpbuf, off[1, l] + P + 1)
        dp = dpbuf[off[1, l]:off[1, l] + P + 1]
        off[1, l + 1] = off[1, l] + P + 1
        c_close, c_erased, flag = _states_close(U, xi, tol, hi, sw, allsw, close_factor, C, dp, bb)
        for i in range(P):
            if flag[i]:
                sus.append(t[i])
        n_close += c_close
        n_erased += c_erased
        dubuf = _reserve(dubuf, off[2, l] + dp[P] + n)
        du = dubuf[off[2, l]:off[2, l] + dp[P] + n]
        _row_diffs(C, dp, du)
        du = du[:dp[P]]
        off[2, l + 1] = off[2, l] + dp[P]
        for i in range(P):
            rm[l, i] = i
    P = t.size
    n_out = dims[d + 1]
    sus_a = np.empty(len(sus))
    for i in range(len(sus)):
        sus_a[i] = sus[i]
    if bad >= 0:
        return t, cbuf, dpbuf, dubuf, off, rm, np.zeros((P, n_out)), np.zeros((P, n_out)), n_close, n_erased, sus_a, bad
    N, dN, _ = _next_layer(U, dU, t, oi, merged, C, dp, du, xif[xi_off[d - 1]:xi_off[d]],
                           _Q(qf, q_off, dims, d - 1), _Q(phif, phi_off, dims, d - 1), ptf[code_off[d - 1]:code_off[d]],
                           clipf[d - 1], reluf[d - 1], _W(Wf, w_off, dims, d), bf[b_off[d]:b_off[d + 1]],
                           np.empty((0, 0)), fb, d % 2)
    return t, cbuf, dpbuf, dubuf, off, rm, N, dN, n_close, n_erased, sus_a, bad


@njit(cache=True, nogil=True, inline="always")
def _vnorm(A, i):  # pragma: no cover - compiled
    """Euclidean norm of row i of A, scaled by the largest entry (``tolerances.vector_norm``, to
    rounding)."""
    n = A.shape[1]
    if n == 1:
        return abs(A[i, 0])
    m = 0.0
    for j in range(n):
        m = max(m, abs(A[i, j]))
    if m == 0.0:
        return 0.0
    s = 0.0
    for j in range(n):
        s += (A[i, j] / m) * (A[i, j] / m)
    return m * np.sqrt(s)


#: Relative margin under which the compiled slope-jump test leaves a point to the exact numpy
#: decision (``line.core._slope_jumps``): its norms round differently from numpy's by a few ulps.
JUMP_MARGIN = 1e-9


@njit(cache=True, nogil=True)
def _finish(t, cbuf, dpbuf, dubuf, off, rm, N, dN, Wf, w_off, dims, code_off, opens, reach_out, nzall, bound,
            slope_rtol, close_factor, of, oc, og, m0, c0, seg):  # pragma: no cover - compiled
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
    row differences (``_row_diffs``), so no code is compared here.

    The kept points, crossings, goodness, slopes and intercepts are written straight into the
    chunk's outputs (grown as needed): t into ``of[0]`` from ``m0``, slopes and intercepts into
    ``of[1]`` and ``of[2]`` from row ``m0 + seg`` (``seg``: the segment's index in the chunk; every
    segment has one interval more than it has kept points), the crossings' point index (in the chunk), layer,
    unit and breakpoint into ``oc[0..3]`` and their goodness into ``og[0]`` from ``c0``. Returns
    the numbers of kept points and crossings and the uncertain slope jumps (index among this
    segment's kept points, slopes and codes on both sides)."""
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
                c += dpbuf[off[1, l] + r1 + 1] - dpbuf[off[1, l] + r1]
        cnt[p] = c
        if c > 0:
            M += 1
            n_rec += c
    of[0] = _reserve(of[0], m0 + M)
    row0 = m0 + seg  # the row of this segment's first interval among the chunk's slopes
    of[1] = _reserve(of[1], (row0 + M + 1) * n_out)
    of[2] = _reserve(of[2], (row0 + M + 1) * n_out)
    for r in range(4):
        oc[r] = _reserve(oc[r], c0 + n_rec)
    og[0] = _reserve(og[0], c0 + n_rec)
    tk = of[0][m0:m0 + M]
    slo, ic = of[1][row0 * n_out:(row0 + M + 1) * n_out], of[2][row0 * n_out:(row0 + M + 1) * n_out]
    cp, ly, un, bp = oc[0][c0:c0 + n_rec], oc[1][c0:c0 + n_rec], oc[2][c0:c0 + n_rec], oc[3][c0:c0 + n_rec]
    good = og[0][c0:c0 + n_rec]
    for j in range(n_out):
        slo[j] = dN[0, j]
        ic[j] = N[0, j] - dN[0, j] * t[0]
    marks = np.zeros(2 * ntot + 2 * d + M, np.bool_)  # one allocation for R, G, uni, rv and unc
    R, G = marks[:ntot], marks[ntot:2 * ntot]
    uni = marks[2 * ntot:2 * ntot + d]  # R of layer l is the one value rv[l] for all its units
    rv = marks[2 * ntot + d:2 * ntot + 2 * d]
    unc = marks[2 * ntot + 2 * d:]
    o = code_off[d - 1]
    for z in range(dims[d]):
        R[o + z] = reach_out[z]
    diff = np.empty((1, n_out))
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
            b0, b1, o2 = off[0, l] + r0 * dims[l + 1], off[0, l] + r1 * dims[l + 1], off[2, l]
            for k in range(dpbuf[off[1, l] + r1], dpbuf[off[1, l] + r1 + 1]):
                z = dubuf[o2 + k]
                a, b = np.int64(cbuf[b0 + z]), np.int64(cbuf[b1 + z])
                cp[c] = m0 + m
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
            b0, b1 = off[0, l] + rm[l, p - 1] * dims[l + 1], off[0, l] + rm[l, p] * dims[l + 1]
            if nzall[l]:
                g = False
                if not uni[l] or rv[l]:
                    for z in range(dims[l + 1]):
                        if (uni[l] or R[o + z]) and (opens[o + z, cbuf[b0 + z]] or opens[o + z, cbuf[b1 + z]]):
                            g = True
                            break
                uni[l - 1] = True
                rv[l - 1] = g
            else:
                for z in range(dims[l + 1]):
                    G[z] = (rv[l] if uni[l] else R[o + z]) and (opens[o + z, cbuf[b0 + z]] or opens[o + z, cbuf[b1 + z]])
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
            diff[0, j] = dN[p, j] - dN[p - 1, j]
        thr = max(close_factor * (slope_rtol * (_vnorm(dN, p - 1) + _vnorm(dN, p))), bound)
        unc[m] = not _vnorm(diff, 0) > thr + JUMP_MARGIN * thr
        m += 1
        for j in range(n_out):
            slo[m * n_out + j] = dN[p, j]
            ic[m * n_out + j] = N[p, j] - dN[p, j] * t[p]
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
                b0, b1 = off[0, l] + rm[l, p - 1] * dims[l + 1], off[0, l] + rm[l, p] * dims[l + 1]
                for z in range(dims[l + 1]):
                    clr[k, code_off[l] + z] = cbuf[b0 + z]
                    clr[K + k, code_off[l] + z] = cbuf[b1 + z]
    return M, n_rec, ui, dlr, clr


@njit(cache=True, nogil=True)
def segments_line(X0, X1, Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off, swf, ptf, clipf,
                  code_off, reluf, opens, reach_out, nzall, c_bound, snap_rtol, t_merge, close_factor,
                  slope_rtol):  # pragma: no cover - compiled
    """Exact partitions of the segments [X0[i], X1[i]], each on its own (``_layer_loop`` then
    ``_finish``; ``opens``, ``reach_out``, ``nzall``: ``line.core._finish_params``;
    ``c_bound |X1[i] - X0[i]|``: the a-priori rounding floor of slope jumps on segment i), results
    segment after segment as ``line.core._partition_chunk`` returns them: kept t, crossings (rows:
    point index in the chunk, layer, unit, breakpoint) and their goodness, slopes and intercepts
    of the kept intervals, the point and crossing offsets of the segments, counts per segment (rows: kept points, crossings, close and
    erased decisions, close t's, uncertain jumps), the close t's, the uncertain slope jumps (point
    index in the chunk; slopes and codes left then right), and (segment, layer) of a hidden layer
    that overflowed (-1: none) and the first segment whose output is not finite (-1: none)."""
    S = X0.shape[0]
    n_out = dims[-1]
    ntot = code_off[-1]
    cnt = np.zeros((6, S), np.int64)
    of = [np.empty(0) for _ in range(3)]  # outputs written by _finish: t, slopes, intercepts
    oc = [np.empty(0, np.int64) for _ in range(4)]  # crossings: point, layer, unit, breakpoint
    og = [np.empty(0, np.bool_) for _ in range(1)]  # their goodness
    pt_off = np.zeros(S + 1, np.int64)
    cr_off = np.zeros(S + 1, np.int64)
    uis = [np.empty(0, np.int64) for _ in range(0)]
    dlrs = [np.empty((0, 2)) for _ in range(0)]
    clrs = [np.empty((0, 2), np.int16) for _ in range(0)]
    sus = [np.empty(0) for _ in range(0)]
    bad_out = -1
    cbuf = np.empty(64 * ntot, np.int16)  # flat per-layer buffers of _layer_loop, reused
    dpbuf = np.empty(64 * dims.size, np.int64)
    dubuf = np.empty(64 * dims.size, np.int64)
    fb = [np.empty(0) for _ in range(5)]  # scratch of the layer loop, reused (see _next_layer)
    ib = [np.empty(0, np.int64) for _ in range(2)]
    bb = [np.empty(0, np.bool_) for _ in range(2)]
    for i in range(S):
        t, cbuf, dpbuf, dubuf, off, rm, N, dN, c, e, s, bad = _layer_loop(
            X0[i], X1[i], Wf, aWf, w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off, swf, ptf,
            clipf, code_off, reluf, snap_rtol, t_merge, close_factor, cbuf, dpbuf, dubuf, fb, ib, bb)
        if bad >= 0:
            e0 = np.zeros(0, np.int64)
            return (np.zeros(0), np.zeros((4, 0), np.int64), np.zeros(0, np.bool_), np.zeros((0, n_out)),
                    np.zeros((0, n_out)), e0, e0, cnt, e0, np.zeros(0), e0, np.zeros((0, n_out)),
                    np.zeros((0, ntot), np.int16), i, bad, bad_out)
        if bad_out < 0 and not _all_finite(N, dN):
            bad_out = i
        m, nc, ui, dlr, clr = _finish(
            t, cbuf, dpbuf, dubuf, off, rm, N, dN, Wf, w_off, dims, code_off, opens, reach_out, nzall,
            c_bound * _vnorm(X1[i:i + 1] - X0[i:i + 1], 0), slope_rtol, close_factor, of, oc, og, pt_off[i],
            cr_off[i], i)
        pt_off[i + 1] = pt_off[i] + m
        cr_off[i + 1] = cr_off[i] + nc
        uis.append(ui)
        dlrs.append(dlr)
        clrs.append(clr)
        sus.append(s)
        cnt[0, i], cnt[1, i], cnt[2, i], cnt[3, i], cnt[4, i], cnt[5, i] = m, nc, c, e, s.size, ui.size
    M, C, Q, K = int(cnt[0].sum()), int(cnt[1].sum()), int(cnt[4].sum()), int(cnt[5].sum())
    tk_a = of[0][:M]
    rec_a = np.empty((4, C), np.int64)
    for r in range(4):
        rec_a[r] = oc[r][:C]
    good_a = og[0][:C]
    slope_a = of[1][:(M + S) * n_out].reshape((M + S, n_out))
    icpt_a = of[2][:(M + S) * n_out].reshape((M + S, n_out))
    ui_a = np.empty(K, np.int64)
    dlr_a = np.empty((2 * K, n_out))
    clr_a = np.empty((2 * K, ntot), np.int16)
    sus_a = np.empty(Q)
    sus_seg = np.empty(Q, np.int64)
    m0, c0, q0, k0 = 0, 0, 0, 0
    for i in range(S):
        m, c, q, k = cnt[0, i], cnt[1, i], cnt[4, i], cnt[5, i]
        ui_a[k0:k0 + k] = uis[i] + m0
        dlr_a[k0:k0 + k] = dlrs[i][:k]
        dlr_a[K + k0:K + k0 + k] = dlrs[i][k:]
        clr_a[k0:k0 + k] = clrs[i][:k]
        clr_a[K + k0:K + k0 + k] = clrs[i][k:]
        sus_a[q0:q0 + q] = sus[i]
        sus_seg[q0:q0 + q] = i
        m0, c0, q0, k0 = m0 + m, c0 + c, q0 + q, k0 + k
    return (tk_a, rec_a, good_a, slope_a, icpt_a, pt_off, cr_off, cnt, sus_seg, sus_a, ui_a, dlr_a, clr_a, -1, -1,
            bad_out)
