"""The compiled (numba, ``cache=True``) kernels of the 1D engine; imported on first use by
``linregions._kernels_line`` so that ``import linregions`` does not load numba.

- ``products``: row-invariant matrix products (fixed-order row-wise kernel, per-segment BLAS);
- ``states``: per-layer passes on a segment's points (activations and tangents, tolerances,
  crossings, state codes, code differences);
- ``segments``: the per-segment layer loop and crossings pass, for a chunk of segments.
"""
from .products import SHORT_POINTS, blocks_matmul, blocks_mm2
from .segments import segment_ends, segments_line
from .states import interval_states

__all__ = ["SHORT_POINTS", "blocks_matmul", "blocks_mm2", "interval_states", "segment_ends", "segments_line"]
