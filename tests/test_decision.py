"""Exact decision boundaries (linregions.decision) against dense sampling of the sign / argmax."""
from __future__ import annotations

import numpy as np
import pytest

from linregions import Network, line, plane, relu, random_mlp
from linregions.decision import decision_boundary, plane_boundary, segment_boundary
from linregions.laws import Normal, Zero

BOX = (-2.0, 2.0, -2.0, 2.0)


def _classes(net, X, level=None):
    N = net(X)
    if N.shape[1] == 1:
        return (N[:, 0] > (0.0 if level is None else level)).astype(int)
    return N.argmax(axis=1)


@pytest.mark.parametrize("n_out,seed", [(1, 0), (3, 1), (5, 2)])
def test_segment_points_match_dense_sampling(n_out, seed):
    net = random_mlp(3, [12, 12], n_out, biases=Normal(0.5), seed=seed)
    rng = np.random.default_rng(seed)
    total = 0
    for _ in range(4):
        x0, x1 = rng.normal(size=3) * 3, rng.normal(size=3) * 3
        part = line(net, x0, x1)
        level = float(net(((x0 + x1) / 2)[None])[0, 0]) if n_out == 1 else None
        db = segment_boundary(part, level)
        total += db.num_points
        tt = np.linspace(0.0, 1.0, 200_001)
        c = _classes(net, x0 + tt[:, None] * (x1 - x0), level)
        ch = np.nonzero(np.diff(c))[0]
        # every sampled change brackets exactly one exact point, and vice versa
        assert db.num_points == ch.size
        np.testing.assert_array_less(tt[ch] - 1e-12, db.t)
        np.testing.assert_array_less(db.t, tt[ch + 1] + 1e-12)
        np.testing.assert_array_equal(db.left, c[ch])
        np.testing.assert_array_equal(db.right, c[ch + 1])
        if db.num_points:
            v = net(db.points)
            if n_out == 1:
                np.testing.assert_allclose(v[:, 0], level, atol=1e-9 * np.abs(net(part.points)).max())
            else:
                s = np.sort(v, axis=1)
                assert np.all(s[:, -1] - s[:, -2] <= 1e-9 * np.abs(v).max())
    assert total >= 2


def _line_crossings(db, y):
    s = db.segments
    lo, hi = np.minimum(s[:, 0, 1], s[:, 1, 1]), np.maximum(s[:, 0, 1], s[:, 1, 1])
    m = (lo < y) & (y < hi)
    x = s[m, 0, 0] + (y - s[m, 0, 1]) / (s[m, 1, 1] - s[m, 0, 1]) * (s[m, 1, 0] - s[m, 0, 0])
    return np.sort(x)


@pytest.mark.parametrize("n_out,seed", [(1, 3), (3, 3), (4, 5), (5, 3)])
def test_plane_polylines_match_dense_sampling(n_out, seed):
    net = random_mlp(2, [16, 16], n_out, biases=Normal(0.5), seed=seed)
    level = float(net(np.zeros((1, 2)))[0, 0]) if n_out == 1 else None
    part = plane(net, [0.0, 0.0], np.eye(2), BOX)
    db = plane_boundary(part, level)
    assert db.num_segments > 0
    # every segment end ties (N = level, or the top two classes)
    v = net(part.to_input(db.segments.reshape(-1, 2)))
    scale = np.abs(net(part.to_input(part.vertices))).max()
    if n_out == 1:
        assert np.abs(v[:, 0] - level).max() <= 1e-9 * scale
    else:
        s = np.sort(v, axis=1)
        assert (s[:, -1] - s[:, -2]).max() <= 1e-9 * scale
    # along horizontal lines, the exact crossings are the changes of the densely sampled class
    xs = np.linspace(-2.0, 2.0, 100_001)
    for y in np.linspace(-1.93, 1.91, 6):
        c = _classes(net, np.stack([xs, np.full_like(xs, y)], axis=1), level)
        ch = np.nonzero(np.diff(c))[0]
        x = _line_crossings(db, y)
        assert x.size == ch.size, y
        np.testing.assert_array_less(xs[ch] - 1e-12, x)
        np.testing.assert_array_less(x, xs[ch + 1] + 1e-12)
    # each segment lies in its face and separates two different classes
    mid = db.segments.mean(axis=1)
    dvec = db.segments[:, 1] - db.segments[:, 0]
    nrm = np.stack([-dvec[:, 1], dvec[:, 0]], axis=1) / np.hypot(*dvec.T)[:, None]
    eps = 1e-7
    ca = _classes(net, part.to_input(mid + eps * nrm), level)
    cb = _classes(net, part.to_input(mid - eps * nrm), level)
    assert np.all(ca != cb)
    np.testing.assert_array_equal(np.sort(np.stack([ca, cb], 1), axis=1), db.classes if n_out > 1 else np.sort(np.stack([ca, cb], 1), axis=1))
    # total length: Crofton on the plane by lines in 2 directions is the sum of |dx| + |dy| pieces
    assert db.length == pytest.approx(np.hypot(*dvec.T).sum())
    assert set(db.regions("activation")) == set(db.face)
    assert db.regions("linear").size <= db.regions("activation").size
    # polylines cover every segment once
    assert sum(p.shape[0] - 1 for p in db.polylines()) == db.num_segments
    df = db.to_frame()
    assert len(df) == db.num_segments and df["length"].sum() == pytest.approx(db.length)


def test_zero_bias_boundary_through_a_vertex():
    """Zero biases: N is positively homogeneous, {N = 0} is a union of rays from the origin,
    which is a vertex of the complex; the pieces meet there."""
    net = random_mlp(2, [8, 8], 1, biases=Zero(), seed=2)
    part = plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    db = plane_boundary(part)
    ang = np.linspace(-np.pi, np.pi, 100_001)
    c = _classes(net, np.stack([np.cos(ang), np.sin(ang)], 1) * 0.5)
    n_rays = int(np.count_nonzero(np.diff(c)))
    assert n_rays > 0
    # each ray runs from the origin to the square's boundary
    ends = db.segments.reshape(-1, 2)
    assert np.sum(np.hypot(*ends.T) < 1e-12) >= n_rays
    for y in (-0.7, -0.2, 0.3, 0.8):
        xs = np.linspace(-1, 1, 200_001)
        cc = _classes(net, np.stack([xs, np.full_like(xs, y)], 1))
        assert _line_crossings(db, y).size == np.count_nonzero(np.diff(cc))
    assert db.num_pieces == 1  # all rays meet at the origin


def test_tie_faces_and_level_errors():
    # N = relu(x): N = 0 on the whole left half -> a tie face (class 0 by the argmax's first
    # index); the class changes only across its edge x = 0, found from the right face alone
    net = Network((np.array([[1.0, 0.0]]), np.array([[1.0]])), (np.zeros(1), np.zeros(1)), (relu(),))
    part = plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    db = plane_boundary(part, 0.0)
    left = np.nonzero(part.interior_points[:, 0] < 0)[0]
    np.testing.assert_array_equal(db.tie_faces, left)
    assert db.num_segments == 1 and db.edge_aligned.tolist() == [True]
    np.testing.assert_allclose(db.segments[0, :, 0], 0.0, atol=1e-15)
    assert db.length == pytest.approx(2.0)
    assert plane_boundary(part, -0.5).num_segments == 0  # N > -0.5 everywhere
    db2 = plane_boundary(part, 0.5)
    assert db2.length == pytest.approx(2.0) and db2.num_pieces == 1
    np.testing.assert_allclose(db2.segments[:, :, 0], 0.5)
    net3 = random_mlp(2, [4], 3, seed=0)
    with pytest.raises(ValueError, match="level"):
        plane_boundary(plane(net3, [0.0, 0.0], np.eye(2), BOX), level=1.0)
    with pytest.raises(TypeError, match="LinePartition or PlanePartition"):
        decision_boundary(object())
    lp = line(net, [-1.0, 0.0], [1.0, 0.0])
    assert decision_boundary(lp, 0.5).t == pytest.approx([0.75])
    sb = decision_boundary(lp, 0.0)  # N = 0 on the whole left half: a tie interval; the class changes at x = 0
    assert sb.t.tolist() == [0.5] and sb.tie_intervals.tolist() == [0]
    assert (sb.left.tolist(), sb.right.tolist()) == ([0], [1])
