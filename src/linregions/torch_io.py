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

__all__ = ["network_from_torch", "network_to_torch", "PLModule", "activation_from_module", "load_model", "SUPPORTED",
           "check_device", "refuse_complex"]

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


def load_model(path: str | os.PathLike, *, trust: bool = False) -> Network:
    """Load a saved model as a ``Network``.

    TorchScript files (``torch.jit.save``) are read by walking their ``Linear`` and activation
    submodules. A pickled ``nn.Module`` (``torch.save(model)``) runs arbitrary code when loaded,
    so it is read only with ``trust=True``. A ``state_dict`` is refused with a hint.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with warnings.catch_warnings():  # torch >= 2.9 marks TorchScript deprecated; it still loads
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.load(path, map_location="cpu")
    except Exception:
        scripted = None
    if scripted is not None:
        return _from_script(scripted)
    if not trust:
        raise ValueError(
            f"{path!r} is not TorchScript. Loading a pickled module can run arbitrary code; "
            "pass trust=True (CLI: --trust-pickle) if you trust the file, or save it with torch.jit.script/trace"
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # not a torch file at all
        raise ValueError(f"{path!r} is neither TorchScript nor a torch.save file ({type(e).__name__}: {e})") from None
    if isinstance(obj, dict):
        raise ValueError(f"{path!r} holds a state_dict, not a module; build the module and call Network.from_torch(module)")
    return network_from_torch(obj)


def _from_script(m: Any) -> Network:
    """Rebuild an nn.Sequential from a scripted module's children (Linear and activations)."""
    refuse_complex(m)
    if getattr(m, "original_name", None) != "Sequential":
        # the children of another module say nothing about what its forward does with them
        raise TypeError(
            f"the TorchScript model is a {getattr(m, 'original_name', type(m).__name__)}, not an nn.Sequential; its forward "
            "cannot be read layer by layer. Script an nn.Sequential, or build the module in Python and use "
            "Network.from_torch. Supported: " + SUPPORTED
        )
    seq = []
    for name, child in m.named_children():
        kind = child.original_name
        if kind == "Sequential":
            seq.append(_from_script_seq(child))
            continue
        seq.append(_script_leaf(child, name))
    return network_from_torch(nn.Sequential(*seq))


def _from_script_seq(m: Any) -> nn.Sequential:
    return nn.Sequential(*[(_from_script_seq(c) if c.original_name == "Sequential" else _script_leaf(c, n)) for n, c in m.named_children()])


def _script_leaf(child: Any, name: str) -> nn.Module:
    kind = child.original_name
    if kind == "Linear":
        W = child.weight.detach()
        lin = nn.Linear(W.shape[1], W.shape[0], bias=child.bias is not None).double()
        with torch.no_grad():
            lin.weight.copy_(W)
            if child.bias is not None:
                lin.bias.copy_(child.bias.detach())
        return lin
    simple = {"ReLU": nn.ReLU, "Identity": nn.Identity, "Flatten": nn.Flatten, "Hardsigmoid": nn.Hardsigmoid, "ReLU6": nn.ReLU6}
    if kind in simple:
        return simple[kind]()
    if kind.endswith("Dropout") or kind in ("Dropout1d", "Dropout2d", "Dropout3d"):
        return nn.Identity()
    try:
        if kind == "LeakyReLU":
            return nn.LeakyReLU(float(child.negative_slope))
        if kind == "Hardtanh":
            return nn.Hardtanh(float(child.min_val), float(child.max_val))
        if kind == "Softshrink":
            return nn.Softshrink(float(child.lambd))
        if kind == "Hardshrink":
            return nn.Hardshrink(float(child.lambd))
        if kind == "Threshold":
            return nn.Threshold(float(child.threshold), float(child.value))
        if kind == "RReLU":
            return nn.RReLU(float(child.lower), float(child.upper)).train(bool(child.training))
    except AttributeError:
        raise TypeError(
            f"TorchScript submodule {name!r} ({kind}) does not keep its parameters (a traced module?); "
            "save the model with torch.jit.script instead"
        ) from None
    if kind == "PReLU":
        p = nn.PReLU(child.weight.numel())
        with torch.no_grad():
            p.weight.copy_(child.weight.detach())
        return p
    raise TypeError(f"TorchScript submodule {name!r} ({kind}) is not supported. Supported: {SUPPORTED}")
