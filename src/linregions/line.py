"""Exact partitions of segments of input space into activation and linear regions.

On a segment x(t) = x0 + t (x1 - x0), t in [0, 1], every pre-activation is continuous and
piecewise affine in t. The partition is built layer by layer (the paper's "exact layer-by-layer
splitting"): once layers < l are affine on each interval between the current points, u_l is affine
there too, so its values at the interval's ends give every crossing of a breakpoint in closed
form; new points get their pre-activations by exact linear interpolation. The same affinity gives
each interval's piece of u_l from the midpoint of its end values, and the tangent d u_l / dt on
each interval is carried along (one matmul), which yields the output's affine piece at the end.
Cost: for each layer l, two matmuls (values at the points, tangents on the intervals) over the
points that exist when layer l is split (layer 0 sees only the segment ends), plus elementwise
work; on MNIST-sized ReLU nets this is about 1-2x one plain forward pass over the final points
(``benchmarks/line.py``).

Two kinds of region (THEORY.md §1):

- activation regions: maximal intervals of constant activation pattern. A point separates two of
  them when some neuron changes its piece there (a *crossing*).
- linear regions: maximal intervals on which the output N is one affine map. A point separates
  two of them when the output's slope dN/dt jumps there. For networks with continuous parameter
  laws this happens exactly at the points with a *good* crossing (Prop. 9 restricted to the
  line); the per-crossing ``good`` flag is reported too.

Degenerate arrangements (zero biases: many neurons switching at one point, neurons identically at
a breakpoint on an interval) are handled with the tolerances of ``linregions.tolerances``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterator, Literal

import numpy as np

from .network import Network, _as_matrix
from .tolerances import SLOPE_RTOL, SNAP_RTOL, T_MERGE

__all__ = ["LinePartition", "LineBatch", "line", "lines", "real_line", "Kind"]

Kind = Literal["linear", "activation"]

#: Peak memory target of one chunk of segments (bytes); chunks are processed one after another.
_CHUNK_BYTES = 96 * 2**20


def _check_kind(kind: str) -> None:
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")


@dataclass(frozen=True, repr=False, eq=False)
class LinePartition:
    """The exact partition of one segment [x0, x1].

    Attributes
    ----------
    x0, x1 : the segment's ends (n_in,).
    t : (m,) sorted points in (0, 1) where the activation pattern changes.
    linear : (m,) bool, True where the output's slope jumps (a linear-region boundary).
    crossing_point : (c,) index into ``t`` of each crossing (one per neuron switching there).
    layer, unit : (c,) the neuron (0-based hidden layer, unit) that switches.
    breakpoint : (c,) 0-based index j of the breakpoint xi_j it passes.
    good : (c,) bool, whether that neuron is good there: a path of open neurons (non-zero slope,
        non-zero weights) to an output, evaluated at the crossing point.
    slopes, intercepts : (m + 1, n_out); on interval i, N(x(t)) = intercepts[i] + slopes[i] * t.
    unit_kind : (c,) int8 kind of the switching unit: ``NEURON``, or ``ARGMAX`` for a boundary
        where an argmax of a (compiled) max-pooling changes.
    """

    x0: np.ndarray
    x1: np.ndarray
    t: np.ndarray
    linear: np.ndarray
    crossing_point: np.ndarray
    layer: np.ndarray
    unit: np.ndarray
    breakpoint: np.ndarray
    good: np.ndarray
    slopes: np.ndarray
    intercepts: np.ndarray
    unit_kind: np.ndarray | None = None

    def num_regions(self, kind: Kind = "linear") -> int:
        """Number of linear regions (pieces of N) or activation regions on the segment."""
        _check_kind(kind)
        return 1 + int(self.linear.sum() if kind == "linear" else self.t.size)

    def breakpoints(self, kind: Kind = "linear") -> np.ndarray:
        """Sorted t in (0, 1) of the boundaries of the given kind."""
        _check_kind(kind)
        return self.t[self.linear] if kind == "linear" else self.t

    @property
    def points(self) -> np.ndarray:
        """The boundary points x(t) in input space, (m, n_in)."""
        return self.x0 + self.t[:, None] * (self.x1 - self.x0)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.x1 - self.x0))

    def __repr__(self) -> str:
        return (
            f"LinePartition(length={self.length:.4g}, linear_regions={self.num_regions('linear')}, "
            f"activation_regions={self.num_regions('activation')}, crossings={self.layer.size}, "
            f"good_crossings={int(self.good.sum())})"
        )


@dataclass(frozen=True, repr=False, eq=False)
class LineBatch:
    """Exact partitions of many segments, stored flat (``point_offsets`` and
    ``crossing_offsets`` delimit segment i); index it to get a ``LinePartition``."""

    x0: np.ndarray
    x1: np.ndarray
    t: np.ndarray
    linear: np.ndarray
    point_offsets: np.ndarray
    crossing_point: np.ndarray  # index into the flat t
    layer: np.ndarray
    unit: np.ndarray
    breakpoint: np.ndarray
    good: np.ndarray
    crossing_offsets: np.ndarray
    slopes: np.ndarray  # flat intervals: segment i owns rows point_offsets[i] + i ... point_offsets[i+1] + i
    intercepts: np.ndarray
    unit_kind: np.ndarray | None = None  # per crossing: NEURON or ARGMAX

    def __len__(self) -> int:
        return int(self.x0.shape[0])

    def num_regions(self, kind: Kind = "linear") -> np.ndarray:
        """(S,) number of regions of the given kind on each segment."""
        _check_kind(kind)
        counts = self.linear.astype(np.int64) if kind == "linear" else np.ones(self.t.size, np.int64)
        csum = np.concatenate([[0], np.cumsum(counts)])
        return 1 + csum[self.point_offsets[1:]] - csum[self.point_offsets[:-1]]

    def lengths(self) -> np.ndarray:
        return np.linalg.norm(self.x1 - self.x0, axis=1)

    def __getitem__(self, i: int) -> LinePartition:
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"LineBatch indices must be integers (one segment), got {type(i).__name__}; iterate for many")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"segment {i} out of range for {n} segments")
        i %= n
        p0, p1 = self.point_offsets[i], self.point_offsets[i + 1]
        c0, c1 = self.crossing_offsets[i], self.crossing_offsets[i + 1]
        return LinePartition(
            x0=self.x0[i], x1=self.x1[i], t=self.t[p0:p1], linear=self.linear[p0:p1],
            crossing_point=self.crossing_point[c0:c1] - p0, layer=self.layer[c0:c1], unit=self.unit[c0:c1],
            breakpoint=self.breakpoint[c0:c1], good=self.good[c0:c1],
            slopes=self.slopes[p0 + i : p1 + i + 1], intercepts=self.intercepts[p0 + i : p1 + i + 1],
            unit_kind=None if self.unit_kind is None else self.unit_kind[c0:c1],
        )

    def __iter__(self) -> Iterator[LinePartition]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        if len(self) == 0:
            return "LineBatch(0 segments)"
        lin, act = self.num_regions("linear"), self.num_regions("activation")
        return (
            f"LineBatch({len(self)} segments, linear_regions mean={lin.mean():.4g}, "
            f"activation_regions mean={act.mean():.4g}, crossings={self.layer.size})"
        )


# ----------------------------------------------------------------------------------------------
# numerical core


def _snap_scale(W: np.ndarray, b: np.ndarray, a_absmax: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Per-neuron bound on the magnitude of the summands of u = W a + b (for SNAP_RTOL).

    ``a_absmax`` is (n_prev,), or (n_prev, S) for S separate bounds (then the result is (n, S))."""
    if a_absmax.ndim == 2:
        return np.abs(W) @ a_absmax + (np.abs(b) + np.abs(xi).max())[:, None]
    return np.abs(W) @ a_absmax + np.abs(b) + np.abs(xi).max()


def _states(u: np.ndarray, xi: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Encode where each u lies: 2p inside piece p, 2j+1 exactly on breakpoint j (0-based)."""
    s = 2 * np.searchsorted(xi, u, side="right").astype(np.int16)
    for j, x in enumerate(xi):
        s[np.abs(u - x) <= tol] = 2 * j + 1
    return s


def _forward_tangent(net: Network, X: np.ndarray, V: np.ndarray):
    """Forward pass with tangents: per hidden layer the state codes, then output value and dN/dv.

    The tangent uses the slope of the piece given by the state (a neuron exactly on a breakpoint
    has zero tangent up to rounding on an interval, so either slope gives the same result).
    """
    a, da = X, V
    states = []
    for l, act in enumerate(net.activations):
        W, b = net.weights[l], net.biases[l]
        u = a @ W.T + b
        du = da @ W.T
        tol = SNAP_RTOL * _snap_scale(W, b, np.abs(a).max(axis=0), act.breakpoints)
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
    R[d - 1] = np.broadcast_to(np.any(net.weights[d] != 0, axis=0), (k, net.widths[d - 1]))
    for l in range(d - 1, 0, -1):
        G = opens[l] & R[l]
        nz = net.weights[l] != 0  # (n_l, n_{l-1})
        if nz.all():
            R[l - 1] = np.broadcast_to(G.any(axis=1, keepdims=True), (k, net.widths[l - 1]))
        else:
            R[l - 1] = (G.astype(np.float32) @ nz.astype(np.float32)) > 0
    return R


def _interval_states(U: np.ndarray, same: np.ndarray, xi: np.ndarray, tol: np.ndarray, dtype) -> np.ndarray:
    """State code (as in ``_states``) of every interval [p_i, p_{i+1}] of one segment, on rows i.

    ``U`` holds the pre-activations of one layer at the points, affine in t on each interval,
    so the piece on an interval is the piece at its midpoint; a neuron counts as sitting on
    breakpoint j over an interval only when it is on xi_j (within ``tol``) at both ends. Rows
    that start no interval (the last point of a segment) get 0.
    """
    m2 = U[:-1] + U[1:]  # twice the midpoint (exact scaling, compared with 2 xi)
    s = np.zeros(U.shape, dtype)
    body = s[:-1]
    for j, x in enumerate(xi):
        ge = m2 >= 2 * x
        body += ge.view(np.int8) if dtype == np.int8 else ge
    body *= 2
    for j, x in enumerate(xi):
        snapped = np.abs(U - x if x != 0 else U) <= tol  # (tol: per neuron, or per point and neuron)
        on = snapped[:-1] & snapped[1:]
        if on.any():
            body[on] = 2 * j + 1
    body[~same] = 0
    return s


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


def _crossings(U: np.ndarray, same: np.ndarray, cand: np.ndarray | None, xi: np.ndarray, tol: np.ndarray):
    """Rows k and interpolation parameters lam of the strict crossings of a breakpoint between
    consecutive points k, k + 1 of one segment (``U`` affine on each interval)."""
    ks, zs, lams = [], [], []
    for x in xi:
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


def _partition_chunk(net: Network, X0: np.ndarray, X1: np.ndarray) -> dict[str, np.ndarray]:
    """Exact partitions of a chunk of segments (see the module docstring).

    Rows are points, sorted by (segment, t); row i also stands for the interval [p_i, p_{i+1}]
    when p_{i+1} is on the same segment. Per hidden layer l, in order: the pre-activations U at
    all points (one matmul; exact), their tangent dU/dt on every interval (one matmul), the strict
    crossings of breakpoints inside intervals (closed form, u_l being affine there), which are
    inserted as new points (U by exact linear interpolation; tangents and the states of earlier
    layers inherited from the interval they split), then the state of layer l on every interval.
    """
    S = X0.shape[0]
    code = np.int8 if 2 * max(a.T for a in net.activations) + 1 <= 127 else np.int16
    seg = np.repeat(np.arange(S), 2)
    t = np.tile(np.array([0.0, 1.0]), S)
    pts = np.empty((2 * S, net.n_in))
    pts[0::2], pts[1::2] = X0, X1
    # rounding bounds per segment (not per chunk: results must not depend on the other segments):
    # the largest |a_i| of each coordinate over the segment's points, through |W|
    a_absmax = np.maximum(np.abs(X0), np.abs(X1))
    W0 = net.weights[0]
    U = pts @ W0.T + net.biases[0]
    dU = np.repeat((X1 - X0) @ W0.T, 2, axis=0)
    del pts
    states: list[np.ndarray] = []
    for l, act in enumerate(net.activations):
        W, b, xi = net.weights[l], net.biases[l], act.breakpoints
        if l > 0:
            A = net.activate(l - 1, U)
            a_absmax = np.maximum.reduceat(np.abs(A), np.searchsorted(seg, np.arange(S)), axis=0)
            U = A @ W.T + b
            del A
            dU = _code_tangent(net, l - 1, states[-1], dU) @ W.T
        tol_seg = SNAP_RTOL * _snap_scale(W, b, a_absmax.T, xi).T  # (S, n_l)
        tol = tol_seg[seg]
        same = seg[:-1] == seg[1:]
        sw = net.switching(l)
        k, lam = _crossings(U, same, None if sw.all() else sw, xi, tol)
        if k is not None:
            t_new = t[k] + lam * (t[k + 1] - t[k])
            order = np.lexsort((t_new, k))
            k, lam, t_new = k[order], lam[order], t_new[order]
            keep = (t_new - t[k] > T_MERGE) & (t[k + 1] - t_new > T_MERGE)
            first = np.ones(k.size, bool)
            first[1:] = (k[1:] != k[:-1]) | (np.diff(t_new) > T_MERGE)
            # a cluster of crossings closer than T_MERGE is one point, kept when its first
            # member is away from both interval ends
            cluster = np.cumsum(first) - 1
            keep_cluster = np.zeros(int(cluster[-1]) + 1, bool)
            np.logical_or.at(keep_cluster, cluster, keep)
            sel = first & keep_cluster[cluster]
            k, lam, t_new = k[sel], lam[sel], t_new[sel]
            if k.size:
                U_new = U[k] + lam[:, None] * (U[k + 1] - U[k])
                arrays = [seg, t, U, dU] + states
                rows = [seg[k], t_new, U_new, dU[k]] + [s[k] for s in states]
                seg, t, U, dU, *states = _insert(arrays, k, rows)
                same = seg[:-1] == seg[1:]
                tol = tol_seg[seg]
        s = _interval_states(U, same, xi, tol, code)
        if not sw.all():
            s[:, ~sw] = 0
        states.append(s)

    # the output and its tangent on every interval
    d = net.depth
    Wd, bd = net.weights[d], net.biases[d]
    N_pts = net.activate(d - 1, U) @ Wd.T + bd
    dN_pts = _code_tangent(net, d - 1, states[-1], dU) @ Wd.T
    del U, dU
    same = seg[:-1] == seg[1:]
    iv = np.nonzero(same)[0]  # interval i spans points iv[i], iv[i] + 1
    dN = dN_pts[iv]
    intercepts = N_pts[iv] - dN * t[iv][:, None]
    states = [s[iv] for s in states]

    # crossings: neurons whose state differs on the two intervals around an interior point
    inner = np.nonzero(seg[iv[:-1]] == seg[iv[1:]])[0]  # pairs (interval i, i+1) of one segment
    point_of_pair = iv[inner] + 1
    rec_pair, rec_layer, rec_unit, rec_bp = [], [], [], []
    for l, s in enumerate(states):
        sl, sr = s[inner], s[inner + 1]
        p, z = np.nonzero(sl != sr)
        if p.size:
            a, c = sl[p, z].astype(np.int64), sr[p, z].astype(np.int64)
            bp = np.where(a % 2 == 1, (a - 1) // 2, np.where(c % 2 == 1, (c - 1) // 2, np.minimum(a, c) // 2))
            rec_pair.append(p)
            rec_layer.append(np.full(p.size, l))
            rec_unit.append(z)
            rec_bp.append(bp)
    if rec_pair:
        pair = np.concatenate(rec_pair)
        layer, unit, bp = np.concatenate(rec_layer), np.concatenate(rec_unit), np.concatenate(rec_bp)
    else:
        pair = layer = unit = bp = np.zeros(0, np.int64)
    used = np.zeros(inner.size, bool)
    used[pair] = True
    kept_pairs = np.nonzero(used)[0]
    # goodness at the kept points, evaluated with open = open on either side
    left, right = inner[kept_pairs], inner[kept_pairs] + 1
    opens = [np.broadcast_to(np.True_, (kept_pairs.size, net.widths[0]))]  # layer 0's is not used
    for l in range(1, net.depth):
        o = _code_open(net, l, states[l])
        opens.append(o[left] | o[right] if o.strides != (0, 0) else o[: kept_pairs.size])

    good = np.zeros(pair.size, bool)
    if kept_pairs.size:
        R = _reachability(net, opens)
        row = np.searchsorted(kept_pairs, pair)
        for l in range(net.depth):
            m = layer == l
            good[m] = R[l][row[m], unit[m]]
    # slope jumps at the kept points
    dl, dr = dN[inner[kept_pairs]], dN[inner[kept_pairs] + 1]
    jump = np.linalg.norm(dr - dl, axis=1)
    linear = jump > SLOPE_RTOL * (np.linalg.norm(dl, axis=1) + np.linalg.norm(dr, axis=1))

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
    )


def _check_segments(net: Network, X0: Any, X1: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network (use Network.from_torch for torch modules), got {type(net).__name__}")
    X0, X1 = _as_matrix(X0, "x0"), _as_matrix(X1, "x1")
    X0 = X0[None] if X0.ndim == 1 else X0
    X1 = X1[None] if X1.ndim == 1 else X1
    if X0.ndim != 2 or X0.shape != X1.shape or X0.shape[1] != net.n_in:
        raise ValueError(f"segment ends must both have shape (n_segments, {net.n_in}) (or ({net.n_in},)), got {X0.shape} and {X1.shape}")
    if not (np.all(np.isfinite(X0)) and np.all(np.isfinite(X1))):
        raise ValueError("segment ends contain NaN or inf")
    zero = np.nonzero(np.all(X0 == X1, axis=1))[0]
    if zero.size:
        raise ValueError(f"segment {int(zero[0])} has x0 == x1 (zero length); a segment needs two distinct ends")
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.all(np.isfinite(X1 - X0)) and all(
            np.all(np.isfinite(np.abs(X) @ np.abs(net.weights[0]).T)) for X in (X0, X1))
    if not finite:
        raise ValueError("segment ends are too large: the first layer's pre-activations overflow float64")
    return X0, X1


def lines(net: Network, X0: Any, X1: Any, *, progress: bool = False) -> LineBatch:
    """Exact partitions of the segments [X0[i], X1[i]] (vectorised over segments).

    Parameters
    ----------
    net : the network.
    X0, X1 : (S, n_in) segment ends (numpy, torch or nested lists).
    progress : show a progress bar over chunks of segments.

    >>> from linregions import random_mlp
    >>> import numpy as np
    >>> net = random_mlp(4, [16, 16], seed=0)
    >>> batch = lines(net, np.zeros((3, 4)), np.eye(4)[:3])
    >>> batch.num_regions("activation").shape
    (3,)
    """
    X0, X1 = _check_segments(net, X0, X1)
    S = X0.shape[0]
    # Chunk size from a memory estimate: about 6 float64 rows of the widest layer and one state
    # byte per neuron per point. The first chunk assumes the worst case of every neuron crossing
    # every breakpoint; later chunks use the points per segment seen so far (with margin).
    per_point = 48 * max(net.widths) + 2 * net.num_neurons + 64
    est_points = 2.0 + net.num_neurons * max(a.T for a in net.activations)
    bar = None
    if progress and S > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=S, desc="segments", unit="seg")
    parts, start, seen_points = [], 0, 0
    while start < S:
        per_segment = int(est_points * per_point) + 32 * net.n_in  # + the ends and their difference
        chunk = int(max(1, min(S - start, _CHUNK_BYTES // per_segment)))
        part = _partition_chunk(net, X0[start : start + chunk], X1[start : start + chunk])
        parts.append(part)
        start += chunk
        seen_points += part["t"].size + 2 * chunk
        est_points = max(2.0, 1.5 * seen_points / start)
        if bar is not None:
            bar.update(chunk)
    if bar is not None:
        bar.close()
    batch = _concat(X0, X1, parts, net.n_out)
    return dataclasses.replace(batch, unit_kind=_unit_kinds(net, batch.layer, batch.unit))


def _unit_kinds(net: Network, layer: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Kind (NEURON / ARGMAX) of the unit of each crossing."""
    out = np.zeros(layer.size, np.int8)
    if net.has_special_units:
        for l in range(net.depth):
            m = layer == l
            out[m] = net.kinds(l)[unit[m]]
    return out


def _concat(X0: np.ndarray, X1: np.ndarray, parts: list[dict], n_out: int = 1) -> LineBatch:
    if not parts:  # no segments
        n_out_empty = np.zeros((0, n_out))
        e_f, e_i, e_b = np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool)
        z = np.zeros(1, np.int64)
        return LineBatch(x0=X0, x1=X1, t=e_f, linear=e_b, point_offsets=z, crossing_point=e_i, layer=e_i,
                         unit=e_i, breakpoint=e_i, good=e_b, crossing_offsets=z, slopes=n_out_empty,
                         intercepts=n_out_empty)
    p_off, c_off = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)]
    n_p = n_c = 0
    for p in parts:
        p_off.append(p["point_offsets"][1:] + n_p)
        c_off.append(p["crossing_offsets"][1:] + n_c)
        p["crossing_point"] = p["crossing_point"] + n_p
        n_p += p["t"].size
        n_c += p["layer"].size
    cat = lambda key: np.concatenate([p[key] for p in parts])  # noqa: E731
    return LineBatch(
        x0=X0, x1=X1, t=cat("t"), linear=cat("linear"), point_offsets=np.concatenate(p_off),
        crossing_point=cat("crossing_point"), layer=cat("layer"), unit=cat("unit"),
        breakpoint=cat("breakpoint"), good=cat("good"), crossing_offsets=np.concatenate(c_off),
        slopes=cat("slopes"), intercepts=cat("intercepts"),
    )


def line(net: Network, x0: Any, x1: Any) -> LinePartition:
    """The exact partition of the segment [x0, x1] into activation and linear regions.

    >>> from linregions import random_mlp
    >>> net = random_mlp(2, [32, 32], seed=1)
    >>> part = line(net, [-1.0, -1.0], [1.0, 1.0])
    >>> part.num_regions("linear") <= part.num_regions("activation")
    True
    """
    X0, X1 = _check_segments(net, x0, x1)
    if X0.shape[0] != 1:
        raise ValueError("line takes one segment; use lines(net, X0, X1) for many")
    return lines(net, X0, X1)[0]


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
    )


def _escapes(net: Network, x_end: float, direction: float) -> bool:
    """Whether some neuron changes piece on the ray x_end + s * direction, s > 0 (given that
    all neurons are affine there unless one of them does)."""
    a, da = np.array([[x_end]]), np.array([[direction]])
    for l, act in enumerate(net.activations):
        W, b = net.weights[l], net.biases[l]
        u, du = a @ W.T + b, da @ W.T
        tol = SNAP_RTOL * _snap_scale(W, b, np.abs(a).max(axis=0), act.breakpoints)
        moving = (np.abs(du) > SNAP_RTOL * (np.abs(W) @ np.abs(da).max(axis=0))) & net.switching(l)
        for x in act.breakpoints:
            gap = x - u
            if np.any(((gap * du > 0) | (np.abs(gap) <= tol)) & moving):
                return True
        a, da = net.activate(l, u), net.derivative(l, u) * du
    return False
