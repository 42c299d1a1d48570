"""Regression tests for the tolerance findings of issue 12 in the 1D engine (line, lines,
real_line), each built from its reproduction, and for the reporting of close decisions."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from linregions.activations import hard_tanh, relu
from linregions.laws import Normal, random_mlp
from linregions.line import line, lines, real_line
from linregions.network import Network
from linregions.tolerances import slope_jump, slope_noise, vector_norm

FIELDS = ("t", "linear", "crossing_point", "layer", "unit", "breakpoint", "good")


def _cancelling(n_in: int) -> Network:
    """N(x) = 1 + 0.7 relu(0.3 s) - 0.7 relu(0.3 s), s = sum of the inputs: a constant."""
    W0 = np.full((2, n_in), 0.3)
    return Network((W0, np.array([[0.7, -0.7]])), (np.zeros(2), np.array([1.0])), (relu(),))


@pytest.mark.parametrize("n_in", [1, 2])
def test_finding1_no_linear_boundary_where_the_slope_is_zero_on_both_sides(n_in):
    net = _cancelling(n_in)
    part = line(net, -np.ones(n_in), np.ones(n_in))
    assert part.num_regions("activation") == 2  # both neurons switch at the origin
    assert part.num_regions("linear") == 1 and not part.linear.any()
    np.testing.assert_array_equal(part.slopes, 0.0)
    np.testing.assert_allclose(part.intercepts, 1.0, rtol=0, atol=1e-15)
    assert real_line(_cancelling(1)).num_regions("linear") == 1


def test_finding1_rounding_residue_against_an_exact_zero_is_no_jump():
    """The rule itself: a slope of 0 on one side and a BLAS/FMA residue ~1e-17 on the other is
    no jump once the rounding floor of the absolute slope product is taken into account."""
    abs_slope = np.array([[0.0], [2 * 0.7 * 0.3 * 2.0]])  # |W_1| |D| |W_0| |v| on the two sides
    noise = slope_noise(abs_slope.sum(axis=0), n_terms=3)
    jump, close = slope_jump(np.array([[0.0]]), np.array([[1.3e-17]]), noise)
    assert not jump[0] and not close[0]
    jump, _ = slope_jump(np.array([[0.0]]), np.array([[1e-9]]), noise)
    assert jump[0]


def _relu_and_hardtanh(seed: int, n_in: int):
    rng = np.random.default_rng(seed)
    for _ in range(15):
        net_r = random_mlp(n_in, [8, 8, 8], biases=Normal(std=1e-3), seed=rng)
        net_h = Network(net_r.weights, net_r.biases, (hard_tanh(0.0, 1e6),) * 3)
        x1 = rng.normal(size=n_in) * 3
        yield net_r, net_h, -x1, x1


@pytest.mark.parametrize("n_in", [1, 2])
def test_finding2_far_breakpoint_does_not_blunt_the_one_at_zero(n_in):
    """Hard tanh on [0, 1e6] equals ReLU wherever u < 1e6: same weights, same partition. With one
    tolerance scale per neuron (from |1e6|) the snap tolerance at 0 was ~1e-6 and regions were lost."""
    for net_r, net_h, x0, x1 in _relu_and_hardtanh(30 + n_in, n_in):
        assert max(np.abs(u).max() for u in net_r.pre_activations(np.stack([x0, x1]))[:-1]) < 1e3
        a, b = line(net_r, x0, x1), line(net_h, x0, x1)
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
        np.testing.assert_allclose(a.slopes, b.slopes, rtol=1e-12, atol=1e-15)


def test_finding5_huge_inputs_keep_their_linear_boundaries():
    """At |x| ~ 1e155 the squared slope norm overflowed and every linear boundary was dropped."""
    net = Network((np.array([[1.0], [1.0]]), np.array([[1.0, 2.0]])), (np.array([-3e154, 2e154]), np.zeros(1)), (relu(),))
    part = line(net, [-1e155], [1e155])
    np.testing.assert_allclose(part.points[:, 0], [-2e154, 3e154], rtol=1e-12)
    assert part.linear.tolist() == [True, True] and part.num_regions("linear") == 3
    np.testing.assert_allclose(part.slopes[:, 0], [0.0, 4e155, 6e155], rtol=1e-12)
    assert vector_norm(np.array([[3e200, 4e200]]))[0] == pytest.approx(5e200)


def test_finding5_overflow_inside_the_network_is_refused():
    net = Network((np.array([[1.0]]), np.array([[1e200]]), np.array([[1.0]])), (np.zeros(1), np.zeros(1), np.zeros(1)), (relu(), relu()))
    with pytest.raises(ValueError, match="overflow"):
        line(net, [-1e150], [1e150])


def test_close_decisions_are_counted_per_segment():
    # two neurons switching 1e-11 apart: a merge below T_MERGE of more than rounding noise
    net = Network((np.array([[1.0], [1.0]]), np.array([[1.0, 2.0]])), (np.array([0.0, 1e-11]), np.zeros(1)), (relu(),))
    X0, X1 = np.array([[-1.0], [2.0]]), np.array([[1.0], [3.0]])
    with pytest.warns(UserWarning, match=r"1 close tolerance decision"):
        batch = lines(net, X0, X1, exact=False)
    # the merge, and the snap decision of the second neuron at the merged point (1e-11 = 10 tol)
    assert batch.close_decisions.tolist() == [2, 0] and batch.certified.tolist() == [False, True]
    assert batch[0].close_decisions == 2 and batch[1].certified
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = lines(net, X0, X1)
    assert exact.certified.all() and exact.exact_windows.tolist() == [1, 0]
    assert exact.num_regions("activation").tolist() == [3, 1]
