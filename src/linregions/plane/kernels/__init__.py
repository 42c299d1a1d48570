"""Compiled loops of the planar construction (numba, ``cache=True``).

Per chunk of a layer's lines, ``split_chunk`` splits every edge at every crossing and lists the
faces to cut, and ``clip_chunk`` cuts them, one ancestor face at a time (``cuts``); at the end of a
layer ``face_codes`` / ``snap_decisions`` read the activation state of every face and count close
snapping decisions, and ``any_open`` reduces state codes to goodness (``states``);
``complex_arrays`` / ``complex_edges`` turn the rings into the result's arrays (edges, their faces,
areas) (``complex``). The matmul per layer stays in numpy (``values``). These loops replace
bookkeeping whose vectorised form needed a Python round per cutter and faces x width temporaries
(issue 15's profile), with no temporaries beyond the complex itself.

How the loops stay cheap (set bits visited one per step, buffers grown only when full, rings
wrapped by a comparison, close snaps counted without branches) is told in ``cuts`` and ``states``;
``_jit`` holds the shared ``njit``.
"""
from __future__ import annotations

import os as _os

from ..._numba_cache import refresh as _refresh

_refresh(_os.path.dirname(__file__))  # before any kernel is loaded (they share helpers across modules)

from ._jit import njit  # noqa: F401, E402
from .complex import complex_arrays, complex_edges
from .cuts import (  # noqa: F401 (the private helpers too: tests call them by this path)
    _BIT_OF, _DEBRUIJN, _DEBRUIJN_U, _bit_index, _grow1, _grow2, _side_bits, clip_chunk, slot_edges, split_chunk,
)
from .states import any_open, face_codes, snap_decisions

__all__ = [
    "clip_chunk",
    "slot_edges",
    "split_chunk",
    "face_codes",
    "snap_decisions",
    "any_open",
    "complex_arrays",
    "complex_edges",
]
