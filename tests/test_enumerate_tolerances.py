"""Regression tests for the tolerance decisions of ``complex_in_box`` (issue 12, findings 1 and 2,
and close decisions). Oracles written here: a function that is constant in exact arithmetic has
one linear region and no linear boundary; hard tanh with breakpoints (0, 1e6) equals ReLU on the
box, so its complex is ReLU's; positively homogeneous scaling maps one complex onto another."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from linregions import Network, Normal, hard_tanh, random_mlp, relu
from linregions.enumerate import complex_in_box


def _cancelling(n_in: int) -> Network:
    """1 + 0.1 relu(w.x + 0.1) + 0.2 relu(w.x + 0.1) - 0.3 relu(w.x + 0.1): constant, but its
    slope is 0.1 + 0.2 - 0.3 = 5.6e-17 (rounding) where the unit is on, exactly 0 where off."""
    w = np.linspace(1.0, 0.5, n_in)
    return Network((np.tile(w, (3, 1)), np.array([[0.1, 0.2, -0.3]])), (np.full(3, 0.1), np.array([1.0])), (relu(),))


def _issue_repro(n_in: int) -> Network:
    """N(x) = 1 + 0.7 relu(0.3 x) - 0.7 relu(0.3 x) (and its version with n_in inputs)."""
    w = 0.3 * np.linspace(1.0, -0.5, n_in)
    return Network((np.tile(w, (2, 1)), np.array([[0.7, -0.7]])), (np.zeros(2), np.array([1.0])), (relu(),))


@pytest.mark.parametrize("make", [_cancelling, _issue_repro])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_constant_function_has_one_linear_region(make, n):
    net = make(n)
    X = np.random.default_rng(0).uniform(-1, 1, size=(50, n))
    assert np.ptp(net(X)) < 1e-15  # the oracle: N is constant
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cx = complex_in_box(net, -1.0, 1.0)
    assert cx.num_regions("activation") == 2  # the unit's hyperplane does cut the box
    assert cx.num_regions("linear") == 1
    assert cx.volume(1, "linear") == 0.0 and cx.volume(1, "activation") > 0
    assert not cx.face_jump.any()


def test_real_jump_next_to_an_exactly_flat_side_is_kept():
    # relu(x1) - 1e-12 relu(x1): slope ~1 on one side, exactly 0 on the other
    net = Network((np.array([[1.0, 0.0, 0.0]] * 2), np.array([[1.0, -1e-12]])), (np.zeros(2), np.zeros(1)), (relu(),))
    cx = complex_in_box(net, -1.0, 1.0)
    assert cx.num_regions("linear") == 2
    assert cx.volume(1, "linear") == pytest.approx(4.0, rel=1e-14)  # the square x1 = 0 in [-1, 1]^3


@pytest.mark.parametrize("n,seed,std", [(2, 1, 1e-6), (3, 0, 1e-6), (3, 2, 1e-7), (3, 1, 0.1)])
def test_far_breakpoint_does_not_blunt_the_one_at_zero(n, seed, std):
    # hard_tanh(0, 1e6) equals ReLU wherever u < 1e6; with one snap scale for all breakpoints
    # the tolerance at 0 was ~1e-6 and small biases were merged (wrong counts, or a RuntimeError)
    r = random_mlp(n, [6, 6], biases=Normal(std=std), seed=seed)
    ht = Network(r.weights, r.biases, (hard_tanh(0.0, 1e6), hard_tanh(0.0, 1e6)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a, b = complex_in_box(r, -1.0, 1.0), complex_in_box(ht, -1.0, 1.0)
    for kind in ("activation", "linear"):
        assert a.num_regions(kind) == b.num_regions(kind)
        np.testing.assert_allclose(a.volumes(kind), b.volumes(kind), rtol=1e-12)
    np.testing.assert_array_equal(np.bincount(a.face_dim), np.bincount(b.face_dim))
    np.testing.assert_allclose(np.sort(a.region_volume), np.sort(b.region_volume), rtol=1e-9, atol=1e-15)
    assert a.close_decisions == b.close_decisions  # the same decisions, none of them erasing (no warning)


def test_close_decisions_counted_and_named_in_the_warning():
    # generic: nothing close, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cx = complex_in_box(random_mlp(3, [5, 4], seed=3), -1.0, 1.0)
    assert cx.close_decisions == 0 and "close_decisions" not in repr(cx)
    # biases ~1e-9: points closer than the snap tolerance resolves (module doc): counted, warned
    net = random_mlp(3, [4, 3], biases=Normal(1e-9), seed=3)
    with pytest.warns(RuntimeWarning, match=r"complex_in_box: \d+ close tolerance decision") as rec:
        cx = complex_in_box(net, -1.0, 1.0)
    count = int(str(rec[0].message).split(":")[1].split()[0])
    assert 0 < count <= cx.close_decisions
    assert f"close_decisions={cx.close_decisions}" in repr(cx)
