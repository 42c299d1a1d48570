"""Property-based tests (hypothesis, fixed derandomized profile) of the invariants every planar
partition keeps: a constant function has one linear region; an activation that equals ReLU on the
domain gives ReLU's partition; areas sum to the domain and the Euler characteristic is 1; linear
regions never outnumber activation regions; faces' codes are the patterns at their points; the
partition is invariant to scaling a hidden unit (and its outgoing weights by the inverse) by c > 0
and to permuting units."""
from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linregions.activations import PiecewiseLinear, absolute, hard_tanh, leaky_relu, relu, soft_shrink
from linregions.laws import Normal, Uniform, Zero, random_mlp
from linregions.network import Network
from linregions.plane import plane

SQUARE = (-1.0, 1.0, -1.0, 1.0)
FIXED = settings(derandomize=True, max_examples=25, deadline=None, database=None)


def _many_breakpoints(T: int) -> PiecewiseLinear:
    xi = np.linspace(-3.0, 3.0, T)
    q = np.where(np.arange(T + 1) % 2 == 0, 1.0, 0.3) + 0.01 * np.arange(T + 1)
    return PiecewiseLinear(xi, q, value=0.0, name=f"zigzag{T}")


ACTIVATIONS = {
    "relu": relu, "leaky": lambda: leaky_relu(0.1), "abs": absolute, "hardtanh": hard_tanh,
    "softshrink": lambda: soft_shrink(0.3), "zigzag70": lambda: _many_breakpoints(70),
}
HOMOGENEOUS = ("relu", "leaky", "abs")  # phi(c u) = c phi(u) for c > 0
BIASES = {"normal": Normal(0.3), "small": Normal(1e-3), "tiny": Normal(1e-6), "zero": Zero(), "uniform": Uniform(-0.5, 0.5)}

nets = st.fixed_dictionaries({
    "widths": st.lists(st.integers(2, 6), min_size=1, max_size=3),
    "act": st.sampled_from(sorted(ACTIVATIONS)),
    "bias": st.sampled_from(sorted(BIASES)),
    "seed": st.integers(0, 2**16),
})


def _net(p, act: str | None = None) -> Network:
    name = act or p["act"]
    widths = p["widths"] if name != "zigzag70" else p["widths"][:2]  # keep many-breakpoint nets small
    base = random_mlp(2, widths, 1, biases=BIASES[p["bias"]], seed=p["seed"])
    return Network(base.weights, base.biases, tuple(ACTIVATIONS[name]() for _ in widths))


def _plane(net):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # close decisions in degenerate draws
        return plane(net, np.zeros(2), np.eye(2), SQUARE)


def _watertight(part) -> None:
    assert part.watertight
    assert part.euler_characteristic() == 1
    assert np.all(part.edge_faces[part.interior] >= 0)
    assert abs(part.face_areas.sum() - 4.0) <= 4e-9
    assert abs(part.areas("linear").sum() - 4.0) <= 4e-9


@FIXED
@given(nets, st.floats(0.1, 3.0), st.floats(-2.0, 2.0))
def test_constant_function_has_one_linear_region(p, v, c):
    """Duplicate the last hidden layer with output weights v and -v: N = c everywhere."""
    net = _net(p)
    W, b = list(net.weights), list(net.biases)
    W[-2] = np.concatenate([W[-2], W[-2]])
    b[-2] = np.concatenate([b[-2], b[-2]])
    n = net.widths[-1]
    w_out = v * np.linspace(0.5, 1.5, n)
    W[-1] = np.concatenate([w_out, -w_out])[None]
    b[-1] = np.array([c])
    const = Network(tuple(W), tuple(b), net.activations)
    part = _plane(const)
    _watertight(part)
    assert part.num_regions("linear") == 1
    assert part.boundary_length("linear") == 0.0


@FIXED
@given(nets, st.sampled_from([1e3, 1e6, 1e9]))
def test_relu_equivalent_activation_gives_relus_partition(p, top):
    """hard tanh on [0, top] equals ReLU wherever u < top (all of the square for these nets)."""
    net = _net(p, "relu")
    assert max(np.abs(u).max() for u in net.pre_activations(np.array([[1.0, 1], [1, -1], [-1, 1], [-1, -1]]))) < 1e2
    eq = Network(net.weights, net.biases, tuple(hard_tanh(0.0, top) for _ in net.activations))
    pr, pe = _plane(net), _plane(eq)
    _watertight(pe)
    assert pe.num_regions("activation") == pr.num_regions("activation")
    assert pe.num_regions("linear") == pr.num_regions("linear")
    assert np.allclose(np.sort(pe.face_areas), np.sort(pr.face_areas), rtol=0, atol=1e-12)


@FIXED
@given(nets)
def test_watertight_counts_and_codes(p):
    """Areas sum to the domain, Euler characteristic 1, linear <= activation regions, and every
    face's codes are the pattern at a point inside it (computed from the pre-activations)."""
    net = _net(p)
    part = _plane(net)
    _watertight(part)
    assert 1 <= part.num_regions("linear") <= part.num_regions("activation")
    X = part.to_input(part.interior_points)
    us = net.pre_activations(X)
    codes = part.activation_codes()
    for l, act in enumerate(net.activations):
        c = codes[l].astype(np.int64)
        on = c % 2 == 1  # a neuron constant on its breakpoint over the face (zero biases)
        oracle = 2 * np.searchsorted(act.breakpoints, us[l], side="right")
        assert np.array_equal(c[~on], oracle[~on])
        assert np.all(np.abs(us[l][on] - act.breakpoints[c[on] // 2]) <= 1e-9)


def _signature(part):
    return (part.num_regions("activation"), part.num_regions("linear"), np.sort(part.face_areas),
            part.boundary_length("activation"), part.boundary_length("linear"))


def _same(a, b) -> None:
    assert a[0] == b[0] and a[1] == b[1]
    assert np.allclose(a[2], b[2], rtol=0, atol=1e-12)
    assert np.isclose(a[3], b[3], rtol=1e-9) and np.isclose(a[4], b[4], rtol=1e-9)


@FIXED
@given(nets.filter(lambda p: p["act"] in HOMOGENEOUS and p["bias"] != "zero"), st.data())
def test_invariant_to_scaling_a_unit(p, data):
    net = _net(p)
    l = data.draw(st.integers(0, net.depth - 1))
    j = data.draw(st.integers(0, net.widths[l] - 1))
    c = data.draw(st.floats(0.05, 20.0))
    W, b = [w.copy() for w in net.weights], [x.copy() for x in net.biases]
    W[l][j] *= c
    b[l][j] *= c
    W[l + 1][:, j] /= c
    scaled = Network(tuple(W), tuple(b), net.activations)
    _same(_signature(_plane(net)), _signature(_plane(scaled)))


@FIXED
@given(nets.filter(lambda p: p["bias"] != "zero"), st.data())
def test_invariant_to_permuting_units(p, data):
    net = _net(p)
    l = data.draw(st.integers(0, net.depth - 1))
    perm = np.array(data.draw(st.permutations(range(net.widths[l]))))
    W, b = list(net.weights), list(net.biases)
    W[l], b[l] = W[l][perm], b[l][perm]
    W[l + 1] = W[l + 1][:, perm]
    permuted = Network(tuple(W), tuple(b), net.activations)
    a, q = _plane(net), _plane(permuted)
    _same(_signature(a), _signature(q))
    # the boundary of each neuron moves with it
    inv = np.argsort(perm)
    bl_a = a.boundary_length("activation", by="neuron")
    bl_q = q.boundary_length("activation", by="neuron")
    ids = net.neuron_ids
    start = int(np.sum(ids[:, 0] < l))
    idx = np.arange(ids.shape[0])
    idx[start : start + net.widths[l]] = start + inv
    assert np.allclose(bl_q[idx], bl_a, rtol=1e-9, atol=1e-12)
