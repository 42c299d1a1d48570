"""Tests of the exact planar partitions (linregions.plane) against independent oracles:
dense grids (activation patterns and local affine maps from plain forward passes), exact 1D
partitions along random segments (linregions.line), closed forms (one hidden layer: a line
arrangement; zero biases: cones), Euler's formula and areas."""
from __future__ import annotations

import itertools

import sys

import numpy as np
import pytest

from linregions.activations import PiecewiseLinear, absolute, hard_tanh, leaky_relu, relu, soft_shrink
from linregions.laws import Normal, Uniform, Zero, random_mlp
from linregions.line import lines
from linregions.network import ARGMAX, NEURON, PASSTHROUGH, Network
from linregions.plane import PlanePartition, plane, plane_through

SQUARE = (-1.0, 1.0, -1.0, 1.0)


def _cross_count(part: PlanePartition, A: np.ndarray, B: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Number of proper intersections of each segment [A_i, B_i] (plane coordinates) with the
    edges selected by mask (a plain segment-segment test, independent of the construction)."""
    P, Q = part.vertices[part.edges[mask, 0]], part.vertices[part.edges[mask, 1]]

    def orient(a, b, c):
        return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])

    A, B = A[:, None, :], B[:, None, :]
    d1, d2 = orient(A, B, P[None]), orient(A, B, Q[None])
    d3, d4 = orient(P[None], Q[None], A), orient(P[None], Q[None], B)
    return np.sum((d1 * d2 < 0) & (d3 * d4 < 0), axis=1)


def check_complex(part: PlanePartition, area: float) -> None:
    """Watertight planar complex: Euler, two faces per interior edge, CCW faces, areas."""
    assert part.euler_characteristic() == 1
    ef = part.edge_faces
    inner = part.interior
    assert np.all(ef[inner] >= 0)  # interior edges have a face on both sides
    assert np.all((ef[~inner] >= 0).sum(axis=1) == 1)  # domain edges have one
    assert np.all(part.face_areas > 0)
    assert abs(part.face_areas.sum() - area) <= 1e-9 * area
    assert abs(part.areas("linear").sum() - area) <= 1e-9 * area
    assert part.num_regions("linear") <= part.num_regions("activation")
    # every vertex is used and on the boundary length budget: layers sum to the total
    for kind in ("linear", "activation"):
        tot = part.boundary_length(kind)
        assert np.isclose(part.boundary_length(kind, by="layer").sum(), tot)
        assert np.isclose(part.boundary_length(kind, by="neuron").sum(), tot)


def check_affine(part: PlanePartition, rng, k: int = 3) -> None:
    """The affine map of every face equals the network at random points inside the face."""
    grad, off = part.affine_maps()
    ptr, fv = part.face_ptr, part.face_vertices
    for _ in range(k):
        w = rng.random(fv.size) ** 4
        wsum = np.add.reduceat(w, ptr[:-1])
        S = np.add.reduceat(part.vertices[fv] * w[:, None], ptr[:-1], axis=0) / wsum[:, None]
        N = part.net(part.to_input(S))
        pred = off + np.einsum("fij,fj->fi", grad, S)
        scale = 1 + np.abs(N).max()
        assert np.abs(N - pred).max() <= 1e-9 * scale


def check_lines(part: PlanePartition, rng, n: int = 40) -> None:
    """Faces and linear regions crossed by random chords agree with the exact 1D partition."""
    u0, u1, v0, v1 = part.domain[:, 0].min(), part.domain[:, 0].max(), part.domain[:, 1].min(), part.domain[:, 1].max()
    lo, hi = np.array([u0, v0]), np.array([u1, v1])
    inset = 0.02 * (hi - lo)
    A = lo + inset + rng.random((n, 2)) * (hi - lo - 2 * inset)
    B = lo + inset + rng.random((n, 2)) * (hi - lo - 2 * inset)
    batch = lines(part.net, part.to_input(A), part.to_input(B))
    act = 1 + _cross_count(part, A, B, part.interior)
    lin = 1 + _cross_count(part, A, B, part.interior & part.edge_good)
    np.testing.assert_array_equal(act, batch.num_regions("activation"))
    np.testing.assert_array_equal(lin, batch.num_regions("linear"))


def _grid(bounds, m):
    u = np.linspace(bounds[0], bounds[1], m + 1)
    v = np.linspace(bounds[2], bounds[3], m + 1)
    uc, vc = (u[:-1] + u[1:]) / 2, (v[:-1] + v[1:]) / 2
    U, V = np.meshgrid(uc, vc, indexing="ij")
    return np.stack([U.ravel(), V.ravel()], 1), (u[1] - u[0])


NETS = {
    "relu": lambda s: random_mlp(2, [5, 4], 1, biases=Normal(0.8), seed=s),
    "leaky": lambda s: random_mlp(2, [5, 4], 1, activation=leaky_relu(0.2), biases=Normal(0.8), seed=s),
    "hard_tanh": lambda s: random_mlp(2, [3, 3], 1, activation=hard_tanh(), biases=Normal(1.0), seed=s),
    "soft_shrink": lambda s: random_mlp(2, [3, 3], 2, activation=soft_shrink(0.2), biases=Normal(1.0), seed=s),
}
BIG = (-2.0, 2.0, -2.0, 2.0)


def _linear_oracle(pats: np.ndarray, maps: np.ndarray, m: int) -> int:
    """Linear regions from a grid: nodes are the distinct activation patterns (each is one convex
    activation region), joined when two 4-neighbouring grid points differ in exactly one neuron
    and have the same local affine map (then they lie across one edge of a non-good neuron)."""
    _, lab = np.unique(pats, axis=0, return_inverse=True)
    P = pats.reshape(m, m, -1)
    M = maps.reshape(m, m, -1)
    L = lab.reshape(m, m)
    a_list, b_list = [], []
    for sl_a, sl_b in (((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                       ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
        one = np.sum(P[sl_a] != P[sl_b], axis=2) == 1
        scale = 1 + np.abs(M[sl_a]).max(axis=2) + np.abs(M[sl_b]).max(axis=2)
        same = np.abs(M[sl_a] - M[sl_b]).max(axis=2) <= 1e-9 * scale
        j = one & same
        a_list.append(L[sl_a][j])
        b_list.append(L[sl_b][j])
    a, b = np.concatenate(a_list), np.concatenate(b_list)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = int(lab.max()) + 1
    return connected_components(coo_matrix((np.ones(a.size), (a, b)), shape=(n, n)), directed=False)[0]


@pytest.mark.parametrize("name", sorted(NETS))
def test_counts_match_dense_grid(name):
    """Region counts equal the brute-force counts on a fine grid (distinct activation patterns;
    patterns glued across one-neuron changes with equal local affine maps), for nets whose
    regions are all much wider than the grid step (else the grid cannot see them)."""
    m = 240
    X, h = _grid(BIG, m)
    found = lin_lt_act = 0
    for seed in range(40):
        net = NETS[name](seed)
        part = plane(net, [0.0, 0.0], np.eye(2), BIG)
        # the oracle is valid when every face holds grid points (inradius >= area / perimeter
        # >= h) and every edge that glues two faces is crossed by several grid steps
        glue = part.interior & ~part.edge_good
        if (part.face_areas / _perimeters(part)).min() < h or np.any(part.edge_lengths[glue] < 4 * h):
            continue
        found += 1
        pats = np.concatenate(net.activation_pattern(X), axis=1)
        assert np.unique(pats, axis=0).shape[0] == part.num_regions("activation")
        J = net.jacobian(X)
        maps = np.concatenate([J.reshape(X.shape[0], -1), net(X) - np.einsum("bij,bj->bi", J, X)], axis=1)
        assert _linear_oracle(pats, maps, m) == part.num_regions("linear")
        check_complex(part, 16.0)
        lin_lt_act += part.num_regions("linear") < part.num_regions("activation")
        if found == 3:
            break
    assert found >= 2, "too few nets with wide regions for the grid oracle"
    if name == "hard_tanh":
        assert lin_lt_act > 0  # the oracle was also exercised where the two kinds differ


def _perimeters(part):
    P = part.vertices[part.face_vertices]
    nxt = np.arange(P.shape[0]) + 1
    nxt[part.face_ptr[1:] - 1] = part.face_ptr[:-1]
    return np.add.reduceat(np.linalg.norm(P[nxt] - P, axis=1), part.face_ptr[:-1])


ACTS = {
    "relu": relu(),
    "leaky": leaky_relu(0.1),
    "hard_tanh": hard_tanh(),
    "abs": absolute(),
    "soft_shrink": soft_shrink(0.2),
    "flat3": PiecewiseLinear([-0.5, 0.0, 0.5], [0.0, 1.0, 0.0, 2.0], 0.0, name="flat3"),
}


@pytest.mark.parametrize("name", sorted(ACTS))
def test_complex_affine_and_lines(name):
    rng = np.random.default_rng(7)
    net = random_mlp(2, [12, 10, 8], 2, activation=ACTS[name], biases=Normal(0.5), seed=3)
    part = plane(net, [0.1, -0.2], np.eye(2), (-1.5, 1.0, -0.5, 2.0))
    check_complex(part, 2.5 * 2.5)
    check_affine(part, rng)
    check_lines(part, rng)
    # linear boundaries (good edges) are exactly where the output's gradient jumps
    np.testing.assert_array_equal(part.slope_jump()[part.interior], part.edge_good[part.interior])


def test_high_dimensional_plane_through_points():
    rng = np.random.default_rng(0)
    net = random_mlp(50, [24, 24, 24], 3, biases=Normal(0.05), seed=5)
    pts = rng.random((3, 50))
    part = plane_through(net, *pts, margin=0.2)
    # the marked points are the three inputs, inside the rectangle
    np.testing.assert_allclose(part.to_input(part.marks), pts, atol=1e-12)
    lo, hi = part.domain.min(0), part.domain.max(0)
    assert np.all(part.marks > lo) and np.all(part.marks < hi)
    np.testing.assert_allclose(part.basis.T @ part.basis, np.eye(2), atol=1e-12)
    area = float(np.prod(hi - lo))
    check_complex(part, area)
    check_affine(part, rng)
    check_lines(part, rng)


def test_one_layer_closed_form():
    """One hidden layer: the lines w.s + b = 0 in the square; vertices are their pairwise
    intersections inside, boundary length the sum of their chords (all neurons are good)."""
    net = random_mlp(2, [15], 1, biases=Uniform(-0.8, 0.8), seed=11)
    W, b = net.weights[0], net.biases[0]
    part = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    inside = 0
    for i, j in itertools.combinations(range(15), 2):
        s = np.linalg.solve(W[[i, j]], -b[[i, j]])
        inside += bool(np.all(np.abs(s) < 1))
    assert part.num_vertices("activation") == inside == part.num_vertices("linear")
    # chord of each line in the square from a fine parametrisation of the square's boundary
    length = 0.0
    for i in range(15):
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1.0]])
        hits = []
        for a, c in zip(corners, np.roll(corners, -1, 0)):
            fa, fc = W[i] @ a + b[i], W[i] @ c + b[i]
            if fa * fc < 0:
                hits.append(a + fa / (fa - fc) * (c - a))
        if len(hits) == 2:
            length += np.linalg.norm(hits[0] - hits[1])
    assert np.isclose(part.boundary_length("activation"), length, rtol=1e-12)
    assert np.isclose(part.boundary_length("linear"), length, rtol=1e-12)
    # faces of a line arrangement: 1 + lines crossing + interior vertices (Euler)
    crossing = int(np.sum(part.boundary_length("activation", by="neuron") > 0))
    assert part.num_regions("activation") == 1 + crossing + inside


@pytest.mark.parametrize("act", ["relu", "abs", "leaky"])
def test_zero_biases_cones(act):
    """Zero biases and a positively homogeneous activation: all boundaries are rays from the
    origin, so faces = rays = crossings on the square's perimeter, and the origin is the only
    interior vertex, however many neurons switch there."""
    net = random_mlp(2, [10, 10, 10], 1, activation=ACTS[act], biases=Zero(), seed=1)
    part = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    sq = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1.0]])
    rays = int((lines(net, sq, np.roll(sq, -1, 0)).num_regions("activation") - 1).sum())
    assert part.num_regions("activation") == rays
    assert part.num_vertices("activation") == 1
    inner = part.vertices[np.unique(part.edges[part.interior])]
    assert np.sum(np.all(np.abs(inner) < 0.5, axis=1)) == 1  # one vertex at the origin
    check_complex(part, 4.0)
    check_affine(part, np.random.default_rng(1))


def test_zero_bias_hard_tanh_and_origin_on_corner():
    net = random_mlp(2, [8, 8], 1, activation=hard_tanh(), biases=Zero(), seed=4)
    part = plane(net, [0.0, 0.0], np.eye(2), (0.0, 1.0, 0.0, 1.0))
    check_complex(part, 1.0)
    check_affine(part, np.random.default_rng(2))
    check_lines(part, np.random.default_rng(3))


def test_linear_equals_activation_when_all_neurons_good():
    net = random_mlp(2, [10, 10], 1, activation=leaky_relu(0.3), biases=Normal(0.3), seed=2)
    part = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    assert part.edge_good[part.interior].all()
    assert part.num_regions("linear") == part.num_regions("activation")
    assert part.num_vertices("linear") == part.num_vertices("activation")


def test_narrow_hard_tanh_has_fewer_linear_regions():
    diffs = []
    for seed in range(6):
        net = random_mlp(2, [3, 3, 3, 3], 1, activation=hard_tanh(), biases=Normal(0.5), seed=seed)
        part = plane(net, [0.0, 0.0], np.eye(2), (-3, 3, -3, 3))
        check_complex(part, 36.0)
        np.testing.assert_array_equal(part.slope_jump()[part.interior], part.edge_good[part.interior])
        diffs.append(part.num_regions("activation") - part.num_regions("linear"))
        assert part.boundary_length("linear") <= part.boundary_length("activation")
        assert part.num_vertices("linear") <= part.num_vertices("activation")
    assert max(diffs) > 0


def test_polygon_domain():
    net = random_mlp(2, [16, 16], 1, biases=Normal(0.2), seed=8)
    tri = np.array([[-1.0, -1.0], [1.0, -0.5], [0.0, 1.0]])
    part = plane(net, [0.0, 0.0], np.eye(2), domain=tri)
    area = 0.5 * abs((tri[1, 0] - tri[0, 0]) * (tri[2, 1] - tri[0, 1]) - (tri[2, 0] - tri[0, 0]) * (tri[1, 1] - tri[0, 1]))
    check_complex(part, area)
    # clockwise input is accepted (reoriented)
    part2 = plane(net, [0.0, 0.0], np.eye(2), domain=tri[::-1])
    assert part2.num_regions("activation") == part.num_regions("activation")
    # repeated and collinear vertices (as sections of boxes produce them) are dropped
    sq = np.array([[-1, -1], [0, -1], [1, -1], [1, -1], [1, 1], [-1, 1.0]])
    a, b = plane(net, [0.0, 0.0], np.eye(2), domain=sq), plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    assert a.num_regions("activation") == b.num_regions("activation")
    assert a.domain.shape == (4, 2)


def test_unit_kinds_passthrough_never_cut():
    rng = np.random.default_rng(3)
    W = (rng.normal(size=(6, 2)), rng.normal(size=(5, 6)), rng.normal(size=(1, 5)))
    b = (rng.normal(size=6) * 0.3, rng.normal(size=5) * 0.3, np.zeros(1))
    kinds = (np.array([NEURON, PASSTHROUGH, NEURON, ARGMAX, NEURON, PASSTHROUGH]), np.zeros(5, np.int8))
    net = Network(W, b, (relu(), relu()), kinds)
    part = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    e0 = part.interior & (part.edge_layer == 0)
    assert not np.isin(part.edge_unit[e0], [1, 5]).any()
    assert np.all(part.edge_kind[e0 & (part.edge_unit == 3)] == ARGMAX)
    check_complex(part, 4.0)
    check_affine(part, rng)
    check_lines(part, rng)


def test_torch_device_path_matches_numpy():
    pytest.importorskip("torch")
    net = random_mlp(2, [20, 20], 1, seed=0)
    a = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    b = plane(net, [0.0, 0.0], np.eye(2), SQUARE, device="cpu")
    assert a.num_regions("activation") == b.num_regions("activation")
    np.testing.assert_allclose(np.sort(a.face_areas), np.sort(b.face_areas), rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="device"):
        plane(net, [0.0, 0.0], np.eye(2), SQUARE, device="no-such-device")


def test_non_orthonormal_basis_is_orthonormalised_with_warning():
    net = random_mlp(3, [8], 1, seed=0)
    B = np.array([[2.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    with pytest.warns(UserWarning, match="orthonormal"):
        part = plane(net, np.zeros(3), B, SQUARE)
    np.testing.assert_allclose(part.basis.T @ part.basis, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(part.basis[:, 0], [1, 0, 0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bounds=(1, -1, -1, 1)), "u_min < u_max"),
        (dict(bounds=(-1, 1, 0, 0)), "empty or inverted"),
        (dict(bounds=(-1, 1, -1)), "four numbers"),
        (dict(bounds=(-1, 1, -1, np.nan)), "NaN"),
        (dict(basis=np.ones((3, 3))), "basis must have shape"),
        (dict(basis=np.array([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])), "parallel"),
        (dict(origin=np.zeros(2)), "origin must have shape"),
        (dict(max_regions=10), "max_regions"),
        (dict(domain=np.array([[0, 0], [1, 0], [2, 0.0]])), "convex polygon"),
        (dict(domain=np.array([[0, 0], [2, 0], [1, 0.2], [1, 2.0]])), "convex polygon"),
    ],
)
def test_bad_input_errors(kwargs, match):
    net = random_mlp(3, [16, 16], 1, seed=0)
    args = dict(origin=np.zeros(3), basis=np.eye(3)[:, :2], bounds=SQUARE)
    if "domain" in kwargs:
        args["bounds"] = None
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plane(net, args.pop("origin"), args.pop("basis"), **args)


def test_bad_input_other():
    net = random_mlp(3, [8], 1, seed=0)
    with pytest.raises(TypeError, match="Network"):
        plane("net", np.zeros(3), np.eye(3)[:, :2], SQUARE)
    with pytest.raises(ValueError, match="collinear"):
        plane_through(net, np.zeros(3), np.ones(3), 2 * np.ones(3))
    with pytest.raises(ValueError, match="coincide"):
        plane_through(net, np.ones(3), np.ones(3), np.zeros(3))
    part = plane(net, np.zeros(3), np.eye(3)[:, :2], SQUARE)
    with pytest.raises(ValueError, match="kind"):
        part.num_regions("pieces")
    with pytest.raises(ValueError, match="by must be"):
        part.boundary_length("linear", by="unit")
    assert "PlanePartition(" in repr(part) and "\n" not in repr(part)


def test_cli_plane(tmp_path, capsys):
    import json

    from linregions.cli import main

    png, summ = tmp_path / "s.png", tmp_path / "s.json"
    rc = main(["plane", "--mlp", "2-8x2-1", "--png", str(png), "--summary", str(summ), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert json.loads(summ.read_text())["activation_regions"] == out["activation_regions"]
    net = random_mlp(2, [8, 8], 1, activation=relu(), biases=Normal(0.1), seed=0)  # the CLI's defaults
    part = plane(net, [0.0, 0.0], np.eye(2), SQUARE)
    assert out["activation_regions"] == part.num_regions("activation")
    assert out["linear_regions"] == part.num_regions("linear")
    assert png.read_bytes()[:4] == b"\x89PNG"
    pts = tmp_path / "pts.npy"
    np.save(pts, np.random.default_rng(0).random((3, 6)))
    assert main(["plane", "--mlp", "6-8x2-1", "--points", str(pts), "--png", "none"]) == 0
    assert main(["plane", "--bounds", "1,0,0,1", "--png", "none"]) == 2
    assert "inverted" in capsys.readouterr().err


def test_memory_budget_is_a_clear_error(monkeypatch):
    P = sys.modules["linregions.plane.builder"]  # the module that holds the budget
    monkeypatch.setattr(P, "MAX_VERTEX_BYTES", 2000 * 8)
    with pytest.raises(ValueError, match="memory budget"):
        plane(random_mlp(2, [40, 40], 1, seed=0), [0.0, 0.0], np.eye(2), SQUARE)
