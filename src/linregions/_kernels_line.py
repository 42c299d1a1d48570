"""Compiled kernels of the 1D engine (numba, ``cache=True``), with a numpy fallback if numba is
missing.

The kernels themselves live in ``_kernels_line_nb`` (loaded on first use, so that importing
linregions does not import numba): the per-segment layer loop of ``linregions.line`` and
*row-invariant* matrix products: a row of ``A @ WT`` gets the same value whatever the other
segments in the batch are. BLAS does not promise that for a row inside a larger product (OpenBLAS
rounds the last row of an odd block with an edge kernel and a single row with gemv, so one row's
result changes by an ulp with the number of rows), and the exact partitions must not depend on
which other segments are in a batch (``linregions.line.lines``). The compiled layer loop calls
BLAS once per segment (or a fixed-order row-wise kernel: short segments on large layers, layers
with very few inputs),
which is row-invariant by construction; the batched engine calls the same products block by
block (``blocks_matmul``, ``blocks_mm2``, ``first_layers``, ``blocks_scale``), so both give
identical rows.
"""
from __future__ import annotations

import importlib.util

import numpy as np

#: numba is a required dependency; without it (a broken install) the engine falls back to numpy.
HAVE_NUMBA = importlib.util.find_spec("numba") is not None

#: Layers with at least this many inputs get their values and tangents at the points the previous
#: layer inserted by extension from the points before (``_kernels_line_nb.products._extend``: a few
#: multiply-adds per point, exact in exact arithmetic); narrower layers from the product at all
#: points. On 32-wide layers a product row costs about as much as an extension step and the
#: product is one call; on 256-wide layers the extension halved the products (issue 15). Both
#: engines use this rule, so they make the same float operations.
EXTEND_MIN_FANIN = 64


def rows_matmul(A: np.ndarray, WT: np.ndarray, starts: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``A @ WT (+ b)`` where each row's value depends only on the rows of its own block
    ``starts[i]:starts[i + 1]`` (blocks are segments; ``starts`` ends with ``len(A)``): one BLAS
    call per block, or the fixed-order row-wise kernel (short blocks on large layers, layers with
    very few inputs), as the per-segment kernel computes them (``_kernels_line_nb.blocks_matmul``)."""
    M, N = A.shape[0], WT.shape[1]
    bb = np.zeros(N) if b is None else np.ascontiguousarray(b, dtype=np.float64)
    if HAVE_NUMBA:
        from ._kernels_line_nb import blocks_matmul

        return blocks_matmul(np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(WT), bb,
                             np.ascontiguousarray(starts, dtype=np.int64))
    out = np.empty((M, N))
    for i in range(len(starts) - 1):
        s0, s1 = starts[i], starts[i + 1]
        if s1 > s0:
            np.matmul(A[s0:s1], WT, out=out[s0:s1])
            out[s0:s1] += bb
    return out


def scales(Amax: np.ndarray, aWT: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Raw rounding scales |b| + amax |W| of a layer's values, one row per segment (``Amax``: the
    largest |a_k| over each segment's points; ``aWT`` = |W|^T), as the per-segment kernel
    computes them (``_kernels_line_nb.blocks_scale``: |b| first, then the terms in order)."""
    if HAVE_NUMBA:
        from ._kernels_line_nb import blocks_scale

        return blocks_scale(np.ascontiguousarray(Amax, dtype=np.float64), np.ascontiguousarray(aWT),
                            np.ascontiguousarray(b, dtype=np.float64))
    return Amax @ aWT + np.abs(b)


def layer_products(A: np.ndarray, dA: np.ndarray, WT: np.ndarray, b: np.ndarray, starts: np.ndarray):
    """(A @ WT + b, dA @ WT) block by block, each block's rows exactly as the per-segment kernel
    computes them (``_kernels_line_nb.blocks_mm2``; ``rows_matmul`` twice without numba)."""
    if HAVE_NUMBA:
        from ._kernels_line_nb import blocks_mm2

        return blocks_mm2(np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(dA, dtype=np.float64),
                          np.ascontiguousarray(WT), np.ascontiguousarray(b, dtype=np.float64),
                          np.ascontiguousarray(starts, dtype=np.int64))
    return rows_matmul(A, WT, starts, b), rows_matmul(dA, WT, starts)


def first_layers(X0: np.ndarray, X1: np.ndarray, WT: np.ndarray, b: np.ndarray):
    """The first layer on segments [X0[i], X1[i]] as the per-segment kernel computes it: values at
    both ends (rows 2i, 2i + 1), tangents x1 - x0 (row i) and raw rounding scales
    |b| + max(|x0|, |x1|) |W| (row i), one fused pass over W per segment
    (``_kernels_line_nb.first_layers``; numpy products without numba)."""
    if HAVE_NUMBA:
        from ._kernels_line_nb import first_layers as kernel

        return kernel(np.ascontiguousarray(X0, dtype=np.float64), np.ascontiguousarray(X1, dtype=np.float64),
                      np.ascontiguousarray(WT), np.ascontiguousarray(b, dtype=np.float64))
    E = np.empty((2 * X0.shape[0], X0.shape[1]))
    E[0::2], E[1::2] = X0, X1
    return E @ WT + b, (X1 - X0) @ WT, np.maximum(np.abs(X0), np.abs(X1)) @ np.abs(WT) + np.abs(b)


_CONTROLLER: list = []


def _blas_controller():
    """threadpoolctl's controller of the loaded BLAS libraries (created once, after scipy's bundled
    OpenBLAS, the one numba's compiled products call, is loaded)."""
    if not _CONTROLLER:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS numba calls)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


class one_blas_thread:
    """Context: BLAS runs on one thread, then the previous setting is restored. The compiled
    kernels' per-segment products have a few hundred rows: threads do not pay off there, and on a
    loaded machine waiting threads made them several times slower (issue 15). The setting is
    process-wide while the context is open; the libraries' own get/set calls (threadpoolctl's
    controllers, found once) cost about a microsecond.

    ``compiled_only``: limit only the BLAS that numba's compiled products call (scipy's), not
    numpy's own bundled BLAS where that is a separate library (pip wheels). Restoring numpy's
    threads wakes its idle workers, which then compete with the kernel for the cores: 40-110 µs
    per single ``line`` call on a loaded 2-core machine (``benchmarks/line.py``)."""

    def __init__(self, compiled_only: bool = False):
        self._libs = _blas_libs(compiled_only)

    def __enter__(self):
        self._saved = [lib.get_num_threads() for lib in self._libs]
        for lib, n in zip(self._libs, self._saved):
            if n != 1:
                lib.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        for lib, n in zip(self._libs, self._saved):
            if n != 1:
                lib.set_num_threads(n)
        return False


_LIBS: dict = {}


def _blas_libs(compiled_only: bool) -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries (of ``_blas_controller``), found
    once; with ``compiled_only``, without numpy's bundled BLAS when another library (scipy's, the
    one numba's products call) is loaded beside it."""
    if compiled_only not in _LIBS:
        import os

        libs = [lib for lib in _blas_controller().lib_controllers if lib.user_api == "blas"]
        if compiled_only and len(libs) > 1:
            np_dir = os.path.dirname(os.path.realpath(np.__file__))
            own = tuple(d + os.sep for d in (np_dir, np_dir + ".libs"))
            other = [lib for lib in libs if not os.path.realpath(lib.filepath).startswith(own)]
            libs = other or libs
        _LIBS[compiled_only] = libs
    return _LIBS[compiled_only]


def segments_line(*args):
    """``_kernels_line_nb.segments_line`` (the layer loop and the crossings of all segments of a
    chunk in one compiled call), loaded on first use."""
    from ._kernels_line_nb import segments_line as kernel

    global segments_line
    segments_line = kernel
    return kernel(*args)


def segment_ends(X0: np.ndarray, X1: np.ndarray) -> tuple[float, int]:
    """The largest |x| over segment ends (NaN if one is NaN) and the first segment with
    x0 == x1 (-1: none): ``_kernels_line_nb.segment_ends``, numpy without numba."""
    if HAVE_NUMBA:
        from ._kernels_line_nb import segment_ends as kernel

        return kernel(X0, X1)
    big = max(float(np.abs(X0).max(initial=0.0)), float(np.abs(X1).max(initial=0.0)))
    zero = np.nonzero(np.all(X0 == X1, axis=1))[0]
    return big, int(zero[0]) if zero.size else -1


def interval_states(*args):
    """``_kernels_line_nb.interval_states`` (one compiled pass of ``line.core._interval_states``)."""
    from ._kernels_line_nb import interval_states as kernel

    global interval_states
    interval_states = kernel
    return kernel(*args)


__all__ = ["HAVE_NUMBA", "EXTEND_MIN_FANIN", "one_blas_thread", "rows_matmul", "layer_products", "first_layers", "scales", "segments_line", "segment_ends", "interval_states"]
