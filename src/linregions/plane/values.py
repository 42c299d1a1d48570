"""Where the builder gets its numbers: pre-activations of one hidden layer at the vertices.

The construction (``builder``) needs exactly one thing from a network: at the start of hidden
layer l, the pre-activations u_l at every current vertex of the complex, given what it holds at
those vertices, and a snapping scale per neuron and breakpoint. Everything else (which faces a
line cuts, new vertices, states) it derives from these values by exact interpolation along edges,
where u_l is affine. ``VertexValues`` is that interface; ``DenseVertexValues`` implements it for a
``Network`` restricted to the plane (two inputs), with dense float64 matrices on numpy or on a
torch device.

What the builder holds at the vertices is their plane coordinates and ``prev``: the plane
coordinates (l = 0) or the pre-activations u_{l-1} of the previous layer at every vertex (rows in
vertex order; rows of vertices created while cutting layer l - 1 were interpolated along their
edges, which is exact because u_{l-1} is affine on every face of the complex before layer l - 1
is cut).
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..network import Network
from ..tolerances import snap_scale
from .growable import _row_blocks


class VertexValues(Protocol):
    """Pre-activations of hidden layer ``l`` at the vertices of the complex."""

    def preactivations(self, l: int, points: np.ndarray, prev: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write u_l at the V vertices into ``out`` (V, n_l); return the snapping scale (n_l, T_l)
        of every neuron and breakpoint (``tolerances.snap_scale``: a bound on the magnitude of the
        summands of u - xi_j).

        ``points`` (V, 2) are the vertices in plane coordinates and ``prev`` what the builder
        holds there: the points for l = 0, else u_{l-1} (V, n_{l-1}). An implementation may use
        either: the dense one continues from ``prev`` (one matmul, exact interpolation upstream);
        an engine that runs a module's own ops (convolutions, skips) can evaluate the module up to
        activation site l at ``origin + basis @ points`` instead (u_l is continuous, so vertices
        on earlier breakpoints need no pattern)."""
        ...


class PlaneModel(Protocol):
    """What the builder and ``PlanePartition`` read from the network besides ``VertexValues``.

    A restricted ``Network`` (two inputs) is one (its hidden layers); ``engine.plane.ModuleSlice``
    is the other (a module's activation sites). Both share ``depth``, ``widths``, ``n_out``,
    ``activations[l]`` (``PiecewiseLinear``), ``unit_kinds``/``kinds(l)``/``switching(l)``,
    ``has_special_units``, ``neuron_ids`` and ``slope(l, pieces)``. What only the dense network can
    do with matrices (the faces' affine maps, the rounding floor of slope jumps, reachability)
    a ``ModuleSlice`` does with the module's ops: ``face_affine(states, roots, X)``,
    ``slope_floor(gl, gr)`` and ``reachability(opens)``; ``plane.slopes`` and ``plane.goodness``
    dispatch on ``is_dense``."""

    depth: int
    widths: tuple[int, ...]
    n_out: int

    def kinds(self, l: int) -> np.ndarray: ...

    def switching(self, l: int) -> np.ndarray: ...


def is_dense(model: Any) -> bool:
    """True for a (restricted) ``Network``: the dense matrix routines apply."""
    return isinstance(model, Network)


class DenseVertexValues:
    """``VertexValues`` of a restricted ``Network``: u_l = W_l phi_{l-1}(u_{l-1}) + b_l, one matmul
    per layer (blocks of rows on numpy; one product on a torch ``device``)."""

    def __init__(self, rnet: Network, device: Any = None):
        self.net = rnet
        self.device = device

    def _plain_relu(self, l: int) -> bool:
        """Layer l is a plain ReLU (no passthrough or argmax units)."""
        act = self.net.activations[l]
        return not self.net.has_special_units and not act.per_unit and act.T == 1 and act.breakpoints[0] == 0 \
            and act.slopes[0] == 0 and act.slopes[1] == 1 and float(act.value) == 0

    def _activate(self, l: int, U: np.ndarray) -> np.ndarray:
        """phi_l(U) through ``Network.activate`` (plain ReLU layers by ``np.maximum``)."""
        return np.maximum(U, 0.0) if self._plain_relu(l) else self.net.activate(l, U)

    def preactivations(self, l: int, points: np.ndarray, prev: np.ndarray, out: np.ndarray) -> np.ndarray:
        net = self.net
        W, b = net.weights[l], net.biases[l]
        V = prev.shape[0]
        a_absmax = np.zeros(W.shape[1])
        if self.device is not None:
            import torch

            A = prev if l == 0 else self._activate(l - 1, prev)
            a_absmax = np.abs(A).max(axis=0) if V else a_absmax
            At, Wt, bt = (torch.tensor(np.asarray(x, dtype=np.float64), device=self.device) for x in (A, W, b))
            out[:] = torch.addmm(bt, At, Wt.T).cpu().numpy()
        else:
            WT = np.ascontiguousarray(W.T)
            relu = l > 0 and self._plain_relu(l - 1)  # then A >= 0 and |A| = A
            for blk in _row_blocks(V, max(W.shape)):
                A = prev[blk] if l == 0 else self._activate(l - 1, prev[blk])
                np.maximum(a_absmax, (A if relu else np.abs(A)).max(axis=0), out=a_absmax)
                np.matmul(A, WT, out=out[blk])
                out[blk] += b
        return snap_scale(W, b, a_absmax, net.activations[l].breakpoints)
