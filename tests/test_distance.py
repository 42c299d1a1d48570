"""Tests of linregions.distance against independent brute force (dense ray search).

Oracle: for many directions v (a dense fan, then zoomed around the best ones), march along the ray
x + t v with a fine step to the first change of the activation pattern (kind="activation") or of
the output's Jacobian (kind="linear"), and bisect it to full precision; the minimum over
directions is the distance. It uses only Network.activation_pattern and Network.jacobian.
"""
from __future__ import annotations

import numpy as np
import pytest

from linregions import Network, hard_tanh, leaky_relu, random_mlp, relu
from linregions.distance import Distances, distance_to_boundary
from linregions.laws import Normal, Zero
from linregions.network import PASSTHROUGH

RTOL = 1e-6


def _same(net, kind, ref, P):
    """Bool per row of P: same activation pattern (or same output Jacobian) as the reference."""
    if kind == "activation":
        pats = net.activation_pattern(P)
        return np.all(np.concatenate([p == r[None] for p, r in zip(pats, ref)], axis=1), axis=1)
    if len(P) == 0:
        return np.zeros(0, bool)
    J = net.jacobian(P).reshape(len(P), -1)
    return np.linalg.norm(J - ref[None], axis=1) <= 1e-9 * (np.linalg.norm(ref) + np.linalg.norm(J, axis=1))


def _first_exit(net, x, V, kind, t_max, steps=400):
    """First t in (0, t_max] along each ray x + t V[j] where the region changes (inf if none)."""
    if kind == "activation":
        ref = [p[0] for p in net.activation_pattern(x[None])]
    else:
        ref = net.jacobian(x[None]).reshape(-1)
    ts = np.linspace(0.0, t_max, steps + 1)[1:]
    P = x[None, None] + ts[None, :, None] * V[:, None, :]
    same = _same(net, kind, ref, P.reshape(-1, x.size)).reshape(len(V), steps)
    out = np.full(len(V), np.inf)
    hit = ~same.all(axis=1)
    k = np.argmax(~same, axis=1)
    lo = np.where(k > 0, ts[np.maximum(k - 1, 0)], 0.0)[hit]
    hi = ts[k][hit]
    Vh = V[hit]
    for _ in range(52):
        mid = 0.5 * (lo + hi)
        s = _same(net, kind, ref, x[None] + mid[:, None] * Vh)
        lo, hi = np.where(s, mid, lo), np.where(s, hi, mid)
    out[hit] = hi
    return out


def _unit(V):
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def brute_distance(net, x, kind, t_max=1.0):
    """Min over a dense fan of directions, then zoomed around the best few, of the first exit."""
    n = x.size
    if n == 2:
        th = np.linspace(0, 2 * np.pi, 360, endpoint=False)
        V = np.stack([np.cos(th), np.sin(th)], 1)
        width, pts, shrink, levels, top = 0.02, 21, 5.0, 8, 3
    else:
        m = 600
        i = np.arange(m) + 0.5
        phi, z = np.pi * (1 + 5**0.5) * i, 1 - 2 * i / m
        r = np.sqrt(1 - z * z)
        V = np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)
        width, pts, shrink, levels, top = 0.15, 7, 3.0, 13, 2
    t = _first_exit(net, x, V, kind, t_max, steps=150)
    best = float(t.min())
    if not np.isfinite(best):
        return best
    for j in np.argsort(t)[:top]:
        v, w = V[j], width
        for _ in range(levels):
            basis = np.linalg.svd(v[None])[2][1:]  # orthonormal complement of v
            g = np.linspace(-w, w, pts)
            grid = np.stack(np.meshgrid(*[g] * (n - 1), indexing="ij"), -1).reshape(-1, n - 1)
            W = _unit(v[None] + grid @ basis)
            tw = _first_exit(net, x, W, kind, 1.5 * best, steps=80)
            v, best = W[np.argmin(tw)], min(best, float(tw.min()))
            w /= shrink
    return best


def _inputs(n, k, seed, scale=1.0):
    return np.random.default_rng(seed).normal(size=(k, n)) * scale


def _check_against_brute(net, X, kind):
    r = distance_to_boundary(net, X, kind)
    bf = np.array([brute_distance(net, x, kind) for x in X])
    np.testing.assert_allclose(r.distance, bf, rtol=RTOL)
    return r


# ---------------------------------------------------------------------------------------------
# kind="activation"


@pytest.mark.parametrize(
    "n, act, bias, seed",
    [(2, relu(), Normal(0.1), 0), (2, hard_tanh(), Normal(0.5), 1), (3, relu(), Normal(0.1), 2), (3, leaky_relu(0.1), Normal(0.3), 3)],
)
def test_activation_distance_matches_dense_ray_search(n, act, bias, seed):
    net = random_mlp(n, [10, 8], activation=act, biases=bias, seed=seed)
    _check_against_brute(net, _inputs(n, 3, seed + 10, 1.5), "activation")


def test_activation_nearest_point_is_on_the_named_neurons_breakpoint():
    net = random_mlp(2, [10, 10], activation=hard_tanh(), biases=Normal(0.5), seed=4)
    X = _inputs(2, 30, 5, 1.5)
    r = distance_to_boundary(net, X, "activation")
    assert np.all(np.isfinite(r.distance)) and np.all(r.layer >= 0)
    np.testing.assert_allclose(np.linalg.norm(r.nearest - X, axis=1), r.distance, rtol=1e-12)
    us = net.pre_activations(r.nearest)
    xi = net.activations[0].breakpoints
    u = np.array([us[l][i, z] for i, (l, z) in enumerate(zip(r.layer, r.unit))])
    np.testing.assert_allclose(u, xi[r.breakpoint], atol=1e-12)
    # just before the nearest point the pattern is still that of x; just beyond it, it is not
    for s, same in ((1 - 1e-7, True), (1 + 1e-7, False)):
        P = X + s * (r.nearest - X)
        pats = [np.all(a == b, axis=1) for a, b in zip(net.activation_pattern(P), net.activation_pattern(X))]
        assert np.all(np.logical_and.reduce(pats) == same)


def test_activation_distance_in_784_dimensions_against_exact_segments():
    from linregions.line import lines

    net = random_mlp(784, [64, 64, 64], biases=Normal(1e-3), seed=6)
    rng = np.random.default_rng(7)
    X = rng.uniform(0, 1, size=(40, 784))
    r = distance_to_boundary(net, X, "activation", chunk_size=16, method="jacobian")
    r_gram = distance_to_boundary(net, X, "activation", method="gram")
    np.testing.assert_allclose(r_gram.distance, r.distance, rtol=1e-10)
    # the segment from x to 1.001 x (nearest - x) crosses exactly once, at the nearest point
    ends = X + 1.001 * (r.nearest - X)
    b = lines(net, X, ends)
    first = np.array([p.t[0] if p.t.size else np.inf for p in b])
    np.testing.assert_allclose(first, 1 / 1.001, rtol=1e-9)
    # random rays: the first crossing is never nearer than the distance, and some come close
    V = _unit(rng.normal(size=(40, 784)))
    b = lines(net, X, X + V * (3 * r.distance[:, None]))
    t = np.array([p.t[0] if p.t.size else np.inf for p in b]) * 3 * r.distance
    assert np.all(t >= r.distance * (1 - 1e-9))


def test_activation_chunking_and_device_give_identical_results():
    net = random_mlp(5, [16, 16, 16], seed=8)
    X = _inputs(5, 37, 9)
    a = distance_to_boundary(net, X, "activation")
    b = distance_to_boundary(net, X, "activation", chunk_size=4, device="cpu")
    for f in ("layer", "unit", "breakpoint"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    for f in ("distance", "nearest"):  # batched matmuls may round differently per chunk size
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# kind="linear"


def test_linear_equals_activation_when_every_neuron_is_good():
    # leaky ReLU: every neuron is open everywhere, so every neuron is good
    net = random_mlp(2, [10, 10], activation=leaky_relu(0.2), seed=10)
    X = _inputs(2, 25, 11, 1.5)
    a = distance_to_boundary(net, X, "activation")
    lin = distance_to_boundary(net, X, "linear")
    np.testing.assert_allclose(lin.distance, a.distance, rtol=1e-12)
    assert np.all(lin.regions == 1) and lin.exact.all()


@pytest.mark.parametrize("n, widths, seed", [(2, [12, 3], 0), (2, [10, 10, 2], 1), (3, [10, 3], 12)])
def test_linear_distance_matches_dense_ray_search_on_hard_tanh(n, widths, seed):
    net = random_mlp(n, widths, activation=hard_tanh(), biases=Normal(0.5), seed=seed)
    X = _inputs(n, 40, seed + 1 if n == 2 else 14, 2.0)
    a = distance_to_boundary(net, X, "activation")
    lin = distance_to_boundary(net, X, "linear")
    assert lin.exact.all()
    assert np.all(lin.distance >= a.distance * (1 - 1e-12))
    differ = np.nonzero(lin.distance > a.distance * (1 + 1e-6))[0]
    assert differ.size >= 1, "these hard tanh nets have non-good facets next to some inputs"
    pick = np.concatenate([differ[:2], np.setdiff1d(np.arange(len(X)), differ)[:1]])
    bf = np.array([brute_distance(net, x, "linear", t_max=3.0) for x in X[pick]])
    np.testing.assert_allclose(lin.distance[pick], bf, rtol=RTOL)
    # the nearest point is on B_N: the output's slope jumps there (checked with `line`)
    from linregions.line import line

    for i in pick:
        part = line(net, X[i], X[i] + 1.01 * (lin.nearest[i] - X[i]))
        tb = part.breakpoints("linear")
        assert tb.size and abs(tb[0] - 1 / 1.01) < 1e-9


def test_linear_relu_matches_dense_ray_search():
    net = random_mlp(2, [8, 8, 8], biases=Normal(0.5), seed=20)
    _check_against_brute(net, _inputs(2, 3, 21, 1.5), "linear")


def test_budget_gives_bounds_not_a_wrong_answer():
    net = random_mlp(2, [10, 10, 2], activation=hard_tanh(), biases=Normal(0.5), seed=1)
    X = _inputs(2, 40, 2, 2.0)
    full = distance_to_boundary(net, X, "linear")
    i = int(np.argmax(full.regions))
    assert full.regions[i] > 3
    cut = distance_to_boundary(net, X[i], "linear", max_regions=2)
    assert not cut.exact[0] and cut.regions[0] == 2
    assert cut.lower[0] <= full.distance[i] * (1 + 1e-12) <= cut.distance[0] * (1 + 1e-12)
    assert "inexact=1" in repr(cut)


# ---------------------------------------------------------------------------------------------
# degenerate arrangements


def test_zero_biases_cones():
    net = random_mlp(2, [8, 8], biases=Zero(), seed=30)
    X = np.vstack([np.zeros(2), _inputs(2, 3, 31)])
    for kind in ("activation", "linear"):
        r = distance_to_boundary(net, X, kind)
        assert r.distance[0] == 0.0  # every first-layer hyperplane passes through the origin
        bf = np.array([brute_distance(net, x, kind) for x in X[1:]])
        np.testing.assert_allclose(r.distance[1:], bf, rtol=RTOL)
        # cones: distances scale with |x|
        r2 = distance_to_boundary(net, 3.0 * X[1:], kind)
        np.testing.assert_allclose(r2.distance, 3.0 * r.distance[1:], rtol=1e-9)


def test_zero_biases_linear_boundary_is_where_the_slope_jumps():
    # zero biases: some structurally good level sets carry no jump of grad N (dead chains sitting
    # exactly at a breakpoint); B_N, and so the distance, follows the jump
    net = random_mlp(2, [6, 6, 2], biases=Zero(), seed=4)
    X = _inputs(2, 30, 1004, 2.0)[[0, 5]]
    r = distance_to_boundary(net, X, "linear")
    np.testing.assert_allclose(r.distance, [brute_distance(net, x, "linear", t_max=2.0) for x in X], rtol=RTOL)
    assert all(_on_B_N(net, x, y) for x, y in zip(X, r.nearest))


def test_point_on_a_boundary_has_distance_zero():
    net = random_mlp(2, [6, 6], seed=32)
    w, b = net.weights[0][0], net.biases[0][0]
    x = np.array([0.3, -0.2])
    x_on = x - (w @ x + b) / (w @ w) * w  # on neuron (0, 0)'s hyperplane
    r = distance_to_boundary(net, x_on, "activation")
    assert r.distance[0] == 0.0 and (r.layer[0], r.unit[0]) == (0, 0)
    np.testing.assert_array_equal(r.nearest[0], x_on)
    lin = distance_to_boundary(net, x_on, "linear")
    assert lin.distance[0] == 0.0  # ReLU with a non-zero output weight: good


def test_dead_upstream_and_no_boundary():
    # layer 0 is dead near x (negative biases), so layer 1 has zero gradient there: only layer 0 counts
    W0, b0 = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([-5.0, -6.0])
    W1, b1 = np.array([[1.0, -1.0], [2.0, 1.0]]), np.array([0.0, 0.5])
    net = Network((W0, W1, np.ones((1, 2))), (b0, b1, np.zeros(1)), (relu(), relu()))
    r = distance_to_boundary(net, np.array([[1.0, 1.0]]), "activation")
    assert r.layer[0] == 0 and r.unit[0] == 0 and r.distance[0] == pytest.approx(4.0, rel=1e-15)
    # no neuron can ever switch: infinite distance, no neuron, NaN point, no warnings
    flat = Network((np.zeros((3, 2)), np.ones((1, 3))), (np.ones(3), np.zeros(1)), (relu(),))
    with np.errstate(all="raise"):
        for kind in ("activation", "linear"):
            r = distance_to_boundary(flat, np.ones((2, 2)), kind)
            assert np.all(np.isinf(r.distance)) and np.all(r.layer == -1) and np.isnan(r.nearest).all()


def test_passthrough_units_never_switch():
    W0 = np.array([[1.0, 0.0], [0.3, 1.0], [1.0, 1.0]])
    b0 = np.array([0.1, 0.0, -0.2])
    net = Network((W0, np.array([[1.0, -2.0, 0.5]])), (b0, np.zeros(1)), (relu(),),
                  unit_kinds=(np.array([0, PASSTHROUGH, 0], np.int8),))
    X = np.array([[0.5, 0.3], [-0.4, 0.8]])
    for kind in ("activation", "linear"):
        r = distance_to_boundary(net, X, kind)
        assert np.all(r.unit != 1)
        np.testing.assert_allclose(r.distance, [brute_distance(net, x, kind) for x in X], rtol=RTOL)


# ---------------------------------------------------------------------------------------------
# API


def test_bad_input_raises_clear_errors():
    net = random_mlp(2, [4], seed=0)
    with pytest.raises(ValueError, match="kind"):
        distance_to_boundary(net, np.zeros((1, 2)), "both")
    with pytest.raises(TypeError, match="Network"):
        distance_to_boundary("net", np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        distance_to_boundary(net, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        distance_to_boundary(net, np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="max_regions"):
        distance_to_boundary(net, np.zeros((1, 2)), "linear", max_regions=0)
    with pytest.raises(ValueError, match="chunk_size"):
        distance_to_boundary(net, np.zeros((1, 2)), chunk_size=0)
    with pytest.raises(ValueError, match="method"):
        distance_to_boundary(net, np.zeros((1, 2)), method="fast")
    with pytest.raises(ValueError, match="device"):
        distance_to_boundary(net, np.zeros((1, 2)), "linear", device="cuda")
    r = distance_to_boundary(net, [0.1, 0.2])
    assert isinstance(r, Distances) and len(r) == 1 and "kind=activation" in repr(r)


def test_cli_distance_json(tmp_path, capsys):
    import json

    from linregions.cli import main

    pts = tmp_path / "x.npy"
    np.save(pts, _inputs(3, 5, 40))
    assert main(["distance", "--mlp", "3-8x2-1", "--points", str(pts), "--kind", "both", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    net = random_mlp(3, [8, 8], 1, biases=Normal(0.1), seed=0)
    ref = distance_to_boundary(net, np.load(pts), "activation")
    np.testing.assert_allclose(out["activation"]["mean"], ref.distance.mean(), rtol=1e-12)
    assert out["linear"]["mean"] >= out["activation"]["mean"] * (1 - 1e-12)
    assert main(["distance", "--mlp", "2-8-1", "--samples", "4"]) == 0
    assert "activation" in capsys.readouterr().out
    assert main(["distance", "--mlp", "2-8-1", "--points", str(pts)]) == 2


@pytest.mark.parametrize("act", [relu(), hard_tanh()])
def test_jacobian_and_gram_methods_agree(act):
    net = random_mlp(6, [12, 9, 7], activation=act, biases=Normal(0.3), seed=50)
    X = _inputs(6, 50, 51, 1.5)
    a = distance_to_boundary(net, X, "activation", method="jacobian")
    b = distance_to_boundary(net, X, "activation", method="gram")
    np.testing.assert_allclose(a.distance, b.distance, rtol=1e-12)
    np.testing.assert_array_equal(a.layer, b.layer)
    np.testing.assert_array_equal(a.unit, b.unit)
    np.testing.assert_allclose(a.nearest, b.nearest, rtol=1e-12, atol=1e-14)


def _on_B_N(net, x, y, n=3000, eps=1e-7):
    """True when the output's Jacobian takes several values within eps of y (grad N jumps at y)."""
    P = y + eps * _unit(np.random.default_rng(0).normal(size=(n, y.size)))
    J = net.jacobian(np.vstack([P, x[None]])).reshape(n + 1, -1)
    return bool(np.any(np.linalg.norm(J[:-1] - J[-1], axis=1) > 1e-9 * np.linalg.norm(J, axis=1).max()))


def test_facet_whose_nearest_point_is_on_an_edge_is_crossed_through_its_interior():
    # regression: here the nearest point of the good facet lies on another neuron's hyperplane;
    # crossing at that point along the facet's normal lands in the wrong region
    net = random_mlp(3, [8, 8, 2], activation=hard_tanh(), biases=Normal(1.0), seed=107)
    x = np.random.default_rng(7).normal(size=(30, 3))[9] * 2
    r = distance_to_boundary(net, x, "linear")
    assert r.exact[0] and _on_B_N(net, x, r.nearest[0])
    V = _unit(np.random.default_rng(1).normal(size=(400, 3)))
    assert r.distance[0] <= _first_exit(net, x, V, "linear", 1.0, steps=200).min() * (1 + 1e-9)


@pytest.mark.parametrize(
    "act, widths, std, seed, xseed",
    [(hard_tanh(), [10, 10, 2], 0.5, 1, 2), (hard_tanh(), [8, 8, 2], 1.0, 108, 2),
     # regression: a facet crossed along a direction tangent to a downstream level set
     (relu(), [8, 4, 2], 0.3, 18, 1018)],
)
def test_agrees_with_exact_plane_partition_in_2d(act, widths, std, seed, xseed):
    # generic biases: the plane's structurally good edges are exactly where grad N jumps
    from linregions.plane import plane

    net = random_mlp(2, widths, activation=act, biases=Normal(std), seed=seed)
    X = _inputs(2, 40, xseed, 2.0)
    part = plane(net, [0.0, 0.0], np.eye(2), (-6.0, 6.0, -6.0, 6.0))
    P = part.origin + part.vertices @ part.basis.T
    inner = part.interior
    for kind, edges in (("activation", inner), ("linear", inner & part.edge_good)):
        p, q = P[part.edges[edges, 0]], P[part.edges[edges, 1]]
        d = q - p
        t = np.clip(np.einsum("bej,ej->be", X[:, None] - p[None], d) / np.einsum("ej,ej->e", d, d), 0, 1)
        ref = np.linalg.norm(X[:, None] - (p[None] + t[..., None] * d[None]), axis=2).min(axis=1)
        r = distance_to_boundary(net, X, kind)
        np.testing.assert_allclose(r.distance, ref, rtol=RTOL)
        if kind == "linear":
            assert np.sum(r.distance > distance_to_boundary(net, X, "activation").distance * (1 + 1e-6)) >= 2
