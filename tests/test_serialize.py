"""Export and import (linregions.serialize): save -> load gives equal results; GeoJSON is valid."""
from __future__ import annotations

import json

import numpy as np
import pytest

from linregions import line, lines, plane, random_mlp
from linregions.activations import hard_tanh
from linregions.laws import Normal
from linregions.serialize import FORMAT_VERSION, load, save, to_frame, to_geojson


def _fields_equal(a, b, names=None):
    """Every public field (or the named ones) equal: arrays element by element, others by ==."""
    import dataclasses

    names = names or [f.name for f in dataclasses.fields(a) if not f.name.startswith("_") and f.name != "net"]
    for f in names:
        x, y = getattr(a, f, None), getattr(b, f, None)
        if x is None or y is None:
            assert x is None and y is None, f
        elif isinstance(x, tuple):
            assert len(x) == len(y), f
            for xi, yi in zip(x, y):
                np.testing.assert_array_equal(xi, yi, err_msg=f)
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, np.asarray(y), err_msg=f)
            assert np.asarray(y).dtype == x.dtype, f
        else:
            assert x == y, f


def test_network_roundtrip(tmp_path):
    net = random_mlp(3, [5, 4], 2, activation=hard_tanh(), seed=0)
    save(net, tmp_path / "net.npz")
    net2 = load(tmp_path / "net.npz")
    X = np.random.default_rng(0).normal(size=(50, 3)) * 3
    np.testing.assert_array_equal(net(X), net2(X))
    assert [a.name for a in net2.activations] == [a.name for a in net.activations]


def test_line_and_batch_roundtrip(tmp_path):
    net = random_mlp(3, [8, 8], 2, biases=Normal(0.5), seed=1)
    p = line(net, [-1.0, 0.0, 2.0], [1.0, 1.0, -1.0])
    save(p, tmp_path / "l.npz")
    q = load(tmp_path / "l.npz")
    _fields_equal(p, q)
    assert repr(p) == repr(q)
    b = lines(net, np.zeros((4, 3)), np.eye(3)[[0, 1, 2, 0]] * 2)
    save(b, tmp_path / "b.npz")
    c = load(tmp_path / "b.npz")
    _fields_equal(b, c)
    np.testing.assert_array_equal(b.num_regions(), c.num_regions())
    assert repr(b[2]) == repr(c[2])


def test_plane_roundtrip_answers_the_same(tmp_path):
    net = random_mlp(2, [3, 3, 3, 3], 2, activation=hard_tanh(), biases=Normal(0.5), seed=1)
    p = plane(net, [0.0, 0.0], np.eye(2), (-3, 3, -3, 3))
    save(p, tmp_path / "p.npz")
    q = load(tmp_path / "p.npz")
    assert type(q) is type(p)
    _fields_equal(p, q)
    for a, b in zip(p.activation_codes(), q.activation_codes()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p.region_labels, q.region_labels)
    for a, b in zip(p.affine_maps(), q.affine_maps()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert repr(p) == repr(q)
    dp, dq = to_frame(p), to_frame(q)
    assert dp.equals(dq)


def test_complex_roundtrip(tmp_path):
    from linregions.enumerate import complex_in_box

    cx = complex_in_box(random_mlp(3, [5], seed=0), -1.0, 1.0)
    save(cx, tmp_path / "c.npz")
    cy = load(tmp_path / "c.npz")
    _fields_equal(cx, cy)
    assert repr(cx) == repr(cy)
    np.testing.assert_array_equal(cx.region_patterns(), cy.region_patterns())


def test_versions_and_errors(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a linregions file"):
        load(tmp_path / "x.npz")
    meta = {"format": "linregions", "version": FORMAT_VERSION + 1, "type": "Network"}
    np.savez(tmp_path / "y.npz", __meta__=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match="version"):
        load(tmp_path / "y.npz")
    with pytest.raises(TypeError, match="cannot save"):
        save(object(), tmp_path / "z.npz")


def test_geojson_is_valid_and_covers_the_domain(tmp_path):
    net = random_mlp(2, [8, 8], 3, biases=Normal(0.5), seed=0)
    p = plane(net, [0.0, 0.0], np.eye(2), (-2, 2, -2, 2))
    doc = to_geojson(p, tmp_path / "p.geojson")
    doc2 = json.loads((tmp_path / "p.geojson").read_text())
    assert doc2["type"] == "FeatureCollection"
    polys = [f for f in doc2["features"] if f["geometry"]["type"] == "Polygon"]
    assert len(polys) == p.num_faces
    area = 0.0
    for f in polys:
        ring = np.array(f["geometry"]["coordinates"][0])
        assert np.array_equal(ring[0], ring[-1]) and ring.shape[0] >= 4
        a = 0.5 * np.sum(ring[:-1, 0] * ring[1:, 1] - ring[1:, 0] * ring[:-1, 1])
        assert a > 0  # counter-clockwise exterior ring (RFC 7946)
        assert a == pytest.approx(f["properties"]["area"])
        area += a
    assert area == pytest.approx(16.0)
    segs = [f for f in doc["features"] if f["properties"]["kind"] == "decision"]
    assert len(segs) > 0 and all(len(f["geometry"]["coordinates"]) == 2 for f in segs)
