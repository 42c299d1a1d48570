"""Exact decision boundaries on segments and planar slices.

For one output the decision boundary is the level set {N = c} (``level`` c, default 0); for
several outputs it is where the predicted class ``argmax_k N_k`` changes. On every activation
region N is one affine map (its interval's ``slopes``/``intercepts`` on a segment, the face's
``affine_maps`` on a plane), so the boundary inside a region is computed in closed form: on a
segment it is the set of points t where the upper envelope of the (augmented) class functions
changes its top class; on a plane, for each pair of classes (a, b), the line {f_a = f_b} clipped
to the face (a convex polygon) and to the half-planes {f_a >= f_k}, {f_b >= f_k} of the other
classes (Cyrus-Beck clipping; every clip is the intersection of half-planes, so each piece is an
exact segment of the boundary up to float64 rounding). One output is handled as two classes:
f_0 = 0 and f_1 = N - c (class 1 where N > c).

Only regions where the top class is not the same strict winner at every vertex are examined (an
affine function is maximised over a polygon at a vertex, so a class that wins at all vertices with
a margin wins on the whole region): the work is proportional to the regions the boundary meets.

Tolerance: two class values tie when they differ by at most ``TIE_RTOL`` times the magnitude of
the summands of the affine maps at that point (``|offset| + |grad| |s|``); rounding of those
values is ~1e-15 of that. A region on which two top classes are *identical* affine functions is
not a curve: it is reported in ``tie_regions`` (a close decision the result says).
"""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from .tolerances import SLOPE_RTOL, T_MERGE

__all__ = ["TIE_RTOL", "SegmentBoundary", "PlaneBoundary", "segment_boundary", "plane_boundary", "decision_boundary"]

#: Two class values tie when their difference is within ``TIE_RTOL`` of the magnitude of the
#: summands that produced them (affine maps of the region evaluated at the point). Affine maps
#: are exact to ~1e-14 relative (products of weights), so 1e-9 is far above rounding and far below
#: the gaps of generic networks. It acts only where a boundary passes through a vertex or
#: coincides with a region edge.
TIE_RTOL = 1e-9


def _augment(slopes: np.ndarray, offsets: np.ndarray, level: float | None):
    """Class functions: (R, K, ...) slopes and (R, K) offsets; one output -> [0, N - level]."""
    n_out = offsets.shape[1]
    if n_out == 1:
        c = 0.0 if level is None else float(level)
        if not np.isfinite(c):
            raise ValueError(f"level must be a finite number, got {level!r}")
        s = np.concatenate([np.zeros_like(slopes), slopes], axis=1)
        o = np.concatenate([np.zeros_like(offsets), offsets - c], axis=1)
        return s, o
    if level is not None:
        raise ValueError(f"level applies to one output (the set N = level); this network has {n_out} outputs "
                         "and its decision boundary is where the argmax changes (give level=None)")
    return slopes, offsets


def _pairs(K: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.triu_indices(K, 1)
    return a.astype(np.int64), b.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# segments


@dataclass(frozen=True, repr=False, eq=False)
class SegmentBoundary:
    """The decision boundary on one segment [x0, x1].

    t : (k,) sorted parameters in (0, 1) where the predicted class changes.
    left, right : (k,) the class just before and just after each point.
    interval : (k,) the activation interval (index into the partition's intervals) holding the
        point; a point on an activation boundary names the interval on its left.
    tie_intervals : intervals on which two top classes are the same affine function (N = level
        on a whole interval for one output); no point is reported inside them.
    """

    x0: np.ndarray
    x1: np.ndarray
    t: np.ndarray
    left: np.ndarray
    right: np.ndarray
    interval: np.ndarray
    tie_intervals: np.ndarray

    @property
    def points(self) -> np.ndarray:
        """(k, n_in) the boundary points in input space."""
        return self.x0 + self.t[:, None] * (self.x1 - self.x0)

    @property
    def num_points(self) -> int:
        return int(self.t.size)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"t": self.t, "left_class": self.left, "right_class": self.right, "interval": self.interval})

    def _repr_html_(self) -> str:
        from .notebook import repr_html

        return repr_html(self)

    def __repr__(self) -> str:
        return f"SegmentBoundary(points={self.num_points}, tie_intervals={self.tie_intervals.size})"


def segment_boundary(part, level: float | None = None) -> SegmentBoundary:
    """The exact decision boundary of a ``LinePartition`` (points t where the class changes).

    On interval i (between consecutive activation boundaries) N(x(t)) = intercepts[i] +
    slopes[i] t, so every change of the top class is a root of f_a - f_b inside the interval with
    a and b on top; points at an interval's end are kept when the class on the left (ties broken
    by the left interval's slopes) differs from the class on the right.

    >>> import numpy as np
    >>> from linregions import Network, relu, line
    >>> net = Network((np.ones((1, 1)), np.ones((1, 1))), (np.zeros(1), np.array([-0.5])), (relu(),))
    >>> segment_boundary(line(net, [-1.0], [1.0])).t   # relu(x) - 0.5 = 0 at x = 0.5, t = 0.75
    array([0.75])
    """
    S, O = _augment(np.asarray(part.slopes, float), np.asarray(part.intercepts, float), level)
    n_iv = O.shape[0]
    K = O.shape[1]
    ends = np.concatenate([[0.0], np.asarray(part.t, float), [1.0]])
    lo, hi = ends[:-1], ends[1:]
    # values at both ends of every interval; scale of the summands for the tie tolerance
    vlo, vhi = O + S * lo[:, None], O + S * hi[:, None]
    scl = np.abs(O) + np.abs(S)
    tol = TIE_RTOL * scl.max(axis=1)  # (n_iv,)

    def strict(v):
        top = np.argmax(v, axis=1)
        srt = np.sort(v, axis=1)
        margin = srt[:, -1] - srt[:, -2]
        return top, margin

    ta, ma = strict(vlo)
    tb, mb = strict(vhi)
    cand = np.nonzero((ta != tb) | (ma <= tol) | (mb <= tol))[0]
    a, b = _pairs(K)
    ci = np.repeat(cand, a.size)
    pa, pb = np.tile(a, cand.size), np.tile(b, cand.size)
    ds = S[ci, pa] - S[ci, pb]
    do = O[ci, pb] - O[ci, pa]
    tie_fn = np.abs(ds) <= SLOPE_RTOL * (np.abs(S[ci, pa]) + np.abs(S[ci, pb]))
    with np.errstate(divide="ignore", invalid="ignore"):
        tt = np.where(tie_fn, np.nan, do / np.where(tie_fn, 1.0, ds))
    # identical top functions on a whole interval: a tie interval
    same = tie_fn & (np.abs(do) <= tol[ci])
    if same.any():
        mid = 0.5 * (lo[ci[same]] + hi[ci[same]])
        vm = O[ci[same]] + S[ci[same]] * mid[:, None]
        top = vm.max(axis=1)
        on_top = vm[np.arange(mid.size), pa[same]] >= top - tol[ci[same]]
        tie_intervals = np.unique(ci[same][on_top])
    else:
        tie_intervals = np.zeros(0, np.int64)
    eps = T_MERGE * 1.0
    ok = ~tie_fn & (tt >= lo[ci] - eps) & (tt <= hi[ci] + eps) & (tt > 0.0) & (tt < 1.0)
    ci, pa, pb, tt = ci[ok], pa[ok], pb[ok], tt[ok]
    v = O[ci] + S[ci] * tt[:, None]
    top = v.max(axis=1)
    on = (v[np.arange(tt.size), pa] >= top - tol[ci]) & (v[np.arange(tt.size), pb] >= top - tol[ci])
    tt = np.clip(tt[on], 0.0, 1.0)
    if tt.size == 0:
        e = np.zeros(0, np.int64)
        return SegmentBoundary(np.asarray(part.x0), np.asarray(part.x1), np.zeros(0), e, e, e, tie_intervals)
    tt = np.unique(tt)
    # merge points closer than T_MERGE (the same point found from two intervals or pairs)
    keep = np.ones(tt.size, bool)
    keep[1:] = np.diff(tt) > T_MERGE
    tt = tt[keep]
    # classes just left and right: the interval on each side, ties broken by the slope
    bpts = np.asarray(part.t, float)
    j = np.searchsorted(bpts, tt)  # tt lies in interval j (or on its left end, point j - 1)
    if bpts.size:
        at_b_left = (j > 0) & (np.abs(tt - bpts[np.maximum(j - 1, 0)]) <= T_MERGE)
        at_b_right = (j < bpts.size) & (np.abs(bpts[np.minimum(j, bpts.size - 1)] - tt) <= T_MERGE)
    else:
        at_b_left = at_b_right = np.zeros(tt.size, bool)
    # the intervals just left and right of each point
    L = np.clip(np.where(at_b_left, j - 1, j), 0, n_iv - 1)
    R = np.clip(np.where(at_b_right, j + 1, j), 0, n_iv - 1)

    def side(iv, sign):
        val = O[iv] + S[iv] * tt[:, None]
        top = val.max(axis=1, keepdims=True)
        tied = val >= top - tol[iv][:, None]
        score = np.where(tied, sign * S[iv], -np.inf)
        return np.argmax(score, axis=1)

    left, right = side(L, -1.0), side(R, 1.0)
    m = left != right
    interval = np.where(at_b_left, L, j)
    return SegmentBoundary(np.asarray(part.x0), np.asarray(part.x1), tt[m], left[m].astype(np.int64),
                           right[m].astype(np.int64), interval[m].astype(np.int64), tie_intervals)


# ----------------------------------------------------------------------------------------------
# planes


@dataclass(frozen=True, repr=False, eq=False)
class PlaneBoundary:
    """The decision boundary on a planar slice, as exact segments clipped inside faces.

    segments : (k, 2, 2) segment ends in plane coordinates.
    face : (k,) the activation region (face) each segment lies in.
    classes : (k, 2) the two classes that tie along it (a < b).
    pieces : (k,) connected piece of each segment (segments joined at common ends).
    tie_faces : faces on which two top classes are the same affine function (for one output:
        N = level on the whole face); the boundary is not a curve there.
    edge_aligned : (k,) True for segments lying on an edge of the complex (a tie along a neuron's
        line, a degenerate arrangement); kept once, when the classes on the two sides differ.
    """

    segments: np.ndarray
    face: np.ndarray
    classes: np.ndarray
    pieces: np.ndarray
    tie_faces: np.ndarray
    edge_aligned: np.ndarray
    region_labels: np.ndarray | None = None

    @property
    def lengths(self) -> np.ndarray:
        d = self.segments[:, 1] - self.segments[:, 0]
        return np.hypot(d[:, 0], d[:, 1])

    @property
    def length(self) -> float:
        """Total length (plane coordinates = input space: the basis is orthonormal)."""
        return float(self.lengths.sum())

    @property
    def num_pieces(self) -> int:
        """Number of connected pieces (polylines) of the boundary."""
        return int(self.pieces.max()) + 1 if self.pieces.size else 0

    @property
    def num_segments(self) -> int:
        return int(self.face.size)

    def regions(self, kind: str = "activation") -> np.ndarray:
        """Sorted ids of the regions of the kind that the boundary passes through."""
        if kind == "activation":
            return np.unique(self.face)
        if kind == "linear":
            if self.region_labels is None:
                raise ValueError("this boundary was computed without the partition's region labels")
            return np.unique(self.region_labels[self.face])
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")

    def polylines(self) -> list[np.ndarray]:
        """The boundary as polylines (one (m, 2) array of points per chain of segments; a piece
        with branch points, where three classes meet, gives several chains)."""
        return _chains(self.segments)

    def to_frame(self):
        import pandas as pd

        s = self.segments
        return pd.DataFrame({"x0": s[:, 0, 0], "y0": s[:, 0, 1], "x1": s[:, 1, 0], "y1": s[:, 1, 1],
                             "face": self.face, "class_a": self.classes[:, 0], "class_b": self.classes[:, 1],
                             "piece": self.pieces, "length": self.lengths, "edge_aligned": self.edge_aligned})

    def _repr_html_(self) -> str:
        from .notebook import repr_html

        return repr_html(self)

    def __repr__(self) -> str:
        return (f"PlaneBoundary(length={self.length:.4g}, pieces={self.num_pieces}, segments={self.num_segments}, "
                f"faces={np.unique(self.face).size}, tie_faces={self.tie_faces.size})")


def _ring(part):
    fv, ptr = part.face_vertices, part.face_ptr
    F = ptr.size - 1
    face = np.repeat(np.arange(F), np.diff(ptr))
    nxt = np.arange(fv.size) + 1
    nxt[ptr[1:] - 1] = ptr[:-1]
    return fv, ptr, face, nxt


def _ends_graph(points: np.ndarray, r: float) -> np.ndarray:
    """Cluster ids of points closer than r (transitively)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = points.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    pr = cKDTree(points).query_pairs(r, output_type="ndarray")
    g = coo_matrix((np.ones(pr.shape[0]), (pr[:, 0], pr[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)[1].astype(np.int64)


def _chains(segments: np.ndarray) -> list[np.ndarray]:
    k = segments.shape[0]
    if k == 0:
        return []
    scale = float(np.abs(segments).max()) or 1.0
    cl = _ends_graph(segments.reshape(-1, 2), 1e-9 * scale).reshape(k, 2)
    ncl = int(cl.max()) + 1
    deg = np.bincount(cl.ravel(), minlength=ncl)
    coords = np.empty((ncl, 2))
    coords[cl.ravel()[::-1]] = segments.reshape(-1, 2)[::-1]  # first occurrence of each cluster
    inc: dict[int, list[int]] = {}
    for s, (p, q) in enumerate(cl):  # a walk over segments: output is a list of chains
        inc.setdefault(int(p), []).append(s)
        inc.setdefault(int(q), []).append(s)
    used = np.zeros(k, bool)
    out = []
    starts = [c for c in range(ncl) if deg[c] != 2] + list(range(ncl))
    for c0 in starts:
        for s0 in inc.get(c0, []):
            if used[s0]:
                continue
            chain, c = [c0], c0
            s = s0
            while True:
                used[s] = True
                p, q = cl[s]
                c = int(q if p == c else p)
                chain.append(c)
                if deg[c] != 2:
                    break
                nxt = [x for x in inc[c] if not used[x]]
                if not nxt:
                    break
                s = nxt[0]
            out.append(coords[np.array(chain)])
    return out


def plane_boundary(part, level: float | None = None) -> PlaneBoundary:
    """The exact decision boundary of a ``PlanePartition`` ({N = level} for one output, argmax
    changes for several), as segments clipped inside the faces where N is affine.

    >>> import numpy as np
    >>> from linregions import random_mlp, plane
    >>> net = random_mlp(2, [8], 3, seed=0)
    >>> db = plane_boundary(plane(net, [0.0, 0.0], np.eye(2), (-2, 2, -2, 2)))
    >>> db.length > 0
    True
    """
    grad, off = part.affine_maps()
    G, O = _augment(np.asarray(grad, float), np.asarray(off, float), level)  # (F, K, 2), (F, K)
    F, K = O.shape
    fv, ptr, face, nxt = _ring(part)
    P = part.vertices
    dom_scale = float(np.abs(part.domain).max()) or 1.0
    # class values at the ring vertices: is one class the strict winner at every vertex?
    val = O[face] + np.einsum("skj,sj->sk", G[face], P[fv])
    scl = np.abs(O[face]) + np.einsum("skj,sj->sk", np.abs(G[face]), np.abs(P[fv]))
    tol_s = TIE_RTOL * scl.max(axis=1)
    top = np.argmax(val, axis=1)
    srt = np.sort(val, axis=1)
    close = (srt[:, -1] - srt[:, -2]) <= tol_s
    starts = ptr[:-1]
    mixed = (np.minimum.reduceat(top, starts) != np.maximum.reduceat(top, starts)) | np.logical_or.reduceat(close, starts)
    cf = np.nonzero(mixed)[0]
    a, b = _pairs(K)
    pf = np.repeat(cf, a.size)
    pa, pb = np.tile(a, cf.size), np.tile(b, cf.size)
    g = G[pf, pa] - G[pf, pb]  # (p, 2): f_a - f_b = h0 + g . s
    h0 = O[pf, pa] - O[pf, pb]
    gn = np.hypot(g[:, 0], g[:, 1])
    gscale = np.hypot(*G[pf, pa].T) + np.hypot(*G[pf, pb].T)
    tie_fn = gn <= SLOPE_RTOL * gscale
    # faces where two top classes are the same function
    tie_faces = np.zeros(0, np.int64)
    if tie_fn.any():
        tf = pf[tie_fn]
        fscale = (np.abs(O[tf]).max(axis=1) + np.abs(G[tf]).max(axis=(1, 2)) * dom_scale)
        same = np.abs(h0[tie_fn]) <= TIE_RTOL * fscale
        if same.any():
            c = part.interior_points[tf[same]] if hasattr(part, "interior_points") else None
            vm = O[tf[same]] + np.einsum("fkj,fj->fk", G[tf[same]], c)
            on = vm[np.arange(c.shape[0]), pa[tie_fn][same]] >= vm.max(axis=1) - TIE_RTOL * fscale[same]
            tie_faces = np.unique(tf[same][on])
    keep = ~tie_fn
    pf, pa, pb, g, h0, gn = pf[keep], pa[keep], pb[keep], g[keep], h0[keep], gn[keep]
    n = g / gn[:, None]
    p0 = -n * (h0 / gn)[:, None]  # foot of the line {h0 + g.s = 0}
    d = np.stack([-n[:, 1], n[:, 0]], axis=1)
    npair = pf.size
    t_lo = np.full(npair, -np.inf)
    t_hi = np.full(npair, np.inf)
    feas = np.ones(npair, bool)

    def apply(idx, alpha, beta, tol):
        """Constraints beta + t alpha >= 0 (-tol), for pair rows idx."""
        with np.errstate(divide="ignore", invalid="ignore"):
            r = -beta / alpha
        up = alpha < 0
        dn = alpha > 0
        par = ~(up | dn)
        np.minimum.at(t_hi, idx[up], r[up])
        np.maximum.at(t_lo, idx[dn], r[dn])
        bad = par & (beta < -tol)
        feas[idx[bad]] = False

    # face edges (counter-clockwise ring: inside is to the left of v -> w), flattened per pair
    row, v, e = _ring_edges(P, pf, fv, ptr, nxt)
    alpha = e[:, 0] * d[row, 1] - e[:, 1] * d[row, 0]
    q = p0[row] - v
    beta = e[:, 0] * q[:, 1] - e[:, 1] * q[:, 0]
    elen = np.hypot(e[:, 0], e[:, 1])
    apply(row, alpha, beta, TIE_RTOL * dom_scale * elen)
    # other classes: f_a - f_k >= 0 on the line
    if K > 2:
        for c in range(K):  # K is the number of classes (small); vectorised over all pairs
            m = (pa != c) & (pb != c)
            if not m.any():
                continue
            idx = np.nonzero(m)[0]
            gk = G[pf[idx], pa[idx]] - G[pf[idx], c]
            hk = O[pf[idx], pa[idx]] - O[pf[idx], c]
            al = np.einsum("ij,ij->i", gk, d[idx])
            be = hk + np.einsum("ij,ij->i", gk, p0[idx])
            tolk = TIE_RTOL * (np.abs(O[pf[idx]]).max(axis=1) + np.abs(G[pf[idx]]).max(axis=(1, 2)) * dom_scale)
            apply(idx, al, be, tolk)
    min_len = TIE_RTOL * dom_scale
    ok = feas & (t_hi - t_lo > min_len)
    pf, pa, pb, p0, d, t_lo, t_hi = pf[ok], pa[ok], pb[ok], p0[ok], d[ok], t_lo[ok], t_hi[ok]
    seg = np.stack([p0 + t_lo[:, None] * d, p0 + t_hi[:, None] * d], axis=1)
    # segments along an edge of the complex: found from both faces; keep one where the classes
    # on the two sides differ
    aligned = _on_ring(part, seg, pf, fv, ptr, nxt, TIE_RTOL * dom_scale * 10)
    if aligned.any():
        ia = np.nonzero(aligned)[0]
        mid = seg[ia].mean(axis=1)
        # the winner of (a, b) just inside the face: the class increasing towards the face's interior
        inward = part.interior_points[pf[ia]] - mid
        ga = np.einsum("ij,ij->i", G[pf[ia], pa[ia]], inward)
        gb = np.einsum("ij,ij->i", G[pf[ia], pb[ia]], inward)
        win = np.where(ga >= gb, pa[ia], pb[ia])
        near = _ends_graph(mid, 1e-8 * dom_scale)  # the same piece of edge seen from both faces
        _, cl = np.unique((near * K + pa[ia]) * K + pb[ia], return_inverse=True)
        drop = np.ones(ia.size, bool)
        order = np.lexsort((pf[ia], cl))
        first = np.ones(order.size, bool)
        first[1:] = cl[order[1:]] != cl[order[:-1]]
        grp = np.cumsum(first) - 1
        nwin = np.zeros(grp[-1] + 1 if grp.size else 0, np.int64)
        wmin = np.full(nwin.size, np.iinfo(np.int64).max)
        wmax = np.full(nwin.size, -1)
        cnt = np.bincount(grp, minlength=nwin.size)
        np.minimum.at(wmin, grp, win[order])
        np.maximum.at(wmax, grp, win[order])
        good_grp = (cnt >= 2) & (wmin != wmax)
        # found from one face only: the face on the other side is a tie face (the two classes are
        # one function there, its class is the lower index a) or outside the domain
        one = (cnt == 1)[grp]
        inside = ~_on_domain_boundary(part.domain, mid[order], TIE_RTOL * dom_scale * 10)
        good_one = one & inside & (win[order] != pa[ia][order])
        drop[order[(first & good_grp[grp]) | good_one]] = False
        keep = np.ones(pf.size, bool)
        keep[ia[drop]] = False
        pf, pa, pb, seg, aligned = pf[keep], pa[keep], pb[keep], seg[keep], aligned[keep]
    pieces = _ends_graph(seg.reshape(-1, 2), 1e-9 * dom_scale)
    if seg.shape[0]:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        ends = pieces.reshape(-1, 2)
        k = seg.shape[0]
        nc = int(ends.max()) + 1
        gph = coo_matrix((np.ones(2 * k), (np.repeat(np.arange(k), 2), k + ends.ravel())), shape=(k + nc, k + nc))
        pieces = connected_components(gph, directed=False)[1][:k]
        _, pieces = np.unique(pieces, return_inverse=True)
    labels = getattr(part, "region_labels", None)
    return PlaneBoundary(seg, pf.astype(np.int64), np.stack([pa, pb], axis=1).astype(np.int64),
                         pieces.astype(np.int64), tie_faces, aligned, None if labels is None else np.asarray(labels))


def _ring_edges(P: np.ndarray, pf: np.ndarray, fv: np.ndarray, ptr: np.ndarray, nxt: np.ndarray):
    """The ring edges of faces ``pf`` flattened: (row into ``pf``, start vertex v, edge vector w - v)
    for every edge v -> w of each face's counter-clockwise ring (``fv[ptr[f]:ptr[f + 1]]``)."""
    lens = np.diff(ptr)[pf]
    offs = np.zeros(pf.size + 1, np.int64)
    np.cumsum(lens, out=offs[1:])
    row = np.repeat(np.arange(pf.size), lens)
    slot = np.arange(offs[-1]) - offs[row] + ptr[pf][row]
    v = P[fv[slot]]
    return row, v, P[fv[nxt[slot]]] - v


def _on_ring(part, seg, pf, fv, ptr, nxt, tol) -> np.ndarray:
    """Segments lying on their face's boundary (both ends and the midpoint within tol of one
    ring edge's line and the midpoint on that edge)."""
    k = pf.size
    if k == 0:
        return np.zeros(0, bool)
    P = part.vertices
    row, v, e = _ring_edges(P, pf, fv, ptr, nxt)
    el = np.hypot(e[:, 0], e[:, 1])
    el = np.where(el == 0, 1.0, el)
    out = np.ones(row.size, bool)
    for pt in (seg[:, 0], seg[:, 1], seg.mean(axis=1)):
        q = pt[row] - v
        dist = np.abs(e[:, 0] * q[:, 1] - e[:, 1] * q[:, 0]) / el
        out &= dist <= tol
    return np.bincount(row[out], minlength=k) > 0


def _on_domain_boundary(domain: np.ndarray, pts: np.ndarray, tol: float) -> np.ndarray:
    v = domain
    w = np.roll(domain, -1, axis=0)
    e = w - v
    el = np.hypot(e[:, 0], e[:, 1])
    q = pts[:, None, :] - v[None]
    dist = np.abs(e[None, :, 0] * q[..., 1] - e[None, :, 1] * q[..., 0]) / el[None]
    return (dist <= tol).any(axis=1)


def decision_boundary(part, level: float | None = None):
    """The exact decision boundary of a partition: ``segment_boundary`` for a ``LinePartition``,
    ``plane_boundary`` for a ``PlanePartition``."""
    if hasattr(part, "face_ptr"):
        return plane_boundary(part, level)
    if hasattr(part, "slopes") and hasattr(part, "t") and not hasattr(part, "point_offsets"):
        return segment_boundary(part, level)
    if hasattr(part, "point_offsets"):
        raise TypeError("decision_boundary takes one segment; index the LineBatch (batch[i]) first")
    raise TypeError(f"decision_boundary expects a LinePartition or PlanePartition, got {type(part).__name__}")
