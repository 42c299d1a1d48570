"""Network: forward passes against a hand-written loop, Jacobians against finite differences,
restriction against composition, unit kinds, and input validation."""
from __future__ import annotations

import numpy as np
import pytest

from linregions.activations import hard_tanh, leaky_relu, relu
from linregions.laws import random_mlp
from linregions.network import ARGMAX, NEURON, PASSTHROUGH, Network


def _manual(Ws, bs, phis, X):
    a = X
    for W, b, phi in zip(Ws[:-1], bs[:-1], phis):
        a = phi(a @ W.T + b)
    return a @ Ws[-1].T + bs[-1]


def test_forward_matches_manual_loop_and_pre_activations():
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(5, 3)), rng.normal(size=(4, 5)), rng.normal(size=(2, 4))]
    bs = [rng.normal(size=5), rng.normal(size=4), rng.normal(size=2)]
    net = Network(tuple(Ws), tuple(bs), (relu(), hard_tanh()))
    X = rng.normal(size=(7, 3))
    ref = _manual(Ws, bs, [lambda u: np.maximum(u, 0), lambda u: np.clip(u, -1, 1)], X)
    np.testing.assert_allclose(net(X), ref, rtol=1e-14)
    us = net.pre_activations(X)
    assert [u.shape for u in us] == [(7, 5), (7, 4), (7, 2)]
    np.testing.assert_allclose(us[0], X @ Ws[0].T + bs[0])
    np.testing.assert_allclose(us[-1], ref)
    pats = net.activation_pattern(X)
    np.testing.assert_array_equal(pats[0], (us[0] >= 0).astype(int))
    np.testing.assert_array_equal(pats[1], (us[1] >= -1).astype(int) + (us[1] >= 1))
    # a single point as a 1-D array, torch input, int input
    np.testing.assert_allclose(net(X[0]), ref[:1])
    assert (net.n_in, net.n_out, net.widths, net.depth, net.num_neurons) == (3, 2, (5, 4), 2, 9)
    np.testing.assert_array_equal(net.neuron_ids, [[0, i] for i in range(5)] + [[1, i] for i in range(4)])
    assert repr(net) == "Network(3-5-4-2, activation=hard_tanh(-1,1)/relu)"


def test_jacobian_matches_finite_differences():
    rng = np.random.default_rng(1)
    net = random_mlp(4, [16, 16], 3, activation=leaky_relu(0.2), seed=rng)
    X = rng.normal(size=(5, 4))
    J = net.jacobian(X)
    assert J.shape == (5, 3, 4)
    h = 1e-6
    for i in range(4):
        e = np.zeros(4)
        e[i] = h
        fd = (net(X + e) - net(X - e)) / (2 * h)
        np.testing.assert_allclose(J[:, :, i], fd, rtol=1e-6, atol=1e-7)


def test_restrict_equals_composition():
    rng = np.random.default_rng(2)
    net = random_mlp(6, [10, 10], 2, seed=rng)
    x0, B = rng.normal(size=6), rng.normal(size=(6, 2))
    sub = net.restrict(x0, B)
    S = rng.normal(size=(9, 2))
    np.testing.assert_allclose(sub(S), net(x0 + S @ B.T), rtol=1e-12, atol=1e-12)
    line = net.restrict(x0, B[:, 0])
    assert line.n_in == 1
    np.testing.assert_allclose(line(S[:, :1]), net(x0 + S[:, :1] * B[:, 0]), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="restrict"):
        net.restrict(x0[:5], B)
    with pytest.raises(ValueError, match="restrict"):
        net.restrict(x0, B[:5])


def test_passthrough_units():
    rng = np.random.default_rng(3)
    Ws = (rng.normal(size=(3, 2)), rng.normal(size=(1, 3)))
    bs = (rng.normal(size=3), np.zeros(1))
    net = Network(Ws, bs, (relu(),), unit_kinds=(np.array([NEURON, PASSTHROUGH, ARGMAX]),))
    X = rng.normal(size=(20, 2))
    u = X @ Ws[0].T + bs[0]
    a = np.maximum(u, 0)
    a[:, 1] = u[:, 1]  # identity on the passthrough unit
    np.testing.assert_allclose(net(X), a @ Ws[1].T, rtol=1e-14)
    assert net.num_neurons == 2 and net.has_special_units
    np.testing.assert_array_equal(net.neuron_ids, [[0, 0], [0, 2]])
    assert np.all(net.activation_pattern(X)[0][:, 1] == 0)
    assert np.all(net.derivative(0, u)[:, 1] == 1.0)
    # all-NEURON kinds collapse to None
    plain = Network(Ws, bs, (relu(),), unit_kinds=(np.zeros(3),))
    assert plain.unit_kinds is None and not plain.has_special_units


@pytest.mark.parametrize(
    "args,err,match",
    [
        (((), (), ()), ValueError, "empty"),
        (((np.ones((1, 2)),), (np.zeros(1),), ()), ValueError, "hidden layer"),
        (((np.ones((3, 2)), np.ones((1, 3))), (np.zeros(3),), (relu(),)), ValueError, "bias vectors"),
        (((np.ones((3, 2)), np.ones((1, 3))), (np.zeros(3), np.zeros(1)), ()), ValueError, "activations"),
        (((np.ones((3, 2)), np.ones((1, 4))), (np.zeros(3), np.zeros(1)), (relu(),)), ValueError, "expects 4 inputs"),
        (((np.ones((3, 2)), np.ones((1, 3))), (np.zeros(2), np.zeros(1)), (relu(),)), ValueError, r"biases\[0\]"),
        (((np.full((3, 2), np.nan), np.ones((1, 3))), (np.zeros(3), np.zeros(1)), (relu(),)), ValueError, "NaN"),
        (((np.ones((3, 2)), np.ones((1, 3))), (np.zeros(3), np.array([np.inf])), (relu(),)), ValueError, "NaN or inf"),
        (((np.ones((3, 2)), np.ones((1, 3))), (np.zeros(3), np.zeros(1)), ("relu",)), TypeError, "PiecewiseLinear"),
        (((np.ones((0, 2)), np.ones((1, 0))), (np.zeros(0), np.zeros(1)), (relu(),)), ValueError, "non-empty"),
        (((np.ones(3), np.ones((1, 3))), (np.zeros(3), np.zeros(1)), (relu(),)), ValueError, "2-D"),
        ((("a", np.ones((1, 3))), (np.zeros(3), np.zeros(1)), (relu(),)), TypeError, r"weights\[0\]"),
    ],
)
def test_construction_errors(args, err, match):
    with pytest.raises(err, match=match):
        Network(*args)


def test_input_errors_and_unit_kind_errors():
    net = random_mlp(3, [4], seed=0)
    with pytest.raises(ValueError, match=r"shape \(batch, 3\)"):
        net(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        net(np.array([[np.nan, 0, 0]]))
    with pytest.raises(ValueError, match="unit_kinds"):
        Network(net.weights, net.biases, net.activations, unit_kinds=(np.zeros(3),))
    with pytest.raises(ValueError, match="unit_kinds"):
        Network(net.weights, net.biases, net.activations, unit_kinds=(np.full(4, 7),))


def test_weights_are_read_only_float64():
    net = Network(([[1, 2]], [[3]]), ([0], [0]), (relu(),))
    assert net.weights[0].dtype == np.float64
    with pytest.raises(ValueError):
        net.weights[0][0, 0] = 5.0


def test_torch_paths_match_numpy():
    import torch

    rng = np.random.default_rng(4)
    Ws = (rng.normal(size=(4, 2)), rng.normal(size=(1, 4)))
    bs = (rng.normal(size=4), np.zeros(1))
    net = Network(Ws, bs, (hard_tanh(),), unit_kinds=(np.array([NEURON, PASSTHROUGH, NEURON, ARGMAX]),))
    u = rng.normal(size=(30, 4)) * 2
    ut = torch.tensor(u)
    np.testing.assert_allclose(net.activate(0, ut).numpy(), net.activate(0, u))
    np.testing.assert_array_equal(net.piece(0, ut).numpy(), net.piece(0, u))
    np.testing.assert_allclose(net.derivative(0, ut).numpy(), net.derivative(0, u))
    Wt, bt = net.tensors()
    assert Wt[0].dtype == torch.float64 and torch.equal(Wt[0], torch.tensor(Ws[0])) and torch.equal(bt[0], torch.tensor(bs[0]))


def test_docstring_examples_run():
    import doctest
    import importlib

    for name in ("linregions.activations", "linregions.network", "linregions.laws", "linregions.line"):
        res = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, name
        assert res.attempted > 0, name


# -- issue 12, finding 9: complex weights are refused, never truncated to their real part ------------


@pytest.mark.parametrize("where", ["weight", "bias", "input"])
def test_complex_values_are_refused(where):
    from linregions import relu

    W0, W1 = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[1.0, 1.0]])
    b0, b1 = np.array([0.1, -0.2]), np.array([0.0])
    if where == "weight":
        W0 = W0 + 1e-3j
    if where == "bias":
        b0 = b0.astype(np.complex64)
    if where == "input":
        net = Network((W0, W1), (b0, b1), (relu(),))
        with pytest.raises(TypeError, match="complex"):
            net(np.array([[1.0 + 2.0j, 0.0]]))
        return
    with pytest.raises(TypeError, match="complex"):
        Network((W0, W1), (b0, b1), (relu(),))


def test_complex_torch_modules_are_refused():
    import torch
    from torch import nn

    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        m[2].weight.data = m[2].weight.data.to(torch.complex64)
    with pytest.raises(TypeError, match=r"2\.weight .*complex"):
        Network.from_torch(m)
    with pytest.raises(TypeError, match="complex"):
        Network((torch.ones(3, 2, dtype=torch.complex128), np.ones((1, 3))), (np.zeros(3), np.zeros(1)),
                (Network.from_torch(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))).activations[0],))
