"""Activations: validation and values against closed forms and PyTorch's own functions."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from linregions.activations import (
    PiecewiseLinear, absolute, hard_sigmoid, hard_tanh, leaky_relu, relu, relu6, soft_shrink,
)

U = np.concatenate([np.linspace(-8, 8, 1601), [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0]])

CLOSED = [
    (relu(), lambda u: np.maximum(u, 0)),
    (leaky_relu(0.1), lambda u: np.where(u >= 0, u, 0.1 * u)),
    (hard_tanh(), lambda u: np.clip(u, -1, 1)),
    (hard_tanh(-2.0, 0.5), lambda u: np.clip(u, -2, 0.5)),
    (absolute(), np.abs),
    (relu6(), lambda u: np.clip(u, 0, 6)),
    (hard_sigmoid(), lambda u: F.hardsigmoid(torch.as_tensor(u)).numpy()),
    (soft_shrink(0.5), lambda u: F.softshrink(torch.as_tensor(u), 0.5).numpy()),
]


@pytest.mark.parametrize("act,ref", CLOSED, ids=[a.name for a, _ in CLOSED])
def test_values_match_closed_forms(act, ref):
    np.testing.assert_allclose(act(U), ref(U), rtol=1e-15, atol=1e-15)
    # torch path gives the same values
    np.testing.assert_allclose(act(torch.as_tensor(U)).numpy(), ref(U), rtol=1e-15, atol=1e-15)
    # pieces: number of breakpoints <= u
    np.testing.assert_array_equal(act.piece(U), (U[:, None] >= act.breakpoints[None, :]).sum(1))
    np.testing.assert_array_equal(act.piece(torch.as_tensor(U)).numpy(), act.piece(U))
    # derivative equals a one-sided finite difference away from breakpoints
    h = 1e-7
    away = np.min(np.abs(U[:, None] - act.breakpoints[None, :]), axis=1) > 1e-3
    fd = (ref(U + h) - ref(U)) / h
    np.testing.assert_allclose(act.derivative(U)[away], fd[away], atol=1e-6)


def test_custom_continuity_and_values_at_breakpoints():
    phi = PiecewiseLinear([-1.0, 0.5, 2.0], [2.0, -1.0, 0.25, 3.0], value=0.7)
    xi = phi.breakpoints
    np.testing.assert_allclose(phi.values_at_breakpoints, [0.7, 0.7 - 1.5, 0.7 - 1.5 + 0.375])
    for x, v in zip(xi, phi.values_at_breakpoints):
        # continuity: left and right limits agree with the value
        np.testing.assert_allclose(phi(np.array([x - 1e-9, x, x + 1e-9])), v, atol=1e-8)
    # slope q_j on (xi_j, xi_j+1)
    for j, (a, b) in enumerate(zip(np.r_[-10.0, xi], np.r_[xi, 10.0])):
        s, e = a + 0.25 * (b - a), a + 0.75 * (b - a)
        assert (phi(np.array(e)) - phi(np.array(s))) / (e - s) == pytest.approx(phi.slopes[j])


def test_per_unit_slopes():
    slopes = np.array([[0.1, 1.0], [-0.3, 1.0], [0.0, 2.0]])
    phi = PiecewiseLinear([0.0], slopes, value=np.zeros(3), name="prelu")
    u = np.array([[-2.0, -2.0, -2.0], [3.0, 3.0, 3.0]])
    np.testing.assert_allclose(phi(u), [[-0.2, 0.6, 0.0], [3.0, 3.0, 6.0]])
    np.testing.assert_allclose(phi(torch.as_tensor(u)).numpy(), phi(u))
    assert phi.per_unit and phi.width == 3
    with pytest.raises(ValueError, match="3 per-unit slopes but the layer has 4"):
        phi.check_width(4)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(breakpoints=[], slopes=[1.0]), "non-empty"),
        (dict(breakpoints=[1.0, 0.0], slopes=[0, 1, 0]), "strictly increasing"),
        (dict(breakpoints=[0.0, 0.0], slopes=[0, 1, 0]), "strictly increasing"),
        (dict(breakpoints=[np.nan], slopes=[0, 1]), "finite"),
        (dict(breakpoints=[0.0], slopes=[0, 1, 2]), "need 2 slopes"),
        (dict(breakpoints=[0.0], slopes=[1.0, 1.0]), "adjacent slopes must differ"),
        (dict(breakpoints=[0.0], slopes=[0.0, np.inf]), "finite"),
        (dict(breakpoints=[0.0], slopes=[0.0, 1.0], value=[1.0, 2.0]), "scalar"),
        (dict(breakpoints=[0.0], slopes=[[0.0, 1.0]] * 2, value=[1.0, 2.0, 3.0]), "per-unit value"),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PiecewiseLinear(**kwargs)


def test_equality_repr_and_immutability():
    assert relu() == PiecewiseLinear([0.0], [0.0, 1.0])
    assert relu() != leaky_relu(0.0 + 1e-3)
    assert "relu" in repr(relu()) and "\n" not in repr(relu())
    with pytest.raises(ValueError):
        relu().slopes[0] = 5.0  # read-only arrays
    assert hard_tanh().T == 2 and relu().T == 1


def test_complex_parameters_are_refused_not_truncated():
    import pytest

    from linregions import PiecewiseLinear

    with pytest.raises(TypeError, match="complex"):
        PiecewiseLinear(np.array([0.0 + 1j]), [0.0, 1.0])
    with pytest.raises(TypeError, match="complex"):
        PiecewiseLinear([0.0], np.array([0.0, 1.0 + 0.5j]))


@pytest.mark.parametrize("act", [relu(), hard_tanh(), leaky_relu(0.1),
                                 PiecewiseLinear([-1.0, 0.5, 2.0], [0.3, -1.0, 2.0, 0.1], 0.7),
                                 PiecewiseLinear([0.5], [2.0, -0.5], 1.0)],
                         ids=["relu", "hard_tanh", "leaky", "three_breakpoints", "one_breakpoint"])
def test_torch_paths_are_the_numpy_paths(act):
    """Pieces, slopes and values of torch tensors (comparisons and selects, no gather) against the
    numpy paths, bit for bit, on values that include the breakpoints themselves and -0.0."""
    rng = np.random.default_rng(3)
    u = rng.normal(size=(60, 7)) * 2
    u[0, : act.T] = act.breakpoints
    u[1, 0] = -0.0
    ut = torch.tensor(u)
    np.testing.assert_array_equal(act.piece(ut).numpy(), act.piece(u))
    np.testing.assert_array_equal(act.slope(act.piece(ut)).numpy(), act.slope(act.piece(u)))
    np.testing.assert_array_equal(act(ut).numpy(), act(u))
    assert act(ut.float()).dtype == torch.float32
