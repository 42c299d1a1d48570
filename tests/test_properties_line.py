"""Property-based tests (hypothesis, fixed profile) of the invariants every 1D partition keeps
(issue 12): constant functions, activations equal to ReLU on the domain, invariance to positive
rescaling and permutation of hidden units, batching, and linear <= activation regions."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linregions.activations import PiecewiseLinear, hard_tanh, leaky_relu, relu
from linregions.laws import Normal, random_mlp
from linregions.line import line, lines
from linregions.network import Network

PROFILE = settings(derandomize=True, max_examples=25, deadline=None, database=None)
FIELDS = ("t", "linear", "crossing_point", "layer", "unit", "breakpoint", "good")

seeds = st.integers(0, 2**32 - 1)
widths = st.lists(st.integers(1, 7), min_size=1, max_size=3)
bias_std = st.sampled_from([0.0, 1e-3, 0.3, 1.0])


def _net(seed: int, n_in: int, ws: list[int], std: float, activation=None) -> Network:
    from linregions.laws import Zero

    return random_mlp(n_in, ws, activation=activation or relu(), biases=Normal(std=std) if std else Zero(), seed=seed)


def _segment(seed: int, n_in: int, through_origin: bool):
    rng = np.random.default_rng(seed + 1)
    x1 = rng.normal(size=n_in) * 2
    return (-x1, x1) if through_origin else (rng.normal(size=n_in) * 2, x1)


@PROFILE
@given(seeds, st.integers(1, 3), widths, bias_std, st.booleans(), st.floats(-2, 2))
def test_constant_function_has_one_linear_region(seed, n_in, ws, std, origin, c):
    """N = c + v . phi(h) - v . phi(h): the last hidden layer duplicated with cancelling output
    weights (the cancelling neurons of issue 12, finding 1)."""
    base = _net(seed, n_in, ws, std)
    W, b = base.weights, base.biases
    v = np.random.default_rng(seed).normal(size=(1, W[-2].shape[0]))
    net = Network(W[:-2] + (np.vstack([W[-2], W[-2]]), np.hstack([v, -v])),
                  b[:-2] + (np.concatenate([b[-2], b[-2]]), np.array([c])), base.activations)
    part = line(net, *_segment(seed, n_in, origin))
    assert part.num_regions("linear") == 1
    assert np.abs(part.slopes).max() <= 1e-12 * (1 + np.abs(v).sum())


@PROFILE
@given(seeds, st.integers(1, 3), widths, st.sampled_from([0.0, 1e-7, 1e-5, 1e-3, 0.3]), st.booleans(),
       st.sampled_from(["hardtanh", "relu_then_steeper"]))
def test_activation_equal_to_relu_on_the_domain_gives_relus_partition(seed, n_in, ws, std, origin, kind):
    """A second breakpoint at 1e6, beyond every pre-activation, changes nothing (finding 2)."""
    net_r = _net(seed, n_in, ws, std)
    far = hard_tanh(0.0, 1e6) if kind == "hardtanh" else PiecewiseLinear([0.0, 1e6], [0.0, 1.0, 2.0], 0.0)
    net_f = Network(net_r.weights, net_r.biases, (far,) * len(ws))
    x0, x1 = _segment(seed, n_in, origin)
    assert max(np.abs(u).max() for u in net_r.pre_activations(np.stack([x0, x1]))[:-1]) < 1e5
    a, b = line(net_r, x0, x1), line(net_f, x0, x1)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


def _rescale(net: Network, l: int, z: int, c: float) -> Network:
    Ws, bs = [W.copy() for W in net.weights], [b.copy() for b in net.biases]
    Ws[l][z] *= c
    bs[l][z] *= c
    Ws[l + 1][:, z] /= c
    return Network(tuple(Ws), tuple(bs), net.activations)


def _permute(net: Network, l: int, perm: np.ndarray) -> Network:
    Ws, bs = list(net.weights), list(net.biases)
    Ws[l], bs[l] = Ws[l][perm], bs[l][perm]
    Ws[l + 1] = Ws[l + 1][:, perm]
    return Network(tuple(Ws), tuple(bs), net.activations)


@PROFILE
@given(seeds, st.integers(1, 3), widths, st.sampled_from([0.3, 1.0]), st.integers(-4, 4), st.floats(0.1, 10.0),
       st.sampled_from(["relu", "leaky"]))
def test_invariant_to_positive_rescaling_of_a_unit(seed, n_in, ws, std, k, c, act):
    """phi(c u) = c phi(u) for c > 0 (ReLU, leaky ReLU): scaling a unit's incoming weights and
    bias by c and its outgoing weights by 1/c leaves N and its partition unchanged; for c = 2^k
    the float64 computation is the same up to exact scalings, so the result is identical."""
    phi = relu() if act == "relu" else leaky_relu(0.2)
    net = _net(seed, n_in, ws, std, phi)
    rng = np.random.default_rng(seed + 2)
    l = int(rng.integers(len(ws)))
    z = int(rng.integers(ws[l]))
    x0, x1 = _segment(seed, n_in, False)
    ref = line(net, x0, x1)
    exact = line(_rescale(net, l, z, 2.0**k), x0, x1)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(ref, f), getattr(exact, f), err_msg=f)
    other = line(_rescale(net, l, z, c), x0, x1)
    assert other.num_regions("linear") == ref.num_regions("linear")
    assert other.num_regions("activation") == ref.num_regions("activation")
    np.testing.assert_allclose(other.t, ref.t, rtol=0, atol=1e-9)
    np.testing.assert_allclose(other.slopes, ref.slopes, rtol=1e-9, atol=1e-9)


@PROFILE
@given(seeds, st.integers(1, 3), widths, st.sampled_from([0.3, 1.0]), st.sampled_from(["relu", "hardtanh"]))
def test_invariant_to_permuting_units(seed, n_in, ws, std, act):
    net = _net(seed, n_in, ws, std, relu() if act == "relu" else hard_tanh())
    rng = np.random.default_rng(seed + 3)
    l = int(rng.integers(len(ws)))
    perm = rng.permutation(ws[l])
    x0, x1 = _segment(seed, n_in, False)
    ref, per = line(net, x0, x1), line(_permute(net, l, perm), x0, x1)
    assert per.num_regions("linear") == ref.num_regions("linear")
    assert per.num_regions("activation") == ref.num_regions("activation")
    np.testing.assert_allclose(per.t, ref.t, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(per.linear, ref.linear)
    # the same neurons switch at each point, renamed by the permutation
    units = per.unit.copy()
    m = per.layer == l
    units[m] = perm[per.unit[m]]  # unit z of the permuted net is unit perm[z] of the original
    key = lambda p, u: sorted(zip(p.crossing_point.tolist(), p.layer.tolist(), u.tolist()))  # noqa: E731
    assert key(per, units) == key(ref, ref.unit)


@PROFILE
@given(seeds, st.integers(1, 4), widths, bias_std, st.integers(1, 6))
def test_lines_equals_line_on_every_segment_and_linear_at_most_activation(seed, n_in, ws, std, S):
    net = _net(seed, n_in, ws, std, [relu(), hard_tanh(), leaky_relu(0.1)][seed % 3])
    rng = np.random.default_rng(seed + 4)
    X0, X1 = rng.normal(size=(S, n_in)), rng.normal(size=(S, n_in))
    X0[0] = -X1[0]  # one segment through the origin (all zero-bias hyperplanes meet there)
    batch = lines(net, X0, X1)
    assert np.all(batch.num_regions("linear") <= batch.num_regions("activation"))
    for i in range(S):
        single = line(net, X0[i], X1[i])
        for f in FIELDS + ("slopes", "intercepts"):
            np.testing.assert_array_equal(getattr(batch[i], f), getattr(single, f), err_msg=f)
        assert single.num_regions("linear") <= single.num_regions("activation")
