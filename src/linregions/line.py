"""Exact partitions of segments of input space into activation and linear regions.

On a segment x(t) = x0 + t (x1 - x0), t in [0, 1], every pre-activation is continuous and
piecewise affine in t. The partition is built layer by layer (the paper's "exact layer-by-layer
splitting"): once layers < l are affine on each interval between the current points, u_l is affine
there too, so its values at the interval's ends give every crossing of a breakpoint in closed
form; new points get their pre-activations by exact linear interpolation. Cost: about one batched
forward pass over the final points, plus one pass with tangents over interval midpoints that
gives each interval's activation pattern and the output's affine piece.

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
        )

    def __iter__(self) -> Iterator[LinePartition]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        lin, act = self.num_regions("linear"), self.num_regions("activation")
        return (
            f"LineBatch({len(self)} segments, linear_regions mean={lin.mean():.4g}, "
            f"activation_regions mean={act.mean():.4g}, crossings={self.layer.size})"
        )


# ----------------------------------------------------------------------------------------------
# numerical core


def _snap_scale(W: np.ndarray, b: np.ndarray, a_absmax: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Per-neuron bound on the magnitude of the summands of u = W a + b (for SNAP_RTOL)."""
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


def _partition_chunk(net: Network, X0: np.ndarray, X1: np.ndarray) -> dict[str, np.ndarray]:
    S = X0.shape[0]
    seg = np.repeat(np.arange(S), 2)
    t = np.tile(np.array([0.0, 1.0]), S)
    a_end = np.empty((2 * S, net.n_in))
    a_end[0::2], a_end[1::2] = X0, X1
    a_absmax = np.abs(a_end).max(axis=0)
    U = a_end @ net.weights[0].T + net.biases[0]
    for l, act in enumerate(net.activations):
        W, b, xi = net.weights[l], net.biases[l], act.breakpoints
        if l > 0:
            A = net.activate(l - 1, U)
            a_absmax = np.abs(A).max(axis=0)
            U = A @ W.T + b
        tol = SNAP_RTOL * _snap_scale(W, b, a_absmax, xi)
        same = seg[:-1] == seg[1:]
        cand = same[:, None] & net.switching(l)[None, :]
        ks, lams = [], []
        for x in xi:
            D = U - x
            sgn = np.sign(D).astype(np.int8)
            sgn[np.abs(D) <= tol] = 0
            mask = (sgn[:-1] * sgn[1:] < 0) & cand
            k, z = np.nonzero(mask)
            if k.size:
                da, db = D[k, z], D[k + 1, z]
                ks.append(k)
                lams.append(da / (da - db))
        if not ks:
            continue
        k = np.concatenate(ks)
        lam = np.concatenate(lams)
        t_new = t[k] + lam * (t[k + 1] - t[k])
        order = np.lexsort((t_new, k))
        k, lam, t_new = k[order], lam[order], t_new[order]
        keep = (t_new - t[k] > T_MERGE) & (t[k + 1] - t_new > T_MERGE)
        first = np.ones(k.size, bool)
        first[1:] = (k[1:] != k[:-1]) | (np.diff(t_new) > T_MERGE)
        # a cluster is kept when its first member is away from both interval ends
        cluster = np.cumsum(first) - 1
        keep_cluster = np.zeros(int(cluster[-1]) + 1, bool)
        np.logical_or.at(keep_cluster, cluster, keep)
        sel = first & keep_cluster[cluster]
        k, lam, t_new = k[sel], lam[sel], t_new[sel]
        U_new = U[k] + lam[:, None] * (U[k + 1] - U[k])
        seg_all = np.concatenate([seg, seg[k]])
        t_all = np.concatenate([t, t_new])
        order = np.lexsort((t_all, seg_all))
        seg, t = seg_all[order], t_all[order]
        U = np.concatenate([U, U_new])[order]

    # interval midpoints: activation pattern and the output's affine piece on every interval
    same = seg[:-1] == seg[1:]
    iv = np.nonzero(same)[0]  # interval i spans points iv[i], iv[i] + 1
    t_mid = 0.5 * (t[iv] + t[iv + 1])
    V = (X1 - X0)[seg[iv]]
    X_mid = X0[seg[iv]] + t_mid[:, None] * V
    states, N_mid, dN = _forward_tangent(net, X_mid, V)
    intercepts = N_mid - dN * t_mid[:, None]

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
    opens = [
        _open(net, l, s[inner[kept_pairs]]) | _open(net, l, s[inner[kept_pairs] + 1])
        for l, s in enumerate(states)
    ]
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
    est_points = 2 + net.num_neurons * max(a.T for a in net.activations)
    per_seg = est_points * (max(net.widths) * 24 + net.num_neurons * 2 + 64)
    chunk = int(max(1, min(S, _CHUNK_BYTES // max(per_seg, 1))))
    starts = range(0, S, chunk)
    if progress and len(starts) > 1:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="segments", unit="chunk")
    parts = [_partition_chunk(net, X0[s : s + chunk], X1[s : s + chunk]) for s in starts]
    return _concat(X0, X1, parts)


def _concat(X0: np.ndarray, X1: np.ndarray, parts: list[dict]) -> LineBatch:
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


def real_line(net: Network, *, max_doublings: int = 64) -> LinePartition:
    """All breakpoints of a 1-input network on the whole real line.

    Returns the partition of a segment [-R, R] chosen so that no neuron changes its piece
    outside it: beyond the last point every neuron is affine and stays on one piece, checked
    exactly ray by ray. ``num_regions`` then counts the regions of R (the outer two extend to
    infinity); ``points[:, 0]`` are the breakpoints as numbers.
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
        part = line(net, [-R], [R])
        if not (_escapes(net, -R, -1.0) or _escapes(net, R, 1.0)):
            return part
        R *= 4.0
    raise RuntimeError("real_line: breakpoints keep appearing farther out; the network may be degenerate")


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
