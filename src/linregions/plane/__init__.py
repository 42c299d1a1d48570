"""Exact partitions of planar slices of input space (2D activation and linear regions).

A plane x(s) = origin + basis @ s (``basis`` (n_in, 2) with orthonormal columns, s in plane
coordinates) restricts the network to a network with two inputs (``Network.restrict``; docs/theory.md
§2, restrictions). ``plane`` returns the exact planar complex that this restricted network cuts a
convex domain (a rectangle ``bounds = (u_min, u_max, v_min, v_max)`` or a convex polygon) into:
faces are the activation regions (convex polygons), edges carry the neuron and breakpoint that made
them and whether that neuron is good there, and linear regions are unions of faces glued across
edges where the output's gradient does not jump (pieces of N; generically the edges of neurons
that are not good, B_N = union of the good S_z, Prop. 9).

Algorithm (the paper's layer-by-layer splitting, in two dimensions). Per hidden layer l, the
pre-activations u_l are affine on every current face (the layers before l are), so their values at
the vertices decide everything: u_l at all current vertices is one matmul; a neuron's zero set cuts
a face iff the face has vertices strictly on both sides of a breakpoint. The (neuron, breakpoint) lines of the
layer are handled in chunks: every current edge is first split at every crossing of the chunk's
lines, so faces cut afterwards never split a shared edge; then every face straddled by some of the
lines is cut by them one after the other in a compiled loop. New vertices get u_l by exact linear
interpolation along their edge, and the crossing neuron's value is set to its breakpoint exactly. A
value within ``SNAP_RTOL`` times its breakpoint's own scale (``tolerances.snap_scale``) counts as on
it, everywhere, so degenerate arrangements stay exact (zero biases: later lines pass exactly through
existing vertices instead of creating near-copies). The cost is dominated by one matmul per layer
over the vertices that exist at the layer's start, plus interpolating u_l at the new vertices.

Per face the activation state of each layer is read at the end of that layer from one vertex
(and the vertex mean where that vertex is on a breakpoint); edge goodness, activation counts,
lengths and vertex counts follow without another forward pass. ``affine_maps`` (and with it the
linear kind) multiplies the faces' patterns out, lazily. Every result is checked for watertightness
and counts its close tolerance decisions (``PlanePartition.close_decisions``).

Modules: ``section`` (``plane``, ``plane_through``), ``domain`` (the plane and its polygon),
``values`` (the one interface through which the construction gets pre-activations at vertices),
``builder`` (the cutting) with its compiled loops in ``kernels``, ``partition`` (the result),
``goodness`` and ``slopes`` (edge labels).

Results are numpy float64. ``device`` (a torch device, e.g. ``"cuda"``) runs the per-layer
matmuls with torch there; the combinatorial cutting runs in numpy on the CPU.

A torch ``nn.Module`` (CNN, ResNet; inputs shaped like one sample) runs through the same builder
with the module's own ops (``engine.plane``): ``ModuleVertexValues`` gives u_l at the vertices and
``ModuleSlice`` stands where the restricted network stands (``values.PlaneModel``: the sites'
activations, widths and kinds; the faces' affine maps from a value and two tangents at an interior
point; reachability by a backward pass), so the partition is the dense path's wherever both apply.
"""
from __future__ import annotations

from .builder import MAX_VERTEX_BYTES
from .domain import COLLINEAR_RTOL, ORTHO_RTOL
from .partition import PlanePartition
from .section import plane, plane_through

__all__ = ["PlanePartition", "plane", "plane_through", "ORTHO_RTOL", "COLLINEAR_RTOL", "MAX_VERTEX_BYTES"]
