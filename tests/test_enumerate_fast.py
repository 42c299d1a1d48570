"""The compiled bookkeeping of ``complex_in_box`` against independent numpy / pure-Python oracles.

- ``states.layer_states`` and ``states.tight_and_good`` against the numpy passes of the 1D engine
  (``line._states``-style codes, ``line._open``, ``line._reachability``), at random points and at
  points put exactly on (and within rounding of) breakpoints, with passthrough units, per-unit
  slopes, sparse weights (non-trivial reachability) and several breakpoints per unit;
- ``lattice.face_lattice`` against the face lattice obtained by closing the cells' facets under
  intersection (every face of a polytope is an intersection of facets), dimensions by rank;
- ``lattice.cell_centroids`` against ``np.add.at`` (the same summation order, bit for bit).
"""
from __future__ import annotations

import numpy as np
import pytest

from linregions import Network, Normal, Zero, hard_tanh, leaky_relu, random_mlp, relu
from linregions.activations import PiecewiseLinear
from linregions.enumerate import complex_in_box, lattice, states
from linregions.enumerate.complex import _split_all
from linregions.line import _open, _reachability
from linregions.network import PASSTHROUGH
from linregions.tolerances import SNAP_RTOL, snap_scale


def _sparse(net: Network, seed: int) -> Network:
    rng = np.random.default_rng(seed)
    return Network(tuple(W * (rng.random(W.shape) > 0.5) for W in net.weights), net.biases, net.activations)


def _passthrough_per_unit() -> Network:
    rng = np.random.default_rng(5)
    W0, W1, W2 = rng.normal(size=(6, 3)), rng.normal(size=(5, 6)), rng.normal(size=(2, 5))
    slopes = np.c_[rng.choice([0.0, 0.5], size=6), np.ones(6)]
    kinds = (np.array([0, 0, PASSTHROUGH, 0, 0, 0]), np.zeros(5, int))
    acts = (PiecewiseLinear([0.0], slopes, 0.0), relu())
    return Network((W0, W1, W2), (0.1 * rng.normal(size=6), 0.1 * rng.normal(size=5), np.zeros(2)), acts, kinds)


NETS = [
    pytest.param(lambda: random_mlp(3, [7, 6], biases=Normal(0.1), seed=1), id="relu"),
    pytest.param(lambda: random_mlp(3, [6, 5, 4], activation=hard_tanh(-0.2, 0.3), seed=2), id="hardtanh"),
    pytest.param(lambda: random_mlp(4, [5, 5], activation=hard_tanh(-0.3, 1e6), seed=3), id="hardtanh-far"),
    pytest.param(lambda: _sparse(random_mlp(3, [8, 8, 6], seed=4), 4), id="sparse-relu"),
    pytest.param(lambda: random_mlp(3, [6, 6], activation=leaky_relu(0.2), biases=Zero(), seed=6), id="leaky-zero"),
    pytest.param(_passthrough_per_unit, id="passthrough-per-unit"),
]


def _points_near_breakpoints(net: Network, rng, k: int) -> np.ndarray:
    """Random points of [-1, 1]^n and points moved onto a first-layer breakpoint (exactly, up
    to rounding, or by a small multiple of the snap tolerance)."""
    n = net.n_in
    X = rng.uniform(-1, 1, (k, n))
    W, b, xi = net.weights[0], net.biases[0], net.activations[0].breakpoints
    Y = rng.uniform(-1, 1, (k, n))
    z = rng.integers(0, W.shape[0], k)
    j = rng.integers(0, xi.size, k)
    w = W[z]
    t = (xi[j] - b[z] - np.einsum("ki,ki->k", w, Y)) / np.einsum("ki,ki->k", w, w)
    Y += t[:, None] * w * (1 + rng.choice([0.0, 1e-15, 1e-12, 1e-9], size=k))[:, None]
    return np.concatenate([X, Y])


def _numpy_codes(net: Network, l: int, u: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The state codes as the numpy passes write them (searchsorted, snap, non-switching 0)."""
    xi = net.activations[l].breakpoints
    tol = SNAP_RTOL * snap_scale(net.weights[l], net.biases[l], scale, xi)
    s = 2 * (np.searchsorted(xi, u, side="right") if xi.size > 1 else u >= xi[0]).astype(np.int16)
    for j, x in enumerate(xi):
        s[np.abs(u - x) <= tol[:, j]] = 2 * j + 1
    s[:, ~net.switching(l)] = 0
    return s


@pytest.mark.parametrize("make", NETS)
def test_states_tight_and_good_match_numpy(make):
    net = make()
    rng = np.random.default_rng(0)
    X = _points_near_breakpoints(net, rng, 3000)
    scales = []
    a = X
    for l in range(net.depth):  # the box scales of _split_all (here: largest |input| at the points)
        scales.append(np.abs(a).max(axis=0))
        a = net.activate(l, a @ net.weights[l].T + net.biases[l])
    tables = states.layer_tables(net, scales)
    a, us, codes, opens = X, [], [], []
    n_tight = np.zeros(X.shape[0], np.int64)
    for l in range(net.depth):
        u = a @ net.weights[l].T + net.biases[l]
        s = _numpy_codes(net, l, u, scales[l])
        tol = SNAP_RTOL * snap_scale(net.weights[l], net.biases[l], scales[l], net.activations[l].breakpoints)
        s2, t2, o2 = states.layer_states(u, np.ascontiguousarray(net.activations[l].breakpoints, dtype=np.float64),
                                         np.ascontiguousarray(tol), np.ascontiguousarray(net.switching(l)),
                                         states.slope_nonzero(net, l))
        np.testing.assert_array_equal(s2, s)
        np.testing.assert_array_equal(o2, _open(net, l, s))
        np.testing.assert_array_equal(t2, (s % 2 == 1) & net.switching(l)[None, :])
        us.append(u)
        codes.append(s)
        opens.append(_open(net, l, s))
        n_tight += t2.sum(axis=1)
        a = net.activate(l, u)
    assert n_tight.max() >= 1  # some points sit on a breakpoint
    reach = _reachability(net, opens)
    n_good = sum(((s % 2 == 1) & net.switching(l)[None, :] & reach[l]).sum(axis=1) for l, s in enumerate(codes))
    t, g = states.tight_and_good(np.concatenate(us, axis=1), *tables)
    np.testing.assert_array_equal(t, n_tight)
    np.testing.assert_array_equal(g, n_good)


def _lattice_oracle(V, ptr, vids, inc, n):
    """Faces of dimension 1..n-1 of every cell: the facets (vertex sets of the cell's
    constraints that are (n-1)-dimensional) closed under intersection; dimension = affine rank."""
    bits = [int.from_bytes(row.tobytes(), "little") for row in inc]
    faces = {}
    for r in range(ptr.size - 1):
        s, e = ptr[r], ptr[r + 1]
        cons = 0
        for k in range(s, e):
            cons |= bits[k]
        sets = set()
        c = 0
        while cons >> c:
            if cons >> c & 1:
                sets.add(frozenset(int(vids[k]) for k in range(s, e) if bits[k] >> c & 1))
            c += 1
        frontier = set(sets)
        while frontier:
            new = {a & b for a in frontier for b in sets} - sets - {frozenset()}
            sets |= new
            frontier = new
        for f in sets:
            P = V[sorted(f)]
            d = int(np.linalg.matrix_rank(P - P.mean(axis=0), tol=1e-9)) if len(f) > 1 else 0
            if 1 <= d <= n - 1:
                faces[f] = d
    return faces


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: random_mlp(3, [6, 5], biases=Normal(0.1), seed=7), id="relu-3d"),
        pytest.param(lambda: random_mlp(3, [4, 4], biases=Zero(), seed=8), id="relu-3d-zero-bias"),
        pytest.param(lambda: random_mlp(4, [4, 3], biases=Normal(0.2), seed=9), id="relu-4d"),
        pytest.param(lambda: random_mlp(2, [70], seed=10), id="relu-2d-wide"),
    ],
)
def test_face_lattice_matches_intersections_of_facets(make):
    net = make()
    n = net.n_in
    V, ptr, vids, inc, *_ = _split_all(net, -np.ones(n), np.ones(n), 10**6, False)
    f_dim, f_ptr, f_vids, f_onbox, par, kid, reg, fac = lattice.face_lattice(ptr, vids, inc, n, V.shape[0])
    got = {frozenset(f_vids[f_ptr[f] : f_ptr[f + 1]].tolist()): int(f_dim[f]) for f in range(f_dim.size)}
    assert len(got) == f_dim.size  # each face once
    assert all(np.all(np.diff(f_vids[f_ptr[f] : f_ptr[f + 1]]) > 0) for f in range(f_dim.size))  # sorted ids
    assert got == _lattice_oracle(V, ptr, vids, inc, n)
    # the facets of each face are its faces of one dimension less, contiguous in (par, kid)
    sets = [frozenset(f_vids[f_ptr[f] : f_ptr[f + 1]].tolist()) for f in range(f_dim.size)]
    assert np.all(f_dim[kid] == f_dim[par] - 1)
    assert all(sets[k] < sets[p] for p, k in zip(par.tolist(), kid.tolist()))
    starts = np.flatnonzero(np.r_[True, par[1:] != par[:-1]]) if par.size else par
    assert np.unique(par[starts]).size == starts.size
    for p in np.unique(par):
        want = {g for g, d in enumerate(f_dim) if d == f_dim[p] - 1 and sets[g] < sets[p]}
        assert set(kid[par == p].tolist()) == want
    # cells and their facets; faces in a box facet
    assert np.all(f_dim[fac] == n - 1)
    for r in range(ptr.size - 1):
        cell = set(vids[ptr[r] : ptr[r + 1]].tolist())
        assert set(fac[reg == r].tolist()) == {g for g, d in enumerate(f_dim) if d == n - 1 and sets[g] <= cell}
    bits = [int.from_bytes(row.tobytes(), "little") for row in inc]
    box_sets = {}
    for k, v in enumerate(vids.tolist()):
        for c in range(2 * n):
            if bits[k] >> c & 1:
                box_sets.setdefault(c, set()).add(v)
    onbox = [any(sets[f] <= s for s in box_sets.values()) for f in range(f_dim.size)]
    np.testing.assert_array_equal(f_onbox, onbox)


def test_cell_centroids_match_add_at():
    net = random_mlp(4, [6, 6], seed=11)
    V, ptr, vids, *_ = _split_all(net, -np.ones(4), np.ones(4), 10**6, False)
    sizes = np.diff(ptr)
    want = np.zeros((ptr.size - 1, 4))
    np.add.at(want, np.repeat(np.arange(ptr.size - 1), sizes), V[vids])
    want /= sizes[:, None]
    np.testing.assert_array_equal(lattice.cell_centroids(V, ptr, vids), want)


def test_face_goodness_matches_numpy_passes():
    """The face counts of complex_in_box against the numpy passes at the face centroids."""
    net = _sparse(random_mlp(3, [6, 6, 5], activation=hard_tanh(-0.3, 0.3), seed=12), 12)
    cx = complex_in_box(net, -1.0, 1.0)
    V, *_, scales = _split_all(net, -np.ones(3), np.ones(3), 10**6, False)
    inner = np.flatnonzero(~cx.face_on_box)
    a, codes, opens = cx.face_centroid[inner], [], []
    for l in range(net.depth):
        u = a @ net.weights[l].T + net.biases[l]
        codes.append(_numpy_codes(net, l, u, scales[l]))
        opens.append(_open(net, l, codes[-1]))
        a = net.activate(l, u)
    reach = _reachability(net, opens)
    tight = [(s % 2 == 1) & net.switching(l)[None, :] for l, s in enumerate(codes)]
    np.testing.assert_array_equal(cx.face_tight[inner], sum(t.sum(axis=1) for t in tight))
    np.testing.assert_array_equal(cx.face_good[inner], sum((t & r).sum(axis=1) for t, r in zip(tight, reach)))
    assert np.all(cx.face_tight[cx.face_on_box] == 0) and np.all(cx.face_good[cx.face_on_box] == 0)
