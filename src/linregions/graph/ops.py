"""The vocabulary of traced ops: leaves of affine values, argument access, the tables of
structural, additive, multiplicative and activation calls (shared by the dense compiler and the
torch-native engine)."""
from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import torch
import torch.fx
import torch.nn.functional as F

from ..activations import PiecewiseLinear, absolute, hard_sigmoid, hard_tanh, leaky_relu, relu, relu6, soft_shrink


# ----------------------------------------------------------------------------------------------
# compiler internals


class _Value:
    """An affine expression of a tensor: value = sum_i coef[i] * z_i + const.

    ``const`` has the node's logical shape (batch dim 1 included); ``coef`` has one more leading
    dim, over the columns z = [state (dim_s); extras], extras being pending units and bias
    parameters. A value made before more extras existed has fewer rows (the missing are 0).
    """

    __slots__ = ("coef", "const")

    def __init__(self, coef: torch.Tensor, const: torch.Tensor):
        self.coef = coef
        self.const = const


def _leaves(obj: Any) -> list[_Value]:
    if isinstance(obj, _Value):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [v for o in obj for v in _leaves(o)]
    if isinstance(obj, dict):
        return [v for o in obj.values() for v in _leaves(o)]
    return []


def _replace(obj: Any, fn: Callable[[_Value], Any]) -> Any:
    if isinstance(obj, _Value):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_replace(o, fn) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_replace(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: _replace(o, fn) for k, o in obj.items()}
    return obj


def _pad(coef: torch.Tensor, D: int) -> torch.Tensor:
    if coef.shape[0] == D:
        return coef
    return torch.cat([coef, coef.new_zeros((D - coef.shape[0],) + tuple(coef.shape[1:]))])


def _tuple(v: Any, n: int, name: str) -> tuple[int, ...]:
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            v = v[0]
        else:
            if len(v) != n:
                raise ValueError(f"{name} must have {n} entries, got {v}")
            return tuple(int(a) for a in v)
    return (int(v),) * n


def _arg(args: Sequence, kwargs: dict, i: int, name: str, default: Any = None) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


_STRUCT_METHODS = {
    "view", "reshape", "flatten", "unflatten", "permute", "transpose", "squeeze", "unsqueeze", "contiguous",
    "expand", "expand_as", "narrow", "chunk", "split", "clone", "t", "mean", "sum", "neg", "__getitem__",
    "movedim", "swapaxes", "repeat", "flip", "roll", "unbind", "view_as", "reshape_as", "select",
}
_IDENTITY_METHODS = {"double", "float", "to", "type", "detach", "cpu"}
_SHAPE_METHODS = {"size", "dim", "numel", "ndimension", "nelement"}
_STRUCT_FUNCS = {
    torch.flatten, torch.reshape, torch.cat, torch.concat, torch.stack, torch.permute, torch.transpose, torch.squeeze,
    torch.unsqueeze, torch.chunk, torch.split, torch.narrow, torch.mean, torch.sum, torch.neg, operator.neg,
    operator.getitem, torch.movedim, torch.flip, torch.roll, torch.unbind, torch.select, torch.swapaxes,
    F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d,
    torch.hstack, torch.vstack, torch.cat,
}
_ADD_FUNCS = {operator.add, operator.iadd, operator.sub, operator.isub, torch.add, torch.sub, torch.subtract}
_ADD_METHODS = {"add", "add_", "sub", "sub_", "__add__", "__radd__", "__sub__", "__rsub__", "subtract"}
_MUL_FUNCS = {operator.mul, operator.imul, operator.truediv, operator.itruediv, torch.mul, torch.div, torch.true_divide, torch.multiply}
_MUL_METHODS = {"mul", "mul_", "div", "div_", "__mul__", "__rmul__", "__truediv__", "multiply", "true_divide"}


def _act_from_call(fname: str, args: Sequence, kwargs: dict) -> PiecewiseLinear | None | str:
    """The activation of a functional call, None for the identity, a string when refused."""
    if fname in ("relu", "relu_"):
        return relu()
    if fname in ("leaky_relu", "leaky_relu_"):
        a = float(_arg(args, kwargs, 1, "negative_slope", 0.01))
        return None if a == 1.0 else leaky_relu(a)
    if fname in ("hardtanh", "hardtanh_"):
        lo, hi = float(_arg(args, kwargs, 1, "min_val", -1.0)), float(_arg(args, kwargs, 2, "max_val", 1.0))
        return hard_tanh(lo, hi) if hi > lo else f"hardtanh needs min_val < max_val, got ({lo}, {hi})"
    if fname == "relu6":
        return relu6()
    if fname == "hardsigmoid":
        return hard_sigmoid()
    if fname == "softshrink":
        lam = float(_arg(args, kwargs, 1, "lambd", 0.5))
        return None if lam == 0 else soft_shrink(lam)
    if fname in ("abs", "absolute"):
        return absolute()
    if fname in ("clamp", "clip", "clamp_", "clip_"):
        lo, hi = _arg(args, kwargs, 1, "min"), _arg(args, kwargs, 2, "max")
        if isinstance(lo, torch.Tensor) or isinstance(hi, torch.Tensor):
            return "clamp with tensor bounds is not supported (use numbers)"
        if lo is None and hi is None:
            return None
        if lo is not None and hi is not None:
            lo, hi = float(lo), float(hi)
            return hard_tanh(lo, hi) if hi > lo else f"clamp needs min < max, got ({lo}, {hi})"
        if lo is not None:
            return PiecewiseLinear([float(lo)], [0.0, 1.0], float(lo), name=f"clamp_min({float(lo):g})")
        return PiecewiseLinear([float(hi)], [1.0, 0.0], float(hi), name=f"clamp_max({float(hi):g})")
    if fname == "threshold":
        th, val = float(_arg(args, kwargs, 1, "threshold")), float(_arg(args, kwargs, 2, "value"))
        if th != val:
            return f"threshold(threshold={th}, value={val}) is discontinuous; only value == threshold is piecewise linear"
        return PiecewiseLinear([th], [0.0, 1.0], th, name=f"threshold({th:g})")
    return "not an activation"


_ACT_FUNCS = {
    F.relu: "relu", torch.relu: "relu", F.relu_: "relu", torch.relu_: "relu", F.leaky_relu: "leaky_relu",
    F.hardtanh: "hardtanh", F.relu6: "relu6", F.hardsigmoid: "hardsigmoid", F.softshrink: "softshrink",
    torch.abs: "abs", torch.absolute: "abs", torch.clamp: "clamp", torch.clip: "clip", F.threshold: "threshold",
}
_ACT_METHODS = {"relu", "relu_", "abs", "absolute", "clamp", "clip", "clamp_", "clip_"}
_SMOOTH_NAMES = {
    "gelu", "silu", "sigmoid", "tanh", "softplus", "elu", "selu", "celu", "mish", "hardswish", "softmax",
    "log_softmax", "logsigmoid", "softsign", "tanhshrink", "exp", "log", "sqrt", "rsqrt", "pow", "sin", "cos",
    "glu", "softmin", "erf",
}


def _qualname(fn: Any) -> str:
    """A readable name of a function of a graph node: torch.nn.functional.gelu, operator.mul, ..."""
    name = getattr(fn, "__name__", None)
    if name is None:
        return str(fn)
    for prefix, ns in (("torch.nn.functional", F), ("torch", torch), ("operator", operator)):
        if getattr(ns, name, None) is fn:
            return f"{prefix}.{name}"
    return f"{getattr(fn, '__module__', None) or '?'}.{name}"


def _node_error(gm: torch.fx.GraphModule, node: torch.fx.Node, why: str):
    """The ``GraphError`` naming a traced node (its name, op and target) and why it is refused;
    shared by the compiler and the torch-native engine's tracer."""
    from .compiled import GraphError

    if node.op == "call_module":
        what = f"call_module {type(gm.get_submodule(node.target)).__name__} '{node.target}'"
    elif node.op == "call_function":
        what = f"call_function {_qualname(node.target)}"
    else:
        what = f"{node.op} {node.target}"
    return GraphError(f"node '{node.name}' ({what}): {why}")




def _get_attr(gm: torch.fx.GraphModule, target: str) -> Any:
    """The value of a ``get_attr`` node: the attribute at dotted ``target``, float tensors in float64."""
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().to(torch.float64) if obj.is_floating_point() else obj.detach()
    return obj
