"""Regression tests for the audit of issue 12 on ``plane``, each built from its reproduction, and for
the reporting of close tolerance decisions and watertightness. Oracles: closed forms (a constant
function; the partition of the ReLU network that a hard tanh equals on the domain), patterns
computed directly from pre-activations at points, and Euler's formula with the domain's area."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from linregions.activations import PiecewiseLinear, hard_tanh, relu
from linregions.laws import Normal, Zero, random_mlp
from linregions.network import Network
from linregions.plane import plane

SQUARE = (-1.0, 1.0, -1.0, 1.0)


def _watertight(part, area: float = 4.0) -> None:
    assert part.watertight
    assert part.euler_characteristic() == 1
    assert np.all(part.edge_faces[part.interior] >= 0)
    assert abs(part.face_areas.sum() - area) <= 1e-9 * area
    assert abs(part.areas("linear").sum() - area) <= 1e-9 * area


# -- finding 1: no spurious linear boundary where the slope is exactly 0 on one side ---------------


@pytest.mark.parametrize("w", [(0.3, 0.2), (0.3, 0.0), (0.7, -1.3)])
def test_cancelling_neurons_give_a_constant(w):
    """N(x) = 1 + 0.7 relu(0.3 x1 + 0.2 x2) - 0.7 relu(0.3 x1 + 0.2 x2) is constant: one linear
    region, no linear boundary, although the neurons' line is an activation boundary."""
    W = np.array([w, w])
    net = Network((W, np.array([[0.7, -0.7]])), (np.zeros(2), np.array([1.0])), (relu(),))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no close decision either: the gradient is exactly 0
        part = plane(net, np.zeros(2), np.eye(2), SQUARE)
        assert part.num_regions("linear") == 1
    assert part.boundary_length("linear") == 0.0
    assert part.num_regions("activation") == 2
    assert part.close_decisions["slope"] == 0


def test_cancelling_pair_next_to_a_real_boundary():
    """A cancelling pair next to a genuine neuron: only the genuine line bounds linear regions."""
    W = np.array([[0.3, 0.2], [0.3, 0.2], [-0.4, 1.0]])
    net = Network((W, np.array([[0.7, -0.7, 2.0]])), (np.array([0.1, 0.1, -0.2]), np.array([1.0])), (relu(),))
    part = plane(net, np.zeros(2), np.eye(2), SQUARE)
    assert part.num_regions("linear") == 2
    lin = part.linear_edges
    assert np.all(part.edge_unit[lin] == 2)
    # the genuine line -0.4 x + y = 0.2 crosses the square from x=-1 (y=-0.2) to x=1 (y=0.6)
    assert np.isclose(part.boundary_length("linear"), np.hypot(2.0, 0.8), rtol=1e-12)


# -- finding 2: each breakpoint has its own snapping scale ------------------------------------------


@pytest.mark.parametrize("seed,bias", [(0, 1e-4), (0, 1e-6), (1, 1e-4), (2, 0.0)])
def test_hard_tanh_with_a_far_breakpoint_equals_relu(seed, bias):
    """Hardtanh(0, 1e6) equals ReLU wherever u < 1e6 (all of the square): same partition, watertight."""
    net = random_mlp(2, [8, 8, 8], 1, biases=Normal(bias) if bias else Zero(), seed=seed)
    netH = Network(net.weights, net.biases, (hard_tanh(0.0, 1e6),) * 3)
    pr = plane(net, np.zeros(2), np.eye(2), SQUARE)
    ph = plane(netH, np.zeros(2), np.eye(2), SQUARE)
    _watertight(ph)
    assert ph.num_regions("activation") == pr.num_regions("activation")
    assert ph.num_regions("linear") == pr.num_regions("linear")
    assert np.allclose(np.sort(ph.face_areas), np.sort(pr.face_areas), rtol=0, atol=1e-12)


# -- finding 3: state codes wide enough for >= 64 breakpoints ---------------------------------------


def test_codes_of_an_activation_with_100_breakpoints():
    T = 100
    xi = np.linspace(-4.0, 4.0, T)
    q = np.where(np.arange(T + 1) % 2 == 0, 1.0, 0.25) * (1 + 0.01 * np.arange(T + 1))
    act = PiecewiseLinear(xi, q, value=0.0)
    base = random_mlp(2, [3, 3], 1, seed=1)
    net = Network(base.weights, base.biases, (act, act))
    part = plane(net, np.zeros(2), np.eye(2), SQUARE)
    _watertight(part)
    codes = part.activation_codes()
    # oracle 1: the piece of every neuron at a point inside every face, from the pre-activations
    us = net.pre_activations(part.to_input(part.interior_points))
    for l in range(2):
        assert np.array_equal(codes[l].astype(np.int64), 2 * np.searchsorted(xi, us[l], side="right"))
    # oracle 2: the patterns seen on a dense grid are faces' patterns, and every face whose inradius
    # (>= area / perimeter for a convex polygon) exceeds the grid step holds a grid point
    g = np.linspace(-0.999, 0.999, 300)
    X = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    grid = {tuple(r) for r in np.concatenate([np.searchsorted(xi, u, side="right") for u in net.pre_activations(X)[:2]], 1)}
    faces = {tuple(r) for r in np.concatenate([c.astype(np.int64) // 2 for c in codes], 1)}
    assert grid <= faces
    assert len(faces) == part.num_faces  # distinct faces have distinct patterns
    h = g[1] - g[0]
    ef = part.edge_faces.ravel()
    per = np.bincount(ef[ef >= 0], weights=np.repeat(part.edge_lengths, 2)[ef >= 0], minlength=part.num_faces)
    wide = part.face_areas / per > h
    assert wide.sum() > 1000
    assert {tuple(r) for r in np.concatenate([c[wide].astype(np.int64) // 2 for c in codes], 1)} <= grid
    # colours and goodness are built from the same codes
    from linregions.plot import _pattern_hash

    assert np.unique(_pattern_hash(part)).size == part.num_faces


# -- finding 4: tiny biases give a watertight complex, or a warning; never a crash -----------------


@pytest.mark.parametrize("bias", [1e-9, 1e-10, 1e-11, 1e-12])
@pytest.mark.parametrize("widths", [[16, 16], [6, 6, 6]])
def test_tiny_biases_stay_watertight(bias, widths):
    for seed in range(4):
        net = random_mlp(2, widths, 1, biases=Normal(bias), seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # close decisions are reported, not errors
            part = plane(net, np.zeros(2), np.eye(2), SQUARE)
        _watertight(part)
        assert 1 <= part.num_regions("linear") <= part.num_regions("activation")


def test_broken_complex_is_reported(monkeypatch):
    """The watertightness check on every result: a builder that loses a vertex of one face gives
    a warning naming the failure, a ``watertight=False`` result, and counts that do not crash."""
    import sys

    section = sys.modules["linregions.plane.section"]  # (linregions.plane is also the function's name)
    real = section.build

    def lossy(*a, **k):
        bld = real(*a, **k)
        f = int(np.argmax(bld.face_len.a))
        bld.face_len.a[f] -= 1  # drop the last vertex of the largest face's ring
        return bld

    monkeypatch.setattr(section, "build", lossy)
    net = random_mlp(2, [8, 8], 1, seed=0)
    with pytest.warns(RuntimeWarning, match="not watertight"):
        part = plane(net, np.zeros(2), np.eye(2), SQUARE)
    assert not part.watertight and not part.certified
    assert part.num_regions("linear") >= 1


# -- close tolerance decisions -------------------------------------------------------------------


def _three_lines(delta: float) -> Network:
    """Lines x = 0, y = 0 and x + y = delta: a triangle of size ~delta at the origin."""
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    return Network((W, np.ones((1, 3))), (np.array([0.0, 0.0, -delta]), np.zeros(1)), (relu(),))


def test_exact_concurrency_is_not_a_close_decision():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        part = plane(_three_lines(0.0), np.zeros(2), np.eye(2), SQUARE)
        assert part.num_regions("activation") == 6
        assert part.certified
    assert part.close_decisions["snap"] == 0 and part.close_decisions["merge"] == 0


def test_resolvable_triangle_is_kept():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        part = plane(_three_lines(1e-8), np.zeros(2), np.eye(2), SQUARE)
        assert part.num_regions("activation") == 7
    assert part.certified


def test_erased_triangle_is_counted_and_warned():
    """A triangle of size 5e-13 is below the snapping resolution (~1e-12 of the scale): it is
    erased (6 faces, as for delta = 0), and the result says so."""
    with pytest.warns(RuntimeWarning, match=r"close tolerance decisions erased"):
        part = plane(_three_lines(5e-13), np.zeros(2), np.eye(2), SQUARE)
    assert part.num_regions("activation") == 6
    c = part.close_decisions
    assert c["snap"] + c["merge"] >= 1
    assert not part.certified
    _watertight(part)


def test_code_dtype_is_wide_enough():
    from linregions.plane.builder import code_dtype

    for T in (1, 63, 64, 100, 16383, 16384):
        assert np.iinfo(code_dtype(T)).max >= 2 * T
    assert code_dtype(63) == np.int8 and code_dtype(64) == np.int16


def test_erased_strip_is_a_counted_merge():
    """Parallel lines x = 0 and x = 5e-13 cross the square's bottom and top sides within each
    other's snapping band: their crossings merge (the strip is erased, 2 faces), counted and
    warned; at x = 1e-6 apart the strip is kept (3 faces) without a warning."""
    def net(d):
        W = np.array([[1.0, 0.0], [1.0, 0.0]])
        return Network((W, np.array([[1.0, 2.0]])), (np.array([0.0, -d]), np.zeros(1)), (relu(),))

    with pytest.warns(RuntimeWarning, match="merge"):
        part = plane(net(5e-13), np.zeros(2), np.eye(2), SQUARE)
    assert part.num_regions("activation") == 2 and part.close_decisions["merge"] >= 2
    _watertight(part)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        part = plane(net(1e-6), np.zeros(2), np.eye(2), SQUARE)
    assert part.num_regions("activation") == 3 and part.certified
