"""Theorem 6 (k = 1) on torch modules: the engine's integrand (``theory.module_k1``: biases and
input gradients from the module's own ops) against the dense path on the module's compilation
(``Network.from_torch(m, input_shape=...)``), with the same seed (same input samples)."""
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import linregions as lr
from linregions.crofton import Ball, Box
from linregions.laws import AssumptionError
from linregions.theory import Rectangle, Segment, theorem6
from linregions.theory.module_k1 import module_program, site_biases

SHAPE = (1, 6, 6)
#: the two paths compute the same sums in another order (conv vs dense matmul): rounding only
REL = 1e-10


def _cnn(seed=0, pool=False):
    torch.manual_seed(seed)
    if pool:
        m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 2))
    else:
        m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 2, 3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8, 5), nn.LeakyReLU(0.1), nn.Linear(5, 3))
        with torch.no_grad():
            m[1].running_mean.normal_()
            m[1].running_var.uniform_(0.5, 2.0)
            m[1].bias.normal_()
    return m.eval()


def _domains():
    rng = np.random.default_rng(0)
    c = rng.normal(size=36)
    basis = np.linalg.qr(rng.normal(size=(36, 2)))[0]
    return [Ball(c, 1.5), Box(c - 1.0, c + 1.0), Segment(c, rng.normal(size=36)),
            Rectangle(c, basis, (-1.0, 1.0, -0.5, 0.5))]


@pytest.mark.parametrize("i", range(4))
def test_k1_activation_module_equals_dense(i):
    m = _cnn()
    net = lr.Network.from_torch(m, input_shape=SHAPE)
    dom = _domains()[i]
    law = [lr.Normal(0.5), lr.Uniform(-1.0, 2.0), lr.Laplace(scale=0.7)]  # one law per site / hidden layer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shared conv biases: the per-neuron estimator only warns
        a = theorem6(m, dom, 1, bias_law=law, kind="activation", n_samples=64, seed=2, input_shape=SHAPE, chunk_points=100)
        b = theorem6(net, dom, 1, bias_law=law, kind="activation", n_samples=64, seed=2)
    assert b.value > 0
    assert a.value == pytest.approx(b.value, rel=REL)
    assert a.se == pytest.approx(b.se, rel=1e-8)
    assert a.volume == b.volume


def test_site_biases_match_dense_compilation():
    m = _cnn()
    net = lr.Network.from_torch(m, input_shape=SHAPE)
    prog = module_program(m, SHAPE, 36)
    for l, beta in enumerate(site_biases(prog, 64)):
        np.testing.assert_allclose(beta.numpy(), net.biases[l], rtol=1e-13, atol=1e-15)


def test_module_warns_refuses_and_falls_back():
    m = _cnn()
    dom = _domains()[0]
    with pytest.warns(UserWarning, match="share one bias per channel"):
        theorem6(m, dom, 1, bias_law=lr.Normal(0.5), kind="activation", n_samples=8, input_shape=SHAPE)
    # linear kind: compiled densely, where shared conv biases fail A2
    with pytest.raises(AssumptionError, match="share a bias"):
        theorem6(m, dom, 1, bias_law=lr.Normal(0.5), kind="linear", n_samples=8, input_shape=SHAPE)
    with pytest.raises(AssumptionError, match="maximum units"):
        theorem6(_cnn(pool=True), dom, 1, bias_law=lr.Normal(0.5), kind="activation", n_samples=8, input_shape=SHAPE)
    with pytest.raises(AssumptionError):  # no law given
        theorem6(m, dom, 1, kind="activation", n_samples=8, input_shape=SHAPE)
    with pytest.raises(TypeError, match="apply to torch modules"):
        theorem6(lr.random_mlp(2, [4]), Ball(np.zeros(2), 1.0), 1, bias_law=lr.Normal(0.5), input_shape=(2,))
    # an MLP module: the linear kind runs on its dense conversion, equal to the Network's
    torch.manual_seed(1)
    mlp = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    d = Ball(np.zeros(3), 1.0)
    a = theorem6(mlp, d, 1, bias_law=lr.Normal(0.5), n_samples=32)
    b = theorem6(lr.Network.from_torch(mlp), d, 1, bias_law=lr.Normal(0.5), n_samples=32)
    assert a.value == b.value
