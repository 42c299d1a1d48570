"""The rounding floor of slope jumps must not swallow genuine linear boundaries on deep nets.

The classical a-priori bound |W_d||D|...|W_0||v| grows like sqrt(width)^depth faster than the
slope itself; used as the floor it once reduced a 4-[128]x20 ReLU net to one linear region on a
segment. On generic deep nets every crossing is good and changes the slope (Prop. 9), so the
linear boundaries must be exactly the points with a good crossing."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import linregions as lr


@pytest.mark.parametrize("depth,width", [(20, 128), (40, 32)])
def test_line_deep_nets_keep_every_good_boundary(depth, width):
    net = lr.random_mlp(4, [width] * depth, 3, biases=lr.Normal(0.1), seed=depth * width)
    rng = np.random.default_rng(0)
    part = lr.line(net, rng.normal(size=4), rng.normal(size=4))
    good_points = np.unique(part.crossing_point[part.good])
    assert part.num_regions("activation") > 50
    np.testing.assert_array_equal(np.nonzero(part.linear)[0], good_points)


def test_plane_deep_net_keeps_linear_boundaries():
    net = lr.random_mlp(2, [16] * 20, 1, biases=lr.Normal(0.1), seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        part = lr.plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    assert part.num_faces > 20
    # generic weights: every interior edge is good and the slope jumps across it
    np.testing.assert_array_equal(part.linear_edges[part.interior], part.edge_good[part.interior])


def test_complex_in_box_deep_net_keeps_linear_facets():
    net = lr.random_mlp(3, [6] * 12, 1, biases=lr.Normal(0.1), seed=5)
    cx = lr.complex_in_box(net, -np.ones(3), np.ones(3))
    assert cx.num_regions("activation") > 10
    assert cx.num_regions("linear") == cx.num_regions("activation")
