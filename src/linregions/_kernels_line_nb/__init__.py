"""The compiled (numba, ``cache=True``) kernels of the 1D engine; imported on first use by
``linregions._kernels_line`` so that ``import linregions`` does not load numba.

- ``products``: row-invariant products per segment (BLAS, or a fixed-order row-wise kernel for
  short segments on large layers and for layers with very few inputs), rounding scales, and the extension of a layer's values and
  tangents to the points the previous layer inserted;
- ``states``: per-layer passes on a segment's points (activations and tangents, tolerances,
  crossings, state codes, code differences);
- ``segments``: the per-segment layer loop and crossings pass, for a chunk of segments.
"""
import os as _os

from .. import _numba_cache

# before any kernel is loaded: segments' kernels are compiled with products' and states' helpers
# and read a constant of _kernels_line
_numba_cache.refresh(_os.path.dirname(__file__), (_os.path.join(_os.path.dirname(_os.path.dirname(__file__)),
                                                                "_kernels_line.py"),))

from .products import blocks_matmul, blocks_mm2, blocks_scale, first_layers  # noqa: E402
from .segments import segment_ends, segments_line  # noqa: E402
from .states import interval_states  # noqa: E402

__all__ = ["blocks_matmul", "blocks_mm2", "blocks_scale", "first_layers", "interval_states", "segment_ends", "segments_line"]
