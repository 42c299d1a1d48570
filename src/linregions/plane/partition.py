"""The result of ``plane``: a watertight planar complex with edges labelled by neuron, breakpoint,
goodness and kind, and faces (activation regions) glued into linear regions.

Linear regions are unions of faces glued across interior edges where the output's gradient does
not jump (pieces of N; generically the edges of neurons that are not good, B_N = union of the good
S_z, Prop. 9). Every result is checked for watertightness (Euler characteristic 1, two faces on
every interior edge, positive face areas summing to the domain's); a result that fails says so
(``watertight``) with a warning.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from .._views import RegionViews, NotebookViews

from ..network import Network
from ..tolerances import UNIT_ROUNDOFF
from .builder import _Builder
from .goodness import edge_goodness
from .slopes import edge_jumps, face_affine
from .values import is_dense

Kind = Literal["linear", "activation"]

#: Areas of a watertight complex sum to the domain's within ``AREA_RTOL`` of it: each face's
#: shoelace sum rounds at ~1e-16 of the domain's area and there are at most ~1e6 faces.
AREA_RTOL = 1e-9


def _check_kind(kind: str) -> None:
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")


def _shoelace(P: np.ndarray, ptr: np.ndarray, fv: np.ndarray, noise: bool = False):
    """Area of every face (shoelace formula, in coordinates relative to the face's first vertex so
    that small faces far from the origin keep their digits); with ``noise``, also a bound on its
    rounding error (``8 L u`` times the sum of the absolute cross terms)."""
    if ptr.size <= 1:
        return (np.zeros(0), np.zeros(0)) if noise else np.zeros(0)
    first = np.repeat(fv[ptr[:-1]], np.diff(ptr))
    Q = P[fv] - P[first]
    nxt = np.arange(Q.shape[0]) + 1
    nxt[ptr[1:] - 1] = ptr[:-1]
    t1, t2 = Q[:, 0] * Q[nxt, 1], Q[nxt, 0] * Q[:, 1]
    area = 0.5 * np.add.reduceat(t1 - t2, ptr[:-1])
    if not noise:
        return area
    err = 8 * np.diff(ptr) * UNIT_ROUNDOFF * np.add.reduceat(np.abs(t1) + np.abs(t2), ptr[:-1])
    return area, err


def _close_warning(what: str, counts: dict) -> None:
    parts = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    warnings.warn(
        f"plane: {sum(counts.values())} close tolerance decisions erased more than rounding noise ({parts}): "
        f"{what} depends on them (features below the float64 resolution of this input; see "
        "PlanePartition.close_decisions)", RuntimeWarning, stacklevel=4,
    )


def assemble(net: Any, rnet: Any, x0: np.ndarray, B: np.ndarray, poly: np.ndarray, bld: _Builder, marks) -> "PlanePartition":
    from .kernels import complex_arrays, complex_edges

    F = bld.face_len.n
    P, offs, fv, fl, key, fwd, seg, areas, area_err = complex_arrays(
        bld.P.a, bld.slot_vert.buf, bld.slot_lab.buf, bld.face_start.buf, bld.face_len.buf, F, UNIT_ROUNDOFF
    )
    edges, lab, edge_faces, occ = complex_edges(key, np.argsort(key), fwd, seg, fl, P.shape[0])
    V, E = P.shape[0], edges.shape[0]
    cut_layer = np.concatenate(bld.cut_layer) if bld.cut_layer else np.zeros(0, np.int64)
    cut_unit = np.concatenate(bld.cut_unit)
    cut_bp = np.concatenate(bld.cut_bp)
    is_n = lab >= 0
    g = np.where(is_n, lab, 0)
    e_layer = np.where(is_n, cut_layer[g] if cut_layer.size else 0, -1)
    e_unit = np.where(is_n, cut_unit[g] if cut_unit.size else 0, -1)
    e_bp = np.where(is_n, cut_bp[g] if cut_bp.size else 0, -1)
    e_kind = np.full(E, -1, np.int64)
    for l in range(rnet.depth):
        m = e_layer == l
        e_kind[m] = rnet.kinds(l)[e_unit[m]]
    boundary_side = np.where(is_n, -1, -1 - lab)
    roots = bld.roots.a.copy()
    dense = is_dense(rnet)
    # a module's goodness needs backward passes: edges across which the gradient jumps are good
    # without one, so it is decided after the linear edges (below)
    good = edge_goodness(rnet, bld.states, roots, edge_faces, e_layer, e_unit) if dense else np.zeros(E, bool)
    # watertight: each interior edge once in each direction, each domain edge once, positive
    # areas summing to the domain, V - E + F = 1
    occ_f, occ_b = occ[:, 0], occ[:, 1]
    dom = float(_shoelace(poly, np.array([0, poly.shape[0]]), np.arange(poly.shape[0]))[0])
    problems = []
    if V - E + F != 1:
        problems.append(f"Euler characteristic {V - E + F} (expected 1)")
    if np.any(occ_f[is_n] != 1) or np.any(occ_b[is_n] != 1) or np.any(occ_f[~is_n] + occ_b[~is_n] != 1):
        problems.append("edges without exactly two faces")
    if F and not np.all(areas > -area_err):
        problems.append(f"{int(np.sum(areas <= -area_err))} faces of negative area")
    if abs(float(areas.sum()) - dom) > AREA_RTOL * abs(dom):
        problems.append(f"areas sum to {float(areas.sum())!r}, not the domain's {dom!r}")
    if problems:
        warnings.warn(
            "plane: the complex is not watertight (" + "; ".join(problems) + "). Some feature of this slice "
            "(for example biases or distances below the float64 resolution, ~1e-12 of the weights and inputs) "
            "could not be resolved; counts are unreliable. Shift or rescale the domain, or use the network at "
            "a resolvable scale.", RuntimeWarning, stacklevel=3,
        )
    close = dict(bld.close)
    erased = {k: close[k] for k in ("snap", "merge", "clip")}
    if sum(erased.values()):
        _close_warning("the activation complex", erased)
    part = PlanePartition(
        net=net, origin=x0, basis=B, domain=poly, vertices=P, edges=edges, edge_layer=e_layer,
        edge_unit=e_unit, edge_breakpoint=e_bp, edge_good=good, edge_kind=e_kind,
        edge_faces=edge_faces, edge_boundary_side=boundary_side, face_ptr=offs, face_vertices=fv,
        marks=marks, watertight=not problems, _states=tuple(bld.states), _roots=roots, _rnet=rnet,
        _close=tuple(close.items()), _face_areas=areas,
    )
    if not dense:
        good = edge_goodness(rnet, bld.states, roots, edge_faces, e_layer, e_unit, sure=part.linear_edges)
        object.__setattr__(part, "edge_good", good)
    return part


@dataclass(frozen=True, repr=False, eq=False)
class PlanePartition(RegionViews, NotebookViews):
    """The exact planar complex of a slice x(s) = origin + basis @ s over a convex domain.

    Attributes
    ----------
    origin, basis : the plane (basis orthonormal, (n_in, 2)).
    domain : (k, 2) the domain polygon in plane coordinates (counter-clockwise).
    vertices : (V, 2) vertex coordinates in plane coordinates.
    edges : (E, 2) vertex ids (lo, hi) of each edge.
    edge_layer, edge_unit, edge_breakpoint : the neuron (0-based hidden layer, unit) and the
        0-based breakpoint whose level set made the edge; -1 for edges on the domain boundary.
    edge_good : whether that neuron is good along the edge (a path of open neurons to an output).
    edge_kind : the unit kind (NEURON or ARGMAX) of the edge's neuron; -1 on the domain boundary.
    edge_faces : (E, 2) the faces left and right of lo -> hi (-1: outside the domain).
    edge_boundary_side : index of the domain side a boundary edge lies on (-1 for interior edges).
    face_ptr, face_vertices : faces (activation regions) as counter-clockwise vertex rings (CSR).
    marks : plane coordinates of marked inputs (``plane_through``'s three points) or None.
    watertight : the complex passed the check made on every result (Euler characteristic 1, two
        faces on every interior edge, areas summing to the domain's); a warning said so otherwise.

    ``close_decisions`` counts the tolerance decisions that were close, and ``certified`` says
    whether none of them erased more than rounding noise.

    For a torch module (``plane(module, ...)``), ``net`` is its ``engine.plane.ModuleSlice``:
    "layers" are the module's activation sites and units are flat indices in them
    (``ModuleProgram.unit_name``), as in the engine's ``line``.

    Linear regions are faces glued across interior edges where the output's gradient does not
    jump (``linear_edges``, pieces of the function N); for generic networks these are exactly the
    edges of neurons that are not good (``edge_good``, Prop. 9). Where two neurons' level
    sets coincide along an edge (duplicated neurons), the edge names the one that cut first.
    """

    net: Network
    origin: np.ndarray
    basis: np.ndarray
    domain: np.ndarray
    vertices: np.ndarray
    edges: np.ndarray
    edge_layer: np.ndarray
    edge_unit: np.ndarray
    edge_breakpoint: np.ndarray
    edge_good: np.ndarray
    edge_kind: np.ndarray
    edge_faces: np.ndarray
    edge_boundary_side: np.ndarray
    face_ptr: np.ndarray
    face_vertices: np.ndarray
    marks: np.ndarray | None = None
    watertight: bool = True
    _states: tuple = field(default=(), repr=False)
    _roots: np.ndarray | None = field(default=None, repr=False)
    _rnet: Network | None = field(default=None, repr=False)
    _close: tuple = field(default=(), repr=False)
    _face_areas: np.ndarray | None = field(default=None, repr=False)

    # -- sizes ----------------------------------------------------------------------------------
    @property
    def num_faces(self) -> int:
        return int(self.face_ptr.size - 1)

    @property
    def interior(self) -> np.ndarray:
        """(E,) True for edges inside the domain (made by a neuron)."""
        return self.edge_layer >= 0

    @cached_property
    def linear_edges(self) -> np.ndarray:
        """(E,) interior edges that bound linear regions (lie in B_N): the output's gradient jumps
        across them (``tolerances.slope_jump`` with the rounding floor ``slope_noise``), the same
        criterion as ``line`` uses.

        For generic networks this equals the structural ``edge_good`` flag (Prop. 9); it differs
        where contributions cancel exactly, e.g. max-pooling written with ReLUs or compiled
        ARGMAX units, where a carried input always has an open path.
        """
        return self._jumps[0]

    @cached_property
    def _jumps(self) -> tuple[np.ndarray, int]:
        grad, _ = self._affine
        jump, close = edge_jumps(self._rnet, grad, self._states, self._roots, self.edge_faces, self.interior)
        if close:
            _close_warning("the linear regions", {"slope": close})
        return jump, close

    @property
    def close_decisions(self) -> dict[str, int]:
        """Counts of close tolerance decisions (``tolerances.CLOSE_FACTOR``): ``snap`` (vertex,
        neuron, breakpoint) values snapped onto a breakpoint although they were more than
        rounding noise away, ``snap_kept`` values near the threshold left off it, ``merge`` /
        ``merge_kept`` the same for crossings of one edge merged into one vertex, ``clip`` faces
        left uncut because snapping made their sides inconsistent, and ``slope`` edges whose
        gradient jump was within the factor of its threshold (computed with the linear regions).
        ``snap``, ``merge``, ``clip`` and ``slope`` erased more than rounding noise: when any is
        non-zero a warning said so."""
        out = dict(self._close)
        out["slope"] = self._jumps[1]
        return out

    @property
    def certified(self) -> bool:
        """True when no close tolerance decision erased more than rounding noise and the complex is
        watertight: the partition is then the exact one of the float64 network."""
        c = self.close_decisions
        return self.watertight and not (c.get("snap", 0) or c.get("merge", 0) or c.get("clip", 0) or c["slope"])

    def _boundary_edges(self, kind: Kind) -> np.ndarray:
        _check_kind(kind)
        return self.linear_edges if kind == "linear" else self.interior

    @cached_property
    def region_labels(self) -> np.ndarray:
        """(F,) linear-region id of every face: faces glued across edges that are not good."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        F = self.num_faces
        glue = self.interior & ~self.linear_edges & np.all(self.edge_faces >= 0, axis=1)
        a, b = self.edge_faces[glue, 0], self.edge_faces[glue, 1]
        g = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(F, F))
        _, lab = connected_components(g, directed=False)
        return lab.astype(np.int64)

    def num_regions(self, kind: Kind = "linear") -> int:
        """Number of linear regions (pieces of N) or activation regions (faces) in the domain."""
        _check_kind(kind)
        if kind == "activation":
            return self.num_faces
        return int(self.region_labels.max()) + 1 if self.num_faces else 0

    @property
    def face_areas(self) -> np.ndarray:
        """(F,) area of every face (shoelace formula)."""
        if self._face_areas is None:
            object.__setattr__(self, "_face_areas", _shoelace(self.vertices, self.face_ptr, self.face_vertices))
        return self._face_areas

    def areas(self, kind: Kind = "linear") -> np.ndarray:
        """Area of every region of the given kind (ordered by face, or by ``region_labels``)."""
        _check_kind(kind)
        if kind == "activation":
            return self.face_areas
        return np.bincount(self.region_labels, weights=self.face_areas)

    @cached_property
    def edge_lengths(self) -> np.ndarray:
        d = self.vertices[self.edges[:, 1]] - self.vertices[self.edges[:, 0]]
        return np.hypot(d[:, 0], d[:, 1])

    def boundary_length(self, kind: Kind = "linear", by: str | None = None):
        """1-volume of the boundary inside the domain: of B_N (``kind="linear"``: edges of good
        neurons, Prop. 9) or of the activation-region boundary; interior edges only.

        ``by=None`` gives a float, ``by="layer"`` a (depth,) array, ``by="neuron"`` an array in
        the order of ``net.neuron_ids``. Lengths are those of input space (orthonormal basis).
        """
        m = self._boundary_edges(kind)
        L = self.edge_lengths[m]
        if by is None:
            return float(L.sum())
        if by == "layer":
            return np.bincount(self.edge_layer[m], weights=L, minlength=self.net.depth)
        if by == "neuron":
            ids = self.net.neuron_ids
            flat = np.full((self.net.depth, max(self.net.widths)), -1, np.int64)
            flat[ids[:, 0], ids[:, 1]] = np.arange(ids.shape[0])
            return np.bincount(flat[self.edge_layer[m], self.edge_unit[m]], weights=L, minlength=ids.shape[0])
        raise ValueError(f"by must be None, 'layer' or 'neuron', got {by!r}")

    def vertex_neuron_counts(self, kind: Kind = "activation") -> np.ndarray:
        """(V,) number of distinct neurons whose boundary edges (of the kind) meet at each vertex."""
        m = self._boundary_edges(kind)
        e = np.nonzero(m)[0]
        flat = self.edge_layer[e] * (max(self.net.widths) + 1) + self.edge_unit[e]
        v = np.concatenate([self.edges[e, 0], self.edges[e, 1]])
        z = np.concatenate([flat, flat])
        pairs = np.unique(v * (self.net.depth * (max(self.net.widths) + 1)) + z)
        return np.bincount(pairs // (self.net.depth * (max(self.net.widths) + 1)), minlength=self.vertices.shape[0])

    def num_vertices(self, kind: Kind = "linear") -> int:
        """Interior points where two boundary pieces cross (B_{N,2} for the linear kind, the
        0-dimensional part of the activation-region boundary otherwise): vertices inside the
        domain where edges of at least two distinct (good, for ``linear``) neurons meet."""
        c = self.vertex_neuron_counts(kind)
        on_boundary = np.zeros(self.vertices.shape[0], bool)
        be = self.edges[~self.interior]
        on_boundary[be.ravel()] = True
        return int(np.sum((c >= 2) & ~on_boundary))

    # -- faces ----------------------------------------------------------------------------------
    @cached_property
    def interior_points(self) -> np.ndarray:
        """(F, 2) a point inside every face (its vertex centroid), plane coordinates."""
        lens = np.diff(self.face_ptr)
        P = self.vertices[self.face_vertices]
        return np.add.reduceat(P, self.face_ptr[:-1], axis=0) / lens[:, None]

    def to_input(self, s: Any) -> np.ndarray:
        """Input-space points origin + basis @ s for plane coordinates s (..., 2)."""
        return self.origin + np.asarray(s, dtype=np.float64) @ self.basis.T

    def affine_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """Per face: ``grad`` (F, n_out, 2) and ``offset`` (F, n_out) with
        N(origin + basis @ s) = offset + grad @ s on the face (exact, from the face's pattern)."""
        return self._affine

    @cached_property
    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        return face_affine(self._rnet, self._states, self._roots, self.interior_points)

    def slope_jump(self) -> np.ndarray:
        """(E,) True on interior edges where the output's gradient jumps between the two faces
        (``linear_edges``); equals ``edge_good`` for generic networks."""
        return self.linear_edges.copy()

    def activation_codes(self, faces: Any = None) -> list[np.ndarray]:
        """State codes per hidden layer for the faces (2p inside piece p, 2j+1 on breakpoint j),
        in an integer type wide enough for the layer's breakpoints."""
        f = np.arange(self.num_faces) if faces is None else np.asarray(faces)
        return [self._states[l][self._roots[f, l]] for l in range(len(self._states))]

    def euler_characteristic(self) -> int:
        """V - E + F over the bounded faces (1 for a watertight complex of a disc)."""
        return int(self.vertices.shape[0] - self.edges.shape[0] + self.num_faces)

    # -- pictures -------------------------------------------------------------------------------
    def plot(self, ax=None, **kw):
        """Figure-1-style picture (see ``linregions.plot.plot_plane``)."""
        from ..plot import plot_plane

        return plot_plane(self, ax=ax, **kw)

    # -- regions as objects (linregions.regions / decision / serialize / notebook) -------------
    def decision_boundary(self, level: float | None = None):
        """The exact decision boundary ({N = level} for one output, argmax changes for several)."""
        from ..decision import plane_boundary

        return plane_boundary(self, level)

    def decision_betti(self, level: float | None = None):
        """Betti numbers (b0, b1) of every class's decision region on this slice."""
        from ..regions import decision_betti

        return decision_betti(self, level)

    def to_geojson(self, path=None, **kw) -> dict:
        """GeoJSON FeatureCollection of the faces (and the decision boundary)."""
        from ..serialize import to_geojson

        return to_geojson(self, path, **kw)

    def save(self, path, **kw) -> None:
        """``.npz``: the partition itself (``linregions.load`` reads it back); any other suffix
        (PNG, SVG, PDF): the picture, with ``plot_plane``'s options."""
        if str(path).lower().endswith(".npz"):
            if kw:
                raise TypeError(f"save to .npz takes no picture options, got {sorted(kw)}")
            from ..serialize import save

            save(self, path)
            return
        from ..plot import save_plane

        save_plane(self, path, **kw)

    def __repr__(self) -> str:
        return (
            f"PlanePartition(area={float(self.face_areas.sum()):.4g}, linear_regions={self.num_regions('linear')}, "
            f"activation_regions={self.num_faces}, vertices={self.vertices.shape[0]}, edges={self.edges.shape[0]}"
            + ("" if self.watertight else ", watertight=False") + ")"
        )
