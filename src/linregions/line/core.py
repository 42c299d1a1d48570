"""Numerical core of the 1D engine: the layer-by-layer splitting of segments (compiled per
segment by ``linregions._kernels_line``, numpy for all segments at once when numba is missing),
crossings, goodness and slope jumps (see the package docstring)."""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .. import _kernels_line
from .._kernels_line import EXTEND_MIN_FANIN, HAVE_NUMBA, first_layers, layer_products, rows_matmul, scales
from ..network import PASSTHROUGH, Network, _as_matrix
from ..tolerances import CLOSE_FACTOR, SLOPE_RTOL, SNAP_RTOL, T_MERGE, slope_jump, slope_noise, snap_scale, vector_norm

def _snap_scale(W: np.ndarray, b: np.ndarray, a_absmax: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Legacy one-scale-per-neuron bound ``|W| |a| + |b| + max_j |xi_j|`` (shape (n,) or (n, S)).

    Kept for callers that have not moved to the per-breakpoint ``tolerances.snap_scale`` (which
    the 1D engine uses: a far breakpoint such as hard tanh's 1e6 must not blunt the one at 0)."""
    return np.max(snap_scale(W, b, a_absmax, np.array([np.abs(xi).max()])), axis=-1)


def _states(u: np.ndarray, xi: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Encode where each u lies: 2p inside piece p, 2j+1 exactly on breakpoint j (0-based).
    ``tol[..., j]`` is the snapping tolerance of breakpoint j (broadcast against ``u``)."""
    s = 2 * np.searchsorted(xi, u, side="right").astype(np.int16)
    for j, x in enumerate(xi):
        s[np.abs(u - x) <= tol[..., j]] = 2 * j + 1
    return s


def _forward_tangent(net: Network, X: np.ndarray, V: np.ndarray):
    """Forward pass with tangents: per hidden layer the state codes, then output value and dN/dv.

    The tangent uses the slope of the piece given by the state (a neuron exactly on a breakpoint
    has zero tangent up to rounding on an interval, so either slope gives the same result).
    Snapping uses each breakpoint's own scale (``tolerances.snap_scale``).
    """
    a, da = X, V
    states = []
    for l, act in enumerate(net.activations):
        W, b = net.weights[l], net.biases[l]
        u = a @ W.T + b
        du = da @ W.T
        tol = SNAP_RTOL * snap_scale(W, b, np.abs(a).max(axis=0), act.breakpoints)  # (n, T)
        s = _states(u, act.breakpoints, tol)
        s[:, ~net.switching(l)] = 0
        states.append(s)
        a = net.activate(l, u)
        da = net.slope(l, s // 2) * du
    W, b = net.weights[-1], net.biases[-1]
    return states, a @ W.T + b, da @ W.T


def _open(net: Network, l: int, s: np.ndarray) -> np.ndarray:
    """Open (passes gradient) for each state code of layer l; on a breakpoint counts as open."""
    return (s % 2 == 1) | (net.slope(l, s // 2) != 0)


def _reachability(net: Network, opens: list[np.ndarray]) -> list[np.ndarray]:
    """R[l][k, z]: a path from neuron z of layer l through open neurons of later layers to an
    output exists (non-zero weights), at each of k points. z's own state does not matter."""
    d = net.depth
    R: list[np.ndarray] = [None] * d  # type: ignore[list-item]
    k = opens[0].shape[0]
    R[d - 1] = np.broadcast_to(np.any(net.weights[d] != 0, axis=0), (k, net.weights[d - 1].shape[0]))
    for l in range(d - 1, 0, -1):
        G = opens[l] & R[l]
        nz = net.weights[l] != 0  # (n_l, n_{l-1})
        if nz.all():
            R[l - 1] = np.broadcast_to(G.any(axis=1, keepdims=True), (k, net.weights[l - 1].shape[0]))
        else:
            R[l - 1] = (G.astype(np.float32) @ nz.astype(np.float32)) > 0
    return R


def _interval_states(U: np.ndarray, same: np.ndarray, xi: np.ndarray, tolb: np.ndarray, dtype, sw: np.ndarray | None = None):
    """State code (as in ``_states``) of every interval [p_i, p_{i+1}] of one segment, on rows i,
    and the rows/counts of *close* snapping decisions at the points.

    ``U`` holds the pre-activations of one layer at the points, affine in t on each interval,
    so the piece on an interval is the piece at its midpoint; a neuron counts as sitting on
    breakpoint j over an interval only when it is on xi_j (within its tolerance
    ``tolb + SNAP_RTOL |xi_j|``, ``tolb`` per point and neuron) at both ends. Rows that start no
    interval (the last point of a segment) get 0. A snap decision is close when
    ``tol / CLOSE_FACTOR < |u - xi_j| <= CLOSE_FACTOR tol``; returned: per row, the number of
    close decisions and of snaps that moved u by more than rounding noise (``> tol / CLOSE_FACTOR``).
    """
    if HAVE_NUMBA:  # the same decisions in one compiled pass
        s, c, e = _kernels_line.interval_states(
            np.ascontiguousarray(U), np.ascontiguousarray(same), np.ascontiguousarray(xi, dtype=np.float64),
            np.ascontiguousarray(tolb), np.ones(U.shape[1], bool) if sw is None else np.ascontiguousarray(sw),
            SNAP_RTOL, CLOSE_FACTOR)
        return s.astype(dtype, copy=False), (c if c.any() else None), (e if c.any() else None)
    m2 = U[:-1] + U[1:]  # twice the midpoint (exact scaling, compared with 2 xi)
    s = np.zeros(U.shape, dtype)
    body = s[:-1]
    for j, x in enumerate(xi):
        ge = m2 >= 2 * x
        body += ge.view(np.int8) if dtype == np.int8 else ge
    body *= 2
    n_close = n_erased = None
    for j, x in enumerate(xi):
        tol = tolb + SNAP_RTOL * abs(x) if x != 0 else tolb
        A = np.abs(U - x if x != 0 else U)
        snapped = A <= tol
        A *= CLOSE_FACTOR
        beyond = A > tol  # more than rounding noise away from xi_j
        close = beyond & (A <= (CLOSE_FACTOR * CLOSE_FACTOR) * tol)
        if sw is not None:
            close &= sw
        if close.any():
            c, e = close.sum(axis=1), (beyond & snapped).sum(axis=1)
            n_close = c if n_close is None else n_close + c
            n_erased = e if n_erased is None else n_erased + e
        on = snapped[:-1] & snapped[1:]
        if on.any():
            body[on] = 2 * j + 1
    body[~same] = 0
    return s, n_close, n_erased


def _code_tangent(net: Network, l: int, s: np.ndarray, dU: np.ndarray) -> np.ndarray:
    """d a_l / dt on intervals from the state codes and d u_l / dt (on a breakpoint: the slope on
    its left, the tangent being zero up to rounding there)."""
    act = net.activations[l]
    if net.unit_kinds is None and not act.per_unit:
        q = act.slopes
        if act.T == 1 and q[0] == 0.0 and q[1] == 1.0:
            return dU * (s >= 2)
        return q[np.arange(2 * act.T + 1) // 2][s] * dU
    return net.slope(l, s // 2) * dU


def _code_open(net: Network, l: int, s: np.ndarray) -> np.ndarray:
    """``_open`` for state codes, with fast paths for shared slopes."""
    act = net.activations[l]
    if net.unit_kinds is None and not act.per_unit:
        codes = np.arange(2 * act.T + 1)
        lut = (codes % 2 == 1) | (act.slopes[codes // 2] != 0)
        if lut.all():
            return np.broadcast_to(np.True_, s.shape)
        if act.T == 1:
            return s >= 1 if lut[0] == 0 else s <= 1
        return lut[s]
    return _open(net, l, s)


def _crossings(U: np.ndarray, same: np.ndarray, cand: np.ndarray | None, xi: np.ndarray, tolb: np.ndarray):
    """Rows k and interpolation parameters lam of the strict crossings of a breakpoint between
    consecutive points k, k + 1 of one segment (``U`` affine on each interval; ``tolb`` as in
    ``_interval_states``)."""
    ks, lams = [], []
    for x in xi:
        tol = tolb + SNAP_RTOL * abs(x) if x != 0 else tolb
        D = U - x if x != 0 else U
        above, below = D > tol, D < -tol
        mask = (above[:-1] & below[1:]) | (below[:-1] & above[1:])
        mask &= same[:, None]
        if cand is not None:
            mask &= cand[None, :]
        k, z = np.nonzero(mask)
        if k.size:
            da, db = D[k, z], D[k + 1, z]
            ks.append(k)
            lams.append(da / (da - db))
    if not ks:
        return None, None
    return np.concatenate(ks), np.concatenate(lams)


def _insert(arrays: list[np.ndarray], k: np.ndarray, new_rows: list[np.ndarray]) -> list[np.ndarray]:
    """Insert new rows after rows ``k`` (sorted; several new rows after one k keep their order)."""
    n_old, n_new = arrays[0].shape[0], k.size
    new_pos = k + 1 + np.arange(n_new)
    old_pos = np.arange(n_old) + np.searchsorted(k, np.arange(n_old), side="left")
    out = []
    for X, Xn in zip(arrays, new_rows):
        Y = np.empty((n_old + n_new,) + X.shape[1:], X.dtype)
        Y[old_pos] = X
        Y[new_pos] = Xn
        out.append(Y)
    return out


def _merge_crossings(t: np.ndarray, k: np.ndarray, lam: np.ndarray):
    """Crossings to insert after rows ``k`` at ``t_new``: crossings closer than ``T_MERGE`` to an
    end of their interval are that end, a cluster closer than ``T_MERGE`` is one point (kept when
    its first member is away from both ends). Also returns the close merge decisions: gaps in
    ``(T_MERGE / CLOSE_FACTOR, CLOSE_FACTOR T_MERGE]`` (``close``) and, among them, the merged
    ones (``erased``: more than rounding noise was erased), as masks over the input crossings."""
    t_new = t[k] + lam * (t[k + 1] - t[k])
    order = np.lexsort((t_new, k))
    k, t_new = k[order], t_new[order]
    g0, g1 = t_new - t[k], t[k + 1] - t_new
    keep = (g0 > T_MERGE) & (g1 > T_MERGE)
    first = np.ones(k.size, bool)
    dt = np.full(k.size, np.inf)
    dt[1:] = np.where(k[1:] == k[:-1], np.diff(t_new), np.inf)
    first[1:] = dt[1:] > T_MERGE
    cluster = np.cumsum(first) - 1
    keep_cluster = np.zeros(int(cluster[-1]) + 1, bool)
    np.logical_or.at(keep_cluster, cluster, keep)
    sel = first & keep_cluster[cluster]
    gap = np.minimum(np.minimum(g0, g1), dt)
    lo, hi = T_MERGE / CLOSE_FACTOR, CLOSE_FACTOR * T_MERGE
    close = (gap > lo) & (gap <= hi)
    erased = close & (gap <= T_MERGE)
    return k[sel], lam[order][sel], t_new[sel], k[close], t_new[close], erased[close]


def _next_layer(net: Network, l: int, A: np.ndarray, dU: np.ndarray, s: np.ndarray, WT: np.ndarray, b: np.ndarray,
                seg: np.ndarray, t: np.ndarray, new: np.ndarray, starts: np.ndarray):
    """Layer l + 1's values at all points and tangents on all intervals from layer l's activations
    ``A``, tangents ``dU`` and codes ``s``, as the compiled kernel computes them
    (``_kernels_line_nb.segments._next_layer``): where the layer has at least ``EXTEND_MIN_FANIN``
    inputs, one product at the points layer l did not insert (``~new``; the caller clears ``new``
    on segments where a crossing was merged into another point) and, at the inserted ones,
    the exact extension ``_kernels_line_nb.products._extend`` (U_j = U_{j-1} + (t_j - t_{j-1})
    dU_{j-1}; dU_j = dU_{j-1} plus, one unit at a time in increasing order, the change of the
    activation's tangent times that unit's weights); one product at all points else."""
    dA = _code_tangent(net, l, s, dU)
    if WT.shape[0] < EXTEND_MIN_FANIN or not new.any():
        return layer_products(A, dA, WT, b, starts)
    M = t.size
    old = np.nonzero(~new)[0]
    U2, dU2 = np.empty((M, WT.shape[1])), np.empty((M, WT.shape[1]))
    U2[old], dU2[old] = layer_products(A[old], dA[old], WT, b, np.searchsorted(old, starts))
    idx = np.arange(M)
    rank = idx - np.maximum.accumulate(np.where(new, 0, idx))  # place in a run of inserted rows
    nw = np.nonzero(new)[0]
    D = dA[nw] - dA[nw - 1]  # exactly 0 where the code is the same (dU is the same on both)
    for r in range(1, int(rank[nw].max()) + 1):
        sel = rank[nw] == r
        rows = nw[sel]
        U2[rows] = U2[rows - 1] + (t[rows] - t[rows - 1])[:, None] * dU2[rows - 1]
        acc = dU2[rows - 1]
        i, z = np.nonzero(D[sel])  # row-major: each row's units in increasing order
        if i.size:
            m = np.arange(i.size) - np.searchsorted(i, i)  # i's place among its row's units
            Dr = D[sel]
            for mm in range(int(m.max()) + 1):
                e = m == mm
                acc[i[e]] += Dr[i[e], z[e]][:, None] * WT[z[e]]
        dU2[rows] = acc
    return U2, dU2


def _layers_numpy(net: Network, X0: np.ndarray, X1: np.ndarray, code):
    """The layer loop of ``_partition_chunk`` in numpy, all segments of the chunk at once (the
    fallback when numba is missing)."""
    S = X0.shape[0]
    seg = np.repeat(np.arange(S), 2)
    t = np.tile(np.array([0.0, 1.0]), S)
    one_each = np.arange(S + 1)
    starts = 2 * one_each
    # layer 0: values at the ends, tangents, raw rounding scales (|W| |x| + |b|, x over the ends)
    U, dU, tol_raw = first_layers(X0, X1, net.weights[0].T, net.biases[0])
    dU = np.repeat(dU, 2, axis=0)
    n_close = np.zeros(S, np.int64)
    n_erased = np.zeros(S, np.int64)
    sus_seg: list[np.ndarray] = []
    sus_t: list[np.ndarray] = []
    states: list[np.ndarray] = []
    new = np.zeros(t.size, bool)  # the rows the last layer inserted
    merged = np.zeros(S, bool)  # segments where some crossing was merged into another point: no extension
    for l, act in enumerate(net.activations):
        W, b, xi = net.weights[l], net.biases[l], act.breakpoints
        if l > 0:
            A = net.activate(l - 1, U)
            a_absmax = np.maximum.reduceat(np.abs(A), starts[:-1], axis=0)
            U, dU = _next_layer(net, l - 1, A, dU, states[-1], W.T, b, seg, t, new & ~merged[seg], starts)
            tol_raw = scales(a_absmax, np.abs(W).T, b)
            del A
        if not np.all(np.isfinite(U)) or not np.all(np.isfinite(dU)):
            raise ValueError(
                f"pre-activations of hidden layer {l} overflow float64 on the segment(s) given "
                f"(largest |x| = {float(np.abs(np.concatenate([X0, X1])).max()):.3g}); rescale the inputs"
            )
        # snapping tolerance of breakpoint j: SNAP_RTOL * (|W| |a| + |b| + |xi_j|) (snap_scale)
        tol_seg = SNAP_RTOL * tol_raw  # (S, n_l)
        tolb = tol_seg[seg]
        same = seg[:-1] == seg[1:]
        sw = net.switching(l)
        k, lam = _crossings(U, same, None if sw.all() else sw, xi, tolb)
        new = np.zeros(t.size, bool)
        if k is not None:
            strict = np.bincount(seg[k], minlength=S)
            k, lam, t_new, k_close, t_close, erased = _merge_crossings(t, k, lam)
            merged |= np.bincount(seg[k], minlength=S) < strict
            if k_close.size:
                sc = seg[k_close]
                np.add.at(n_close, sc, 1)
                np.add.at(n_erased, sc, erased.astype(np.int64))
                sus_seg.append(sc)
                sus_t.append(t_close)
            if k.size:
                U_new = U[k] + lam[:, None] * (U[k + 1] - U[k])
                arrays = [seg, t, U, dU, new] + states
                rows = [seg[k], t_new, U_new, dU[k], np.ones(k.size, bool)] + [s[k] for s in states]
                seg, t, U, dU, new, *states = _insert(arrays, k, rows)
                same = seg[:-1] == seg[1:]
                tolb = tol_seg[seg]
                starts = np.searchsorted(seg, one_each)
        s, c_rows, e_rows = _interval_states(U, same, xi, tolb, code, None if sw.all() else sw)
        if c_rows is not None:
            r = np.nonzero(c_rows)[0]
            np.add.at(n_close, seg[r], c_rows[r])
            np.add.at(n_erased, seg[r], e_rows[r])
            sus_seg.append(seg[r])
            sus_t.append(t[r])
        if not sw.all():
            s[:, ~sw] = 0
        states.append(s)

    # the output and its tangent on every interval
    d = net.depth
    Wd, bd = net.weights[d], net.biases[d]
    N_pts, dN_pts = _next_layer(net, d - 1, net.activate(d - 1, U), dU, states[-1], Wd.T, bd, seg, t, new & ~merged[seg],
                                starts)
    if not (np.all(np.isfinite(N_pts)) and np.all(np.isfinite(dN_pts))):
        raise ValueError("the network's output overflows float64 on the segment(s) given; rescale the inputs or weights")
    del U, dU
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return seg, t, states, N_pts, dN_pts, n_close, n_erased, cat(sus_seg, np.int64), cat(sus_t, float)


_PARAMS: "weakref.WeakKeyDictionary[Network, tuple]" = weakref.WeakKeyDictionary()

#: Chunks of at least this many segments run in the numpy engine, vectorised over segments. Since
#: the compiled kernel fuses its passes (issue 15) it is faster on every size (about 2x on
#: 2-[32]x3 with 200 and 2,000 chords), so by default the numpy engine runs only without numba; tests lower this to check that
#: both engines make the same float operations (the same row-wise and per-segment BLAS products,
#: activation formulas and crossing order): the result is identical, bit for bit, whichever runs,
#: and still independent of the other segments.
_VECTOR_MIN = 2**62


def _is_clip(act) -> bool:
    """Whether ``PiecewiseLinear.__call__`` evaluates the activation as a clip (hard tanh, ReLU6)."""
    q = act.slopes
    return bool(act.T == 2 and not act.per_unit and q[0] == 0.0 and q[1] == 1.0 and q[2] == 0.0
                and float(act.value) == float(act.breakpoints[0]))


def _is_relu(act) -> bool:
    """Whether the activation is ReLU (xi = (0,), slopes (0, 1), phi(0) = 0, shared by all units)."""
    q = act.slopes
    return bool(act.T == 1 and not act.per_unit and float(act.breakpoints[0]) == 0.0 and q[0] == 0.0 and q[1] == 1.0
                and float(act.value) == 0.0)


def _kernel_params(net: Network) -> tuple:
    """The network's parameters flat, in the layout of ``_kernels_line.segments_line`` (cached)."""
    p = _PARAMS.get(net)
    if p is None:
        acts, widths = net.activations, net.widths

        def flat(arrays, dtype=np.float64):
            arrays = [np.ascontiguousarray(a, dtype=dtype).ravel() for a in arrays]
            off = np.concatenate([[0], np.cumsum([a.size for a in arrays])]).astype(np.int64)
            return np.concatenate(arrays).astype(dtype), off

        Wf, w_off = flat([W.T for W in net.weights])
        bf, b_off = flat(net.biases)
        xif, xi_off = flat([a.breakpoints for a in acts])
        qf, q_off = flat([np.broadcast_to(a.slopes, (n, a.T + 1)) for a, n in zip(acts, widths)])
        phif, phi_off = flat([np.broadcast_to(a.values_at_breakpoints, (n, a.T)) for a, n in zip(acts, widths)])
        swf, _ = flat([net.switching(l) for l in range(net.depth)], np.bool_)
        ptf, _ = flat([net.kinds(l) == PASSTHROUGH for l in range(net.depth)], np.bool_)
        dims = np.array((net.n_in,) + widths + (net.n_out,), dtype=np.int64)
        code_off = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        clip = np.array([_is_clip(a) for a in acts])
        relu = np.array([_is_relu(a) and not np.any(net.kinds(l) == PASSTHROUGH) for l, a in enumerate(acts)])
        p = (Wf, np.abs(Wf), w_off, dims, bf, b_off, xif, xi_off, qf, q_off, phif, phi_off, swf, ptf, clip, code_off, relu)
        _PARAMS[net] = p
    return p


_FINISH: "weakref.WeakKeyDictionary[Network, tuple]" = weakref.WeakKeyDictionary()


def _finish_params(net: Network) -> tuple:
    """Per-network constants of the compiled crossings pass (cached): whether each unit is open
    (``_open``) with each state code, (sum n_l, 2 max T + 1); which last-layer units reach
    an output (non-zero weights, ``_reachability``'s start), which weight matrices have no zero
    (reachability is then "any open neuron"), the a-priori slope-noise factor of ``_slope_jumps``
    (times ``vector_norm(V)`` per segment)."""
    f = _FINISH.get(net)
    if f is None:
        d = net.depth
        reach_out = np.ascontiguousarray(np.any(net.weights[d] != 0, axis=0))
        nzall = np.array([True] + [bool(np.all(net.weights[l] != 0)) for l in range(1, d)])
        with np.errstate(over="ignore"):  # weights whose norm overflows: an infinite floor (numpy decides)
            factor, n_terms = _noise_constants(net)
            c_bound = float(slope_noise(np.ones((1, 1)), n_terms)[0] * 2.0 * factor)
        codes = np.arange(2 * max(a.T for a in net.activations) + 1)
        opens = np.concatenate([np.stack([_open(net, l, np.full((1, n), min(c, 2 * net.activations[l].T)))[0]
                                          for c in codes], axis=1) for l, n in enumerate(net.widths)])
        f = _FINISH[net] = (np.ascontiguousarray(opens), reach_out, nzall, c_bound)
    return f


def _chunk_compiled(net: Network, X0: np.ndarray, X1: np.ndarray) -> dict[str, np.ndarray]:
    """``_partition_chunk`` with numba: the layer loop and the crossings of every segment in one
    compiled call (``_kernels_line.segments_line``: segment by segment, the same algorithm,
    tolerances and float operations as ``_layers_numpy`` followed by the numpy crossings pass).
    Slope jumps the compiled pass cannot call certain are decided here by ``_slope_jumps``."""
    S = X0.shape[0]
    prm = _kernel_params(net)
    opens, reach_out, nzall, c_bound = _finish_params(net)
    X0, X1 = np.ascontiguousarray(X0, dtype=np.float64), np.ascontiguousarray(X1, dtype=np.float64)
    with _kernels_line.one_blas_thread(compiled_only=True):
        (t, rec, good, slopes, intercepts, pt_off, cr_off, cnt, sus_seg, sus_t, ui, dlr, clr, bad_seg, bad_layer,
         bad_out) = _kernels_line.segments_line(X0, X1, *prm, opens, reach_out, nzall, c_bound, SNAP_RTOL, T_MERGE,
                                                CLOSE_FACTOR, SLOPE_RTOL)
    if bad_seg >= 0:
        raise ValueError(
            f"pre-activations of hidden layer {int(bad_layer)} overflow float64 on segment {int(bad_seg)} "
            f"(largest |x| = {float(max(np.abs(X0[bad_seg]).max(), np.abs(X1[bad_seg]).max())):.3g}); rescale the inputs"
        )
    if bad_out >= 0:
        raise ValueError("the network's output overflows float64 on the segment(s) given; rescale the inputs or weights")
    n_close, n_unc = cnt[2], cnt[5]
    linear = np.ones(t.size, bool)
    if ui.size:  # slope jumps near a threshold: the numpy decision, on their rows only
        k, off = ui.size, prm[15]
        seg_u = np.repeat(np.arange(S), n_unc)
        states = [clr[:, off[l]:off[l + 1]] for l in range(net.depth)]
        jump, close = _slope_jumps(net, dlr[:k], dlr[k:], states, np.arange(k), np.arange(k, 2 * k), seg_u, X1 - X0)
        linear[ui] = jump
        if close.any():
            sc = seg_u[close]
            np.add.at(n_close, sc, 1)
            sus_seg = np.concatenate([sus_seg, sc])
            sus_t = np.concatenate([sus_t, t[ui[close]]])
    cp, layer, unit, bp = rec
    return dict(
        t=t, linear=linear, point_offsets=pt_off, crossing_point=cp, layer=layer, unit=unit, breakpoint=bp, good=good,
        crossing_offsets=cr_off, slopes=slopes, intercepts=intercepts, close_decisions=n_close, erased=cnt[3],
        suspect_seg=sus_seg, suspect_t=sus_t,
    )


def _compiled(S: int) -> bool:
    """Whether a chunk of S segments runs in the compiled kernel (else the numpy engine)."""
    return HAVE_NUMBA and S < _VECTOR_MIN


def _partition_chunk(net: Network, X0: np.ndarray, X1: np.ndarray) -> dict[str, np.ndarray]:
    """Exact partitions of a chunk of segments (see the module docstring).

    Rows are points, sorted by (segment, t); row i also stands for the interval [p_i, p_{i+1}]
    when p_{i+1} is on the same segment. Per hidden layer l, in order: the pre-activations U at
    all points and their tangent dU/dt on every interval (``_next_layer``: one product, and the
    exact extension to the points the previous layer inserted), the strict crossings of
    breakpoints inside intervals (closed form, u_l being affine there), which are inserted as new
    points (U by exact linear interpolation; tangents and the states of earlier layers inherited
    from the interval they split), then the state of layer l on every interval.
    Every matrix product is row-invariant per segment (``_kernels_line.rows_matmul``), so a
    segment's result does not depend on the other segments of the chunk.
    """
    S = X0.shape[0]
    if _compiled(S):
        return _chunk_compiled(net, X0, X1)
    code = np.int8 if 2 * max(a.T for a in net.activations) + 1 <= 127 else np.int16
    V = X1 - X0
    with _kernels_line.one_blas_thread():  # per-segment products are small: threads only wait
        seg, t, states, N_pts, dN_pts, n_close, n_erased, sus_seg, sus_t = _layers_numpy(net, X0, X1, code)
    same = seg[:-1] == seg[1:]
    iv = np.nonzero(same)[0]  # interval i spans points iv[i], iv[i] + 1
    dN = dN_pts[iv]
    intercepts = N_pts[iv] - dN * t[iv][:, None]
    states = [s[iv] for s in states]

    # crossings: neurons whose state differs on the two intervals around an interior point
    inner = np.nonzero(seg[iv[:-1]] == seg[iv[1:]])[0]  # pairs (interval i, i+1) of one segment
    point_of_pair = iv[inner] + 1
    pair, layer, unit, bp = _records(states, inner)
    used = np.zeros(inner.size, bool)
    used[pair] = True
    kept_pairs = np.nonzero(used)[0]
    left, right = inner[kept_pairs], inner[kept_pairs] + 1
    good = _goodness(net, states, left, right, pair, layer, unit, kept_pairs)
    # slope jumps at the kept points (tolerances.slope_jump with its rounding floor)
    seg_iv = seg[iv]
    linear, close = _slope_jumps(net, dN[left], dN[right], states, left, right, seg_iv[left], V)
    if close.any():
        sc = seg_iv[left[close]]
        np.add.at(n_close, sc, 1)
        sus_seg = np.concatenate([sus_seg, sc])
        sus_t = np.concatenate([sus_t, t[point_of_pair[kept_pairs[close]]]])

    # assemble: kept points, intervals starting at a segment start or a kept point
    pts = point_of_pair[kept_pairs]
    new_index = np.full(t.size, -1)
    new_index[pts] = np.arange(pts.size)
    order = np.lexsort((unit, layer, pair))
    interval_keep = np.ones(iv.size, bool)
    interval_keep[inner + 1] = used
    seg_of_pt = seg[pts]
    point_offsets = np.searchsorted(seg_of_pt, np.arange(S + 1))
    crossing_seg = seg[point_of_pair[pair[order]]]
    return dict(
        t=t[pts], linear=linear, point_offsets=point_offsets,
        crossing_point=new_index[point_of_pair[pair[order]]], layer=layer[order], unit=unit[order],
        breakpoint=bp[order], good=good[order],
        crossing_offsets=np.searchsorted(crossing_seg, np.arange(S + 1)),
        slopes=dN[interval_keep], intercepts=intercepts[interval_keep],
        close_decisions=n_close, erased=n_erased, suspect_seg=sus_seg, suspect_t=sus_t,
    )


def _goodness(net: Network, states: list[np.ndarray], left: np.ndarray, right: np.ndarray, pair: np.ndarray,
              layer: np.ndarray, unit: np.ndarray, kept_pairs: np.ndarray) -> np.ndarray:
    """Structural goodness of each crossing: a path of open neurons (open on either side of the
    point) with non-zero weights to an output."""
    good = np.zeros(pair.size, bool)
    if not kept_pairs.size:
        return good
    opens = [np.broadcast_to(np.True_, (kept_pairs.size, net.weights[0].shape[0]))]  # layer 0's is not used
    for l in range(1, net.depth):
        o = _code_open(net, l, states[l])
        opens.append(o[left] | o[right] if o.strides != (0, 0) else o[: kept_pairs.size])
    R = _reachability(net, opens)
    row = np.searchsorted(kept_pairs, pair)
    for l in range(net.depth):
        m = layer == l
        good[m] = R[l][row[m], unit[m]]
    return good


_NOISE: "weakref.WeakKeyDictionary[Network, tuple[float, int]]" = weakref.WeakKeyDictionary()


def _noise_constants(net: Network) -> tuple[float, int]:
    """(``_noise_bound_factor``, ``_n_terms``) of the network, cached."""
    c = _NOISE.get(net)
    if c is None:
        c = _NOISE[net] = (_noise_bound_factor(net), _n_terms(net))
    return c


def _noise_bound_factor(net: Network) -> float:
    """A bound P with ||abs slope|| <= P ||v|| for every activation pattern (Frobenius norms of
    the weights times the largest |slope| of each activation)."""
    P = 1.0
    for l, W in enumerate(net.weights):
        P *= float(np.linalg.norm(W))
        if l < net.depth:
            P *= max(1.0, float(np.abs(net.activations[l].slopes).max()))
    return P


def _n_terms(net: Network) -> int:
    return net.n_in + int(sum(net.widths))


def _transposed(net: Network) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """W_l^T and |W_l|^T of every layer, C-contiguous (views of ``_kernel_params``' flat copies)."""
    Wf, aWf, w_off, dims = _kernel_params(net)[:4]
    shape = lambda l: (int(dims[l]), int(dims[l + 1]))  # noqa: E731
    return ([Wf[w_off[l]:w_off[l + 1]].reshape(shape(l)) for l in range(net.depth + 1)],
            [aWf[w_off[l]:w_off[l + 1]].reshape(shape(l)) for l in range(net.depth + 1)])


def _slope_jumps(net: Network, dl: np.ndarray, dr: np.ndarray, states: list[np.ndarray], left: np.ndarray,
                 right: np.ndarray, seg_of: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``tolerances.slope_jump`` at k points with slopes ``dl``/``dr`` on the intervals ``left``,
    ``right``. The rounding floor needs the absolute slope product on both sides; it is computed
    only where the jump is not clear from an a-priori bound of the floor (``_noise_bound_factor``)."""
    k = dl.shape[0]
    if k == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    diff = vector_norm(dr - dl)
    rel = SLOPE_RTOL * (vector_norm(dl) + vector_norm(dr))
    factor, n_terms = _noise_constants(net)
    bound = slope_noise(np.ones((1, 1)), n_terms)[0] * 2.0 * factor * vector_norm(V)[seg_of]
    # certain (jump, not close) where diff exceeds both the floor's bound and CLOSE_FACTOR x rel
    cand = np.nonzero(~(diff > np.maximum(CLOSE_FACTOR * rel, bound)))[0]
    jump, close = np.ones(k, bool), np.zeros(k, bool)
    if cand.size:
        rows = np.concatenate([left[cand], right[cand]])
        both = np.concatenate([seg_of[cand], seg_of[cand]])
        order = np.argsort(both, kind="stable")  # rows grouped by segment (row-invariant products)
        rows = rows[order]
        blocks = np.searchsorted(both[order], np.arange(int(both.max()) + 2))
        a = np.concatenate([V[seg_of[cand]], V[seg_of[cand]]])[order]  # signed tangents (see slope_noise)
        WT, aWT = _transposed(net)
        for l in range(net.depth):
            a = rows_matmul(a, WT[l], blocks) * net.slope(l, states[l][rows] // 2)
        a = rows_matmul(np.abs(a), aWT[-1], blocks)
        inv = np.empty_like(order)
        inv[order] = np.arange(order.size)
        a = a[inv]
        noise = slope_noise(a[: cand.size] + a[cand.size :], n_terms)
        jump[cand], close[cand] = slope_jump(dl[cand], dr[cand], noise)
    return jump, close


_ROWSUM: "weakref.WeakKeyDictionary[Network, float]" = weakref.WeakKeyDictionary()


def _first_layer_bound(net: Network) -> float:
    """max_z sum_k |W0[z, k]| (cached): |u_0(x) - b_0| <= this times max |x_k|."""
    r = _ROWSUM.get(net)
    if r is None:
        r = _ROWSUM[net] = float(np.abs(net.weights[0]).sum(axis=1).max())
    return r


def _check_segments(net: Network, X0: Any, X1: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network (use Network.from_torch for torch modules), got {type(net).__name__}")
    X0, X1 = _as_matrix(X0, "x0"), _as_matrix(X1, "x1")
    X0 = X0[None] if X0.ndim == 1 else X0
    X1 = X1[None] if X1.ndim == 1 else X1
    if X0.ndim != 2 or X0.shape != X1.shape or X0.shape[1] != net.n_in:
        raise ValueError(f"segment ends must both have shape (n_segments, {net.n_in}) (or ({net.n_in},)), got {X0.shape} and {X1.shape}")
    # one compiled pass decides the common case: finite ends whose first layer cannot overflow
    big, zero = _kernels_line.segment_ends(X0, X1)
    clear = big * _first_layer_bound(net) < 1e300 and big < 1e300  # False for NaN
    if not clear and not (np.all(np.isfinite(X0)) and np.all(np.isfinite(X1))):
        raise ValueError("segment ends contain NaN or inf")
    if zero >= 0:
        raise ValueError(f"segment {zero} has x0 == x1 (zero length); a segment needs two distinct ends")
    if not clear:
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.all(np.isfinite(X1 - X0)) and all(
                np.all(np.isfinite(np.abs(X) @ np.abs(net.weights[0]).T)) for X in (X0, X1))
        if not finite:
            raise ValueError("segment ends are too large: the first layer's pre-activations overflow float64")
    return X0, X1



def _records(states: list[np.ndarray], inner: np.ndarray):
    """Crossings between intervals i and i + 1 for each i in ``inner``: (pair, layer, unit,
    breakpoint) of every neuron whose state code differs."""
    rec = [], [], [], []
    for l, s in enumerate(states):
        sl, sr = s[inner], s[inner + 1]
        p, z = np.nonzero(sl != sr)
        if p.size:
            a, c = sl[p, z].astype(np.int64), sr[p, z].astype(np.int64)
            bp = np.where(a % 2 == 1, (a - 1) // 2, np.where(c % 2 == 1, (c - 1) // 2, np.minimum(a, c) // 2))
            for r, v in zip(rec, (p, np.full(p.size, l), z, bp)):
                r.append(v)
    if not rec[0]:
        e = np.zeros(0, np.int64)
        return e, e, e, e
    return tuple(np.concatenate(r).astype(np.int64) for r in rec)
