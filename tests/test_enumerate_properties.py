"""Property-based tests (hypothesis, fixed derandomized profile) of ``complex_in_box``: invariants
every exact partition keeps, on random small networks of every kind of activation, degenerate
biases included (zero biases: all first-layer hyperplanes through the origin).

- the regions tile the box: their volumes sum to its volume;
- linear regions never outnumber activation regions (they are unions of activation regions), and
  the linear boundary is part of the activation boundary;
- a function that is constant in exact arithmetic has exactly one linear region, also when it is
  written with units whose contributions cancel only up to rounding.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linregions import Network, Normal, Zero, absolute, hard_tanh, leaky_relu, random_mlp, relu
from linregions.enumerate import complex_in_box

PROFILE = settings(derandomize=True, max_examples=30, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])

_ACTIVATIONS = {"relu": relu, "leaky_relu": lambda: leaky_relu(0.1), "hard_tanh": hard_tanh, "abs": absolute}
#: activations with phi(c u) = c phi(u) for c > 0 (scaled duplicates of a unit are the same unit)
_HOMOGENEOUS = ("relu", "leaky_relu", "abs")


@st.composite
def boxes(draw, n):
    centre = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n)))
    half = np.array(draw(st.lists(st.floats(0.05, 2.0), min_size=n, max_size=n)))
    return centre - half, centre + half


@st.composite
def networks(draw):
    n = draw(st.integers(1, 4))
    depth = draw(st.integers(1, 2))
    widths = draw(st.lists(st.integers(1, 5 if n == 4 else 7), min_size=depth, max_size=depth))
    bias = draw(st.sampled_from([0.0, 1e-6, 0.1, 1.0]))
    act = _ACTIVATIONS[draw(st.sampled_from(sorted(_ACTIVATIONS)))]()
    seed = draw(st.integers(0, 2**16))
    net = random_mlp(n, widths, activation=act, biases=Zero() if bias == 0 else Normal(std=bias), seed=seed)
    return net, draw(boxes(n))


@PROFILE
@given(networks())
def test_regions_tile_the_box_and_linear_regions_are_unions(case):
    net, (low, high) = case
    cx = complex_in_box(net, low, high)
    box = float(np.prod(high - low))
    assert np.all(cx.region_volume > 0)
    assert abs(cx.region_volume.sum() - box) <= 1e-9 * box
    assert 1 <= cx.num_regions("linear") <= cx.num_regions("activation")
    # every linear boundary facet is an activation boundary facet
    assert np.all(cx.in_boundary(1, "linear") <= cx.in_boundary(1, "activation"))
    assert cx.volume(1, "linear") <= cx.volume(1, "activation") * (1 + 1e-12)


@st.composite
def constant_networks(draw):
    """N(x) = c0 + sum_i v_i phi(u_i(a)) - sum_i (v_i / c_i) phi(c_i u_i(a)) with c_i > 0 and phi
    positively homogeneous: constant in exact arithmetic, rounding noise in float64 (the scaled
    copies are computed with other roundings). ``a`` is x, or a random hidden layer of x."""
    n = draw(st.integers(1, 4))
    k = draw(st.integers(1, 4))
    act_name = draw(st.sampled_from(_HOMOGENEOUS))
    act = _ACTIVATIONS[act_name]()
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    zero_bias = draw(st.booleans())
    Ws, bs, acts = [], [], []
    m = n
    if draw(st.booleans()):  # a random layer below (any activation)
        below = random_mlp(n, [5], activation=_ACTIVATIONS[draw(st.sampled_from(sorted(_ACTIVATIONS)))](), seed=seed)
        Ws.append(below.weights[0]), bs.append(below.biases[0]), acts.append(below.activations[0])
        m = 5
    W = rng.normal(size=(k, m))
    b = np.zeros(k) if zero_bias else rng.normal(scale=0.5, size=k)
    c = rng.uniform(0.25, 4.0, size=k)
    v = rng.normal(size=k)
    Ws += [np.vstack([W, c[:, None] * W]), np.concatenate([v, -v / c])[None]]
    bs += [np.concatenate([b, c * b]), np.array([rng.normal()])]
    acts.append(act)
    return Network(tuple(Ws), tuple(bs), tuple(acts)), draw(boxes(n))


@PROFILE
@given(constant_networks())
def test_constant_function_has_one_linear_region(case):
    net, (low, high) = case
    X = np.random.default_rng(0).uniform(low, high, size=(64, low.size))
    assert np.ptp(net(X)) <= 1e-12 * (1 + np.abs(net(X)).max())  # the oracle: N is constant
    cx = complex_in_box(net, low, high)
    assert cx.num_regions("linear") == 1
    assert cx.volume(1, "linear") == 0.0
    assert abs(cx.region_volume.sum() - np.prod(high - low)) <= 1e-9 * np.prod(high - low)


@st.composite
def relu_twins(draw):
    """A ReLU network and the same network with hard_tanh(0, M), M >= 1e4: the two activations
    agree wherever u < M, which holds on the box, so the two complexes are the same."""
    n = draw(st.integers(2, 4))
    widths = draw(st.lists(st.integers(1, 5 if n == 4 else 6), min_size=1, max_size=2))
    bias = draw(st.sampled_from([0.0, 1e-7, 1e-6, 1e-3, 0.1]))
    seed = draw(st.integers(0, 2**16))
    far = 10.0 ** draw(st.integers(4, 8))
    net = random_mlp(n, widths, biases=Zero() if bias == 0 else Normal(std=bias), seed=seed)
    twin = Network(net.weights, net.biases, tuple(hard_tanh(0.0, far) for _ in widths))
    return net, twin, draw(boxes(n))


@PROFILE
@given(relu_twins())
def test_activation_equal_to_relu_on_the_box_gives_relus_complex(case):
    net, twin, (low, high) = case
    a, b = complex_in_box(net, low, high), complex_in_box(twin, low, high)
    for kind in ("activation", "linear"):
        assert a.num_regions(kind) == b.num_regions(kind)
        np.testing.assert_allclose(a.volumes(kind), b.volumes(kind), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.bincount(a.face_dim), np.bincount(b.face_dim))
