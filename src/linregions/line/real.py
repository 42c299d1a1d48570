"""All breakpoints of a 1-input network on the whole real line (``real_line``)."""
from __future__ import annotations

import numpy as np

from ..network import Network
from ..tolerances import SNAP_RTOL, snap_scale
from .results import LinePartition, _unit_kinds

#: real_line splits [-R, R] at +-R 4^-k, k = 0..``_REAL_LINE_LEVELS`` (and covers the middle
#: [-R 4^-K, R 4^-K] with one piece), so that each piece's merge scale ``T_MERGE * length`` is
#: relative to the size of the numbers in it, not to R: 4^-20 ~ 1e-12.
_REAL_LINE_LEVELS = 20


def real_line(net: Network, *, max_doublings: int = 64) -> LinePartition:
    """All breakpoints of a 1-input network on the whole real line.

    Returns a partition of the segment [-R, R] with R chosen so that no neuron changes its piece
    outside it: beyond +-R every neuron is affine and stays on one piece, checked exactly ray by
    ray, layer by layer (R starts at twice the largest first-layer root plus one and grows by
    factors of 4 until the check passes). ``num_regions`` then counts the regions of R (the outer
    two extend to infinity); ``points[:, 0]`` are the breakpoints as numbers.

    Breakpoints may span many orders of magnitude (a root far out from a tiny weight, others
    close together near 0), so [-R, R] is not split as one segment, whose merge scale
    ``T_MERGE * 2 R`` would then join distinct points near 0: it is cut geometrically at
    +-R 4^-k into overlapping pieces, each partitioned exactly, and each point is taken from the
    piece whose own part holds it. Points are then resolved to ~1e-10 of their own magnitude
    (and at best ~1e-16 R, the resolution of the returned parameter t).

    >>> from linregions import random_mlp
    >>> part = real_line(random_mlp(1, [8, 8], seed=0))
    >>> part.num_regions("activation") >= 2
    True
    """
    from . import _is_module

    if _is_module(net):
        from ..engine import real_line as module_real_line

        return module_real_line(net, max_doublings=max_doublings)
    if not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network, got {type(net).__name__}")
    if net.n_in != 1:
        raise ValueError(f"real_line needs a network with one input, this one has {net.n_in}; restrict it to a line first (net.restrict)")
    w, b = net.weights[0][:, 0], net.biases[0]
    xi = net.activations[0].breakpoints
    nz = (w != 0) & net.switching(0)
    roots = ((xi[None, :] - b[nz, None]) / w[nz, None]).ravel() if nz.any() else np.zeros(1)
    R = 2.0 * float(np.max(np.abs(roots), initial=0.0)) + 1.0
    for _ in range(max_doublings):
        if not (_escapes(net, -R, -1.0) or _escapes(net, R, 1.0)):
            break
        R *= 4.0
    else:
        raise RuntimeError("real_line: breakpoints keep appearing farther out; the network may be degenerate")
    return _stitched(net, R)


def _stitched(net: Network, R: float) -> LinePartition:
    """The partition of [-R, R] from overlapping geometric pieces (see ``real_line``)."""
    r = R * 4.0 ** -np.arange(_REAL_LINE_LEVELS + 1)
    cuts = np.concatenate([-r, r[::-1]])  # -R .. -rho, rho .. R: regions between consecutive cuts
    lo, hi = cuts[:-1], cuts[1:]
    margin = 0.25 * (hi - lo)
    a, e = lo - margin, hi + margin  # each piece overlaps its neighbours' regions
    from . import lines

    batch = lines(net, a[:, None], e[:, None])
    n_reg = lo.size
    keep_x, keep_src = [], []
    for j in range(n_reg):
        part = batch[j]
        x = a[j] + part.t * (e[j] - a[j])
        own = (x >= lo[j] if j > 0 else np.ones(x.size, bool)) & (x < hi[j] if j < n_reg - 1 else np.ones(x.size, bool))
        idx = np.nonzero(own)[0]
        keep_x.append(x[idx])
        keep_src.append(np.stack([np.full(idx.size, j), idx], axis=1))
    xs = np.concatenate(keep_x)
    src = np.concatenate(keep_src).reshape(-1, 2)
    order = np.argsort(xs, kind="stable")
    xs, src = xs[order], src[order]
    t = (xs + R) / (2.0 * R)
    # points closer than the resolution of t become one
    groups = np.concatenate([[0], np.cumsum(np.diff(t) > 0)]) if t.size else np.zeros(0, np.int64)
    m = int(groups[-1]) + 1 if t.size else 0
    t_out = np.zeros(m)
    linear = np.zeros(m, bool)
    cp, layer, unit, bp, good = [], [], [], [], []
    parts = [batch[j] for j in range(n_reg)]
    for (j, q), g, tt in zip(src, groups, t):
        part = parts[j]
        t_out[g] = tt
        linear[g] |= bool(part.linear[q])
        c = part.crossing_point == q
        cp.append(np.full(int(c.sum()), g))
        layer.append(part.layer[c]), unit.append(part.unit[c]), bp.append(part.breakpoint[c]), good.append(part.good[c])
    cat = lambda xs_, dt: np.concatenate(xs_).astype(dt) if xs_ else np.zeros(0, dt)  # noqa: E731
    # affine pieces in the global parameter: N = ic + s t_local, t_local = (2 R t - R - a) / L
    def piece(j: int, k: int):
        L = e[j] - a[j]
        s_loc, ic_loc = parts[j].slopes[k], parts[j].intercepts[k]
        return s_loc * (2.0 * R / L), ic_loc - s_loc * (R + a[j]) / L

    first_of_group = np.ones(src.shape[0], bool)
    first_of_group[1:] = groups[1:] != groups[:-1]
    last_of_group = np.ones(src.shape[0], bool)
    last_of_group[:-1] = groups[1:] != groups[:-1]
    pieces = [piece(0, 0)]
    for (j, q), is_last in zip(src, last_of_group):
        if is_last:
            pieces.append(piece(int(j), int(q) + 1))
    slopes = np.stack([p[0] for p in pieces])
    intercepts = np.stack([p[1] for p in pieces])
    # crossings sorted by point, then layer, unit (as lines returns them)
    cpa, la, ua = cat(cp, np.int64), cat(layer, np.int64), cat(unit, np.int64)
    o = np.lexsort((ua, la, cpa))
    return LinePartition(
        x0=np.array([-R]), x1=np.array([R]), t=t_out, linear=linear, crossing_point=cpa[o], layer=la[o], unit=ua[o],
        breakpoint=cat(bp, np.int64)[o], good=cat(good, bool)[o], slopes=slopes, intercepts=intercepts,
        unit_kind=_unit_kinds(net, la[o], ua[o]),
        close_decisions=int(batch.close_decisions.sum()), exact_windows=int(batch.exact_windows.sum()),
    )


def _escapes(net: Network, x_end: float, direction: float) -> bool:
    """Whether some neuron changes piece on the ray x_end + s * direction, s > 0 (given that
    all neurons are affine there unless one of them does)."""
    a, da = np.array([[x_end]]), np.array([[direction]])
    for l, act in enumerate(net.activations):
        W, b = net.weights[l], net.biases[l]
        u, du = a @ W.T + b, da @ W.T
        tol = SNAP_RTOL * snap_scale(W, b, np.abs(a).max(axis=0), act.breakpoints)  # (n, T)
        moving = (np.abs(du) > SNAP_RTOL * (np.abs(W) @ np.abs(da).max(axis=0))) & net.switching(l)
        for j, x in enumerate(act.breakpoints):
            gap = x - u
            if np.any(((gap * du > 0) | (np.abs(gap) <= tol[:, j])) & moving):
                return True
        a, da = net.activate(l, u), net.derivative(l, u) * du
    return False
