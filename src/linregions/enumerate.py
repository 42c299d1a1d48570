"""The exact polyhedral complex of a network inside a box, in input dimension n <= 4.

Issue #7, part 2. For a network with ``n_in <= 4`` (or its restriction to an affine subspace of
dimension <= 4, ``origin + basis @ s``), ``complex_in_box`` builds every activation region inside
the box ``K = [low, high]`` as an explicit convex polytope, together with every face of every
dimension, and from them:

- the number of activation regions and of linear regions (THEORY.md §1, the two kinds),
- the per-codimension volumes ``vol_{n-k}(B_{N,k} ∩ K)`` for k = 1..n: the quantities on the
  left of Theorem 6 (k = 1: the (n-1)-volume of the boundary; k = n: the number of vertices).

Algorithm: exact layer-by-layer splitting of convex polytopes (the n-dimensional version of
``linregions.line``). Start from the box. Within layer l every region has a constant activation
pattern of the layers before, so each pre-activation ``u_z`` of layer l is affine on it and its
values at the region's vertices determine it; for each switching neuron z and breakpoint xi of
the layer, every current region on which ``u_z - xi`` takes both signs is cut in two. A region
is kept as its vertex list (V-representation) and the vertex-constraint incidence (which box
facets and which cutting neuron hyperplanes each vertex lies on; the H-representation in
combinatorial form). A cut is exact: vertices are classified by sign (``SNAP_RTOL`` decides
"on the hyperplane"), and the new vertices are the intersections of the hyperplane with the
edges that join a positive and a negative vertex; two vertices span an edge when no third
vertex lies on every constraint they share (true for degenerate, non-simple polytopes too). New
vertices get their pre-activations by exact linear interpolation, like the points of ``line``.
A vertex made by a cut is named by the edge and the constraint that made it, so the regions
around a point share one vertex (with one set of pre-activation values that all of them decide
on); no coordinates are compared. After the last layer, the face lattice of every region
follows from the incidence alone (the facets of a face are the maximal vertex subsets cut out
by one more constraint), faces shared by several regions are identified by their vertex sets,
and the d-volume of each face comes from the pyramid formula
``vol_d(F) = (1/d) * sum_{facets G of F} dist(c_F, aff G) * vol_{d-1}(G)`` (c_F the mean of
F's vertices), down to edge lengths. Cost: a Python loop over regions (vectorised inside), about
1e3 regions per second in 3D (``benchmarks/enumerate.py``).

Degenerate arrangements (zero biases, several neurons through one point, duplicated neurons)
are exact. Nearly degenerate ones, with features below the snap tolerance (e.g. biases ~1e-9 of
the weights' scale around the origin), cannot be resolved in float64 with a fixed tolerance:
``complex_in_box`` then warns (``RuntimeWarning``, see ``SNAP_NOISE_FRACTION``) or, when the
incidences became contradictory, raises ``RuntimeError``.

Definitions used for the counts (each face is assessed at the mean of its vertices, a point of
its relative interior, where every neuron is on a fixed piece or exactly at a breakpoint; a
neuron at a breakpoint is *tight* on the face):

- activation kind: ``B_{N,k}`` is the union of the (n-k)-dimensional faces of the activation
  complex that do not lie in the boundary of the box. With probability one (continuous bias
  laws) exactly k neurons are tight on such a face, so this is Theorem 6's set for the pattern
  boundary. In degenerate arrangements (zero biases: every first-layer hyperplane through the
  origin) a face is counted by its dimension (the origin is a vertex however many neurons meet
  there); ``face_tight`` gives the number of tight neurons if the literal "exactly k"
  definition is wanted.
- linear kind: two adjacent regions belong to one linear region when the output's slope does
  not jump across their common facet (the same test, ``SLOPE_RTOL``, as the ``linear`` flag of
  ``line``); linear regions are the connected pieces so glued. An interior facet is in
  ``B_{N,1}`` when the slope jumps across it; a face of dimension n - k, k >= 2, is in
  ``B_{N,k}`` when at least k of its tight neurons are *good* there (a path of open neurons with
  non-zero weights to an output, the structural definition of ``line._reachability``; exactly
  k with probability one). With probability one the slope jumps across a facet exactly when its
  tight neuron is good (Prop. 9); ``face_good`` allows the comparison.

Volumes are measured in the coordinates s of the box (those of the restricted network when
``origin``/``basis`` are given; with orthonormal basis columns they are volumes in input space).

>>> from linregions import random_mlp
>>> net = random_mlp(3, [8, 8], seed=0)
>>> cx = complex_in_box(net, -1.0, 1.0)
>>> bool(abs(cx.region_volume.sum() - 8.0) < 1e-9)
True
>>> cx.num_regions("linear") <= cx.num_regions("activation")
True
"""
from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .line import Kind, _check_kind, _forward_tangent, _open, _reachability, _snap_scale
from .network import Network, _as_matrix
from .tolerances import SLOPE_RTOL, SNAP_RTOL

__all__ = ["PolyhedralComplex", "complex_in_box", "MAX_DIM", "SNAP_NOISE_FRACTION"]

#: Largest dimension of the box handled (the face lattice and the number of regions grow fast).
MAX_DIM = 4


#: A pre-activation snapped to a breakpoint (``|u - xi| <= tol``, ``tol = SNAP_RTOL * scale``)
#: is rounding noise when ``|u - xi| <= SNAP_NOISE_FRACTION * tol``, i.e. 1e-13 of the scale of
#: its summands: float64 rounding of a forward pass and of the interpolations along edges stays
#: below that (~1e-15 to 1e-14), and exactly degenerate arrangements (zero biases) snap values of
#: that size. A snapped value above it is a real offset that the snap tolerance erased: the
#: arrangement is nearly, not exactly, degenerate (features ~1e-12 of the scale, e.g. biases
#: ~1e-9 to 1e-11), counts may be off, and ``complex_in_box`` warns (``RuntimeWarning``).
SNAP_NOISE_FRACTION = 1e-1

_DEFAULT_MAX_REGIONS = 200_000


# ----------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, repr=False, eq=False)
class PolyhedralComplex:
    """The exact activation complex of a network inside a box ``[low, high]`` (dimension n <= 4).

    Regions (the n-dimensional cells, i.e. activation regions intersected with the box):

    - ``region_volume`` (R,), ``region_centroid`` (R, n) (mean of the region's vertices),
    - ``region_vertices`` / ``region_offsets``: region i has vertices
      ``vertices[region_vertices[region_offsets[i]:region_offsets[i + 1]]]``,
    - ``region_states``: per hidden layer, (R, n_l) int16 state codes at the centroid
      (2p inside piece p, 2j + 1 exactly on breakpoint j, as in ``line``; ``region_patterns()``
      gives the activation pattern as piece indices),
    - ``region_slopes`` (R, n_out, n) and ``region_intercepts`` (R, n_out): the output's affine
      map ``N(s) = intercepts + slopes @ s`` on the region,
    - ``region_linear`` (R,): label of the linear region each activation region belongs to.

    Faces of dimension 0..n-1 (each once, shared by the regions that contain it):

    - ``face_dim``, ``face_volume`` (the dim-dimensional volume; 1 for vertices),
      ``face_centroid``, ``face_on_box`` (the face lies in the boundary of the box),
    - ``face_vertices`` / ``face_offsets`` (as for regions),
    - ``face_tight``, ``face_good``: the number of neurons at a breakpoint on the face and how
      many of them are good there; ``face_jump``: for interior facets, whether the output's
      slope jumps across it (False for other faces),
    - ``facet_regions`` (F, 2): for interior facets, the two regions on either side (else -1).

    ``vertices`` (V, n) are the distinct vertices of the complex (box corners included).
    """

    low: np.ndarray
    high: np.ndarray
    vertices: np.ndarray
    region_vertices: np.ndarray
    region_offsets: np.ndarray
    region_volume: np.ndarray
    region_centroid: np.ndarray
    region_states: tuple[np.ndarray, ...]
    region_slopes: np.ndarray
    region_intercepts: np.ndarray
    region_linear: np.ndarray
    face_dim: np.ndarray
    face_volume: np.ndarray
    face_centroid: np.ndarray
    face_on_box: np.ndarray
    face_vertices: np.ndarray
    face_offsets: np.ndarray
    face_tight: np.ndarray
    face_good: np.ndarray
    face_jump: np.ndarray
    facet_regions: np.ndarray

    # -- sizes -----------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Dimension n of the box."""
        return int(self.low.size)

    @property
    def box_volume(self) -> float:
        return float(np.prod(self.high - self.low))

    @property
    def num_faces(self) -> int:
        return int(self.face_dim.size)

    def region_patterns(self) -> np.ndarray:
        """(R, total units) activation pattern (piece index; on a breakpoint: the piece to its
        right) of every region, layers concatenated."""
        return np.concatenate([s // 2 + (s % 2) for s in self.region_states], axis=1)

    def region_vertex_coords(self, i: int) -> np.ndarray:
        """The vertices (m, n) of region i."""
        return self.vertices[self.region_vertices[self.region_offsets[i] : self.region_offsets[i + 1]]]

    def face_vertex_coords(self, f: int) -> np.ndarray:
        """The vertices (m, n) of face f."""
        return self.vertices[self.face_vertices[self.face_offsets[f] : self.face_offsets[f + 1]]]

    # -- the counts of the theory ----------------------------------------------------------------
    def num_regions(self, kind: Kind = "linear") -> int:
        """Number of activation regions, or of linear regions (pieces of N), meeting the box."""
        _check_kind(kind)
        if kind == "activation":
            return int(self.region_volume.size)
        return int(np.unique(self.region_linear).size)

    def in_boundary(self, k: int, kind: Kind = "linear") -> np.ndarray:
        """Boolean mask over faces: the faces whose union is B_{N,k} ∩ K (see the module doc)."""
        _check_kind(kind)
        n = self.dim
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            raise ValueError(f"k must be an integer codimension in 1..{n}, got {k!r}")
        m = (self.face_dim == n - k) & ~self.face_on_box
        if kind == "activation":
            return m
        if k == 1:
            return m & self.face_jump
        return m & (self.face_good >= k)

    def volume(self, k: int = 1, kind: Kind = "linear") -> float:
        """vol_{n-k}(B_{N,k} ∩ K): the left side of Theorem 6 for one network.

        k = 1: the (n-1)-volume of the boundary inside the box (interior facets only);
        k = n: the number of vertices inside the box.
        """
        return float(self.face_volume[self.in_boundary(k, kind)].sum())

    def volumes(self, kind: Kind = "linear") -> np.ndarray:
        """(n,) array of ``volume(k, kind)`` for k = 1..n."""
        return np.array([self.volume(k, kind) for k in range(1, self.dim + 1)])

    def num_vertices(self, kind: Kind = "linear") -> int:
        """Number of vertices of the complex inside the box (= ``volume(n, kind)``)."""
        return int(self.in_boundary(self.dim, kind).sum())

    def boundary_volume(self, kind: Kind = "linear") -> float:
        """The (n-1)-volume of B_N ∩ K (= ``volume(1, kind)``)."""
        return self.volume(1, kind)

    def __repr__(self) -> str:
        vl, va = self.volumes("linear"), self.volumes("activation")
        fmt = lambda v: "[" + ", ".join(f"{x:.4g}" for x in v) + "]"  # noqa: E731
        return (
            f"PolyhedralComplex(dim={self.dim}, box_volume={self.box_volume:.4g}, "
            f"linear_regions={self.num_regions('linear')}, activation_regions={self.num_regions('activation')}, "
            f"volumes_linear={fmt(vl)}, volumes_activation={fmt(va)})"
        )


# ----------------------------------------------------------------------------------------------
# splitting


class _Vertices:
    """All vertices made so far: coordinates V and the current layer's pre-activations U, in
    growable buffers, and the key of every vertex made by a cut. A vertex made on the edge
    (u, w) by constraint c has the key (min(u, w), max(u, w), c): cells that share that edge
    (the complex is face-to-face, and every cell meets the cuts in the same order) make the same
    vertex, so each point of the complex is one vertex whatever the number of cells around it,
    with one set of values that every cell decides on."""

    def __init__(self, V: np.ndarray):
        self.n = V.shape[0]
        self.V = np.empty((max(64, 4 * self.n), V.shape[1]))
        self.V[: self.n] = V
        self.U = np.empty((self.V.shape[0], 0))
        self.keys: dict[tuple[int, int, int], int] = {}
        self.near_degenerate = False  # some snap erased more than rounding noise

    def start_layer(self, U: np.ndarray) -> None:
        self.U = np.empty((self.V.shape[0], U.shape[1]))
        self.U[: self.n] = U

    def add(self, V: np.ndarray, U: np.ndarray) -> np.ndarray:
        k = V.shape[0]
        if self.n + k > self.V.shape[0]:
            cap = 2 * (self.n + k)
            for name in ("V", "U"):
                old = getattr(self, name)
                buf = np.empty((cap, old.shape[1]))
                buf[: self.n] = old[: self.n]
                setattr(self, name, buf)
        self.V[self.n : self.n + k] = V
        self.U[self.n : self.n + k] = U
        self.n += k
        return np.arange(self.n - k, self.n)


class _Cell:
    """A convex polytope during splitting: its vertex ids (m,) into ``_Vertices`` and the
    incidence inc (m, C) of its vertices with the constraint ids cols (C,) (box facets 0..2n-1,
    then one id per neuron and breakpoint)."""

    __slots__ = ("ids", "inc", "cols")

    def __init__(self, ids, inc, cols):
        self.ids, self.inc, self.cols = ids, inc, cols


def _cut(cell: _Cell, vs: _Vertices, z: int, xi: float, tol: float, cid: int) -> list[_Cell]:
    """Cut ``cell`` by the hyperplane u_z = xi (u_z affine on the cell, known at its vertices).

    Vertices with |u_z - xi| <= tol lie on it. When u_z - xi takes both strict signs the cell is
    split into its two sides, with new vertices on the edges that join a positive and a negative
    vertex; the vertices on the hyperplane (old and new) get the constraint id ``cid``. A
    hyperplane that only touches the cell is not recorded: the face lattice of a polytope is
    determined by the incidences of its facet-defining constraints alone, and every facet of a
    cell comes from the box or from a cut.
    """
    ids = cell.ids
    h = vs.U[ids, z] - xi
    ah = np.abs(h)
    zero = ah <= tol
    pos = (h > 0) & ~zero
    neg = (h < 0) & ~zero
    if not vs.near_degenerate and np.any(zero & (ah > SNAP_NOISE_FRACTION * tol)):
        vs.near_degenerate = True
    if not (pos.any() and neg.any()):
        return [cell]
    P, Q = np.nonzero(pos)[0], np.nonzero(neg)[0]
    inc = cell.inc
    common = inc[P][:, None, :] & inc[Q][None, :, :]  # (p, q, C)
    # vertices lying on every constraint shared by the pair (none of the pair's common
    # constraints missing); the pair spans an edge when only the two of them do
    missing = common.reshape(-1, inc.shape[1]).astype(np.float32) @ (~inc).T.astype(np.float32)  # (p q, m)
    ep, eq = np.nonzero(((missing == 0).sum(axis=1) == 2).reshape(P.size, Q.size))
    a, b = P[ep], Q[eq]
    ga, gb = ids[a], ids[b]
    keys = list(zip(np.minimum(ga, gb).tolist(), np.maximum(ga, gb).tolist(), [cid] * a.size))
    new_ids = np.array([vs.keys.get(k, -1) for k in keys], dtype=np.int64)
    fresh = np.nonzero(new_ids < 0)[0]
    if fresh.size:
        af, bf = ga[fresh], gb[fresh]
        lam = (h[a[fresh]] / (h[a[fresh]] - h[b[fresh]]))[:, None]
        made = vs.add(vs.V[af] + lam * (vs.V[bf] - vs.V[af]), vs.U[af] + lam * (vs.U[bf] - vs.U[af]))
        new_ids[fresh] = made
        for i, v in zip(fresh.tolist(), made.tolist()):
            vs.keys[keys[i]] = v
    inc_new = np.concatenate([common[ep, eq], np.ones((a.size, 1), bool)], axis=1)
    cols = np.append(cell.cols, cid)
    out = []
    for side in (pos, neg):
        keep = side | zero
        inc_c = np.concatenate([np.concatenate([inc[keep], zero[keep, None]], axis=1), inc_new])
        used = inc_c.any(axis=0)  # drop constraints that no longer touch the cell
        out.append(_Cell(np.concatenate([ids[keep], new_ids]), inc_c[:, used], cols[used]))
    return out


def _box(low: np.ndarray, high: np.ndarray) -> tuple[_Cell, _Vertices]:
    n = low.size
    corners = np.array(np.meshgrid(*([[0, 1]] * n), indexing="ij")).reshape(n, -1).T  # (2^n, n)
    V = np.where(corners == 0, low, high).astype(np.float64)
    inc = np.zeros((corners.shape[0], 2 * n), bool)
    for i in range(n):
        inc[:, 2 * i] = corners[:, i] == 0
        inc[:, 2 * i + 1] = corners[:, i] == 1
    return _Cell(np.arange(V.shape[0]), inc, np.arange(2 * n)), _Vertices(V)


def _split_all(net: Network, low: np.ndarray, high: np.ndarray, max_regions: int, progress: bool):
    """The activation regions in the box, by layer-by-layer cuts: (cells, vertices)."""
    n = low.size
    cell, vs = _box(low, high)
    cells = [cell]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=net.depth, desc="layers", unit="layer")
    base = 2 * n
    for l, act in enumerate(net.activations):
        W, b, xi = net.weights[l], net.biases[l], act.breakpoints
        T = xi.size
        # pre-activations of layer l at every vertex (affine on every cell: exact at the vertices)
        A = vs.V[: vs.n] if l == 0 else net.activate(l - 1, vs.U[: vs.n])
        vs.start_layer(A @ W.T + b)
        tol = SNAP_RTOL * _snap_scale(W, b, np.abs(A).max(axis=0), xi)  # (n_l,)
        sw = net.switching(l)
        new_cells: list[_Cell] = []
        for c in cells:
            D = vs.U[c.ids][:, :, None] - xi  # (m, n_l, T)
            aD = np.abs(D)
            Z = aD <= tol[:, None]
            crossing = ((D > 0) & ~Z).any(0) & ((D < 0) & ~Z).any(0) & sw[:, None]
            if not vs.near_degenerate and np.any(Z & (aD > SNAP_NOISE_FRACTION * tol[:, None]) & sw[:, None]):
                vs.near_degenerate = True
            pieces = [c]
            for z, j in zip(*(a.tolist() for a in np.nonzero(crossing))):
                nxt = []
                for pc in pieces:
                    nxt.extend(_cut(pc, vs, z, xi[j], tol[z], base + z * T + j))
                pieces = nxt
            new_cells.extend(pieces)
            if len(new_cells) > max_regions:
                raise ValueError(
                    f"complex_in_box: more than max_regions={max_regions} regions; pass a larger max_regions or a smaller box"
                )
        cells = new_cells
        base += W.shape[0] * T
        if bar is not None:
            bar.update(1)
            bar.set_postfix(regions=len(cells))
    if bar is not None:
        bar.close()
    return cells, vs


# ----------------------------------------------------------------------------------------------
# faces and volumes


def _column_masks(inc: np.ndarray) -> list[int]:
    """Each constraint's set of vertices as an integer bitmask (bit i: vertex i lies on it)."""
    m = inc.shape[0]
    if m <= 62:
        return (inc.T.astype(np.int64) << np.arange(m, dtype=np.int64)).sum(axis=1).tolist()
    packed = np.packbits(inc, axis=0, bitorder="little")
    return [int.from_bytes(packed[:, j].tobytes(), "little") for j in range(inc.shape[1])]


def _bits(mask: int):
    """Indices of the set bits of ``mask``."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _sub_faces(face: int, cols: list[int], d: int) -> list[int]:
    """The facets (dimension d) of the face with vertex bitmask ``face`` (dimension d + 1): the
    maximal proper subsets cut out by one more constraint (a face of dimension d has at least
    d + 1 vertices). Every face of a polytope is the set of its vertices on some of the
    constraints, and every proper face lies in a facet, so the maximal ones are the facets."""
    cand = {face & c for c in cols}
    cand.discard(face)
    cand = [x for x in cand if x.bit_count() > d]
    return [x for x in cand if not any(x != y and x & y == x for y in cand)]


def _orthonormal_spans(points: list[np.ndarray], d: int) -> np.ndarray:
    """(F, d, n) orthonormal bases of the direction spaces of the affine spans (dimension d)."""
    n = points[0].shape[1]
    out = np.empty((len(points), d, n))
    by_size: dict[int, list[int]] = {}
    for i, P in enumerate(points):
        by_size.setdefault(P.shape[0], []).append(i)
    for idx in by_size.values():
        X = np.stack([points[i] for i in idx])
        X = X - X.mean(axis=1, keepdims=True)
        _, _, Vt = np.linalg.svd(X, full_matrices=False)
        out[idx] = Vt[:, :d, :]
    return out


def _check_box(net: Network, low: Any, high: Any, origin: Any, basis: Any) -> tuple[Network, np.ndarray, np.ndarray]:
    if not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network (use Network.from_torch for torch modules), got {type(net).__name__}")
    if (origin is None) != (basis is None):
        raise ValueError("origin and basis must be given together (the box lives in the coordinates s of origin + basis @ s)")
    if basis is not None:
        B = _as_matrix(basis, "basis")
        if B.ndim == 1:
            B = B[:, None]
        if B.ndim != 2 or B.shape[0] != net.n_in or not 1 <= B.shape[1] <= MAX_DIM:
            raise ValueError(f"basis must have shape ({net.n_in}, k) with 1 <= k <= {MAX_DIM}, got {B.shape}")
        if np.linalg.matrix_rank(B) < B.shape[1]:
            raise ValueError("basis columns must be linearly independent")
        net = net.restrict(origin, B)
    n = net.n_in
    if n > MAX_DIM:
        raise ValueError(
            f"complex_in_box handles input dimension <= {MAX_DIM}, the network has {n}; restrict it to a "
            f"subspace with origin= and basis= (n_in, k <= {MAX_DIM})"
        )
    lo, hi = _as_matrix(low, "low"), _as_matrix(high, "high")
    for name, a in (("low", lo), ("high", hi)):
        if a.ndim > 1 or (a.ndim == 1 and a.shape != (n,)):
            raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {a.shape}")
    lo, hi = np.broadcast_to(lo, (n,)), np.broadcast_to(hi, (n,))
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("low and high must be finite")
    if np.any(hi <= lo):
        raise ValueError(f"the box needs low < high in every coordinate, got low={lo.tolist()}, high={hi.tolist()}")
    return net, lo.copy(), hi.copy()


def _face_lattice(cells: list[_Cell], n: int, nV: int) -> dict[str, list]:
    """Every face of every cell, once: its dimension, sorted vertex ids, whether it lies in the
    box's boundary, its facets (for d >= 2; face indices) and, for facets of cells, the cells on
    either side; plus each cell's facets. Vertices (dimension 0) come last, face index
    ``len(faces) - nV + v`` for vertex v."""
    face_index: dict[tuple, int] = {}
    f_dim: list[int] = []
    f_verts: list[tuple] = []
    f_onbox: list[bool] = []
    f_children: list[list[int]] = []
    f_regions: list[list[int]] = []
    region_facets: list[list[int]] = []
    for r, c in enumerate(cells):
        order = np.argsort(c.ids)  # local vertex order = global id order: keys come out sorted
        gl = c.ids[order].tolist()
        cols = _column_masks(c.inc[order])
        box = [m for m, cid in zip(cols, c.cols.tolist()) if cid < 2 * n]
        level = [((1 << len(gl)) - 1, -1)]  # faces of dimension d + 1 (start: the cell itself)
        for d in range(n - 1, 0, -1):
            nxt = []
            for Fm, fid in level:
                kids = []
                for Gm in _sub_faces(Fm, cols, d):
                    key = tuple([gl[i] for i in _bits(Gm)])
                    k = face_index.get(key)
                    if k is None:
                        k = len(f_dim)
                        face_index[key] = k
                        f_dim.append(d)
                        f_verts.append(key)
                        f_onbox.append(any(Gm & bm == Gm for bm in box))
                        f_children.append([])
                        f_regions.append([])
                        nxt.append((Gm, k))
                    kids.append(k)
                if fid < 0:
                    region_facets.append(kids)
                    for k in kids:
                        f_regions[k].append(r)
                else:
                    f_children[fid] = kids
            level = nxt
    # every vertex is a face of dimension 0 (edge lengths come from the end points directly)
    v_onbox = np.zeros(nV, bool)
    for c in cells:
        v_onbox[c.ids[c.inc[:, c.cols < 2 * n].any(axis=1)]] = True
    first_vertex = len(f_dim)
    f_dim.extend([0] * nV)
    f_verts.extend((v,) for v in range(nV))
    f_onbox.extend(v_onbox.tolist())
    f_children.extend([] for _ in range(nV))
    f_regions.extend([] for _ in range(nV))
    if n == 1:  # the facets of an interval are its two end points
        for r, c in enumerate(cells):
            ks = [first_vertex + v for v in np.unique(c.ids).tolist()]
            region_facets.append(ks)
            for k in ks:
                f_regions[k].append(r)
    return dict(dim=f_dim, verts=f_verts, onbox=f_onbox, children=f_children, regions=f_regions, region_facets=region_facets)


def complex_in_box(
    net: Network,
    low: Any = -1.0,
    high: Any = 1.0,
    *,
    origin: Any = None,
    basis: Any = None,
    max_regions: int = _DEFAULT_MAX_REGIONS,
    progress: bool = False,
) -> PolyhedralComplex:
    """The exact polyhedral complex of ``net`` inside the box ``[low, high]`` (module doc).

    Parameters
    ----------
    net : a ``Network`` with ``n_in <= 4``, or any network together with ``origin`` (n_in,)
        and ``basis`` (n_in, k <= 4): then the complex of ``net.restrict(origin, basis)``, in the
        coordinates s of ``origin + basis @ s``.
    low, high : the box, scalars or (n,) arrays, low < high.
    max_regions : stop with ``ValueError`` when the number of regions exceeds it.
    progress : a progress bar over layers.

    Returns a ``PolyhedralComplex``; ``volume(k, kind)`` is vol_{n-k}(B_{N,k} ∩ K) of Theorem 6.

    >>> from linregions import random_mlp
    >>> cx = complex_in_box(random_mlp(2, [6]), -1, 1)
    >>> cx.num_vertices("activation") <= 15   # at most C(6, 2) crossings of 6 lines
    True
    """
    net, low, high = _check_box(net, low, high, origin, basis)
    if isinstance(max_regions, bool) or not isinstance(max_regions, (int, np.integer)) or max_regions < 1:
        raise ValueError(f"max_regions must be a positive integer, got {max_regions!r}")
    n = low.size
    cells, vs = _split_all(net, low, high, int(max_regions), progress)
    if vs.near_degenerate:
        warnings.warn(
            "complex_in_box: some neurons pass within the snap tolerance (SNAP_RTOL) of a vertex without passing "
            "through it (a nearly but not exactly degenerate arrangement, e.g. biases ~1e-9 of the weights' scale); "
            "features below the tolerance were merged and the counts may be inexact",
            RuntimeWarning,
            stacklevel=2,
        )
    R = len(cells)
    vertices = vs.V[: vs.n].copy()
    sizes = np.array([c.ids.size for c in cells])
    labels = np.concatenate([c.ids for c in cells])
    lat = _face_lattice(cells, n, vs.n)
    f_dim, f_verts, f_onbox, f_children, f_regions = lat["dim"], lat["verts"], lat["onbox"], lat["children"], lat["regions"]
    region_facets = lat["region_facets"]

    F = len(f_dim)
    face_dim = np.array(f_dim, dtype=np.int64)
    face_offsets = np.concatenate([[0], np.cumsum([len(v) for v in f_verts])]).astype(np.int64)
    face_vertices = np.fromiter(itertools.chain.from_iterable(f_verts), np.int64, int(face_offsets[-1]))
    counts = np.diff(face_offsets)
    face_centroid = np.zeros((F, n))
    np.add.at(face_centroid, np.repeat(np.arange(F), counts), vertices[face_vertices])
    face_centroid /= counts[:, None]

    region_centroid = np.zeros((R, n))
    np.add.at(region_centroid, np.repeat(np.arange(R), sizes), vertices[labels])
    region_centroid /= sizes[:, None]

    # volumes, by increasing dimension (pyramid formula)
    face_volume = np.zeros(F)
    face_volume[face_dim == 0] = 1.0
    bases: dict[int, np.ndarray] = {}
    base_row = np.full(F, -1)
    for d in range(1, n):
        ids = np.nonzero(face_dim == d)[0]
        if ids.size == 0:
            continue
        pts = [vertices[list(f_verts[k])] for k in ids]
        if d == 1:
            if any(p.shape[0] != 2 for p in pts):
                raise RuntimeError(
                    "complex_in_box: the incidences found make an edge with more than two vertices: the arrangement is "
                    "nearly but not exactly degenerate (points closer than the snap tolerance SNAP_RTOL allows, e.g. "
                    "biases of ~1e-9 of the weights' scale); use exact zeros or a resolvable scale"
                )
            P = np.stack(pts)  # edges: exactly two vertices
            face_volume[ids] = np.linalg.norm(P[:, 1] - P[:, 0], axis=1)
        else:
            face_volume[ids] = _pyramid(ids, f_children, face_centroid, face_volume, bases, base_row, d)
        bases[d] = _orthonormal_spans(pts, d)
        base_row[ids] = np.arange(ids.size)
    if n == 1:
        region_volume = np.array([np.ptp(vertices[c.ids, 0]) for c in cells])
    else:
        region_volume = _pyramid_regions(region_facets, region_centroid, face_centroid, face_volume, bases[n - 1], base_row, n)

    region_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    region_vertices = labels.astype(np.int64)

    # states, slopes and goodness
    states, N_c, _ = _forward_tangent(net, region_centroid, np.zeros_like(region_centroid))
    J = net.jacobian(region_centroid)
    region_intercepts = N_c - np.einsum("roi,ri->ro", J, region_centroid)

    face_tight = np.zeros(F, np.int64)
    face_good = np.zeros(F, np.int64)
    inner = np.nonzero(~np.array(f_onbox))[0]
    if inner.size:
        st, _, _ = _forward_tangent(net, face_centroid[inner], np.zeros((inner.size, n)))
        opens = [_open(net, l, s) for l, s in enumerate(st)]
        reach = _reachability(net, opens)
        for l, s in enumerate(st):
            tight = (s % 2 == 1) & net.switching(l)[None, :]
            face_tight[inner] += tight.sum(axis=1)
            face_good[inner] += (tight & reach[l]).sum(axis=1)

    face_on_box = np.array(f_onbox, bool)
    facet_regions = np.full((F, 2), -1, np.int64)
    face_jump = np.zeros(F, bool)
    two = np.array([len(x) == 2 for x in f_regions]) & ~face_on_box & (face_dim == n - 1)
    if two.any():
        rr = np.array([f_regions[k] for k in np.nonzero(two)[0]], np.int64)
        facet_regions[two] = rr
        Ja, Jb = J[rr[:, 0]].reshape(rr.shape[0], -1), J[rr[:, 1]].reshape(rr.shape[0], -1)
        face_jump[two] = np.linalg.norm(Ja - Jb, axis=1) > SLOPE_RTOL * (np.linalg.norm(Ja, axis=1) + np.linalg.norm(Jb, axis=1))
    bad = (~face_on_box & (face_dim == n - 1) & ~two).sum()
    if bad:
        raise RuntimeError(
            f"complex_in_box: {int(bad)} interior facet(s) are not shared by exactly two regions: the arrangement "
            "is nearly but not exactly degenerate (points closer than the snap tolerance SNAP_RTOL allows); use "
            "exact zeros or a resolvable scale"
        )

    # linear regions: glue regions across facets without a slope jump
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    glue = two & ~face_jump
    if glue.any():
        rr = facet_regions[glue]
        g = coo_matrix((np.ones(rr.shape[0]), (rr[:, 0], rr[:, 1])), shape=(R, R))
        _, region_linear = connected_components(g, directed=False)
    else:
        region_linear = np.arange(R)

    return PolyhedralComplex(
        low=low, high=high, vertices=vertices, region_vertices=region_vertices, region_offsets=region_offsets,
        region_volume=region_volume, region_centroid=region_centroid, region_states=tuple(states),
        region_slopes=J, region_intercepts=region_intercepts, region_linear=np.asarray(region_linear, np.int64),
        face_dim=face_dim, face_volume=face_volume, face_centroid=face_centroid, face_on_box=face_on_box,
        face_vertices=face_vertices, face_offsets=face_offsets, face_tight=face_tight, face_good=face_good,
        face_jump=face_jump, facet_regions=facet_regions,
    )


def _dist_to_spans(c: np.ndarray, c_g: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Distance from points c (K, n) to the affine spans through c_g (K, n) with bases B (K, d, n)."""
    r = c - c_g
    proj = np.einsum("kdn,kn->kd", B, r)
    return np.linalg.norm(r - np.einsum("kd,kdn->kn", proj, B), axis=1)


def _pyramid(ids, children, centroid, volume, bases, base_row, d) -> np.ndarray:
    """vol_d of the faces ``ids`` from their facets (dimension d - 1)."""
    par = np.concatenate([np.full(len(children[k]), i) for i, k in enumerate(ids)])
    kid = np.concatenate([np.asarray(children[k], np.int64) for k in ids])
    h = _dist_to_spans(centroid[ids[par]], centroid[kid], bases[d - 1][base_row[kid]])
    return np.bincount(par, weights=h * volume[kid], minlength=ids.size) / d


def _pyramid_regions(region_facets, c_regions, centroid, volume, B, base_row, n) -> np.ndarray:
    par = np.concatenate([np.full(len(fs), r) for r, fs in enumerate(region_facets)])
    kid = np.concatenate([np.asarray(fs, np.int64) for fs in region_facets])
    h = _dist_to_spans(c_regions[par], centroid[kid], B[base_row[kid]])
    return np.bincount(par, weights=h * volume[kid], minlength=len(region_facets)) / n
