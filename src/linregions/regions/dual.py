"""The dual (adjacency) graph of a partition, connected components of a class's regions, and
the Betti numbers of the decision regions of a planar slice.

Two regions are adjacent when they share a boundary piece of positive measure (a side of a
planar complex, a facet of a complex in a box, a point of a segment). Each adjacency carries the
neuron (layer, unit) whose level set separates them, its unit kind, the measure of the shared
boundary and whether it is a linear-region boundary (the output's slope jumps there).
"""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from ._access import Kind, check_kind, labels, which

__all__ = ["DualGraph", "dual_graph", "class_components", "decision_betti", "DecisionTopology"]


@dataclass(frozen=True, repr=False, eq=False)
class DualGraph:
    """Region adjacency: ``a``/``b`` (k,) region pairs (a < b), ``layer``/``unit`` (k,) the
    neuron of the shared boundary (-1 when several neurons' pieces are glued: only possible for
    linear regions), ``unit_kind`` (k,), ``measure`` (k,) length/area of the shared boundary
    (1 on a segment), ``linear`` (k,) whether it is a linear-region boundary."""

    num_regions: int
    a: np.ndarray
    b: np.ndarray
    layer: np.ndarray
    unit: np.ndarray
    unit_kind: np.ndarray
    measure: np.ndarray
    linear: np.ndarray
    kind: str

    @property
    def num_edges(self) -> int:
        return int(self.a.size)

    def adjacency(self, weight: str | None = None):
        """Symmetric ``scipy.sparse.csr_matrix`` (R, R): 1 per adjacency, or ``weight="measure"``."""
        from scipy.sparse import coo_matrix

        w = np.ones(self.a.size) if weight is None else np.asarray(getattr(self, weight), float)
        R = self.num_regions
        m = coo_matrix((np.r_[w, w], (np.r_[self.a, self.b], np.r_[self.b, self.a])), shape=(R, R))
        return m.tocsr()

    def degrees(self) -> np.ndarray:
        return np.bincount(np.r_[self.a, self.b], minlength=self.num_regions)

    def to_networkx(self):
        """A ``networkx.Graph`` with one node per region and the edge attributes above."""
        import networkx as nx

        g = nx.Graph(kind=self.kind)
        g.add_nodes_from(range(self.num_regions))
        g.add_edges_from(
            (int(a), int(b), {"layer": int(l), "unit": int(u), "unit_kind": int(k), "measure": float(m), "linear": bool(li)})
            for a, b, l, u, k, m, li in zip(self.a, self.b, self.layer, self.unit, self.unit_kind, self.measure, self.linear)
        )
        return g

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"a": self.a, "b": self.b, "layer": self.layer, "unit": self.unit,
                             "unit_kind": self.unit_kind, "measure": self.measure, "linear": self.linear})

    def _repr_html_(self) -> str:
        from ..notebook import repr_html

        return repr_html(self)

    def __repr__(self) -> str:
        return f"DualGraph(kind={self.kind!r}, regions={self.num_regions}, adjacencies={self.num_edges})"


def _aggregate(a, b, layer, unit, ukind, meas, lin, R, kind) -> DualGraph:
    """Merge pieces with the same region pair (a < b): measures add, a neuron is kept when all
    pieces agree (else -1)."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * max(R, 1) + hi
    uk, first, inv = np.unique(key, return_index=True, return_inverse=True)
    k = uk.size
    m = np.bincount(inv, weights=meas, minlength=k)
    flat = layer * (int(unit.max(initial=0)) + 2) + unit
    fmin = np.full(k, np.iinfo(np.int64).max)
    fmax = np.full(k, np.iinfo(np.int64).min)
    np.minimum.at(fmin, inv, flat)
    np.maximum.at(fmax, inv, flat)
    same = fmin == fmax
    L = np.where(same, layer[first], -1)
    U = np.where(same, unit[first], -1)
    K = np.where(same, ukind[first], -1)
    lin_any = np.bincount(inv, weights=lin.astype(float), minlength=k) > 0
    return DualGraph(R, lo[first], hi[first], L.astype(np.int64), U.astype(np.int64), K.astype(np.int64), m, lin_any, kind)


def dual_graph(part, kind: Kind = "activation") -> DualGraph:
    """The dual graph of a partition (regions of the kind; see the module doc).

    >>> import numpy as np
    >>> from linregions import random_mlp, plane
    >>> part = plane(random_mlp(2, [6], seed=0), [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    >>> g = dual_graph(part)
    >>> g.adjacency().shape == (part.num_faces, part.num_faces)
    True
    """
    check_kind(kind)
    w = which(part)
    lab = labels(part, kind)
    R = int(lab.max()) + 1 if lab.size else 0
    if w == "plane":
        ef = np.asarray(part.edge_faces)
        inner = np.nonzero((ef[:, 0] >= 0) & (ef[:, 1] >= 0))[0]
        la, lb = lab[ef[inner, 0]], lab[ef[inner, 1]]
        keep = la != lb
        e = inner[keep]
        d = part.vertices[part.edges[e, 1]] - part.vertices[part.edges[e, 0]]
        lin = np.asarray(part.linear_edges)[e]
        return _aggregate(la[keep], lb[keep], np.asarray(part.edge_layer)[e], np.asarray(part.edge_unit)[e],
                          np.asarray(part.edge_kind)[e], np.hypot(d[:, 0], d[:, 1]), lin, R, kind)
    if w == "line":
        m = np.asarray(part.t).size
        cp = np.asarray(part.crossing_point)
        first = np.searchsorted(cp, np.arange(m))  # crossings are sorted by point
        cnt = np.bincount(cp, minlength=m)
        ly = np.where(cnt == 1, np.asarray(part.layer)[np.minimum(first, max(cp.size - 1, 0))] if cp.size else -1, -1)
        un = np.where(cnt == 1, np.asarray(part.unit)[np.minimum(first, max(cp.size - 1, 0))] if cp.size else -1, -1)
        uk = part.unit_kind if getattr(part, "unit_kind", None) is not None else np.zeros(cp.size, np.int8)
        kk = np.where(cnt == 1, np.asarray(uk)[np.minimum(first, max(cp.size - 1, 0))] if cp.size else -1, -1)
        lin = np.asarray(part.linear, bool)
        pts = np.arange(m)
        a, b = lab[pts], lab[pts + 1]
        keep = a != b
        return _aggregate(a[keep], b[keep], ly[keep], un[keep], kk[keep], np.ones(int(keep.sum())), lin[keep], R, kind)
    fr = np.asarray(part.facet_regions)
    f = np.nonzero(fr[:, 0] >= 0)[0]
    a, b = lab[fr[f, 0]], lab[fr[f, 1]]
    keep = a != b
    f = f[keep]
    z = -np.ones(f.size, np.int64)  # the complex records tight counts, not the neuron of a facet
    return _aggregate(a[keep], b[keep], z, z, z, np.asarray(part.face_volume)[f], np.asarray(part.face_jump)[f], R, kind)


def _region_classes(part, kind: str, level) -> np.ndarray:
    from .table import region_table

    return region_table(part, kind, columns=["map"], level=level)["class"].to_numpy()


def class_components(part, cls: int, kind: Kind = "activation", level: float | None = None) -> np.ndarray:
    """Connected components of the set of regions whose predicted class (at the centroid) is
    ``cls``: returns (R,) component ids (-1 for regions of other classes), components numbered
    0..c-1. Regions are joined when they are adjacent in the dual graph."""
    from scipy.sparse.csgraph import connected_components

    g = dual_graph(part, kind)
    cl = _region_classes(part, kind, level)
    m = (cl == cls)
    keep = m[g.a] & m[g.b]
    from scipy.sparse import coo_matrix

    R = g.num_regions
    adj = coo_matrix((np.ones(int(keep.sum())), (g.a[keep], g.b[keep])), shape=(R, R))
    _, comp = connected_components(adj, directed=False)
    out = np.full(R, -1, np.int64)
    if m.any():
        _, out[m] = np.unique(comp[m], return_inverse=True)
    return out


# ----------------------------------------------------------------------------------------------
# Betti numbers of decision regions on a plane


@dataclass(frozen=True, repr=False, eq=False)
class DecisionTopology:
    """Betti numbers of the decision regions {x in domain: class(x) = k} of a planar slice.

    ``betti0[k]``: connected components of class k's region; ``betti1[k]``: its holes (bounded
    components of the rest of the plane). ``cells`` (c, 2): the (face, class) cells, ``component``
    (c,): component of each cell within its class.
    """

    classes: np.ndarray
    betti0: np.ndarray
    betti1: np.ndarray
    cells: np.ndarray
    component: np.ndarray

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"class": self.classes, "betti0": self.betti0, "betti1": self.betti1})

    def _repr_html_(self) -> str:
        from ..notebook import repr_html

        return repr_html(self)

    def __repr__(self) -> str:
        pairs = ", ".join(f"{int(c)}: ({int(b0)}, {int(b1)})" for c, b0, b1 in zip(self.classes, self.betti0, self.betti1))
        return f"DecisionTopology({{{pairs}}})"


def _class_intervals(v0: np.ndarray, v1: np.ndarray, tol: np.ndarray):
    """For sides with class values v0, v1 (s, K) at the two ends (affine along the side): the
    parameter interval [lo, hi] of [0, 1] where each class is on top (s, K)."""
    K = v0.shape[1]
    lo = np.zeros(v0.shape)
    hi = np.ones(v0.shape)
    for j in range(K):  # K classes: a small loop, vectorised over all sides
        d0 = v0 - v0[:, j : j + 1]  # f_k - f_j >= 0 needed for class k on top
        d1 = v1 - v1[:, j : j + 1]
        dd = d1 - d0
        with np.errstate(divide="ignore", invalid="ignore"):
            r = -d0 / dd
        inc = dd > 0
        dec = dd < 0
        lo = np.where(inc, np.maximum(lo, r), lo)
        hi = np.where(dec, np.minimum(hi, r), hi)
        flat = ~(inc | dec)
        bad = flat & (d0 < -tol[:, None])
        hi = np.where(bad, -1.0, hi)
    return lo, hi


def decision_betti(part, level: float | None = None) -> DecisionTopology:
    """Betti numbers (b0, b1) of every class's decision region on a planar slice, exact from
    the planar complex refined by the decision boundary.

    Within a face N is affine, so each class's part of the face is one convex cell. Cells of
    one class in two faces are joined when the class wins on a piece of positive length of
    their common side; b0 counts the resulting components. The holes of class k's region are
    the components of the other cells (joined across common sides, and inside a face across
    the decision segments between two other classes) that do not reach the domain's boundary.
    Points where cells of one class touch only at a vertex do not join them (a non-generic
    configuration; the pixel analogue is 4-connectivity).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from ..decision import TIE_RTOL, _augment, plane_boundary
    if which(part) != "plane":
        raise TypeError("decision_betti needs a PlanePartition")
    grad, off = part.affine_maps()
    G, O = _augment(np.asarray(grad, float), np.asarray(off, float), level)
    F, K = O.shape
    fv, ptr = part.face_vertices, part.face_ptr
    face = np.repeat(np.arange(F), np.diff(ptr))
    Pv = part.vertices[fv]
    vv = O[face] + np.einsum("skj,sj->sk", G[face], Pv)
    vcls = np.argmax(vv, axis=1)
    db = plane_boundary(part, level)
    # cells: classes on top at a vertex of the face, or along a decision segment in it
    cf = np.concatenate([face, db.face, db.face])
    ck = np.concatenate([vcls, db.classes[:, 0], db.classes[:, 1]])
    cells = np.unique(cf * K + ck)
    node = np.full(F * K, -1, np.int64)
    node[cells] = np.arange(cells.size)
    # interior sides: class intervals of positive length, from the left face's maps
    E = part.edges
    ef = np.asarray(part.edge_faces)
    P0, P1 = part.vertices[E[:, 0]], part.vertices[E[:, 1]]
    fl = np.where(ef[:, 0] >= 0, ef[:, 0], ef[:, 1])
    v0 = O[fl] + np.einsum("ekj,ej->ek", G[fl], P0)
    v1 = O[fl] + np.einsum("ekj,ej->ek", G[fl], P1)
    scale = np.abs(O[fl]).max(axis=1) + np.abs(G[fl]).max(axis=(1, 2)) * (np.abs(part.domain).max() or 1.0)
    lo, hi = _class_intervals(v0, v1, TIE_RTOL * scale)
    L = np.hypot(*(P1 - P0).T)
    pos = (hi - lo) * L[:, None] > TIE_RTOL * (np.abs(part.domain).max() or 1.0)
    e_idx, k_idx = np.nonzero(pos)
    inner = (ef[e_idx, 0] >= 0) & (ef[e_idx, 1] >= 0)
    na = node[ef[e_idx[inner], 0] * K + k_idx[inner]]
    nb = node[ef[e_idx[inner], 1] * K + k_idx[inner]]
    ok = (na >= 0) & (nb >= 0)
    na, nb = na[ok], nb[ok]
    touch = np.zeros(cells.size, bool)
    bnd_nodes = node[fl[e_idx[~inner]] * K + k_idx[~inner]]
    touch[bnd_nodes[bnd_nodes >= 0]] = True
    # decision segments inside a face join its two cells (for the complement of a third class)
    sa = node[db.face * K + db.classes[:, 0]]
    sb = node[db.face * K + db.classes[:, 1]]
    cell_cls = cells % K
    classes = np.unique(cell_cls)
    C = cells.size
    b0 = np.zeros(classes.size, np.int64)
    b1 = np.zeros(classes.size, np.int64)
    comp_out = np.full(C, -1, np.int64)
    for i, k in enumerate(classes):  # one pass per class (few classes)
        g = coo_matrix((np.ones(na.size), (na, nb)), shape=(C, C))
        n_all, comp = connected_components(g, directed=False)
        mine = cell_cls == k
        b0[i] = np.unique(comp[mine]).size
        _, comp_out[mine] = np.unique(comp[mine], return_inverse=True)
        rest = ~mine
        m_seg = rest[sa] & rest[sb]
        g2 = coo_matrix((np.ones(na.size + int(m_seg.sum())), (np.r_[na, sa[m_seg]], np.r_[nb, sb[m_seg]])), shape=(C, C))
        _, comp2 = connected_components(g2, directed=False)
        rc = comp2[rest]
        if rc.size:
            reaches = np.zeros(int(comp2.max()) + 1, bool)
            reaches[comp2[rest & touch]] = True
            b1[i] = np.unique(rc[~reaches[rc]]).size
    return DecisionTopology(classes, b0, b1, np.stack([cells // K, cells % K], axis=1), comp_out)
