"""The torch-native exact engine: partitions of segments through a ``torch.nn.Module`` computed
with the module's own ops (conv, pooling, batch norm, residual adds, linear) in float64, on CPU or
GPU, never with a dense matrix of a convolution.

- ``engine.protocol``: the evaluation protocol the segment driver needs from a model;
- ``engine.program``: ``ModuleProgram``, the protocol for modules (torch.fx tracing);
- ``engine.segments``: ``lines``, ``line``, ``real_line`` on modules, returning
  ``linregions.LineBatch`` / ``LinePartition``;
- ``engine.plane``: ``ModuleVertexValues``, the plane builder's ``VertexValues`` for modules;
- ``engine.blocks``: row blocks of the driver's element-wise passes, on worker threads;
- ``engine.models``: torchvision ResNets with the CIFAR stem (tests, benchmarks, examples).
"""
from __future__ import annotations

from .program import InputShapeError, ModuleProgram, compile_program
from .protocol import Evaluator, Live, Site
from .plane import ModuleVertexValues
from .segments import CHUNK_POINTS, dense_to_sites, line, lines, real_line

__all__ = [
    "ModuleProgram", "compile_program", "InputShapeError", "Evaluator", "Live", "Site",
    "lines", "line", "real_line", "dense_to_sites", "CHUNK_POINTS", "ModuleVertexValues",
]
