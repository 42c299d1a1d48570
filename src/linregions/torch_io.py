"""PyTorch modules to and from ``Network``, and loading saved models (I/O edge).

Supported modules (every continuous piecewise-linear activation PyTorch ships):

- affine: ``nn.Linear``; structural no-ops: ``nn.Flatten``, ``nn.Identity``, ``nn.Dropout*``
  (identity, as in eval mode), nested ``nn.Sequential``;
- activations: ``nn.ReLU``, ``nn.ReLU6``, ``nn.LeakyReLU``, ``nn.PReLU`` (one or per-unit
  slopes), ``nn.RReLU`` (eval mode: slope (lower + upper) / 2), ``nn.Hardtanh``,
  ``nn.Hardsigmoid``, ``nn.Softshrink``, ``nn.Threshold`` when ``value == threshold``
  (= max(x, threshold)), ``nn.Hardshrink(0)`` (identity), and ``PiecewiseLinearModule`` for
  abs or any custom activation.

Refused: smooth activations (Tanh, Sigmoid, GELU, SiLU, ELU, Softplus, Mish, Hardswish, ...),
discontinuous ones (Hardshrink with lambda > 0, Threshold with value != threshold), random ones
(RReLU in training mode) and any other module, each with an error naming the module.
"""
from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from .activations import (
    PiecewiseLinear,
    hard_sigmoid,
    hard_tanh,
    leaky_relu,
    relu,
    soft_shrink,
)
from .network import NEURON, PASSTHROUGH, Network

__all__ = ["network_from_torch", "network_to_torch", "PLModule", "activation_from_module", "load_model", "load_module", "SCRIPT_CLASSES", "SUPPORTED",
           "check_device", "refuse_complex", "input_shape_of"]

SUPPORTED = (
    "nn.Linear, nn.Flatten, nn.Identity, nn.Dropout, nn.Sequential; activations nn.ReLU, nn.ReLU6, "
    "nn.LeakyReLU, nn.PReLU, nn.RReLU (eval mode), nn.Hardtanh, nn.Hardsigmoid, nn.Softshrink, "
    "nn.Threshold (value == threshold), nn.Hardshrink(0), linregions.PiecewiseLinearModule"
)

_GRAPH_HINT = (
    "Convolutional, pooling, batch-norm and residual modules are compiled by linregions.graph: "
    "pass input_shape=(C, H, W) (without the batch dimension) to Network.from_torch"
)

_SMOOTH = (
    nn.Tanh, nn.Sigmoid, nn.SiLU, nn.Mish, nn.Hardswish, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.GLU,
    nn.LogSigmoid, nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.Softmin, nn.Softmax, nn.Softmax2d,
    nn.LogSoftmax,
)


class PLModule(nn.Module):
    """``torch.nn.Module`` applying a ``PiecewiseLinear`` activation (differentiable).

    ``kinds`` (optional, one int per unit: NEURON, PASSTHROUGH, ARGMAX) makes PASSTHROUGH units
    the identity, so networks with unit kinds (compiled residual / max-pool graphs) round-trip.
    """

    def __init__(self, activation: PiecewiseLinear, kinds: Any = None):
        super().__init__()
        if not isinstance(activation, PiecewiseLinear):
            raise TypeError(f"PiecewiseLinearModule needs a PiecewiseLinear, got {type(activation).__name__}")
        self.activation = activation
        self.kinds = None if kinds is None else np.asarray(kinds, dtype=np.int8).reshape(-1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        a = self.activation(u)
        if self.kinds is None:
            return a
        return u.where(torch.as_tensor(self.kinds == PASSTHROUGH, device=u.device), a)

    def extra_repr(self) -> str:
        return repr(self.activation)


def _where(module: nn.Module, path: str) -> str:
    return f"{path or 'module'} ({type(module).__name__})"


def activation_from_module(module: nn.Module, path: str = "") -> PiecewiseLinear | None:
    """The ``PiecewiseLinear`` of an activation module; None for an identity-like module.

    Raises ``TypeError`` for modules that are not activations and ``ValueError`` for
    activations that are smooth, discontinuous or random.
    """
    w = _where(module, path)
    if isinstance(module, PLModule):
        return module.activation
    if isinstance(module, nn.ReLU):
        return relu()
    if isinstance(module, nn.Hardtanh):  # also ReLU6
        if module.max_val <= module.min_val:
            raise ValueError(f"{w}: needs min_val < max_val, got ({module.min_val}, {module.max_val})")
        act = hard_tanh(float(module.min_val), float(module.max_val))
        if isinstance(module, nn.ReLU6):
            return PiecewiseLinear(act.breakpoints, act.slopes, act.value, name="relu6")
        return act
    if isinstance(module, nn.LeakyReLU):
        a = float(module.negative_slope)
        return None if a == 1.0 else leaky_relu(a)
    if isinstance(module, nn.PReLU):
        a = module.weight.detach().cpu().double().numpy().reshape(-1)
        if a.size == 1:
            return None if a[0] == 1.0 else leaky_relu(float(a[0]))
        a = np.where(a == 1.0, 0.0, a)  # a slope-1 unit is affine: PASSTHROUGH (see _module_kinds)
        return PiecewiseLinear([0.0], np.stack([a, np.ones_like(a)], axis=1), np.zeros_like(a), name="prelu")
    if isinstance(module, nn.RReLU):
        if module.training:
            raise ValueError(f"{w}: RReLU in training mode draws random slopes, so it is not a fixed function; call .eval() first")
        a = (float(module.lower) + float(module.upper)) / 2
        return None if a == 1.0 else leaky_relu(a)
    if isinstance(module, nn.Hardsigmoid):
        return hard_sigmoid()
    if isinstance(module, nn.Softshrink):
        lam = float(module.lambd)
        return None if lam == 0 else soft_shrink(lam)
    if isinstance(module, nn.Threshold):
        if float(module.value) != float(module.threshold):
            raise ValueError(
                f"{w}: Threshold(threshold={module.threshold}, value={module.value}) is discontinuous; "
                "only value == threshold (= max(x, threshold)) is piecewise linear and continuous"
            )
        th = float(module.threshold)
        return PiecewiseLinear([th], [0.0, 1.0], th, name=f"threshold({th:g})")
    if isinstance(module, nn.Hardshrink):
        if float(module.lambd) == 0:
            return None
        raise ValueError(f"{w}: Hardshrink(lambd={module.lambd}) is discontinuous at +-lambda; supported: {SUPPORTED}")
    if isinstance(module, _SMOOTH):
        raise ValueError(f"{w} is not piecewise linear (smooth); linear regions are defined only for continuous piecewise-linear activations. Supported: {SUPPORTED}")
    raise TypeError(f"{w} is not supported. Supported: {SUPPORTED}. {_GRAPH_HINT}")


def _module_kinds(module: nn.Module) -> np.ndarray | None:
    """Unit kinds an activation module imposes (PASSTHROUGH units), or None when all are NEURON."""
    if isinstance(module, PLModule):
        return module.kinds
    if isinstance(module, nn.PReLU) and module.weight.numel() > 1:
        one = module.weight.detach().cpu().double().numpy().reshape(-1) == 1.0
        return np.where(one, PASSTHROUGH, NEURON).astype(np.int8) if one.any() else None
    return None


def _flatten(module: nn.Module, path: str = ""):
    if isinstance(module, nn.Sequential):
        # not named_children(): it skips a module instance that appears twice (nn.Sequential(lin,
        # act, lin2, act) reuses `act`), which would silently drop a layer
        for name, child in module._modules.items():
            if child is not None:
                yield from _flatten(child, f"{path}.{name}" if path else name)
    else:
        yield path, module


def input_shape_of(input_shape: Any) -> tuple[int, ...]:
    """One sample's shape (no batch dimension) as a tuple of positive ints; a ``TypeError`` when
    it is not a sequence of integers, a ``ValueError`` when it is empty or has a size below 1.

    >>> input_shape_of([3, 32, 32])
    (3, 32, 32)
    >>> input_shape_of((0, 3))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: input_shape must be a non-empty sequence of positive ints ...
    >>> input_shape_of(2.5)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    TypeError: input_shape must be a sequence of positive ints ...
    """
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise TypeError(f"input_shape must be a sequence of positive ints (one sample's shape, no batch dim), "
                        f"got {input_shape!r}") from None
    if not shape or any(s < 1 for s in shape) or any(float(s) != float(t) for s, t in zip(shape, input_shape)):
        raise ValueError(f"input_shape must be a non-empty sequence of positive ints (one sample's shape, no batch dim), "
                         f"got {input_shape!r}")
    return shape


def check_device(device: Any) -> torch.device:
    """``device`` as a ``torch.device`` after allocating a float64 tensor on it, or a ``ValueError``
    quoting it: an unknown name (``"foo"``) or a device this torch build cannot use (``"cuda"`` on a
    CPU-only build) ends in one clear message instead of torch's internal ``RuntimeError`` or
    ``AssertionError``.

    >>> check_device("cpu")
    device(type='cpu')
    """
    try:
        dev = torch.device(device)
        torch.zeros(1, dtype=torch.float64, device=dev)
    except (RuntimeError, TypeError, AssertionError, ValueError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "Expected one of" in msg:
            msg = "not a torch device name; e.g. 'cpu', 'cuda', 'cuda:1', 'mps'"
        raise ValueError(f"device {device!r} is not usable with this torch build ({msg}); use 'cpu'") from None
    return dev


def refuse_complex(module: Any) -> None:
    """Raise ``TypeError`` naming the first complex parameter or buffer of ``module``: converting it
    to float64 would silently drop the imaginary part."""
    named = list(module.named_parameters()) + list(module.named_buffers()) if hasattr(module, "named_parameters") else []
    for name, t in named:
        if isinstance(t, torch.Tensor) and t.is_complex():
            raise TypeError(f"{name or 'a tensor'} of {type(module).__name__} is complex ({t.dtype}); linear regions are "
                            "defined for real networks: give real weights")


def network_from_torch(module: Any) -> Network:
    """See ``Network.from_torch``."""
    if isinstance(module, torch.jit.ScriptModule):
        raise TypeError("a TorchScript module cannot be converted layer by layer; load it with linregions.load_model, which handles it")
    if not isinstance(module, nn.Module):
        raise TypeError(f"Network.from_torch needs a torch.nn.Module, got {type(module).__name__}")
    if not isinstance(module, nn.Sequential):
        if isinstance(module, nn.Linear):
            raise ValueError("a single nn.Linear is affine: it has one linear region; wrap it with activations in nn.Sequential")
        raise TypeError(
            f"Network.from_torch takes an nn.Sequential of supported modules, got {type(module).__name__}. "
            f"Supported: {SUPPORTED}. {_GRAPH_HINT}"
        )
    refuse_complex(module)
    Ws: list[np.ndarray] = []
    bs: list[np.ndarray] = []
    acts: list[PiecewiseLinear] = []
    kinds: list[np.ndarray | None] = []
    pending: tuple[np.ndarray, np.ndarray] | None = None  # affine map since the last activation
    n_cur: int | None = None
    items = list(_flatten(module))
    first_linear = next((m for _, m in items if isinstance(m, nn.Linear)), None)
    for path, m in items:
        if isinstance(m, (nn.Identity, nn.Flatten)) or isinstance(m, nn.modules.dropout._DropoutNd):
            continue
        if isinstance(m, nn.Linear):
            W = m.weight.detach().cpu().double().numpy()
            b = m.bias.detach().cpu().double().numpy() if m.bias is not None else np.zeros(W.shape[0])
            if n_cur is not None and W.shape[1] != n_cur:
                raise ValueError(f"{_where(m, path)} expects {W.shape[1]} inputs but the previous layer gives {n_cur}")
            pending = (W, b) if pending is None else (W @ pending[0], W @ pending[1] + b)
            n_cur = W.shape[0]
            continue
        act = activation_from_module(m, path)
        if act is None:
            continue
        if pending is None:
            if n_cur is None:  # activation first: its width is the first Linear's input size
                n_cur = act.width or (first_linear.in_features if first_linear is not None else None)
                if n_cur is None:
                    raise ValueError(f"{_where(m, path)} comes before any nn.Linear, so the input size is unknown; start with nn.Linear")
            pending = (np.eye(n_cur), np.zeros(n_cur))
        act.check_width(pending[0].shape[0], f" ({_where(m, path)})")
        k = _module_kinds(m)
        if k is not None and k.shape != (pending[0].shape[0],):
            raise ValueError(f"{_where(m, path)} has unit kinds for {k.size} units but the layer has {pending[0].shape[0]}")
        Ws.append(pending[0])
        bs.append(pending[1])
        acts.append(act)
        kinds.append(k)
        pending = None
    if not acts:
        raise ValueError("the module has no piecewise-linear activation: it is affine, with one linear region")
    if pending is None:
        pending = (np.eye(n_cur), np.zeros(n_cur))
    Ws.append(pending[0])
    bs.append(pending[1])
    unit_kinds = None
    if any(k is not None for k in kinds):
        unit_kinds = tuple(np.zeros(W.shape[0], np.int8) if k is None else k for W, k in zip(Ws, kinds))
    return Network(tuple(Ws), tuple(bs), tuple(acts), unit_kinds)


def _act_module(act: PiecewiseLinear) -> nn.Module:
    if act == relu():
        return nn.ReLU()
    if act.T == 2 and not act.per_unit and act.slopes.tolist() == [0.0, 1.0, 0.0] and float(act.value) == act.breakpoints[0]:
        return nn.Hardtanh(float(act.breakpoints[0]), float(act.breakpoints[1]))
    if act.T == 1 and not act.per_unit and act.breakpoints[0] == 0 and act.slopes[1] == 1 and float(act.value) == 0:
        return nn.LeakyReLU(float(act.slopes[0]))
    if act == hard_sigmoid():
        return nn.Hardsigmoid()
    if act.T == 2 and not act.per_unit and act.slopes.tolist() == [1.0, 0.0, 1.0] and float(act.value) == 0 and act.breakpoints[0] == -act.breakpoints[1]:
        return nn.Softshrink(float(act.breakpoints[1]))
    if act.T == 1 and not act.per_unit and act.slopes.tolist() == [0.0, 1.0] and float(act.value) == act.breakpoints[0]:
        return nn.Threshold(float(act.breakpoints[0]), float(act.breakpoints[0]))
    if act.T == 1 and act.per_unit and act.breakpoints[0] == 0 and np.all(act.slopes[:, 1] == 1) and np.all(act.value == 0):
        p = nn.PReLU(act.width)
        with torch.no_grad():
            p.weight.copy_(torch.tensor(act.slopes[:, 0]))
        return p
    return PLModule(act)


def network_to_torch(net: Network, dtype: Any = None) -> nn.Sequential:
    """See ``Network.to_torch``."""
    dtype = torch.float64 if dtype is None else dtype
    layers: list[nn.Module] = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        lin = nn.Linear(W.shape[1], W.shape[0]).to(dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W, dtype=dtype))
            lin.bias.copy_(torch.tensor(b, dtype=dtype))
        layers.append(lin)
        if l < net.depth:
            kinds = net.kinds(l)
            act = _act_module(net.activations[l]) if not kinds.any() else PLModule(net.activations[l], kinds)
            layers.append(act.to(dtype))
    return nn.Sequential(*layers)


#: Module classes a scripted ``nn.Sequential`` may hold (``torch.nn`` names); each is rebuilt from
#: the scripted child's constants (its constructor's argument names) and its state dict.
SCRIPT_CLASSES = (
    "Linear", "Conv1d", "Conv2d", "BatchNorm1d", "BatchNorm2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Flatten", "Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "AlphaDropout", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "Hardtanh", "Hardsigmoid", "Softshrink",
    "Hardshrink", "Threshold",
)


def load_module(path: str | os.PathLike, *, trust: bool = False) -> nn.Module:
    """The ``nn.Module`` saved at ``path``, as it was saved (training flags included).

    A TorchScript file (``torch.jit.save``) cannot be traced by torch.fx, so a scripted
    ``nn.Sequential`` is rebuilt as the same ``nn.Sequential`` of ordinary modules
    (``SCRIPT_CLASSES``), each constructed from the scripted child's constants and loaded with its
    state dict; any other scripted module is refused with what to do instead. A pickled module
    (``torch.save(model)``) runs arbitrary code when loaded, so it is read only with
    ``trust=True``. A ``state_dict`` is refused with a hint.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, not a model file")
    try:
        with warnings.catch_warnings():  # torch >= 2.9 marks TorchScript deprecated; it still loads
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.load(path, map_location="cpu")
    except Exception:
        scripted = None
    if scripted is not None:
        refuse_complex(scripted)
        return _rebuild(scripted, "model")
    if not trust:
        raise ValueError(
            f"{path!r} is not TorchScript. Loading a pickled module can run arbitrary code; "
            "pass trust=True (CLI: --trust) if you trust the file, or save it with torch.jit.script"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # not a torch file at all
        raise ValueError(f"{path!r} is neither TorchScript nor a torch.save file ({type(e).__name__}: {e})") from None
    if isinstance(obj, dict):
        raise ValueError(f"{path!r} holds a state_dict, not a module; save the module itself (torch.save(model)) "
                         "or script it (torch.jit.script)")
    if not isinstance(obj, nn.Module):
        raise TypeError(f"{path!r} holds a {type(obj).__name__}, not a torch.nn.Module")
    return obj


def load_model(path: str | os.PathLike, *, trust: bool = False) -> Network:
    """Load a saved MLP (``nn.Sequential`` of linear layers and activations) as a ``Network``
    (``load_module``, then ``Network.from_torch``)."""
    return network_from_torch(load_module(path, trust=trust))


def _rebuild(m: Any, name: str) -> nn.Sequential:
    """An ``nn.Sequential`` equal to the scripted ``nn.Sequential`` ``m``."""
    kind = getattr(m, "original_name", type(m).__name__)
    if kind != "Sequential":
        # the children of another module say nothing about what its forward does with them
        raise TypeError(
            f"the TorchScript {name} is a {kind}, not an nn.Sequential: its forward cannot be read from its children. "
            "Script an nn.Sequential, or save the module with torch.save(model) and load it with trust=True "
            "(CLI: --trust; the file is then run as code). Supported: " + ", ".join(SCRIPT_CLASSES))
    return nn.Sequential(*[_rebuild(c, f"{name}.{n}") if getattr(c, "original_name", "") == "Sequential"
                           else _leaf(c, f"{name}.{n}") for n, c in m.named_children()]).train(bool(m.training))


def _leaf(child: Any, name: str) -> nn.Module:
    """An ordinary module equal to the scripted child (constants from its attributes, state dict)."""
    import inspect

    kind = getattr(child, "original_name", type(child).__name__)
    if kind not in SCRIPT_CLASSES:
        raise TypeError(f"TorchScript submodule {name!r} ({kind}) is not supported in a scripted nn.Sequential; "
                        f"supported: {', '.join(SCRIPT_CLASSES)}. Save the module with torch.save and load it trusted")
    cls = getattr(nn, kind)
    kwargs: dict[str, Any] = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.name in ("device", "dtype", "inplace") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == "bias":
            kwargs["bias"] = getattr(child, "bias", None) is not None
        elif p.name == "num_parameters":  # PReLU
            kwargs["num_parameters"] = int(child.weight.numel())
        elif hasattr(child, p.name):
            kwargs[p.name] = getattr(child, p.name)
        elif p.default is inspect.Parameter.empty:
            raise TypeError(f"TorchScript submodule {name!r} ({kind}) does not keep its constant {p.name!r} "
                            "(a traced module?); save the model with torch.jit.script instead")
    mod = cls(**kwargs)
    state = {k: v.detach() for k, v in child.state_dict().items()}
    floats = [v.dtype for v in state.values() if v.is_floating_point()]
    if floats:  # keep the saved precision (load_state_dict would cast to the new module's float32)
        mod = mod.to(floats[0])
    with torch.no_grad():
        mod.load_state_dict(state)
    return mod.train(bool(child.training))
