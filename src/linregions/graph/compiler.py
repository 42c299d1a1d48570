"""torch.fx compilation of a module into a dense ``Network`` (``compile_module``): tracing
(``_trace``), the entry points and the registry of compiled networks (``compiled_from``).

The compilation itself is split by concern: ``layers`` (the affine state and the hidden layers it
emits), ``units`` (activations and maxima) and ``lowering`` (node-by-node evaluation, ``_Compiler``).
"""
from __future__ import annotations

import copy
import weakref
from typing import Any, Sequence

import torch
import torch.fx
from torch import nn

from ..network import Network
from ..torch_io import PLModule, input_shape_of
from .compiled import CompiledNetwork, GraphError
from .lowering import _Compiler


class _Tracer(torch.fx.Tracer):
    """Keeps linregions' PiecewiseLinearModule (and torch.nn's own modules) as leaves."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, PLModule) or super().is_leaf_module(m, qualname)


def _trace(module: nn.Module) -> torch.fx.GraphModule:
    if isinstance(module, torch.fx.GraphModule):
        return module
    try:
        graph = _Tracer().trace(module)
    except Exception as e:  # tracing runs user code: report what failed, without a traceback
        raise GraphError(
            f"torch.fx could not trace {type(module).__name__}.forward ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            "a forward with data-dependent control flow cannot be compiled"
        ) from None
    return torch.fx.GraphModule(module, graph)


def compile_module(module: Any, input_shape: Sequence[int]) -> CompiledNetwork:
    """Compile a piecewise-linear ``torch.nn.Module`` into a ``CompiledNetwork`` (see the module
    docstring for what is supported and how).

    Parameters
    ----------
    module : the module (any ``forward`` that ``torch.fx.symbolic_trace`` can capture, taking one
        tensor of shape ``(batch,) + input_shape``). Parameters are read in float64.
    input_shape : the input's shape without the batch dim, e.g. ``(1, 28, 28)``.

    >>> from torch import nn
    >>> c = compile_module(nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 1)), (1, 10))
    >>> c.network.widths
    (16,)
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"compile_module needs a torch.nn.Module, got {type(module).__name__}")
    if isinstance(module, torch.jit.ScriptModule):
        raise TypeError("a TorchScript module cannot be traced with torch.fx; pass the original nn.Module")
    shape = input_shape_of(input_shape)
    if any(t.device.type != "cpu" for t in list(module.parameters()) + list(module.buffers())):
        module = copy.deepcopy(module).cpu()  # the exact routines run on CPU in float64
    gm = _trace(module)
    with torch.no_grad():
        try:
            compiled = _Compiler(gm, shape).run()
            _REGISTRY[compiled.network] = compiled
            return compiled
        except GraphError:
            raise
        except RuntimeError as e:
            raise ValueError(f"the module cannot be evaluated on inputs of shape {shape} ({str(e).splitlines()[0]})") from None


#: compiled networks by their Network, so that code holding only the Network (theory functions)
#: can find the bias-sharing information: ``compiled_from(net)``.
_REGISTRY: "weakref.WeakKeyDictionary[Network, CompiledNetwork]" = weakref.WeakKeyDictionary()


def compiled_from(net: Network) -> CompiledNetwork | None:
    """The ``CompiledNetwork`` that ``net`` was compiled into by this module, or None (a plain
    MLP, or a network derived from it, e.g. by ``restrict``).

    Code that must not import torch can use
    ``sys.modules.get("linregions.graph")`` first: if the module was never imported, no network
    came from it.
    """
    return _REGISTRY.get(net)


def network_from_module(module: Any, input_shape: Sequence[int]) -> Network:
    """The ``Network`` computing ``module`` on inputs of shape ``input_shape`` (no batch dim),
    flattened: ``net(x.reshape(1, -1)) == module(x[None]).reshape(1, -1)`` in float64.

    Conv, average/max pooling, eval-mode batch norm, residual additions and any other
    piecewise-linear graph that ``torch.fx`` can capture are compiled (see ``compile_module``).

    >>> from torch import nn
    >>> net = network_from_module(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)), (3,))
    >>> net.widths
    (4,)
    """
    return compile_module(module, input_shape).network
