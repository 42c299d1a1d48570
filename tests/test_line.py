"""Exact 1D partitions (``line``, ``lines``, ``real_line``) against independent oracles.

Oracles used here, none of which shares code with the layer-by-layer splitting in
``linregions.line``:

- brute force: enumerate every activation pattern of a tiny network; with the pattern fixed the
  network is affine in t, so the set of t where the pattern holds is an interval obtained by
  solving one linear inequality per neuron (``brute_force``);
- dense sampling: activation patterns (``Network.activation_pattern``) and the output's slope
  (``Network.jacobian`` times the direction) on a fine grid, on segments whose exact breakpoints
  are checked to be far apart compared with the grid step, so every grid cell holds at most one;
- local probes: the pattern at random interior points of every reported interval, and on both
  sides of every reported point;
- closed forms: one hidden layer, and positive homogeneity of zero-bias ReLU/abs networks.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from linregions.activations import PiecewiseLinear, absolute, hard_sigmoid, hard_tanh, leaky_relu, relu, relu6, soft_shrink
from linregions.laws import Normal, Uniform, Zero, random_mlp
from linregions.line import LineBatch, LinePartition, line, lines, real_line
from linregions.network import Network

ACTIVATIONS = {
    "relu": relu(),
    "leaky_relu": leaky_relu(0.2),
    "hard_tanh": hard_tanh(),
    "abs": absolute(),
    "relu6": relu6(),
    "hard_sigmoid": hard_sigmoid(),
    "soft_shrink": soft_shrink(0.3),
    "custom": PiecewiseLinear([-0.5, 0.2, 0.9], [0.3, -1.0, 0.5, 0.0], value=0.1, name="custom"),
}

#: Relative size of a slope change the oracles call a jump. Slopes are products of O(1) weights,
#: computed here in float64 with errors ~1e-15; real jumps are O(1).
ORACLE_JUMP = 1e-7


# ----------------------------------------------------------------------------------------------
# oracles


def _flat_pattern(net: Network, X: np.ndarray) -> np.ndarray:
    return np.concatenate(net.activation_pattern(X), axis=1)


def _neuron_list(net: Network) -> list[tuple[int, int]]:
    return [(l, z) for l in range(net.depth) for z in range(net.widths[l])]


def brute_force(net: Network, x0, x1, lo: float = 0.0, hi: float = 1.0):
    """Activation regions of t in [lo, hi] (x = x0 + t (x1 - x0)) by enumerating patterns.

    Returns a list of (t_start, t_end, pattern (n_neurons,), output slope (n_out,)) sorted by t.
    ``lo``/``hi`` may be infinite.
    """
    x0, v = np.asarray(x0, float), np.asarray(x1, float) - np.asarray(x0, float)
    counts = [net.activations[l].T + 1 for l in range(net.depth) for _ in range(net.widths[l])]
    pats = np.array(list(itertools.product(*[range(c) for c in counts])), dtype=np.int64)
    P = pats.shape[0]
    tlo, thi = np.full(P, lo), np.full(P, hi)
    A0, A1 = np.broadcast_to(x0, (P, x0.size)), np.broadcast_to(v, (P, v.size))
    col = 0
    for l in range(net.depth):
        W, b, act = net.weights[l], net.biases[l], net.activations[l]
        w = W.shape[0]
        u0, u1 = A0 @ W.T + b, A1 @ W.T
        p = pats[:, col : col + w]
        col += w
        xi = np.concatenate([[-np.inf], act.breakpoints, [np.inf]])
        lower, upper = xi[p], xi[p + 1]  # piece p is [xi_p, xi_{p+1}] with xi_0 = -inf
        with np.errstate(divide="ignore", invalid="ignore"):
            r_lo, r_hi = (lower - u0) / u1, (upper - u0) / u1
        pos, neg, flat = u1 > 0, u1 < 0, u1 == 0
        tlo = np.maximum(tlo, np.max(np.where(pos, r_lo, np.where(neg, r_hi, -np.inf)), axis=1))
        thi = np.minimum(thi, np.min(np.where(pos, r_hi, np.where(neg, r_lo, np.inf)), axis=1))
        infeasible = np.any(flat & ((u0 < lower) | (u0 > upper)), axis=1)
        tlo[infeasible], thi[infeasible] = np.inf, -np.inf
        q = act.slopes[p] if not act.per_unit else act.slopes[np.arange(w), p]
        ref = np.where(p == 0, 0, p - 1)  # affine piece p written around breakpoint ref
        phi_ref = act.values_at_breakpoints[ref] if not act.per_unit else act.values_at_breakpoints[np.arange(w), ref]
        A0 = phi_ref + q * (u0 - act.breakpoints[ref])
        A1 = q * u1
    slope = A1 @ net.weights[-1].T
    width = thi - tlo
    scale = 1.0 if not np.isfinite(hi - lo) else hi - lo
    keep = width > 1e-12 * scale
    idx = np.nonzero(keep)[0]
    idx = idx[np.argsort(tlo[idx])]
    return [(tlo[i], thi[i], pats[i], slope[i]) for i in idx]


def brute_breakpoints(regions) -> tuple[np.ndarray, np.ndarray, list[set]]:
    """Breakpoint t's, linear flags and the set of switching neurons (flat ids) at each."""
    ts, lin, sets = [], [], []
    for (a0, a1, pa, sa), (b0, b1, pb, sb) in zip(regions[:-1], regions[1:]):
        ts.append(b0)
        lin.append(np.linalg.norm(sa - sb) > ORACLE_JUMP * (np.linalg.norm(sa) + np.linalg.norm(sb) + 1e-300))
        sets.append(set(np.nonzero(pa != pb)[0].tolist()))
    return np.array(ts), np.array(lin, bool), sets


def crossing_sets(net: Network, part: LinePartition) -> list[set]:
    """Flat neuron ids of the crossings reported at each point of a partition."""
    offsets = np.concatenate([[0], np.cumsum(net.widths)])
    sets = [set() for _ in range(part.t.size)]
    for p, l, z in zip(part.crossing_point, part.layer, part.unit):
        sets[p].add(int(offsets[l] + z))
    return sets


def dense_oracle(net: Network, x0, x1, grid: int):
    """Grid cells (index i: [t_i, t_{i+1}]) where the activation pattern / the output slope change."""
    x0, x1 = np.asarray(x0, float), np.asarray(x1, float)
    tg = np.linspace(0.0, 1.0, grid + 1)
    X = x0 + tg[:, None] * (x1 - x0)
    pat = _flat_pattern(net, X)
    act_cells = np.nonzero(np.any(pat[1:] != pat[:-1], axis=1))[0]
    dN = net.jacobian(X) @ (x1 - x0)  # (G, n_out)
    jump = np.linalg.norm(dN[1:] - dN[:-1], axis=1)
    lin_cells = np.nonzero(jump > ORACLE_JUMP * (np.linalg.norm(dN[1:], axis=1) + np.linalg.norm(dN[:-1], axis=1)))[0]
    return tg, act_cells, lin_cells, dN, pat


def check_local(net: Network, part: LinePartition, rng, per_interval: int = 4) -> None:
    """Constant pattern inside every interval; across every point exactly the reported neurons
    change; the reported affine piece equals the network inside every interval."""
    x0, x1 = part.x0, part.x1
    edges = np.concatenate([[0.0], part.t, [1.0]])
    assert np.all(np.diff(edges) > 0), "points must be strictly increasing inside (0, 1)"
    # interior samples of each interval (away from the ends by 1% of the interval)
    frac = 0.01 + 0.98 * rng.random((edges.size - 1, per_interval))
    ts = edges[:-1, None] + frac * np.diff(edges)[:, None]
    mids = 0.5 * (edges[:-1] + edges[1:])
    X = x0 + np.concatenate([mids, ts.ravel()])[:, None] * (x1 - x0)
    pat = _flat_pattern(net, X)
    n_iv = mids.size
    pm, ps = pat[:n_iv], pat[n_iv:].reshape(n_iv, per_interval, -1)
    assert np.array_equal(ps, np.broadcast_to(pm[:, None, :], ps.shape)), "pattern changes inside a reported interval"
    # neighbouring intervals differ in exactly the reported neurons
    reported = crossing_sets(net, part)
    for i in range(part.t.size):
        changed = set(np.nonzero(pm[i] != pm[i + 1])[0].tolist())
        assert changed == reported[i], f"point {i} (t={part.t[i]}): pattern change {changed} vs reported {reported[i]}"
    # the affine pieces: N(x(t)) = intercepts + slopes * t
    N = net(X[n_iv:]).reshape(n_iv, per_interval, -1)
    pred = part.intercepts[:, None, :] + part.slopes[:, None, :] * ts[:, :, None]
    scale = np.abs(N).max() + np.abs(part.slopes).max() + 1.0
    np.testing.assert_allclose(pred, N, rtol=0, atol=1e-9 * scale)


def check_against_brute(net: Network, x0, x1) -> None:
    part = line(net, x0, x1)
    regions = brute_force(net, x0, x1)
    # the brute-force intervals tile [0, 1]
    assert regions[0][0] == pytest.approx(0.0, abs=1e-12) and regions[-1][1] == pytest.approx(1.0, abs=1e-12)
    for (a0, a1, *_), (b0, *_r) in zip(regions[:-1], regions[1:]):
        assert a1 == pytest.approx(b0, abs=1e-9)
    ts, lin, sets = brute_breakpoints(regions)
    assert part.num_regions("activation") == len(regions)
    np.testing.assert_allclose(part.t, ts, rtol=0, atol=1e-9)
    assert np.array_equal(part.linear, lin)
    assert crossing_sets(net, part) == sets
    assert part.num_regions("linear") == 1 + int(lin.sum())
    for (a0, a1, pa, sa), slope in zip(regions, part.slopes):
        np.testing.assert_allclose(slope, sa, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# brute force on tiny networks, every activation


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_matches_brute_force_on_tiny_nets(name):
    act = ACTIVATIONS[name]
    max_neurons = 9 if act.T == 1 else (6 if act.T == 2 else 5)
    rng = np.random.default_rng(sum(map(ord, name)))
    for trial in range(6):
        depth = 1 + trial % 3
        widths = [max(1, max_neurons // depth)] * depth
        n_out = 1 + trial % 2
        net = random_mlp(3, widths, n_out, activation=act, biases=Normal(std=1.0), seed=rng)
        x0, x1 = rng.normal(size=3) * 3, rng.normal(size=3) * 3
        check_against_brute(net, x0, x1)


def test_brute_force_covers_linear_and_activation_difference():
    """Deep narrow hard-tanh nets: many crossings are not good, so linear < activation; the two
    counts must both match the brute force (and the difference must actually occur here)."""
    rng = np.random.default_rng(7)
    diffs = 0
    for trial in range(12):
        net = random_mlp(2, [2] * 4, activation=hard_tanh(), weights=Normal(std=1.5), biases=Normal(std=0.7), seed=rng)
        x0, x1 = rng.normal(size=2) * 4, rng.normal(size=2) * 4
        check_against_brute(net, x0, x1)
        part = line(net, x0, x1)
        diffs += part.num_regions("linear") < part.num_regions("activation")
        # a crossing whose neuron is good must be a linear boundary (generic weights)
        good_pts = np.unique(part.crossing_point[part.good])
        assert np.all(part.linear[good_pts])
    assert diffs >= 3


def test_narrow_deep_relu_linear_fewer_than_activation():
    rng = np.random.default_rng(11)
    diffs = 0
    for trial in range(10):
        net = random_mlp(2, [2] * 4, biases=Normal(std=0.5), seed=rng)
        x0, x1 = rng.normal(size=2) * 4, rng.normal(size=2) * 4
        check_against_brute(net, x0, x1)
        part = line(net, x0, x1)
        diffs += part.num_regions("linear") < part.num_regions("activation")
    assert diffs >= 2


def test_multi_output_slope_jump_in_one_output_only():
    """A neuron that feeds only output 1: its crossing is a linear boundary (N is vector-valued)."""
    W0 = np.array([[1.0], [1.0]])
    b0 = np.array([-0.25, -0.75])
    W1 = np.array([[1.0, 0.0], [0.0, 2.0]])
    net = Network((W0, W1), (b0, np.zeros(2)), (relu(),))
    part = line(net, [0.0], [1.0])
    np.testing.assert_allclose(part.t, [0.25, 0.75], atol=1e-15)
    assert part.linear.tolist() == [True, True]
    np.testing.assert_allclose(part.slopes, [[0, 0], [1, 0], [1, 2]], atol=1e-15)
    # zero output weights: the neuron switches but N does not bend, and it is not good
    net0 = Network((W0, np.array([[1.0, 0.0]])), (b0, np.zeros(1)), (relu(),))
    p0 = line(net0, [0.0], [1.0])
    assert p0.num_regions("activation") == 3 and p0.num_regions("linear") == 2
    assert p0.linear.tolist() == [True, False] and p0.good.tolist() == [True, False]


# ----------------------------------------------------------------------------------------------
# closed forms


@pytest.mark.parametrize("name", ["relu", "hard_tanh", "abs", "custom"])
def test_one_hidden_layer_closed_form(name):
    act = ACTIVATIONS[name]
    rng = np.random.default_rng(3)
    net = random_mlp(6, [40], 2, activation=act, biases=Normal(std=0.5), seed=rng)
    x0, x1 = rng.normal(size=6), rng.normal(size=6)
    W, b = net.weights[0], net.biases[0]
    u0, du = W @ x0 + b, W @ (x1 - x0)
    roots = (act.breakpoints[None, :] - u0[:, None]) / du[:, None]  # (neuron, breakpoint)
    z, j = np.nonzero((roots > 0) & (roots < 1))
    order = np.argsort(roots[z, j])
    part = line(net, x0, x1)
    np.testing.assert_allclose(part.t, roots[z, j][order], rtol=0, atol=1e-12)
    assert sorted(zip(part.unit.tolist(), part.breakpoint.tolist())) == sorted(zip(z.tolist(), j.tolist()))
    assert np.all(part.layer == 0) and np.all(part.good) and np.all(part.linear)


def test_zero_bias_relu_line_through_origin_has_two_regions():
    """Positive homogeneity: N(s x) = s N(x) for s > 0, so on the segment [-x, x] every neuron
    keeps its piece on each half and all of them switch at the origin (t = 1/2)."""
    rng = np.random.default_rng(5)
    for trial in range(4):
        net = random_mlp(5, [30, 30, 30], 2, biases=Zero(), seed=rng)
        x = rng.normal(size=5)
        part = line(net, -x, x)
        assert part.num_regions("activation") == 2
        np.testing.assert_allclose(part.t, [0.5], atol=1e-15)
        # generic: N(x) != -N(-x), so the slope jumps at the origin
        assert np.linalg.norm(net(x) + net(-x)) > 1e-6
        assert part.num_regions("linear") == 2
        # every first-layer neuron with W x != 0 switches at the origin
        assert set(part.unit[part.layer == 0].tolist()) == set(np.nonzero(net.weights[0] @ x != 0)[0].tolist())
        np.testing.assert_allclose(part.slopes[1], 2 * net(x)[0], rtol=1e-12)
        # segments starting or ending exactly at the origin have one region of each kind
        for a, b in ((np.zeros(5), x), (x, np.zeros(5)), (np.zeros(5), -3 * x)):
            p = line(net, a, b)
            assert p.num_regions("activation") == 1 and p.num_regions("linear") == 1 and p.layer.size == 0


def test_zero_bias_abs_and_hard_tanh():
    rng = np.random.default_rng(6)
    # abs is even, so with zero biases every neuron of every layer has a sign that is constant on
    # each open ray from the origin and flips (or stays, from layer 2 on) only at the origin
    net = random_mlp(4, [12, 12, 12], activation=absolute(), biases=Zero(), seed=rng)
    x = rng.normal(size=4)
    part = line(net, -x, x)
    assert part.num_regions("activation") == 2 and part.t.tolist() == [0.5]
    assert part.layer.tolist() == [0] * 12  # later layers are even functions: no switch
    assert part.num_regions("linear") == 2  # N(s x) = |s| N(x): slope -N(x) then N(x)
    # hard tanh with zero biases: breakpoints +-1 are not at the origin; check against brute force
    # on a tiny net and against local probes on a wide one
    tiny = random_mlp(3, [3, 3], activation=hard_tanh(), biases=Zero(), seed=rng)
    y = rng.normal(size=3) * 3
    check_against_brute(tiny, -y, y)
    wide = random_mlp(4, [48, 48], activation=hard_tanh(), biases=Zero(), seed=rng)
    check_local(wide, line(wide, -3 * x, 3 * x), rng)


def test_many_neurons_at_one_point_are_one_point():
    """Duplicated first-layer rows cross together: one point, one crossing per neuron."""
    rng = np.random.default_rng(8)
    w = rng.normal(size=(1, 3))
    W0 = np.repeat(w, 5, axis=0) * np.array([[1.0], [2.0], [0.5], [3.0], [1.5]])
    net = Network((W0, rng.normal(size=(1, 5))), (np.zeros(5), np.zeros(1)), (relu(),))
    x = rng.normal(size=3)
    part = line(net, x - 2 * x, x + x)  # from -x to 2x: the origin is at t = 1/3
    np.testing.assert_allclose(part.t, [1.0 / 3.0], atol=1e-12)
    assert part.crossing_point.tolist() == [0] * 5 and sorted(part.unit.tolist()) == [0, 1, 2, 3, 4]


def test_neuron_identically_on_breakpoint():
    """A neuron constant at its breakpoint along the segment never switches there."""
    W0 = np.array([[0.0, 1.0], [1.0, 0.0]])  # neuron 0 sees only x_2, which is 0 on the segment
    net = Network((W0, np.array([[1.0, 1.0]])), (np.zeros(2), np.zeros(1)), (relu(),))
    part = line(net, [-1.0, 0.0], [1.0, 0.0])
    assert part.t.tolist() == [0.5] and part.unit.tolist() == [1]
    part = line(net, [0.5, 0.0], [1.0, 0.0])
    assert part.num_regions("activation") == 1


# ----------------------------------------------------------------------------------------------
# dense sampling on wider nets


@pytest.mark.parametrize(
    "name,widths,n_out",
    [("relu", [64, 64], 1), ("leaky_relu", [48, 48], 3), ("hard_tanh", [8] * 6, 2), ("abs", [40, 40], 1),
     ("hard_sigmoid", [32, 32], 1), ("custom", [24, 24], 2)],
)
def test_dense_sampling_oracle(name, widths, n_out):
    act = ACTIVATIONS[name]
    rng = np.random.default_rng(sum(map(ord, name)) + len(widths))
    grid = 40000
    net = random_mlp(3, widths, n_out, activation=act, weights=Normal(std=2.5 / np.sqrt(np.mean(widths))) if name == "hard_tanh" else None,
                     biases=Normal(std=0.5), seed=rng)
    for attempt in range(20):
        x0, x1 = rng.normal(size=3) * 2, rng.normal(size=3) * 2
        part = line(net, x0, x1)
        edges = np.concatenate([[0.0], part.t, [1.0]])
        if np.diff(edges).min() > 3.0 / grid:  # oracle valid: at most one point per grid cell
            break
    else:
        pytest.fail("no segment with well separated breakpoints found")
    tg, act_cells, lin_cells, dN, pat = dense_oracle(net, x0, x1, grid)
    cells = np.floor(part.t * grid).astype(int)
    assert part.t.size >= 5
    assert np.array_equal(cells, act_cells)
    assert np.array_equal(cells[part.linear], lin_cells)
    # the slope on each interval equals J(x) v at the grid points inside it
    which = np.searchsorted(part.t, tg, side="right")
    inside = np.ones(tg.size, bool)
    inside[np.minimum(cells + 1, grid)] = False
    inside[cells] = False
    np.testing.assert_allclose(part.slopes[which[inside]], dN[inside], rtol=1e-9, atol=1e-9 * np.abs(dN).max())
    check_local(net, part, rng)


def test_per_unit_prelu():
    rng = np.random.default_rng(12)
    slopes = np.stack([rng.uniform(-0.5, 0.5, 6), np.ones(6)], axis=1)
    prelu = PiecewiseLinear([0.0], slopes, np.zeros(6), name="prelu")
    W = [rng.normal(size=(6, 2)), rng.normal(size=(6, 6)), rng.normal(size=(2, 6))]
    net = Network(tuple(W), (rng.normal(size=6), rng.normal(size=6), np.zeros(2)), (prelu, prelu))
    for _ in range(3):
        check_against_brute(net, rng.normal(size=2) * 3, rng.normal(size=2) * 3)


def test_wide_mnist_sized_net_local_probes():
    rng = np.random.default_rng(13)
    net = random_mlp(784, [128] * 3, 10, biases=Normal(std=1e-3), seed=rng)
    x0, x1 = rng.random(784), rng.random(784)
    part = line(net, x0, x1)
    assert 30 < part.num_regions("activation") < 2 + net.num_neurons
    check_local(net, part, rng, per_interval=3)
    # every good crossing is a linear boundary, and (continuous weights) every linear boundary
    # carries a good crossing
    has_good = np.zeros(part.t.size, bool)
    has_good[part.crossing_point[part.good]] = True
    assert np.array_equal(has_good, part.linear)


# ----------------------------------------------------------------------------------------------
# lines, real_line, results


def test_lines_equals_line_per_segment():
    rng = np.random.default_rng(14)
    net = random_mlp(5, [20, 20, 20], 2, activation=hard_tanh(), biases=Uniform(-0.5, 0.5), seed=rng)
    X0, X1 = rng.normal(size=(9, 5)) * 2, rng.normal(size=(9, 5)) * 2
    X0[3] = 0.0
    batch = lines(net, X0, X1)
    assert isinstance(batch, LineBatch) and len(batch) == 9
    counts_lin, counts_act = batch.num_regions("linear"), batch.num_regions("activation")
    for i, part in enumerate(batch):
        single = line(net, X0[i], X1[i])
        for f in ("t", "linear", "crossing_point", "layer", "unit", "breakpoint", "good"):
            np.testing.assert_array_equal(getattr(part, f), getattr(single, f), err_msg=f)
        np.testing.assert_array_equal(part.slopes, single.slopes)
        np.testing.assert_array_equal(part.intercepts, single.intercepts)
        assert counts_lin[i] == single.num_regions("linear") and counts_act[i] == single.num_regions("activation")
    assert batch[-1].t.tolist() == batch[8].t.tolist()
    with pytest.raises(IndexError):
        batch[9]
    empty = lines(net, np.zeros((0, 5)), np.zeros((0, 5)))
    assert len(empty) == 0 and empty.num_regions("linear").shape == (0,) and repr(empty) == "LineBatch(0 segments)"


def test_lines_chunking_does_not_change_results(monkeypatch):
    import importlib

    mod = importlib.import_module("linregions.line")  # the module (linregions.line is also a function)
    rng = np.random.default_rng(15)
    net = random_mlp(4, [16, 16], biases=Normal(std=0.3), seed=rng)
    X0, X1 = rng.normal(size=(13, 4)), rng.normal(size=(13, 4))
    full = lines(net, X0, X1)
    monkeypatch.setattr(mod, "_CHUNK_BYTES", 1)  # one segment per chunk
    small = lines(net, X0, X1, progress=True)
    # bit for bit: a segment's result depends only on that segment
    for f in ("t", "linear", "point_offsets", "crossing_point", "layer", "unit", "crossing_offsets", "slopes", "intercepts"):
        np.testing.assert_array_equal(getattr(full, f), getattr(small, f), err_msg=f)


@pytest.mark.parametrize("widths", [[9, 9], [300, 200]])
def test_results_do_not_depend_on_the_other_segments(widths):
    """BLAS rounds a row differently depending on the other rows of the product (an edge kernel
    for the last row of an odd block, gemv for a single row); every product of the engine is
    row-invariant per segment, so batching never changes a segment's result, bit for bit. The
    two widths exercise the compiled kernel and the per-segment BLAS path. The compiled kernel
    reuses its scratch buffers from segment to segment (grown as needed), so the batch is also
    run in reverse order: a segment then follows longer or shorter ones than before."""
    rng = np.random.default_rng(21)
    net = random_mlp(7, widths, 3, biases=Normal(std=0.2), seed=rng)
    X0, X1 = rng.normal(size=(7, 7)), rng.normal(size=(7, 7))
    X1[2] = X0[2] + 1e-3 * X1[2]  # a short segment among long ones
    batch = lines(net, X0, X1)
    reverse = lines(net, X0[::-1], X1[::-1])
    for i in (0, 2, 3, 6):
        for other in (lines(net, X0[i], X1[i]), lines(net, X0[[i, 5]], X1[[i, 5]])[0], line(net, X0[i], X1[i]),
                      reverse[6 - i]):
            single = other if isinstance(other, LinePartition) else other[0]
            for f in ("t", "linear", "crossing_point", "layer", "unit", "breakpoint", "good", "slopes", "intercepts"):
                np.testing.assert_array_equal(getattr(batch[i], f), getattr(single, f), err_msg=f)


def test_real_line_finds_far_breakpoints():
    # u_1 = 1e-3 relu(x) - 5 switches at x = 5000, far beyond the first layer's root at 0
    net = Network((np.array([[1.0]]), np.array([[1e-3]]), np.array([[1.0]])),
                  (np.zeros(1), np.array([-5.0]), np.zeros(1)), (relu(), relu()))
    part = real_line(net)
    np.testing.assert_allclose(part.points[:, 0], [0.0, 5000.0], rtol=1e-9, atol=1e-9)
    assert part.num_regions("activation") == 3


def test_real_line_resolves_breakpoints_of_very_different_sizes():
    # roots at -1e-4 and 0 (first layer) and at 1e9 (tiny weight): one segment [-R, R] would
    # merge the first two (T_MERGE * 2R > 1e-4)
    net = Network((np.array([[1.0], [1.0], [1e-9]]), np.ones((1, 3))), (np.array([1e-4, 0.0, -1.0]), np.zeros(1)), (relu(),))
    part = real_line(net)
    np.testing.assert_allclose(part.points[:, 0], [-1e-4, 0.0, 1e9], rtol=1e-9, atol=1e-6)
    assert part.unit.tolist() == [0, 1, 2] and part.crossing_point.tolist() == [0, 1, 2]
    # the affine pieces are right far out and near 0
    for x in (-5e9, -5e-5, 3e-5, 2e9):
        tt = (x - part.x0[0]) / (part.x1[0] - part.x0[0])
        i = np.searchsorted(part.t, tt)
        # t resolves x to ~1e-16 * 2R ~ 4e-7 here
        assert part.intercepts[i, 0] + part.slopes[i, 0] * tt == pytest.approx(net(np.array([[x]]))[0, 0], rel=1e-6, abs=2e-6)


def test_segments_do_not_influence_each_other():
    """A tiny segment across a kink keeps its crossing when batched with a huge segment."""
    net = Network((np.array([[1.0]]), np.array([[1e-3]]), np.array([[1.0]])),
                  (np.zeros(1), np.array([-5.0]), np.zeros(1)), (relu(), relu()))
    batch = lines(net, [[-1e-8], [-2e4]], [[1e-8], [2e4]])
    np.testing.assert_allclose(batch[0].t, [0.5], atol=1e-12)
    np.testing.assert_allclose(batch[1].points[:, 0], [0.0, 5000.0], atol=1e-9)


@pytest.mark.parametrize("name", ["relu", "hard_tanh", "abs"])
def test_real_line_matches_brute_force_on_all_of_r(name):
    rng = np.random.default_rng(16)
    for trial in range(3):
        net = random_mlp(1, [3, 3], activation=ACTIVATIONS[name], biases=Normal(std=2.0), seed=rng)
        part = real_line(net)
        regions = brute_force(net, [0.0], [1.0], lo=-np.inf, hi=np.inf)
        ts, lin, sets = brute_breakpoints(regions)
        np.testing.assert_allclose(part.points[:, 0], ts, rtol=1e-9, atol=1e-9)
        assert crossing_sets(net, part) == sets
        assert np.array_equal(part.linear, lin)


def test_real_line_errors():
    with pytest.raises(ValueError, match="one input"):
        real_line(random_mlp(2, [3], seed=0))
    with pytest.raises(TypeError, match="Network"):
        real_line("net")


def test_result_fields_and_repr():
    net = random_mlp(3, [10, 10], 2, seed=1)
    part = line(net, [-2, -2, -2], [2, 2, 2])
    m, c = part.t.size, part.layer.size
    assert part.linear.shape == (m,) and part.points.shape == (m, 3)
    assert part.slopes.shape == part.intercepts.shape == (m + 1, 2)
    assert all(getattr(part, f).shape == (c,) for f in ("crossing_point", "layer", "unit", "breakpoint", "good"))
    assert part.breakpoints("activation").size == m and part.breakpoints("linear").size == int(part.linear.sum())
    assert part.length == pytest.approx(np.sqrt(48))
    r = repr(part)
    assert r.startswith("LinePartition(") and "\n" not in r and f"activation_regions={m + 1}" in r
    b = lines(net, np.zeros((2, 3)), np.ones((2, 3)))
    assert "\n" not in repr(b) and "2 segments" in repr(b)
    np.testing.assert_allclose(b.lengths(), [np.sqrt(3)] * 2)
    with pytest.raises(ValueError, match="kind"):
        part.num_regions("pieces")
    with pytest.raises(ValueError, match="kind"):
        b.num_regions("pieces")


# ----------------------------------------------------------------------------------------------
# errors


def test_bad_input_errors():
    net = random_mlp(3, [4], seed=0)
    with pytest.raises(ValueError, match="x0 == x1"):
        line(net, [1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match=r"shape \(n_segments, 3\)"):
        line(net, [1, 2], [3, 4])
    with pytest.raises(ValueError, match=r"shape"):
        lines(net, np.zeros((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        line(net, [np.nan, 0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="NaN or inf"):
        line(net, [0, 0, 0], [np.inf, 1, 1])
    with pytest.raises(ValueError, match="one segment"):
        line(net, np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(TypeError, match="Network"):  # neither a Network nor a torch module
        line({"weights": net.weights}, [0, 0, 0], [1, 1, 1])
    with pytest.raises(TypeError, match="x0"):
        line(net, "abc", [1, 1, 1])
    with pytest.raises(TypeError, match="x0"):
        line(net, object(), [1, 1, 1])


def test_numpy_engine_is_the_compiled_one_bit_for_bit(monkeypatch):
    """Without numba (or for many segments of a small network) the layer loop runs in numpy over
    all segments at once; it makes the same float operations as the compiled per-segment loop, so
    the partitions are identical, bit for bit (and a segment's result never depends on which
    engine the batch size picked)."""
    import importlib

    core = importlib.import_module("linregions.line.core")
    kernels = importlib.import_module("linregions._kernels_line")
    rng = np.random.default_rng(31)
    prelu = PiecewiseLinear([0.0], rng.uniform(-1, 1, (12, 2)) + np.array([0.0, 2.0]), 0.0)
    for act in (relu(), hard_tanh(), absolute(), relu6(), hard_sigmoid(), prelu, "wide", "wide_merged"):
        if act in ("wide", "wide_merged"):  # layers wide enough for the exact extension to inserted points
            std = 0.4 if act == "wide" else 1e-10  # tiny biases: crossings merged on the segments through 0
            net = random_mlp(3, [70, 70], 2, biases=Normal(std=std), seed=rng)
            assert min(net.widths) >= kernels.EXTEND_MIN_FANIN
        else:
            net = random_mlp(3, [12, 12], 2, activation=act if act is not prelu else relu(), biases=Normal(std=0.4),
                             seed=rng)
        if act is prelu:
            net = Network(net.weights, net.biases, (prelu, relu()), (np.zeros(12, np.int8), np.array([1, 0] * 6, np.int8)))
        X0, X1 = rng.normal(size=(5, 3)) * 2, rng.normal(size=(5, 3)) * 2
        X0[0] = -X1[0]
        compiled = lines(net, X0, X1)
        monkeypatch.setattr(core, "HAVE_NUMBA", False)  # no numba at all: numpy's products too
        monkeypatch.setattr(kernels, "HAVE_NUMBA", False)
        numpy_engine = lines(net, X0, X1)
        monkeypatch.setattr(core, "HAVE_NUMBA", True)
        monkeypatch.setattr(kernels, "HAVE_NUMBA", True)
        monkeypatch.setattr(core, "_VECTOR_MIN", 1)
        vectorised = lines(net, X0, X1)  # numpy engine with the compiled row-wise products
        monkeypatch.setattr(core, "_VECTOR_MIN", 10**9)
        for f in ("t", "linear", "point_offsets", "crossing_point", "layer", "unit", "breakpoint", "good",
                  "crossing_offsets", "slopes", "intercepts", "close_decisions"):
            np.testing.assert_array_equal(getattr(compiled, f), getattr(vectorised, f), err_msg=f)
            if f in ("t", "slopes", "intercepts"):  # numpy's products instead of the compiled ones
                np.testing.assert_allclose(getattr(compiled, f), getattr(numpy_engine, f), rtol=1e-12, atol=1e-13)
            else:
                np.testing.assert_array_equal(getattr(compiled, f), getattr(numpy_engine, f), err_msg=f)
