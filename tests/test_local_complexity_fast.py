"""The star certificate of local complexity (``local_complexity.star``) and the fast path built on it.

Oracles: ``line`` on the whole diameter (no crossing on the diameters left out, only candidates
crossing on the others, the same crossings from the compact network), and the plain path (``_SKIP_EMPTY_PROBES = False``: every diameter through the whole network, the proxy
from a forward pass of the 2P vertices), which must give the very same table."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

import linregions as lr
from linregions.local_complexity import probe_directions
from linregions.local_complexity.star import original_units, proxy_from_crossings, star_certificate, tail_network
from test_local_complexity_star import _both  # the tables of the fast and the plain path

FIXED = settings(derandomize=True, max_examples=10, deadline=None)
ACTS = {"relu": lr.relu(), "hard_tanh": lr.hard_tanh(), "leaky": lr.leaky_relu(0.1), "abs": lr.absolute()}


def _assert_same(a, b):
    assert list(a.columns) == list(b.columns)
    for c in a.columns:
        np.testing.assert_array_equal(a[c].to_numpy(), b[c].to_numpy(), err_msg=c)


@FIXED
@given(seed=st.integers(0, 10**6), act=st.sampled_from(sorted(ACTS)), n_in=st.sampled_from([3, 16]),
       r=st.sampled_from([0.02, 0.2, 1.0]))
def test_certificate_is_sound_against_line_on_each_diameter(seed, act, n_in, r):
    # diameters left out hold no crossing; on the others only candidates cross, and the compact
    # network gives line's crossings (layer, unit, linear flag) at line's t
    net = lr.random_mlp(n_in, [12, 10, 8], activation=ACTS[act], biases=lr.Normal(0.3), seed=seed)
    X = np.random.default_rng(seed).normal(size=(3, n_in))
    Q = probe_directions(n_in, seed=seed)
    cert = star_certificate(net, X, r, Q)
    assert set(cert.stars) == set(np.flatnonzero(~cert.fallback).tolist())
    for s, star in cert.stars.items():
        batch = lr.lines(star.net, star.Y0, star.Y1) if star.diam.size else None
        units = original_units(star.units, batch.layer, batch.unit) if batch is not None else None
        for i, q in enumerate(Q):
            ref = lr.line(net, X[s] - r * q, X[s] + r * q)
            if i not in star.diam:
                assert ref.layer.size == 0, (s, i)
                continue
            for l, z in zip(ref.layer, ref.unit):
                assert z in star.units[l]
            k = int(np.searchsorted(star.diam, i))
            c0, c1 = batch.crossing_offsets[k], batch.crossing_offsets[k + 1]
            got = batch[k]
            np.testing.assert_array_equal(batch.layer[c0:c1], ref.layer)
            np.testing.assert_array_equal(units[c0:c1], ref.unit)
            np.testing.assert_array_equal(got.linear, ref.linear)
            np.testing.assert_allclose(got.t, ref.t, rtol=0, atol=1e-9)


def test_certificate_is_not_vacuous_at_small_radius():
    # at a small radius few units are candidates and many diameters are certified empty
    net = lr.random_mlp(20, [16, 16, 16], biases=lr.Normal(0.1), seed=3)
    X = np.random.default_rng(0).normal(size=(4, 20))
    cert = star_certificate(net, X, 0.05, probe_directions(20, seed=1))
    assert not cert.fallback.any()
    for star in cert.stars.values():
        assert sum(len(k) for k in star.units) < net.num_neurons // 2
        assert star.diam.size < 20
        assert star.net.depth == net.depth and star.Y0.shape == (star.diam.size, star.net.n_in)


def test_zero_bias_centre_falls_back():
    net = lr.random_mlp(5, [8, 8], biases=lr.Zero(), seed=3)
    X = np.vstack([np.zeros(5), np.random.default_rng(0).normal(size=(2, 5))])
    cert = star_certificate(net, X, 0.3, probe_directions(5, seed=0))
    assert cert.fallback[0] and not cert.fallback[1:].any() and set(cert.stars) == {1, 2}


def test_tail_network_gives_the_same_crossings():
    # the first-layer fold (chords and plain diameters): the same crossings at the same t
    net = lr.random_mlp(10, [6, 12], biases=lr.Normal(0.2), seed=5)
    rng = np.random.default_rng(1)
    X0, X1 = rng.normal(size=(8, 10)), rng.normal(size=(8, 10))
    W0, b0 = net.weights[0], net.biases[0]
    got = lr.lines(tail_network(net, 0), X0 @ W0.T + b0, X1 @ W0.T + b0)
    ref = lr.lines(net, X0, X1)
    np.testing.assert_array_equal(got.layer, ref.layer)
    np.testing.assert_array_equal(got.unit, ref.unit)
    np.testing.assert_array_equal(got.linear, ref.linear)
    np.testing.assert_allclose(got.t, ref.t, rtol=0, atol=1e-9)


@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("case", ["leaky_wide_input", "abs_narrow_input", "mnist_like", "hard_tanh_deep"])
def test_fast_path_equals_plain_path(monkeypatch, case, per_neuron):
    rng = np.random.default_rng(11)
    if case == "leaky_wide_input":  # n_0 >= n_in: layer-0 diameters run in input coordinates
        model, X = lr.random_mlp(3, [10, 10, 10], activation=lr.leaky_relu(0.2), seed=4), rng.normal(size=(4, 3))
        radii = [0.1, 1.0]
    elif case == "abs_narrow_input":
        model, X = lr.random_mlp(24, [8, 8], activation=lr.absolute(), biases=lr.Normal(0.5), seed=5), rng.normal(size=(4, 24))
        radii = [0.05, 0.5]
    elif case == "mnist_like":  # the benchmark's shape, small
        model = lr.random_mlp(784, [32] * 4, 10, biases=lr.Normal(1e-3), seed=0)
        X, radii = lr.mnist("test", limit=3).images.astype(np.float64), [0.05]
    else:
        model, X = lr.random_mlp(6, [10] * 5, activation=lr.hard_tanh(), biases=lr.Normal(0.3), seed=6), rng.normal(size=(4, 6))
        radii = [0.2, 2.0]
    a, b = _both(monkeypatch, model, X, radii, n_chords=4, per_neuron=per_neuron, seed=2)
    _assert_same(a, b)
    assert b["probe_crossings_activation"].sum() > 0


def test_fast_path_on_a_compiled_cnn_with_passthrough_units(monkeypatch):
    # a residual CNN compiled to a Network has passthrough units (never switch) in its hidden layers
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 1, 3, padding=1)
            self.head = nn.Linear(25, 3)

        def forward(self, x):
            return self.head((x + self.c2(torch.relu(self.c1(x)))).relu().flatten(1))

    torch.manual_seed(0)
    net = lr.Network.from_torch(Res().double().eval(), input_shape=(1, 5, 5))
    assert net.has_special_units
    X = np.random.default_rng(2).normal(size=(3, 25))
    a, b = _both(monkeypatch, net, X, [0.1, 0.8], n_chords=4, seed=1, columns=("probes", "proxy"))
    _assert_same(a, b)
    assert b["probe_crossings_activation"].sum() > 0


def test_proxy_from_crossings_with_several_breakpoints():
    # hard-tanh-like units (breakpoints 0 and 1, pieces 0..2), x's pieces (1, 1, 0), P = 2 diameters
    pieces = np.array([[1, 1, 0]])
    rows = [  # (diameter, t, unit, breakpoint); t > 1/2 is the + vertex, x is at 1/2
        (0, 0.8, 0, 1), (1, 0.3, 0, 0),  # unit 0: right at vertex 0+, left at 1-: varies
        (1, 0.6, 1, 1), (1, 0.8, 1, 1),  # unit 1: out and back in on 1+: constant
        (0, 0.9, 2, 0), (0, 0.95, 2, 1), (0, 0.2, 2, 0), (1, 0.6, 2, 0), (1, 0.1, 2, 0),  # unit 2: every
    ]  # vertex leaves x's piece, 0+ by two steps: all differ from x, and not all alike: varies
    seg, t, col, bp = (np.array(v) for v in zip(*rows))
    assert proxy_from_crossings(pieces, 2, seg, t, col, bp).tolist() == [[True, False, True]]
