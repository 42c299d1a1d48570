"""Crofton constants and unbiased boundary-volume estimates, on sets with known volumes: unions of
hyperplanes (one-hidden-layer ReLU nets, where B_N is the union of the neurons' hyperplanes and
B_{N,2} their pairwise intersections) in balls and boxes."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from linregions.activations import relu
from linregions.crofton import Ball, Box, boundary_volume, kappa, random_planes, vertex_volume
from linregions.network import Network

Z_MAX = 3.0


def _unit_ball(n):
    return math.pi ** (n / 2) / math.gamma(n / 2 + 1)


def _arrangement(n, m, seed, spread=0.6):
    """A one-hidden-layer ReLU net whose boundary is m hyperplanes w_i·x + b_i = 0 (all good)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(m, n))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    b = rng.uniform(-spread, spread, size=m)
    return Network((W, np.ones((1, m))), (b, np.zeros(1)), (relu(),)), W, b


def test_kappa_closed_forms():
    assert kappa(2, 1) == pytest.approx(2 / math.pi, rel=1e-14)
    assert kappa(3, 1) == pytest.approx(0.5, rel=1e-14)
    for n in (3, 5, 17, 784):
        assert kappa(n, 2) == pytest.approx(1 / (n - 1), rel=1e-12)
        assert kappa(n, 1) == pytest.approx(math.gamma(n / 2) / (math.sqrt(math.pi) * math.gamma((n + 1) / 2)) if n < 300
                                            else math.exp(special.gammaln(n / 2) - special.gammaln((n + 1) / 2)) / math.sqrt(math.pi), rel=1e-12)
    assert kappa(4, 4) == pytest.approx(1.0)  # k = n: E is the whole space, one point counts once
    with pytest.raises(ValueError):
        kappa(3, 4)


@pytest.mark.parametrize("n", [2, 3, 12, 50])
def test_kappa_by_monte_carlo_over_random_directions(n):
    """κ_{n,k} is the mean, over Haar-random k-planes E, of the Jacobian factor |det| by which a
    flat piece of codimension k (normal space span(e_1..e_k)) is seen from E: ∫_{E⊥} #((E + y) ∩ M) dy
    = vol(M) |det(B[:k, :])| for an orthonormal basis B of E. Estimated here from Gaussian QR
    bases (independent of the library's random_planes) within 4 standard errors."""
    rng = np.random.default_rng(n)
    m = 100_000
    u = rng.normal(size=(m, n))
    f1 = np.abs(u[:, 0]) / np.linalg.norm(u, axis=1)  # k = 1: |<u, e_1>|
    assert abs(f1.mean() - kappa(n, 1)) < 4 * f1.std() / math.sqrt(m)
    if n >= 2:
        Q, _ = np.linalg.qr(rng.normal(size=(m // 4, n, 2)))
        f2 = np.abs(np.linalg.det(Q[:, :2, :]))  # k = 2
        assert abs(f2.mean() - kappa(n, 2)) < 4 * f2.std() / math.sqrt(f2.size)


@pytest.mark.parametrize("n", [3, 12])
def test_hyperplanes_in_a_ball_k1(n):
    net, W, b = _arrangement(n, 5, seed=n)
    R = 1.0
    d = np.abs(b)  # unit normals: distance of w·x + b = 0 from the origin
    truth = float(np.sum(_unit_ball(n - 1) * np.clip(R * R - d * d, 0, None) ** ((n - 1) / 2)))
    est = boundary_volume(net, Ball(np.zeros(n), R), n=4000, seed=1)
    assert abs(est.value - truth) < Z_MAX * est.se
    assert est.density == pytest.approx(est.value / Ball(np.zeros(n), R).volume)
    act = boundary_volume(net, Ball(np.zeros(n), R), kind="activation", n=4000, seed=1)
    assert act.value == est.value  # every neuron is good: both boundaries are the same set


def test_lines_in_a_square_k1_box():
    """Box domain in R^2: the length of each line inside the square, by clipping, is the truth."""
    net, W, b = _arrangement(2, 6, seed=3)
    box = Box.cube(2, 1.0)
    truth = 0.0
    for w, c in zip(W, b):
        # points x = -c w + t w_perp; clip t to the square
        p, v = -c * w, np.array([-w[1], w[0]])
        lo, hi = box.chord(p[None], v[None])
        truth += float(np.linalg.norm(hi - lo))
    est = boundary_volume(net, box, n=4000, seed=2)
    assert abs(est.value - truth) < Z_MAX * est.se


def test_box_chords_and_sections_geometry():
    box = Box(np.array([-1.0, 0.0, 2.0]), np.array([1.0, 3.0, 2.5]))
    rng = np.random.default_rng(0)
    X = box.sample(rng, 50)
    V = rng.normal(size=(50, 3))
    A, B = box.chord(X, V)
    for a, b_, x in zip(A, B, X):  # ends on the boundary, x between them
        assert np.min(np.minimum(np.abs(a - box.low), np.abs(a - box.high))) < 1e-12
        assert np.min(np.minimum(np.abs(b_ - box.low), np.abs(b_ - box.high))) < 1e-12
        assert np.linalg.norm(a - x) + np.linalg.norm(b_ - x) == pytest.approx(np.linalg.norm(b_ - a))
    # section area by Monte Carlo: fraction of a bounding square inside the box
    P = random_planes(rng, 1, 3)[0]
    x = X[0]
    poly = box.section(x, P)
    from linregions.crofton import _polygon_area

    lo, hi = poly.min(axis=0), poly.max(axis=0)
    S = lo + (hi - lo) * rng.random((200000, 2))
    frac = box.contains(x + S @ P.T).mean()
    assert _polygon_area(poly) == pytest.approx(frac * np.prod(hi - lo), rel=0.02)


@pytest.mark.parametrize("n", [3, 6])
def test_pairwise_intersections_in_a_ball_k2(n):
    """vol_{n-2}(B_{N,2} ∩ ball) for m hyperplanes: Σ_{i<j} ω_{n-2} (R² - d_ij²)^{(n-2)/2}, d_ij the
    distance from the centre to the (n-2)-flat W_ij x = -b_ij."""
    net, W, b = _arrangement(n, 4, seed=10 + n, spread=0.5)
    truth = 0.0
    for i in range(4):
        for j in range(i + 1, 4):
            A, c = W[[i, j]], -b[[i, j]]
            d2 = float(c @ np.linalg.solve(A @ A.T, c))
            truth += _unit_ball(n - 2) * max(1.0 - d2, 0.0) ** ((n - 2) / 2)
    est = vertex_volume(net, Ball(np.zeros(n), 1.0), n=400, seed=4)
    assert abs(est.value - truth) < Z_MAX * est.se, (est, truth)


def test_pairwise_intersections_in_a_cube_k2():
    """Box domain in R^3: the lines where two planes meet, clipped to the cube, give the truth."""
    net, W, b = _arrangement(3, 4, seed=21, spread=0.5)
    box = Box.cube(3, 1.0)
    truth = 0.0
    for i in range(4):
        for j in range(i + 1, 4):
            A, c = W[[i, j]], -b[[i, j]]
            p = A.T @ np.linalg.solve(A @ A.T, c)
            v = np.cross(A[0], A[1])
            v /= np.linalg.norm(v)
            # slab clipping of the line p + t v to [-1, 1]^3
            t1, t2 = (-1 - p) / v, (1 - p) / v
            truth += max(float(np.min(np.maximum(t1, t2)) - np.max(np.minimum(t1, t2))), 0.0)
    est = vertex_volume(net, box, n=400, seed=5)
    assert abs(est.value - truth) < Z_MAX * est.se, (est, truth)


def test_errors():
    net, _, _ = _arrangement(3, 3, seed=0)
    with pytest.raises(ValueError, match="dimension"):
        boundary_volume(net, Ball(np.zeros(2), 1.0))
    with pytest.raises(TypeError, match="Box or"):
        boundary_volume(net, "ball")
    with pytest.raises(ValueError, match="kind"):
        boundary_volume(net, Ball(np.zeros(3), 1.0), kind="faces")
    with pytest.raises(ValueError):
        Box([0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError):
        Ball(np.zeros(2), -1.0)


# ------------------------------------------------------------------------------------------------
# torch modules (the torch-native engine) against the dense compilation of the same module


def _small_cnn(seed=0):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(2.0)  # larger biases: more boundaries inside the domain
    return m.eval()


@pytest.mark.parametrize("kind", ["linear", "activation"])
@pytest.mark.parametrize("domain_kind", ["ball", "box"])
def test_boundary_volume_module_matches_dense(kind, domain_kind):
    m = _small_cnn()
    shape = (1, 6, 6)
    net = Network.from_torch(m, input_shape=shape)
    rng = np.random.default_rng(1)
    c = rng.normal(size=36)
    dom = Ball(c, 2.0) if domain_kind == "ball" else Box(c - 1.0, c + 1.0)
    dense = boundary_volume(net, dom, kind=kind, n=300, seed=4)
    mod = boundary_volume(m, dom, kind=kind, n=300, seed=4, input_shape=shape)
    # identical chords, so identical exact counts: equal per-chord estimates
    assert dense.samples.sum() > 0
    np.testing.assert_array_equal(mod.samples, dense.samples)
    assert mod.value == dense.value and mod.se == dense.se


def test_boundary_volume_module_bad_input():
    m = _small_cnn()
    with pytest.raises(ValueError, match=r"input shape \(1, 5, 5\) has 25"):
        boundary_volume(m, Ball(np.zeros(36), 1.0), n=10, input_shape=(1, 5, 5))
    with pytest.raises(TypeError, match="input_shape applies to torch modules"):
        boundary_volume(_arrangement(3, 2, 0)[0], Ball(np.zeros(3), 1.0), n=10, input_shape=(3,))


@pytest.mark.parametrize("domain_kind", ["ball", "box"])
def test_vertex_volume_module_matches_dense(domain_kind):
    # planar sections through the module (plane on modules) against the dense compilation: same
    # planes, the same exact vertex counts
    m = _small_cnn(1)
    shape = (1, 6, 6)
    net = Network.from_torch(m, input_shape=shape)
    c = np.random.default_rng(2).normal(size=36)
    dom = Ball(c, 1.5) if domain_kind == "ball" else Box(c - 0.8, c + 0.8)
    dense = vertex_volume(net, dom, kind="activation", n=12, seed=3)
    mod = vertex_volume(m, dom, kind="activation", n=12, seed=3, input_shape=shape)
    assert dense.samples.sum() > 0
    np.testing.assert_allclose(mod.samples, dense.samples, rtol=1e-9)
