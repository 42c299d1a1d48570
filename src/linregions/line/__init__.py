"""Exact partitions of segments of input space into activation and linear regions.

On a segment x(t) = x0 + t (x1 - x0), t in [0, 1], every pre-activation is continuous and
piecewise affine in t. The partition is built layer by layer (the paper's "exact layer-by-layer
splitting"): once layers < l are affine on each interval between the current points, u_l is affine
there too, so its values at the interval's ends give every crossing of a breakpoint in closed
form; new points get their pre-activations by exact linear interpolation. The same affinity gives
each interval's piece of u_l from the midpoint of its end values, and the tangent d u_l / dt on
each interval is carried along, which yields the output's affine piece at the end.

Cost. Layer l + 1's values and tangents come from one product over the points that existed
before layer l split the segment (layer 0 sees only the segment ends). At the points layer l
inserted they follow exactly from the point before: across an inserted point only the units of
layer l that switch there change the activation's tangent, so
dU_{l+1}(right) = dU_{l+1}(left) + sum over those units of (change of phi') du_l/dt w_unit, and
U_{l+1}(p) = U_{l+1}(p_prev) + (t_p - t_prev) dU_{l+1}(left): O(width) per point instead of a
row of the product (layers with fewer than ``_kernels_line.EXTEND_MIN_FANIN`` inputs take the
product at every point, which costs about as much there, and so do all layers after a crossing
of the segment was merged into another point: the merged kink is not in the codes). On a
784-[256]x4 ReLU net this is about 0.3-0.4x one plain forward pass over the final points
(``benchmarks/line.py``).

Two kinds of region (docs/theory.md):

- activation regions: maximal intervals of constant activation pattern. A point separates two of
  them when some neuron changes its piece there (a *crossing*).
- linear regions: maximal intervals on which the output N is one affine map. A point separates
  two of them when the output's slope dN/dt jumps there. For networks with continuous parameter
  laws this happens exactly at the points with a *good* crossing (Prop. 9 restricted to the
  line); the per-crossing ``good`` flag is reported too.

Degenerate arrangements (zero biases: many neurons switching at one point, neurons identically at
a breakpoint on an interval) are handled with the tolerances of ``linregions.tolerances``: snapping
to a breakpoint with each breakpoint's own scale (``snap_scale``), merging crossings closer than
``T_MERGE``, and slope jumps decided by ``slope_jump`` above the rounding floor ``slope_noise``.
Every decision that was *close* is counted; where one was, the sub-interval around it is
re-decided in exact rational arithmetic on the float64 parameters (``linregions.exact``), so the
counts stay exact below float64 resolution (``LinePartition.close_decisions``, ``certified``,
``exact_windows``).

Engine. The layer loop and the crossings pass (records, goodness, slope jumps, kept points and
intervals) run per segment in one compiled call per chunk (``linregions._kernels_line``, numba;
slope jumps it cannot call certain go to the numpy decision); without numba, numpy does both over
all segments at once, with the same decisions. ``line`` builds its ``LinePartition`` directly
(no batch) unless a close decision needs the exact re-decision. Every matrix product covers the rows of one segment only (or is computed row by row in a
fixed order), so a segment's result is the same, bit for bit, whatever other segments are in the
batch: BLAS rounds a row differently depending on the other rows of the product. Which product a
segment gets depends only on that segment: a fused fixed-order pass for the first layer (W_0 read
once for the values at both ends, the tangent and the rounding scale), for segments with at
most ``SHORT_POINTS`` points on a layer with at least ``ROWWISE_MIN_WEIGHTS`` weights and for
layers with at most ``TINY_FANIN`` inputs, else one
BLAS call on the segment's values and tangents (units off on the whole segment left out where that
pays), on one BLAS thread. With numba both
engines call the same compiled products, so they agree bit for bit. The kernel keeps each layer's state
codes as computed, with a row map per layer, and the units whose code differs between consecutive
rows (no copy of all layers' codes at every insertion, no comparison of all codes at the end). Package layout: ``results`` (``LinePartition``, ``LineBatch``),
``core`` (the splitting), ``redecide`` (exact re-decision), ``real`` (``real_line``).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..network import Network, is_module as _is_module
from .core import (  # noqa: F401 (private helpers shared with plane, enumerate, distance)
    _check_segments, _compiled, _code_open, _forward_tangent, _open, _partition_chunk, _reachability, _snap_scale, _states,
)
from .redecide import _redecide
from .results import Kind, LineBatch, LinePartition, _check_kind, _concat, _unit_kinds  # noqa: F401

__all__ = ["LinePartition", "LineBatch", "line", "lines", "real_line", "Kind"]

#: Peak memory target of one chunk of segments (bytes); chunks are processed one after another.
_CHUNK_BYTES = 96 * 2**20


def _module_only(input_shape: Any, device: Any, chunk_points: Any) -> None:
    if input_shape is not None or device is not None or chunk_points is not None:
        raise TypeError("input_shape, device and chunk_points apply to torch modules (the torch-native engine), "
                        "not to a linregions.Network")


def lines(net: Network, X0: Any, X1: Any, *, progress: bool = False, exact: bool = True, input_shape: Any = None,
          device: Any = None, chunk_points: int | None = None) -> LineBatch:
    """Exact partitions of the segments [X0[i], X1[i]] (vectorised over segments).

    Parameters
    ----------
    net : the network: a ``linregions.Network``, or a piecewise-linear ``torch.nn.Module`` (MLP,
        CNN, ResNet), which runs through the torch-native engine (``linregions.engine``) with the
        module's own ops in float64 on ``device``, peak memory set by ``chunk_points``; segment
        ends are then shaped like one sample (``input_shape``) or batches of them.
    X0, X1 : (S, n_in) segment ends (numpy, torch or nested lists).
    progress : show a progress bar over chunks of segments.
    exact : re-decide close tolerance decisions in exact rational arithmetic on the float64
        parameters (``linregions.exact``) over the short sub-interval around them, so that counts
        stay exact below float64 resolution. Decisions left close (``exact=False``, or a
        sub-interval too expensive to re-decide) are counted in ``close_decisions``, and a
        ``UserWarning`` names how many erased more than rounding noise.

    A segment's result depends only on that segment (never on the others in the batch).

    >>> from linregions import random_mlp
    >>> import numpy as np
    >>> net = random_mlp(4, [16, 16], seed=0)
    >>> batch = lines(net, np.zeros((3, 4)), np.eye(4)[:3])
    >>> batch.num_regions("activation").shape
    (3,)
    """
    if _is_module(net):
        from ..engine import CHUNK_POINTS, lines as module_lines

        return module_lines(net, X0, X1, input_shape=input_shape, device=device,
                            chunk_points=chunk_points or CHUNK_POINTS, progress=progress)
    _module_only(input_shape, device, chunk_points)
    return _lines(net, *_check_segments(net, X0, X1), progress=progress, exact=exact)


def _lines(net: Network, X0: np.ndarray, X1: np.ndarray, *, progress: bool = False, exact: bool = True) -> LineBatch:
    """``lines`` on checked float64 segment ends."""
    S = X0.shape[0]
    # Chunk size from a memory estimate per point: the numpy engine holds about 6 float64 rows of
    # the widest layer and one state byte per neuron for every point of the chunk; the compiled
    # kernel works segment by segment and keeps only the results (t, crossings, slopes and
    # intercepts). The first chunk assumes the worst case of every neuron crossing every breakpoint;
    # later chunks use the points per segment seen so far (with margin).
    n_neurons = sum(W.shape[0] for W in net.weights[:-1])  # an upper bound of net.num_neurons
    per_point_numpy = 48 * max(W.shape[0] for W in net.weights[:-1]) + 2 * n_neurons + 64
    per_point_compiled = 96 + 16 * net.n_out
    est_points = 2.0 + n_neurons * max(a.T for a in net.activations)
    bar = None
    if progress and S > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=S, desc="segments", unit="seg")
    parts, start, seen_points = [], 0, 0
    def chunk_size(per_point: int) -> int:  # + 32 n_in bytes per segment: its ends and their difference
        return int(max(1, min(S - start, _CHUNK_BYTES // (int(est_points * per_point) + 32 * net.n_in))))

    while start < S:
        chunk = chunk_size(per_point_compiled)
        if not _compiled(chunk):
            chunk = chunk_size(per_point_numpy)
        part = _partition_chunk(net, X0[start : start + chunk], X1[start : start + chunk])
        parts.append(part)
        start += chunk
        seen_points += part["t"].size + 2 * chunk
        est_points = max(2.0, 1.5 * seen_points / start)
        if bar is not None:
            bar.update(chunk)
    if bar is not None:
        bar.close()
    return _finish_lines(net, X0, X1, parts, exact)


def _finish_lines(net: Network, X0: np.ndarray, X1: np.ndarray, parts: list[dict], exact: bool) -> LineBatch:
    """The ``LineBatch`` of chunks of segments, close decisions re-decided exactly (``_redecide``)."""
    batch = _concat(X0, X1, parts, net.n_out)
    batch = _redecide(net, batch, parts, exact)
    return dataclasses.replace(batch, unit_kind=_unit_kinds(net, batch.layer, batch.unit))


def line(net: Network, x0: Any, x1: Any, *, exact: bool = True, input_shape: Any = None, device: Any = None,
         chunk_points: int | None = None) -> LinePartition:
    """The exact partition of the segment [x0, x1] into activation and linear regions
    (``net``: a ``Network`` or a torch ``nn.Module``, as in ``lines``).

    >>> from linregions import random_mlp
    >>> net = random_mlp(2, [32, 32], seed=1)
    >>> part = line(net, [-1.0, -1.0], [1.0, 1.0])
    >>> part.num_regions("linear") <= part.num_regions("activation")
    True
    """
    if _is_module(net):
        from ..engine import CHUNK_POINTS, line as module_line

        return module_line(net, x0, x1, input_shape=input_shape, device=device, chunk_points=chunk_points or CHUNK_POINTS)
    _module_only(input_shape, device, chunk_points)
    X0, X1 = _check_segments(net, x0, x1)
    if X0.shape[0] != 1:
        raise ValueError("line takes one segment; use lines(net, X0, X1) for many")
    part = _partition_chunk(net, X0, X1)
    if part["suspect_seg"].size:  # close decisions: re-decided (or reported) through the batch path
        return _finish_lines(net, X0, X1, [part], exact)[0]
    return LinePartition(
        x0=X0[0], x1=X1[0], t=part["t"], linear=part["linear"], crossing_point=part["crossing_point"],
        layer=part["layer"], unit=part["unit"], breakpoint=part["breakpoint"], good=part["good"],
        slopes=part["slopes"], intercepts=part["intercepts"], unit_kind=_unit_kinds(net, part["layer"], part["unit"]))


from .real import real_line  # noqa: E402 (real_line uses lines)
