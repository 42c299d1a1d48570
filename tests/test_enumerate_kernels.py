"""The compiled kernels of ``complex_in_box`` on cells whose bitsets span several 64-bit words:
more than 64 constraints per cell and more than 64 vertices per cell. Oracle: closed forms of a
regular polygon circumscribed about a circle, and of the box."""
from __future__ import annotations

import math

import numpy as np
import pytest

from linregions import Network, relu
from linregions.enumerate import complex_in_box


@pytest.mark.parametrize("k", [70, 130])
def test_regular_polygon_cell_with_more_than_64_vertices(k):
    # u_i = cos(t_i) x + sin(t_i) y - r: the tangents of the circle of radius r at k angles. The
    # cell where every u_i < 0 is the regular k-gon circumscribed about the circle: k vertices
    # and k edges, area k r^2 tan(pi / k), perimeter 2 k r tan(pi / k)
    r = 0.5
    t = 2 * np.pi * (np.arange(k) + 0.25) / k
    W0 = np.stack([np.cos(t), np.sin(t)], axis=1)
    net = Network((W0, np.ones((1, k))), (np.full(k, -r), np.zeros(1)), (relu(),))
    cx = complex_in_box(net, -1.0, 1.0, max_regions=10**6)
    inside = np.all(cx.region_centroid @ W0.T - r < 0, axis=1)
    assert inside.sum() == 1
    i = int(np.nonzero(inside)[0][0])
    assert cx.region_offsets[i + 1] - cx.region_offsets[i] == k
    assert cx.region_volume[i] == pytest.approx(k * r**2 * math.tan(math.pi / k), rel=1e-12)
    edges = (cx.face_dim == 1) & (cx.facet_regions == i).any(axis=1)
    assert edges.sum() == k
    assert cx.face_volume[edges].sum() == pytest.approx(2 * k * r * math.tan(math.pi / k), rel=1e-12)
    assert cx.region_volume.sum() == pytest.approx(4.0, rel=1e-12)
    # every region is an activation region of its own (all neurons good: ReLU, output weights 1)
    assert cx.num_regions("linear") == cx.num_regions("activation")
