"""Exact re-decision of close decisions (issue 12) against an independent rational oracle.

The oracle below partitions a segment in ``fractions.Fraction`` arithmetic on the float64
parameters, written independently of the library: each neuron's pre-activation is a
piecewise-affine function of t (a list of pieces with rational ends and coefficients), built by
composing the activations piece by piece and summing; the activation boundaries are the points
where some neuron's state (its piece, or "identically on breakpoint j") differs on the two
sides, the linear boundaries those where the output's slope differs.
"""
from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

from linregions.activations import hard_tanh, leaky_relu, relu
from linregions.laws import Normal, random_mlp
from linregions.line import line, lines
from linregions.network import Network

F = Fraction


def _pl_compose(pieces, xi, q, phi):
    """phi o f for a piecewise-affine f given as [(t0, t1, alpha, beta)]; returns the pieces of
    phi(f) and, per piece, the state code of f (2p inside piece p, 2j+1 identically on xi_j)."""
    out, codes = [], []
    for t0, t1, a, b in pieces:
        cuts = {t0, t1}
        if b != 0:
            for x in xi:
                r = (x - a) / b
                if t0 < r < t1:
                    cuts.add(r)
        cuts = sorted(cuts)
        for s0, s1 in zip(cuts[:-1], cuts[1:]):
            mid = (s0 + s1) / 2
            u = a + b * mid
            on = [j for j, x in enumerate(xi) if b == 0 and a == x]
            p = sum(1 for x in xi if u >= x)
            if on:
                j = on[0]
                out.append((s0, s1, phi[j], F(0)))
                codes.append((s0, s1, 2 * j + 1))
            else:
                k = max(p - 1, 0)  # phi(u) = phi(xi_k) + q_p (u - xi_k)
                out.append((s0, s1, phi[k] + q[p] * (a - xi[k]), q[p] * b))
                codes.append((s0, s1, 2 * p))
    return out, codes


def _pl_sum(fs, coeffs, const):
    """sum_i coeffs[i] * fs[i] + const, as pieces on the union of the cuts."""
    cuts = sorted({c for f in fs for (t0, t1, _, _) in f for c in (t0, t1)})
    out = []
    for s0, s1 in zip(cuts[:-1], cuts[1:]):
        mid = (s0 + s1) / 2
        a, b = const, F(0)
        for f, c in zip(fs, coeffs):
            if c == 0:
                continue
            for t0, t1, fa, fb in f:
                if t0 <= mid <= t1:
                    a += c * fa
                    b += c * fb
                    break
        out.append((s0, s1, a, b))
    return out


def _value_at(pieces, t):
    for t0, t1, a, b in pieces:
        if t0 <= t <= t1:
            return a, b
    raise AssertionError


def oracle(net: Network, x0, x1):
    """Exact (activation boundaries, linear boundaries) as sorted lists of Fractions in (0, 1)."""
    x0 = [F(float(v)) for v in np.asarray(x0, float)]
    x1 = [F(float(v)) for v in np.asarray(x1, float)]
    v = [b - a for a, b in zip(x0, x1)]
    W = [[[F(float(w)) for w in row] for row in Wl] for Wl in net.weights]
    B = [[F(float(b)) for b in bl] for bl in net.biases]
    # inputs as pieces on [0, 1]
    prev = [[(F(0), F(1), a, dv)] for a, dv in zip(x0, v)]
    all_codes = []
    for l, act in enumerate(net.activations):
        xi = [F(float(x)) for x in act.breakpoints]
        q = [F(float(s)) for s in act.slopes]
        phi = [F(float(s)) for s in act.values_at_breakpoints]
        layer_u = [_pl_sum(prev, W[l][z], B[l][z]) for z in range(len(B[l]))]
        comp = [_pl_compose(u, xi, q, phi) for u in layer_u]
        prev = [c[0] for c in comp]
        all_codes += [c[1] for c in comp]
    out = [_pl_sum(prev, W[-1][k], B[-1][k]) for k in range(len(B[-1]))]
    cand = sorted({c for f in all_codes + out for (t0, t1, *_) in f for c in (t0, t1)} - {F(0), F(1)})
    act_pts, lin_pts = [], []
    for p in cand:
        lo = max([c for c in cand if c < p] + [F(0)])
        hi = min([c for c in cand if c > p] + [F(1)])
        ml, mr = (lo + p) / 2, (p + hi) / 2
        code_at = lambda f, t: next(c for (t0, t1, c) in f if t0 <= t <= t1)  # noqa: E731
        if any(code_at(f, ml) != code_at(f, mr) for f in all_codes):
            act_pts.append(p)
        if any(_value_at(f, ml)[1] != _value_at(f, mr)[1] for f in out):
            lin_pts.append(p)
    return act_pts, lin_pts


def _tiny_bias_cases(n: int, seed: int, std: float):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        net = random_mlp(2, [5, 5, 5], biases=Normal(std=std), seed=rng)
        x1 = rng.normal(size=2)
        yield net, -x1, x1


def test_oracle_on_a_hand_example():
    # N = relu(x) - relu(x - 1e-20) on [-1, 1]: boundaries at 0 and 1e-20 (t = 1/2 and 1/2 + 5e-21)
    net = Network((np.array([[1.0], [1.0]]), np.array([[1.0, -1.0]])), (np.array([0.0, -1e-20]), np.zeros(1)), (relu(),))
    act, lin = oracle(net, [-1.0], [1.0])
    assert act == lin == [F(1, 2), F(1, 2) + F(1e-20) / 2]


def test_tiny_biases_depth_three_through_origin_exact_counts():
    """Biases ~1e-8 on a depth-3 net, segments through the origin: crossings closer than T_MERGE;
    exact re-decision gives the oracle's counts on every segment."""
    n_diff_float = 0
    cases = list(_tiny_bias_cases(10, 12, 1e-8)) + list(_tiny_bias_cases(6, 13, 1e-7))
    for net, x0, x1 in cases:
        act, lin = oracle(net, x0, x1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fl = line(net, x0, x1, exact=False)
        part = line(net, x0, x1)
        assert part.num_regions("activation") == 1 + len(act)
        assert part.num_regions("linear") == 1 + len(lin)
        assert part.certified
        np.testing.assert_allclose(part.t, [float(p) for p in act], rtol=0, atol=1e-12)
        n_diff_float += fl.num_regions("activation") != part.num_regions("activation")
        if fl.num_regions("activation") != part.num_regions("activation"):
            assert part.exact_windows >= 1
    assert n_diff_float >= 2  # the cases do test something float64 alone gets wrong


def test_float_errors_are_flagged_without_exact():
    """exact=False: wherever float64 alone gets a count wrong, the result says so (close
    decisions counted, a warning naming the count)."""
    wrong = 0
    for net, x0, x1 in _tiny_bias_cases(12, 12, 1e-8):
        act, _ = oracle(net, x0, x1)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            fl = line(net, x0, x1, exact=False)
        if fl.num_regions("activation") != 1 + len(act):
            wrong += 1
            assert fl.close_decisions > 0 and not fl.certified and "close_decisions=" in repr(fl)
            assert any("erased more than rounding noise" in str(w.message) for w in rec)
    assert wrong >= 2


def test_exact_window_separates_points_float_cannot():
    """Two neurons switching 1e-11 apart near x = 0 (t gap 5e-12 < T_MERGE): float64 merges
    them into one point (and says so), exact re-decision separates them."""
    net = Network((np.array([[1.0], [1.0]]), np.array([[1.0, 2.0]])), (np.array([0.0, 1e-11]), np.zeros(1)), (leaky_relu(0.1),))
    act, lin = oracle(net, [-1.0], [1.0])
    assert len(act) == 2 and len(lin) == 2
    with pytest.warns(UserWarning, match="erased"):
        fl = line(net, [-1.0], [1.0], exact=False)
    assert fl.num_regions("activation") == 2 and fl.close_decisions >= 1
    part = line(net, [-1.0], [1.0])
    assert part.num_regions("activation") == 3 and part.num_regions("linear") == 3
    assert part.certified and part.exact_windows == 1
    assert part.unit.tolist() == [1, 0] and part.crossing_point.tolist() == [0, 1] and part.good.all()
    np.testing.assert_allclose(part.t, [float(p) for p in act], rtol=0, atol=1e-16)
    # the affine pieces are N's: dN/dx = 0.3 | 2.1 | 3 (unit 1 switches first), dN/dt = 2 dN/dx
    np.testing.assert_allclose(part.slopes[:, 0], [0.6, 4.2, 6.0], rtol=1e-15)


def test_generic_nets_make_no_close_decisions():
    rng = np.random.default_rng(3)
    net = random_mlp(4, [24, 24, 24], biases=Normal(std=0.5), seed=rng)
    batch = lines(net, rng.normal(size=(20, 4)), rng.normal(size=(20, 4)))
    assert batch.certified.all() and not batch.exact_windows.any()


@pytest.mark.parametrize("act", [relu(), hard_tanh()])
def test_exact_matches_oracle_on_moderate_biases(act):
    """Generic small nets: float result, exact oracle and re-decided result agree."""
    rng = np.random.default_rng(5)
    for _ in range(4):
        net = random_mlp(3, [4, 4], activation=act, biases=Normal(std=0.3), seed=rng)
        x0, x1 = rng.normal(size=3), rng.normal(size=3)
        a, lnr = oracle(net, x0, x1)
        part = line(net, x0, x1)
        assert part.num_regions("activation") == 1 + len(a) and part.num_regions("linear") == 1 + len(lnr)
        np.testing.assert_allclose(part.t, [float(p) for p in a], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["hard_sigmoid", "custom3", "prelu_passthrough"])
def test_exact_window_on_whole_segments_agrees_with_float_on_generic_nets(kind):
    """``exact.window`` over all of [0, 1] is the float partition where float64 is not close:
    several breakpoints, per-unit slopes and passthrough units go through the exact engine."""
    from linregions.activations import PiecewiseLinear, hard_sigmoid
    from linregions.exact import window

    rng = np.random.default_rng(8)
    act = hard_sigmoid() if kind == "hard_sigmoid" else PiecewiseLinear([-1.0, 0.5, 2.0], [0.3, -1.0, 2.0, 0.5], 0.2)
    for _ in range(2):
        net = random_mlp(3, [5, 4, 3], 2, activation=act, biases=Normal(std=0.7), seed=rng)
        if kind == "prelu_passthrough":
            kinds = (np.zeros(5, np.int8), np.array([1, 0, 1, 0], np.int8), np.zeros(3, np.int8))
            prelu = PiecewiseLinear([0.0], rng.uniform(-1, 1, (5, 2)) + np.array([0.0, 2.0]), 0.0)
            net = Network(net.weights, net.biases, (prelu,) + net.activations[1:], kinds)
        x0, x1 = rng.normal(size=3) * 2, rng.normal(size=3) * 2
        part, w = line(net, x0, x1), window(net, x0, x1, 0.0, 1.0)
        assert part.certified and len(w.t) == part.t.size
        np.testing.assert_allclose([float(v) for v in w.t], part.t, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(w.linear, part.linear)
        np.testing.assert_allclose(w.slopes, part.slopes, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(w.intercepts, part.intercepts, rtol=1e-10, atol=1e-12)


def _assert_line_is_the_window(net, x0, x1):
    """``line`` (warnings of close decisions silenced) against ``exact.window`` over all of [0, 1]:
    the same points, to 1e-9 in t, and the same linear-region boundaries."""
    from linregions.exact import window

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        part = line(net, x0, x1)
    w = window(net, x0, x1, 0.0, 1.0, max_ops=10**9)
    assert len(w.t) == part.t.size
    np.testing.assert_allclose([float(v) for v in w.t], part.t, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(w.linear, part.linear)


@pytest.mark.parametrize("case", ["zero_bias_through_origin", "duplicated_and_cancelling", "generic"])
def test_wide_layers_match_the_exact_window(case):
    """Layers wide enough for the extension of values and tangents to inserted points
    (``_kernels_line.EXTEND_MIN_FANIN``), on degenerate arrangements too: zero biases on a segment
    through the origin (every layer's crossings at one point), half of a layer duplicating the
    other half with cancelling output weights, and generic nets, with ReLU, hard tanh and |x|.
    Oracle: ``exact.window`` over all of [0, 1] (rational arithmetic on the float64 parameters):
    the same points, to 1e-9 in t, and the same linear-region boundaries."""
    from linregions._kernels_line import EXTEND_MIN_FANIN
    from linregions.activations import absolute
    from linregions.laws import Zero

    rng = np.random.default_rng({"zero_bias_through_origin": 1, "duplicated_and_cancelling": 2, "generic": 3}[case])
    for act in (relu(), hard_tanh(), absolute()):
        for _ in range(2):
            x0, x1 = rng.normal(size=3) * 2, rng.normal(size=3) * 2
            if case == "zero_bias_through_origin":
                net = random_mlp(3, [72, 72], 2, activation=act, biases=Zero(), seed=rng)
                x0 = -x1
            elif case == "duplicated_and_cancelling":
                net = random_mlp(3, [70, 70], 1, activation=act, biases=Normal(std=0.3), seed=rng)
                (W0, W1, W2), (b0, b1, b2) = net.weights, net.biases
                W1, b1, W2 = W1.copy(), b1.copy(), W2.copy()
                W1[35:], b1[35:], W2[:, 35:] = W1[:35], b1[:35], -W2[:, :35]
                net = Network((W0, W1, W2), (b0, b1, b2), net.activations)
            else:
                net = random_mlp(3, [80, 80, 80], 2, activation=act, biases=Normal(std=0.2), seed=rng)
            assert min(net.widths) >= EXTEND_MIN_FANIN
            _assert_line_is_the_window(net, x0, x1)


def _near_degenerate_cases(rounds: int):
    """Wide ReLU / hard tanh / |x| nets with biases of std 1e-9, 1e-11 and 1e-13 on segments
    passing 1e-10 from the origin, ``rounds`` rounds of nine from one seed: (round, activation
    name, std, net, x0, x1)."""
    from linregions.activations import absolute

    rng = np.random.default_rng(7)
    for r in range(rounds):
        n_in = int(rng.integers(1, 5))
        for act in (relu(), hard_tanh(), absolute()):
            for std in (1e-9, 1e-11, 1e-13):
                net = random_mlp(n_in, [70, 70], 2, activation=act, biases=Normal(std=std), seed=rng)
                x1 = rng.normal(size=n_in)
                yield r, act.name, std, net, -x1 + rng.normal(size=n_in) * 1e-10, x1


def test_wide_layers_after_merged_crossings_match_the_exact_window():
    """Biases of 1e-9 to 1e-13 and a segment passing 1e-10 from the origin: many crossings of a
    layer fall within ``T_MERGE`` of each other and are merged into one point. The merged kinks
    are invisible to the state codes, so after a merge the next layers' values come from the
    product at every point, not from the extension; with the extension there, values after the
    cluster carried the merged kinks' offsets and a spurious crossing appeared 2e-8 after it
    while the result still claimed to be certified. Oracle: ``exact.window`` over [0, 1]."""
    for _, _, _, net, x0, x1 in _near_degenerate_cases(2):
        _assert_line_is_the_window(net, x0, x1)


@pytest.mark.parametrize("case", [(13, "relu", 1e-13), (27, "relu", 1e-11)])
def test_certified_points_past_the_window_of_a_snapped_cluster(case):
    """n_in = 1, tiny biases, a segment 1e-10 from the origin: every first-layer unit crosses
    within ~1e-13 of t = 0.5 (merged; hundreds of close decisions without ``exact``). Float errors
    carried past such a cluster reach beyond the window re-decided around it: in the first case a
    float crossing of layer 1 at t = 0.50000289 that exact arithmetic puts inside the cluster, in
    the second the window's end falling between the exact crossing of a unit (t = 0.50000002) and
    its float one (t = 0.50000004), which was then counted twice. Both results claimed to be
    certified (one point too many) until float points outside the windows were checked against
    fresh forward passes (``redecide._unreliable_points``) and the windows grown over the ones
    contradicted. Oracle: ``exact.window`` over [0, 1]; the result must be certified and equal."""
    net, x0, x1 = next(c[3:] for c in _near_degenerate_cases(case[0] + 1) if c[:3] == case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert line(net, x0, x1).certified
    _assert_line_is_the_window(net, x0, x1)


def test_unreliable_points_are_the_contradicted_crossings():
    """``_unreliable_points`` flags exactly the kept points whose recorded crossings are not the
    units whose codes differ between fresh forward passes at the midpoints around them: none on
    a correct partition; a crossing moved to another point, a crossing dropped and a spurious
    one added are each caught at the points they touch."""
    import dataclasses

    from linregions.line.redecide import _unreliable_points

    net = random_mlp(2, [12, 12], seed=3)
    part = line(net, [-1.0, -1.0], [1.0, 1.0])
    assert part.t.size > 6 and _unreliable_points(net, part).size == 0
    order = np.argsort(part.crossing_point, kind="stable")
    cp = part.crossing_point.copy()
    j = int(np.nonzero(np.bincount(cp) == 1)[0][2])  # a point with a single crossing
    moved = cp.copy()
    moved[cp == j] = j + 1 if j + 1 < part.t.size else j - 1  # its crossing recorded at a neighbour
    bad = dataclasses.replace(part, crossing_point=moved)
    np.testing.assert_array_equal(_unreliable_points(net, bad), part.t[sorted({j, int(moved[cp == j][0])})])
    keep = cp != j  # dropped: the codes still differ at j
    dropped = dataclasses.replace(part, crossing_point=cp[keep], layer=part.layer[keep], unit=part.unit[keep],
                                  breakpoint=part.breakpoint[keep], good=part.good[keep])
    np.testing.assert_array_equal(_unreliable_points(net, dropped), part.t[[j]])
    k = int(order[0])  # a spurious extra crossing: another unit at point cp[k]
    extra_unit = (part.unit[k] + 1) % 12
    spurious = dataclasses.replace(part, crossing_point=np.append(cp, cp[k]), layer=np.append(part.layer, part.layer[k]),
                                   unit=np.append(part.unit, extra_unit), breakpoint=np.append(part.breakpoint, 0),
                                   good=np.append(part.good, True))
    np.testing.assert_array_equal(_unreliable_points(net, spurious), part.t[[cp[k]]])
