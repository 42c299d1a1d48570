"""Compiled kernels of the 1D engine (numba, ``cache=True``), with a numpy fallback if numba is
missing.

The kernels themselves live in ``_kernels_line_nb`` (loaded on first use, so that importing
linregions does not import numba): the per-segment layer loop of ``linregions.line`` and a
*row-invariant* matrix product: row i of ``A @ WT`` is computed by the same sequence of
floating-point operations whatever the other rows of ``A`` are. BLAS does not promise that for a
row inside a larger product (OpenBLAS rounds the last row of an odd block with an edge kernel and
a single row with gemv, so one row's result changes by an ulp with the number of rows), and the
exact partitions must not depend on which other segments are in a batch
(``linregions.line.lines``). The compiled layer loop calls BLAS once per segment (on segments with
more than ``SHORT_POINTS`` points at a large layer; the row-wise kernel otherwise), which is
row-invariant by construction; the batched engine calls the same products block by block
(``blocks_matmul``, ``blocks_mm2``), so both give identical rows.
"""
from __future__ import annotations

import importlib.util

import numpy as np

#: numba is a required dependency; without it (a broken install) the engine falls back to numpy.
HAVE_NUMBA = importlib.util.find_spec("numba") is not None

#: Products with at most this many weights (n_prev * n) use the compiled row-wise kernel; larger
#: ones call BLAS once per segment (a block of rows that is the same in every batch). Zero: on one
#: BLAS thread (``one_blas_thread``) BLAS beat the row-wise kernel on every size measured, from
#: 8 x 8 to 256 x 256 and on narrow output layers (``benchmarks/line.py``, issue 15).
SMALL_LAYER = 0

#: Segments with at most this many points at a layer get the row-wise kernel on large layers too
#: (the value of ``_kernels_line_nb.SHORT_POINTS``, repeated here so that reading it needs no numba).
SHORT_POINTS = 16


def rows_matmul(A: np.ndarray, WT: np.ndarray, starts: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``A @ WT (+ b)`` where each row's value depends only on the rows of its own block
    ``starts[i]:starts[i + 1]`` (blocks are segments; ``starts`` ends with ``len(A)``).

    Small layers, and blocks of at most ``SHORT_POINTS`` rows: a compiled loop that computes every
    row on its own (fixed summation order). Other blocks: one BLAS call per block, so a block's
    rows are rounded the same way in any batch (``_kernels_line_nb.blocks_matmul``, the products
    of the per-segment kernel).
    """
    M, N = A.shape[0], WT.shape[1]
    if HAVE_NUMBA:
        from ._kernels_line_nb import blocks_matmul

        bb = np.zeros(N) if b is None else np.ascontiguousarray(b, dtype=np.float64)
        return blocks_matmul(np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(WT), bb,
                             np.ascontiguousarray(starts, dtype=np.int64), bool(WT.shape[0] * N > SMALL_LAYER))
    out = np.empty((M, N))
    if len(starts) == 2:
        np.matmul(A, WT, out=out)
    else:
        for i in range(len(starts) - 1):
            s0, s1 = starts[i], starts[i + 1]
            if s1 > s0:
                np.matmul(A[s0:s1], WT, out=out[s0:s1])
    if b is not None:
        out += b
    return out


def layer_products(A: np.ndarray, dA: np.ndarray, WT: np.ndarray, b: np.ndarray, starts: np.ndarray):
    """(A @ WT + b, dA @ WT) block by block, each block's rows exactly as the per-segment kernel
    computes them (``_kernels_line_nb.blocks_mm2``; ``rows_matmul`` twice without numba)."""
    if HAVE_NUMBA:
        from ._kernels_line_nb import blocks_mm2

        return blocks_mm2(np.ascontiguousarray(A, dtype=np.float64), np.ascontiguousarray(dA, dtype=np.float64),
                          np.ascontiguousarray(WT), np.ascontiguousarray(b, dtype=np.float64),
                          np.ascontiguousarray(starts, dtype=np.int64), bool(WT.size > SMALL_LAYER))
    return rows_matmul(A, WT, starts, b), rows_matmul(dA, WT, starts)


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


__all__ = ["HAVE_NUMBA", "SMALL_LAYER", "SHORT_POINTS", "one_blas_thread", "rows_matmul", "layer_products", "segments_line", "segment_ends", "interval_states"]
