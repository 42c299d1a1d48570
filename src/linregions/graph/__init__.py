"""Compile convolutional, residual and max-pooling PyTorch modules into a ``Network`` (I/O edge).

Every exact routine of the library works on ``linregions.Network``: affine layers with one
piecewise-linear activation per hidden layer. Any module whose ``forward`` is a composition of
affine maps, continuous piecewise-linear activations and maxima is such a map, and
``network_from_module`` rewrites it into one (docs/theory.md §1, "Network N"):

- the module is captured with ``torch.fx.symbolic_trace``; every node's value is kept as an
  *affine expression* ``coef @ z + const`` in the current state ``z`` (the last hidden layer's
  output, at first the flattened input), so affine nodes - ``nn.Linear``, ``nn.Conv1d/2d/3d``,
  ``nn.AvgPool``, ``nn.AdaptiveAvgPool``, ``nn.BatchNorm`` in eval mode, ``nn.Flatten``,
  reshapes, slicing, concatenation, sums, residual additions, scaling by constants - are
  unrolled exactly (their linear part is applied to the coefficient columns, float64);
- an activation makes *pending* units; a hidden layer is emitted only when a later non-linear
  node needs a value that depends on them (pending units with the same activation share a
  layer). Values that are still needed after that layer - a skip connection ``x`` of
  ``x + f(x)``, the other operand of a maximum - are carried through it by ``PASSTHROUGH``
  units (identity, never switch), never by the ``relu(a) - relu(-a)`` trick, which would add
  fake boundaries;
- a maximum of k values is a tournament of ``ceil(log2 k)`` rounds of
  ``max(a, b) = b + relu(a - b)``; the ``relu(a - b)`` units are of kind ``ARGMAX``, ``b`` is
  carried. This covers ``nn.MaxPool1d/2d``, ``nn.AdaptiveMaxPool1d/2d``, ``F.max_pool*``,
  ``torch.maximum``/``torch.max(a, b)``, ``torch.minimum`` and ``torch.amax``.

Anything else (smooth activations, products of two input-dependent tensors, data-dependent
control flow, ...) is refused with an error naming the node and why.

Kinds of boundary. A crossing of an ``ARGMAX`` unit is where two candidates of a maximum tie.
In a tournament some comparisons are between candidates that are both below the window's
maximum, so not every ``ARGMAX`` crossing changes the argmax of the pooling window;
``CompiledNetwork.argmax_changes`` tells which do. Linear regions (pieces of the function) are
unaffected by this: they are decided by slope jumps.

Shared biases. A convolution has one bias per channel, shared by all positions, so the biases
of neurons of one channel are not independent and assumption A2 of Hanin & Rolnick fails for
them (argmax units have no bias parameter at all: ``a - b`` cancels it).
``CompiledNetwork.bias_sources`` records, per switching unit, the scalar bias parameters its
pre-activation's constant depends on; ``shared_bias_groups`` and ``check_independent_biases``
turn that into groups and into the ``AssumptionError`` theory functions should raise.

>>> import torch
>>> from torch import nn
>>> cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 1))
>>> net = network_from_module(cnn, (1, 6, 6))
>>> net.n_in, net.n_out
(36, 1)
"""
from __future__ import annotations

from .compiled import (
    BIAS_DEP_RTOL, CompiledNetwork, GraphError, argmax_crossings, check_independent_biases, crossing_kinds,
    shared_bias_groups,
)
from .compiler import _trace, compile_module, compiled_from, network_from_module
from .ops import (  # noqa: F401 (the op vocabulary, shared with the torch-native engine)
    _ACT_FUNCS, _ACT_METHODS, _ADD_FUNCS, _ADD_METHODS, _IDENTITY_METHODS, _MUL_FUNCS, _MUL_METHODS, _SHAPE_METHODS,
    _SMOOTH_NAMES, _STRUCT_FUNCS, _STRUCT_METHODS, _act_from_call, _arg, _get_attr, _node_error, _qualname,
)
from .pooling import adaptive_positions, pool_positions, tournament_rounds, window_indices  # noqa: F401

__all__ = [
    "CompiledNetwork",
    "compile_module",
    "network_from_module",
    "compiled_from",
    "GraphError",
    "crossing_kinds",
    "argmax_crossings",
    "shared_bias_groups",
    "check_independent_biases",
    "BIAS_DEP_RTOL",
]
