"""The fused compiled 1D path (``_kernels_line_nb.segments_line``: layer loop, crossings,
goodness and clear slope jumps in one call per chunk; ``line``'s single-segment result built
without a batch) against its oracle, the numpy crossings pass of ``line.core._partition_chunk``
run on the numpy layer loop with the same compiled products (bit for bit: same points, crossings,
flags, slopes), and against itself across batches and front doors."""
from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from linregions.activations import PiecewiseLinear, hard_tanh, leaky_relu, relu
from linregions.laws import Normal, Zero, random_mlp
from linregions.line import line, lines
from linregions.network import Network

pytest.importorskip("linregions._kernels_line_nb")
core = importlib.import_module("linregions.line.core")

FIELDS = ("t", "linear", "point_offsets", "crossing_point", "layer", "unit", "breakpoint", "good",
          "crossing_offsets", "slopes", "intercepts", "close_decisions", "exact_windows", "unit_kind")


def _numpy_pass(monkeypatch, net, X0, X1):
    """``lines`` through the numpy layer loop and the numpy crossings pass, with the compiled
    row-wise and per-segment products (the same float operations as the fused kernel)."""
    monkeypatch.setattr(core, "_VECTOR_MIN", 1)  # the numpy engine, whatever the layer sizes
    try:
        return lines(net, X0, X1)
    finally:
        monkeypatch.undo()


def _nets(rng):
    yield "relu", random_mlp(2, [32] * 3, biases=Normal(std=0.1), seed=1), 2.0
    yield "relu multi-output", random_mlp(5, [24, 24], 3, biases=Normal(std=0.2), seed=2), 2.0
    yield "hard tanh", random_mlp(3, [16] * 3, 2, activation=hard_tanh(), biases=Normal(std=0.3), seed=3), 6.0
    yield "leaky", random_mlp(3, [16] * 3, 2, activation=leaky_relu(0.1), biases=Normal(std=0.3), seed=4), 2.0
    yield "zero biases", random_mlp(3, [16] * 4, 2, biases=Zero(), seed=5), 2.0
    net = random_mlp(4, [12] * 3, 2, biases=Normal(std=0.3), seed=6)  # sparse weights: reachability by masks
    yield "sparse", dataclasses.replace(net, weights=tuple(W * (rng.random(W.shape) < 0.3) for W in net.weights)), 2.0
    prelu = PiecewiseLinear([0.0], rng.uniform(-1, 1, (12, 2)) + np.array([0.0, 2.0]), 0.0)
    net = random_mlp(3, [12, 12], 2, biases=Normal(std=0.4), seed=7)
    yield "passthrough", Network(net.weights, net.biases, (prelu, relu()),
                                 (np.zeros(12, np.int8), np.array([1, 0] * 6, np.int8))), 2.0
    yield "large layers", random_mlp(30, [180, 180], 2, biases=Normal(std=0.2), seed=8), 6.0


@pytest.mark.parametrize("which", range(8))
def test_fused_kernel_is_the_numpy_crossings_pass(monkeypatch, which):
    rng = np.random.default_rng(which)
    name, net, scale = list(_nets(rng))[which]
    X0 = rng.normal(size=(12, net.n_in)) * scale
    X1 = rng.normal(size=(12, net.n_in)) * scale
    X1[:4] = X0[:4] + 0.01 * rng.normal(size=(4, net.n_in))  # short segments: 0-3 crossings
    fused = lines(net, X0, X1)
    oracle = _numpy_pass(monkeypatch, net, X0, X1)
    assert fused.t.size > 0, name
    for f in FIELDS:
        a, b = getattr(fused, f), getattr(oracle, f)
        assert a.dtype == b.dtype, (name, f)
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: {f}")


def test_uncertain_slope_jumps_go_to_the_numpy_decision(monkeypatch):
    """Crossings of neurons that reach no output (dead downstream, sparse weights) leave the slope
    unchanged: the compiled pass cannot call them certain, and numpy decides them (no jump)."""
    rng = np.random.default_rng(11)
    name, net, _ = list(_nets(rng))[5]
    X0, X1 = rng.normal(size=(20, net.n_in)) * 2, rng.normal(size=(20, net.n_in)) * 2
    fused = lines(net, X0, X1)
    assert (fused.num_regions("linear") < fused.num_regions("activation")).any()
    oracle = _numpy_pass(monkeypatch, net, X0, X1)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(fused, f), getattr(oracle, f), err_msg=f)


@pytest.mark.parametrize("which", [0, 2, 4, 6])
def test_line_is_lines_of_one(which):
    """``line`` builds its result without a batch; it is ``lines``' row, field for field."""
    rng = np.random.default_rng(20 + which)
    name, net, scale = list(_nets(rng))[which]
    X0, X1 = rng.normal(size=(3, net.n_in)) * scale, rng.normal(size=(3, net.n_in)) * scale
    batch = lines(net, X0, X1)
    for i in range(3):
        one, row = line(net, X0[i], X1[i]), batch[i]
        for f in ("x0", "x1", "t", "linear", "crossing_point", "layer", "unit", "breakpoint", "good", "slopes",
                  "intercepts", "unit_kind"):
            a, b = getattr(one, f), getattr(row, f)
            assert a.dtype == b.dtype, f
            np.testing.assert_array_equal(a, b, err_msg=f"{name}: {f}")
        assert (one.close_decisions, one.exact_windows) == (row.close_decisions, row.exact_windows)


def test_line_with_close_decisions_takes_the_exact_path():
    """Zero biases and a segment through the origin: many neurons at one point, decided exactly."""
    net = random_mlp(2, [8] * 3, 1, biases=Zero(), seed=9)
    x0, x1 = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    one, row = line(net, x0, x1), lines(net, x0[None], x1[None])[0]
    for f in ("t", "linear", "crossing_point", "layer", "unit", "good", "slopes", "intercepts"):
        np.testing.assert_array_equal(getattr(one, f), getattr(row, f), err_msg=f)
    assert one.num_regions("activation") == 2 and one.certified


def test_open_table_is_open():
    """The per-network table of open (unit, code) pairs is ``line.core._open`` on every code."""
    rng = np.random.default_rng(3)
    for _, net, _ in _nets(rng):
        opens = core._finish_params(net)[0]
        off = np.concatenate([[0], np.cumsum(net.widths)])
        for l, act in enumerate(net.activations):
            for c in range(2 * act.T + 1):
                expect = core._open(net, l, np.full((1, net.widths[l]), c))[0]
                np.testing.assert_array_equal(opens[off[l]:off[l + 1], c], expect)


def test_first_layer_overflow_and_bad_ends_still_refused():
    net = random_mlp(3, [8, 8], seed=0)
    with pytest.raises(ValueError, match="too large"):
        line(net, [1e308, 1e308, 0], [-1e308, 0, 0])
    with pytest.raises(ValueError, match="NaN or inf"):
        line(net, [np.nan, 0, 0], [1, 0, 0])
    with pytest.raises(ValueError, match="NaN or inf"):
        lines(net, np.array([[np.inf, 0, 0]]), np.array([[1.0, 0, 0]]))
    with pytest.raises(ValueError, match="zero length"):
        line(net, [1, 2, 3], [1, 2, 3])
