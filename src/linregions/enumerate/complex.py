"""The polyhedral complex of a network in a box: the result type and ``complex_in_box`` (the
algorithm is described in the package docstring, ``linregions.enumerate``)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._views import RegionViews

from ..line import Kind, _check_kind
from ..network import Network, _as_matrix
from ..tolerances import CLOSE_FACTOR, SNAP_NOISE_FRACTION, SNAP_RTOL, slope_jump, slope_noise, snap_scale
from . import cuts, lattice, states

__all__ = ["PolyhedralComplex", "complex_in_box", "MAX_DIM", "SNAP_NOISE_FRACTION"]

#: Largest dimension of the box handled (the face lattice and the number of regions grow fast).
MAX_DIM = 4



_DEFAULT_MAX_REGIONS = 200_000
#: Points per chunk of the vectorised forward passes at region and face centroids.
_CHUNK = 4096


# ----------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, repr=False, eq=False)
class PolyhedralComplex(RegionViews):
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

    ``close_decisions``: the number of close tolerance decisions behind the result: (vertex,
    neuron, breakpoint) triples with ``|u - xi|`` between rounding noise (``SNAP_NOISE_FRACTION``
    of the snap tolerance) and ``CLOSE_FACTOR`` times the snap tolerance, and interior facets
    whose slope-jump test (``tolerances.slope_jump``) was close. ``complex_in_box`` warns when
    some of them erased more than rounding noise (a snapped offset, a suppressed jump).

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
    close_decisions: int = 0

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

    # -- regions as objects (linregions.regions / serialize) -----------------------------------
    def save(self, path) -> None:
        """Write to ``.npz`` (``linregions.load`` reads it back)."""
        from ..serialize import save

        save(self, path)

    def __repr__(self) -> str:
        vl, va = self.volumes("linear"), self.volumes("activation")
        fmt = lambda v: "[" + ", ".join(f"{x:.4g}" for x in v) + "]"  # noqa: E731
        return (
            f"PolyhedralComplex(dim={self.dim}, box_volume={self.box_volume:.4g}, "
            f"linear_regions={self.num_regions('linear')}, activation_regions={self.num_regions('activation')}, "
            f"volumes_linear={fmt(vl)}, volumes_activation={fmt(va)}"
            + (f", close_decisions={self.close_decisions})" if self.close_decisions else ")")
        )


# ----------------------------------------------------------------------------------------------
# splitting



# ----------------------------------------------------------------------------------------------
# splitting


def _box(low: np.ndarray, high: np.ndarray, n_constraints: int):
    """The box as one cell: corners V (2^n, n), and the cell (ptr, vids, inc) with the
    box-facet bits (facet 2i: x_i = low_i, 2i + 1: x_i = high_i) in bitsets of
    ceil(n_constraints / 64) words."""
    n = low.size
    corners = np.array(np.meshgrid(*([[0, 1]] * n), indexing="ij")).reshape(n, -1).T  # (2^n, n)
    V = np.ascontiguousarray(np.where(corners == 0, low, high), dtype=np.float64)  # one kernel signature
    KW = max(1, -(-n_constraints // 64))
    inc = np.zeros((corners.shape[0], KW), np.uint64)
    for i in range(n):
        bit_low, bit_high = np.uint64(1) << np.uint64(2 * i), np.uint64(1) << np.uint64(2 * i + 1)
        inc[:, 0] |= np.where(corners[:, i] == 0, bit_low, bit_high)
    return V, np.array([0, V.shape[0]], np.int64), np.arange(V.shape[0], dtype=np.int64), inc


def _split_all(net: Network, low: np.ndarray, high: np.ndarray, max_regions: int, progress: bool):
    """The activation regions in the box, by layer-by-layer cuts (``cuts.split_layer``).

    Returns ``(V, ptr, vids, inc, close, erased, scales)``: the vertices, the cells (flat), the
    numbers of close snap decisions and of those that erased more than rounding noise, and per
    layer the largest |input| over the vertices (the ``a_absmax`` of ``tolerances.snap_scale``;
    it bounds |input| over the whole box, the layer's input being affine on every cell)."""
    n = low.size
    n_cons = 2 * n + sum(w * a.T for w, a in zip(net.widths, net.activations))
    V, ptr, vids, inc = _box(low, high, n_cons)
    nV = V.shape[0]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=net.depth, desc="layers", unit="layer")
    base = 2 * n
    close = erased = 0
    scales = []
    U = np.empty((0, 0))  # pre-activations of the previous layer at the vertices
    for l, act in enumerate(net.activations):
        W, b, xi = net.weights[l], net.biases[l], np.ascontiguousarray(act.breakpoints, dtype=np.float64)
        # pre-activations of layer l at every vertex (affine on every cell: exact at the vertices)
        A = V[:nV] if l == 0 else net.activate(l - 1, U[:nV])
        U = np.empty((V.shape[0], W.shape[0]))
        U[:nV] = A @ W.T + b
        # each breakpoint its own snap scale (a far-away breakpoint does not blunt the others)
        scales.append(np.abs(A).max(axis=0))
        tol = SNAP_RTOL * snap_scale(W, b, scales[-1], xi)  # (n_l, T)
        sw = np.ascontiguousarray(net.switching(l))
        V, U, nV, ptr, vids, inc, R, _, status = cuts.split_layer(
            V, U, nV, ptr, vids, inc, xi, np.ascontiguousarray(tol), SNAP_NOISE_FRACTION, sw, base, max_regions
        )
        if status == cuts.TOO_MANY_REGIONS:
            if bar is not None:
                bar.close()
            raise ValueError(
                f"complex_in_box: more than max_regions={max_regions} regions; pass a larger max_regions or a smaller box"
            )
        c, e = _close_snaps(U[:nV], xi, tol, sw)
        close, erased = close + c, erased + e
        base += W.shape[0] * xi.size
        if bar is not None:
            bar.update(1)
            bar.set_postfix(regions=R)
    if bar is not None:
        bar.close()
    return V[:nV], ptr, vids, inc, close, erased, scales


def _close_snaps(U: np.ndarray, xi: np.ndarray, tol: np.ndarray, sw: np.ndarray) -> tuple[int, int]:
    """Close snap decisions of one layer at the vertices: (vertex, neuron, breakpoint) with
    ``SNAP_NOISE_FRACTION tol < |u - xi| <= CLOSE_FACTOR tol``, and those of them snapped
    (``<= tol``: a real offset erased)."""
    close = erased = 0
    for j in range(xi.size):
        dev = np.abs(U[:, sw] - xi[j])
        t = tol[sw, j]
        noisy = dev > SNAP_NOISE_FRACTION * t
        close += int((noisy & (dev <= CLOSE_FACTOR * t)).sum())
        erased += int((noisy & (dev <= t)).sum())
    return close, erased


def _layer_args(net: Network, scales: list[np.ndarray]) -> list[tuple]:
    """Per hidden layer, the arguments of ``states.layer_states`` after the pre-activations:
    breakpoints, snap tolerances (with the box's layer scales from ``_split_all``: the same
    tolerance as the cuts), switching units and non-zero slopes (``states.slope_nonzero``).
    Computed once per box, not per chunk of points."""
    args = []
    for l in range(net.depth):
        W, b, xi = net.weights[l], net.biases[l], net.activations[l].breakpoints
        tol = SNAP_RTOL * snap_scale(W, b, scales[l], xi)
        args.append((np.ascontiguousarray(xi, dtype=np.float64), np.ascontiguousarray(tol, dtype=np.float64),
                     np.ascontiguousarray(net.switching(l)), states.slope_nonzero(net, l)))
    return args


def _states_and_slopes(net: Network, X: np.ndarray, layer_args: list[tuple]):
    """At points X (k, n) of the box: per hidden layer the state codes (the encoding of
    ``line._states``: 2p inside piece p, 2j + 1 on breakpoint j within its snap tolerance,
    non-switching units 0; compiled, ``states.layer_states`` with ``layer_args`` from
    ``_layer_args``), the output N(X), and the output's Jacobian J (k, n_out, n) from the pieces
    at X (on a breakpoint: the right piece) and |J| = |W_d| |J_{d-1}|, the summands of the last
    product (the rounding scale of ``tolerances.slope_noise``)."""
    a = X
    k, n = X.shape
    # Jacobians kept as (units, k * n) so that each layer is one matrix product
    J = np.tile(np.eye(n), (1, k))
    states_ = []
    for l in range(net.depth):
        W, b = net.weights[l], net.biases[l]
        u = a @ W.T + b
        s = states.layer_states(np.ascontiguousarray(u, dtype=np.float64), *layer_args[l])[0]
        states_.append(s)
        q = np.repeat(np.asarray(net.slope(l, s // 2), dtype=np.float64).T, n, axis=1)  # (n_l, k n)
        J = q * (W @ J)
        a = net.activate(l, u)
    W, b = net.weights[-1], net.biases[-1]
    out = a @ W.T + b
    shape = (W.shape[0], k, n)
    J_hidden = J
    J = (W @ J).reshape(shape).transpose(1, 0, 2)
    Jabs = (np.abs(W) @ np.abs(J_hidden)).reshape(shape).transpose(1, 0, 2)  # summands of the last product
    return states_, out, np.ascontiguousarray(J), np.ascontiguousarray(Jabs)


def _tight_and_good(net: Network, X: np.ndarray, tables) -> tuple[np.ndarray, np.ndarray]:
    """At points X (k, n): the number of tight neurons (switching, on a breakpoint) and how many
    of them are good (``line._reachability``: a path of open neurons to an output), from the
    pre-activations of a numpy forward pass (``states.tight_and_good``, ``tables`` from
    ``states.layer_tables``)."""
    off = tables[0]
    U = np.empty((X.shape[0], int(off[-1])))
    a = X
    for l in range(net.depth):
        u = a @ net.weights[l].T + net.biases[l]
        U[:, off[l] : off[l + 1]] = u
        a = net.activate(l, u)
    return states.tight_and_good(U, *tables)


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
    """The exact polyhedral complex of ``net`` inside the box ``[low, high]`` (package doc).

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
    vertices, ptr, vids, inc, close, erased, scales = _split_all(net, low, high, int(max_regions), progress)
    nV = vertices.shape[0]
    R = ptr.size - 1
    sizes = np.diff(ptr)

    region_centroid = lattice.cell_centroids(vertices, ptr, vids)

    # faces of dimension 1..n-1 (compiled), then the vertices (dimension 0) last: face index
    # ``F0 + v`` for vertex v
    f_dim, f_ptr, f_vids, f_onbox, par, kid, reg, fac = lattice.face_lattice(ptr, vids, inc, n, nV)
    F0 = f_dim.size
    if n >= 2:
        cen, vol, region_volume, bad_edges = lattice.volumes(
            vertices, f_dim, f_ptr, f_vids, par, kid, R, reg, fac, region_centroid, n
        )
        if bad_edges:
            raise RuntimeError(
                "complex_in_box: the incidences found make an edge with more than two vertices: the arrangement is "
                "nearly but not exactly degenerate (points closer than the snap tolerance SNAP_RTOL allows, e.g. "
                "biases of ~1e-9 of the weights' scale); use exact zeros or a resolvable scale"
            )
    else:  # the facets of an interval are its two end points
        cen, vol = np.zeros((0, 1)), np.zeros(0)
        region_volume = np.array([np.ptp(vertices[vids[ptr[r] : ptr[r + 1]], 0]) for r in range(R)])
        reg = np.repeat(np.arange(R), sizes)
        fac = F0 + vids
        keep = np.ones(reg.size, bool)
        keep[1:] = (reg[1:] != reg[:-1]) | (fac[1:] != fac[:-1])
        reg, fac = reg[keep], fac[keep]
    boxbits = np.uint64((1 << (2 * n)) - 1)
    v_onbox = np.zeros(nV, bool)
    v_onbox[vids[(inc[:, 0] & boxbits) != 0]] = True

    F = F0 + nV
    face_dim = np.concatenate([f_dim, np.zeros(nV, np.int64)])
    face_offsets = np.concatenate([f_ptr, f_ptr[-1] + 1 + np.arange(nV, dtype=np.int64)])
    face_vertices = np.concatenate([f_vids, np.arange(nV, dtype=np.int64)])
    face_centroid = np.concatenate([cen, vertices])
    face_volume = np.concatenate([vol, np.ones(nV)])
    face_on_box = np.concatenate([f_onbox, v_onbox])

    # states, slopes and goodness
    layer_args = _layer_args(net, scales)
    parts = [_states_and_slopes(net, region_centroid[c0 : c0 + _CHUNK], layer_args) for c0 in range(0, R, _CHUNK)]
    region_states = [np.concatenate([p[0][l] for p in parts]) for l in range(net.depth)]
    N_c, J, Jabs = (np.concatenate([p[i] for p in parts]) for i in (1, 2, 3))
    region_intercepts = N_c - np.einsum("roi,ri->ro", J, region_centroid)

    tables = states.layer_tables(net, scales)
    face_tight = np.zeros(F, np.int64)
    face_good = np.zeros(F, np.int64)
    inner = np.nonzero(~face_on_box)[0]
    for c0 in range(0, inner.size, _CHUNK):  # chunks keep the (points, units) temporaries in cache
        rows = inner[c0 : c0 + _CHUNK]
        face_tight[rows], face_good[rows] = _tight_and_good(net, face_centroid[rows], tables)

    # the regions on either side of each facet (a facet of exactly two regions is interior)
    facet_regions = np.full((F, 2), -1, np.int64)
    order = np.argsort(fac, kind="stable")
    fac_s, reg_s = fac[order], reg[order]
    n_reg = np.bincount(fac_s, minlength=F)
    two = (n_reg == 2) & ~face_on_box & (face_dim == n - 1)
    bad = int((~face_on_box & (face_dim == n - 1) & ~two).sum())
    if bad:
        raise RuntimeError(
            f"complex_in_box: {bad} interior facet(s) are not shared by exactly two regions: the arrangement "
            "is nearly but not exactly degenerate (points closer than the snap tolerance SNAP_RTOL allows); use "
            "exact zeros or a resolvable scale"
        )
    first = np.searchsorted(fac_s, np.nonzero(two)[0])
    rr = np.stack([reg_s[first], reg_s[first + 1]], axis=1) if first.size else np.zeros((0, 2), np.int64)
    facet_regions[two] = rr

    # linear boundaries: the output's slope jumps across the facet (the shared rule, with the
    # rounding floor of the products computed on both sides)
    face_jump = np.zeros(F, bool)
    if rr.size:
        Ja, Jb = J[rr[:, 0]].reshape(rr.shape[0], -1), J[rr[:, 1]].reshape(rr.shape[0], -1)
        noise = slope_noise((Jabs[rr[:, 0]] + Jabs[rr[:, 1]]).reshape(rr.shape[0], -1), n + sum(net.widths))
        jump, near = slope_jump(Ja, Jb, noise)
        face_jump[two] = jump
        close += int(near.sum())
        erased += int((near & ~jump).sum())
    if erased:
        warnings.warn(
            f"complex_in_box: {erased} close tolerance decision(s) erased more than rounding noise (neurons within the "
            "snap tolerance SNAP_RTOL of a vertex without passing through it, a nearly but not exactly degenerate "
            "arrangement, e.g. biases ~1e-9 of the weights' scale, or slope changes below the jump threshold); "
            "features below the tolerances were merged and the counts may be inexact",
            RuntimeWarning,
            stacklevel=2,
        )

    # linear regions: glue regions across facets without a slope jump
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    glue = two & ~face_jump
    if glue.any():
        g = coo_matrix((np.ones(int(glue.sum())), (facet_regions[glue, 0], facet_regions[glue, 1])), shape=(R, R))
        _, region_linear = connected_components(g, directed=False)
    else:
        region_linear = np.arange(R)

    return PolyhedralComplex(
        low=low, high=high, vertices=vertices, region_vertices=vids.astype(np.int64),
        region_offsets=ptr.astype(np.int64),
        region_volume=region_volume, region_centroid=region_centroid, region_states=tuple(region_states),
        region_slopes=J, region_intercepts=region_intercepts, region_linear=np.asarray(region_linear, np.int64),
        face_dim=face_dim, face_volume=face_volume, face_centroid=face_centroid, face_on_box=face_on_box,
        face_vertices=face_vertices, face_offsets=face_offsets, face_tight=face_tight, face_good=face_good,
        face_jump=face_jump, facet_regions=facet_regions, close_decisions=int(close),
    )
