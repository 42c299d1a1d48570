"""Regression tests for the tolerance decisions of ``distance_to_boundary`` (issue 12, findings 1,
2 and 6, and close decisions). Oracles are closed forms written here: constant functions have no
linear boundary, the distance to a single hyperplane is |w.x + b| / ||w||, and an activation
equal to ReLU on the relevant range gives ReLU's distances."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from linregions import Network, hard_tanh, random_mlp, relu
from linregions.distance import distance_to_boundary


def _cancelling(n_in: int, bias: float) -> Network:
    """N(x) = 1 + 0.1 relu(w.x + c) + 0.2 relu(w.x + c) - 0.3 relu(w.x + c): a constant whose
    slope is rounding noise (0.1 + 0.2 - 0.3 = 5.6e-17 in float64) on one side, 0 on the other."""
    w = np.linspace(1.0, 0.5, n_in)
    W0 = np.tile(w, (3, 1))
    return Network((W0, np.array([[0.1, 0.2, -0.3]])), (np.full(3, bias), np.array([1.0])), (relu(),))


@pytest.mark.parametrize("n_in", [1, 2])
def test_constant_with_cancelling_neurons_has_no_linear_boundary(n_in):
    net = _cancelling(n_in, 0.1)
    X = np.random.default_rng(0).uniform(-1, 1, size=(6, n_in))
    assert np.ptp(net(X)) < 1e-15  # the oracle: N is constant
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin = distance_to_boundary(net, X, "linear")
    assert np.all(np.isinf(lin.distance)) and np.all(lin.layer == -1)
    # the activation boundary is still there: |w.x + c| / ||w||
    w = net.weights[0][0]
    act = distance_to_boundary(net, X, "activation")
    np.testing.assert_allclose(act.distance, np.abs(X @ w + 0.1) / np.linalg.norm(w), rtol=1e-13)


def test_issue_repro_constant_0p7_relu_0p3():
    # N(x) = 1 + 0.7 relu(0.3 x) - 0.7 relu(0.3 x), and its 2-input version
    for W0 in (np.array([[0.3], [0.3]]), np.array([[0.3, -0.2], [0.3, -0.2]])):
        net = Network((W0, np.array([[0.7, -0.7]])), (np.zeros(2), np.array([1.0])), (relu(),))
        X = np.random.default_rng(1).uniform(-1, 1, size=(4, W0.shape[1]))
        assert np.all(np.isinf(distance_to_boundary(net, X, "linear").distance))


def test_a_real_jump_next_to_a_flat_side_is_kept():
    # N(x) = relu(x) - 1e-12 relu(x) ... a slope of ~1 on one side, exactly 0 on the other
    net = Network((np.array([[1.0], [1.0]]), np.array([[1.0, -1e-12]])), (np.zeros(2), np.zeros(1)), (relu(),))
    X = np.array([[0.25], [-0.5]])
    lin = distance_to_boundary(net, X, "linear")
    np.testing.assert_allclose(lin.distance, [0.25, 0.5], rtol=1e-15)


def _hardtanh_twin(seed: int):
    r = random_mlp(2, [6, 6], seed=seed)
    return r, Network(r.weights, r.biases, (hard_tanh(0.0, 1e6), hard_tanh(0.0, 1e6)))


@pytest.mark.parametrize("kind", ["activation", "linear"])
def test_far_breakpoint_does_not_blunt_the_one_at_zero(kind):
    # hard_tanh(0, 1e6) equals ReLU wherever u < 1e6: a point 1e-7 from a first-layer
    # hyperplane is 1e-7 from the boundary, not 0 (one snap scale for all breakpoints gave 1e-6)
    net_relu, net = _hardtanh_twin(1)
    w, b = net.weights[0][0], net.biases[0][0]
    x = np.array([0.3, -0.2])
    x = x - (w @ x + b) / (w @ w) * w  # on the hyperplane of neuron (0, 0)
    for eps in (1e-7, 1e-9):
        y = x + eps * w / np.linalg.norm(w)
        r = distance_to_boundary(net, y, kind)
        assert r.distance[0] == pytest.approx(eps, rel=1e-6)
        assert (r.layer[0], r.unit[0]) == (0, 0)
    # and it agrees with the ReLU twin on random points
    X = np.random.default_rng(2).uniform(-1, 1, size=(8, 2))
    a, bb = distance_to_boundary(net, X, kind), distance_to_boundary(net_relu, X, kind)
    np.testing.assert_allclose(a.distance, bb.distance, rtol=1e-12)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_unusable_device_is_a_clear_error(device):
    net = random_mlp(2, [4])
    with pytest.raises(ValueError, match=f"device '{device}'"):
        distance_to_boundary(net, np.zeros(2), "activation", device=device)


@pytest.mark.parametrize("kind", ["activation", "linear"])
def test_bad_device_string_is_a_clear_error(kind):
    net = random_mlp(2, [4])
    with pytest.raises(ValueError, match=r"device.*'foo'"):
        distance_to_boundary(net, np.zeros(2), kind, device="foo")


def test_close_decisions_are_counted_and_warned():
    net = random_mlp(2, [6, 6], seed=3)
    w, b = net.weights[0][0], net.biases[0][0]
    x = np.array([0.2, 0.4])
    on = x - (w @ x + b) / (w @ w) * w
    scale = np.abs(w) @ np.abs(on) + abs(b)
    # generic points: no close decision, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for kind in ("activation", "linear"):
            r = distance_to_boundary(net, np.array([x, -x]), kind)
            assert np.all(r.close == 0)
            assert "close" not in repr(r)
    # a point 3e-13 of the scale off the hyperplane: snapped (below SNAP_RTOL = 1e-12) although
    # that is far above rounding noise -> distance 0 by decision, counted and warned
    y = on + 3e-13 * scale * w / (w @ w)
    for kind in ("activation", "linear"):
        with pytest.warns(RuntimeWarning, match=r"1 close tolerance decision"):
            r = distance_to_boundary(net, y, kind)
        assert r.distance[0] == 0.0 and r.close[0] >= 1 and "close=" in repr(r)
    # a point exactly on it (up to rounding): distance 0, nothing close
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = distance_to_boundary(net, on, "activation")
    assert r.distance[0] == 0.0 and r.close[0] == 0
