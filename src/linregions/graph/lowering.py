"""Op-by-op lowering of a traced graph (``_Compiler``): every torch.fx node is evaluated on affine
values; affine ops (linear, conv, batch norm in eval mode, pooling by averages, additions, scaling,
reshapes, padding) are unrolled exactly, activations and maxima become units (``units``), anything
else is refused with an error naming the node.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from ..torch_io import activation_from_module
from .compiled import CompiledNetwork, GraphError
from .ops import (
    _ACT_FUNCS, _ACT_METHODS, _ADD_FUNCS, _ADD_METHODS, _IDENTITY_METHODS, _MUL_FUNCS, _MUL_METHODS, _SHAPE_METHODS,
    _SMOOTH_NAMES, _STRUCT_FUNCS, _STRUCT_METHODS, _Value, _act_from_call, _arg, _get_attr, _leaves, _replace,
)
from .units import _UnitBuilder


class _Compiler(_UnitBuilder):
    """Compiles one traced module on inputs of one shape: ``_Compiler(gm, shape).run()``."""

    # -- nodes -------------------------------------------------------------------------------
    def run(self) -> CompiledNetwork:
        nodes = list(self.gm.graph.nodes)
        last_use: dict[torch.fx.Node, int] = {}
        for i, n in enumerate(nodes):
            for a in n.all_input_nodes:
                last_use[a] = i
        placeholders = [n for n in nodes if n.op == "placeholder"]
        if not placeholders:
            raise GraphError("the module's forward takes no input")
        out_val = None
        for i, n in enumerate(nodes):
            self.node = n
            if n.op == "placeholder":
                if n is placeholders[0]:
                    coef = torch.eye(self.n_in, dtype=torch.float64).reshape((self.n_in, 1) + self.input_shape)
                    self.env[n] = _Value(coef, torch.zeros((1,) + self.input_shape, dtype=torch.float64))
                elif n.args:
                    self.env[n] = n.args[0]
                else:
                    raise self.fail("a forward with more than one tensor input is not supported (the input must be one tensor)")
            elif n.op == "output":
                out_val = self.env_args(n.args)[0][0]
            else:
                args, kwargs = self.env_args(n.args, n.kwargs)
                for a in n.all_input_nodes:  # inputs used for the last time need no carrying
                    if last_use.get(a) == i and a in self.env:
                        del self.env[a]
                try:
                    self.env[n] = self.eval_node(n, args, kwargs)
                except (RuntimeError, IndexError) as e:  # shape mismatches and the like, from torch
                    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                    raise self.fail(f"cannot be evaluated on inputs of shape {self.input_shape} ({msg})") from None
            if n.op != "output" and not n.users and n in self.env:
                del self.env[n]
        if isinstance(out_val, (tuple, list, dict)):
            raise self.fail("the module returns several tensors; return one tensor (e.g. torch.cat the outputs)", nodes[-1])
        if not isinstance(out_val, _Value):
            raise self.fail("the output does not depend on the input", nodes[-1])
        self.node = nodes[-1]
        (out_val,) = self.ensure_affine([out_val])
        return self.finish(out_val)

    def env_args(self, args: Any, kwargs: Any = None) -> tuple:
        def look(o):
            if isinstance(o, torch.fx.Node):
                return self.env[o]
            if isinstance(o, (list, tuple)):
                return type(o)(look(a) for a in o)
            if isinstance(o, dict):
                return {k: look(a) for k, a in o.items()}
            return o

        return look(args), look(kwargs or {})

    def eval_node(self, n: torch.fx.Node, args: tuple, kwargs: dict) -> Any:
        if n.op == "get_attr":
            return _get_attr(self.gm, n.target)
        has_value = bool(_leaves((args, kwargs)))
        if n.op == "call_module":
            mod = self.gm.get_submodule(n.target)
            if not has_value:
                raise self.fail("a module applied to something that does not depend on the input")
            return self.call_module(mod, n.target, args, kwargs)
        if n.op == "call_method":
            name = n.target
            if not has_value:
                return getattr(args[0], name)(*args[1:], **kwargs)
            return self.call_method(name, args, kwargs)
        if n.op == "call_function":
            fn = n.target
            if not has_value:
                return fn(*args, **kwargs)
            return self.call_function(fn, args, kwargs)
        raise self.fail(f"unsupported graph operation {n.op!r}")

    def call_method(self, name: str, args: tuple, kwargs: dict) -> Any:
        def meth(s, *a, **k):
            return getattr(s, name)(*a, **k)

        if name in _SHAPE_METHODS:
            return meth(*_replace((args, kwargs), lambda v: v.const)[0], **kwargs)
        if name in _IDENTITY_METHODS:
            return args[0]
        if name in _STRUCT_METHODS:
            return self.lin(meth, args, kwargs)
        if name in _ADD_METHODS:
            return self.add_like(meth, args, kwargs)
        if name in _MUL_METHODS:
            return self.mul_like(meth, args, kwargs, divide=name.startswith(("div", "__truediv", "true_div")))
        if name in _ACT_METHODS:
            act = _act_from_call(name, args, kwargs)
            if isinstance(act, str):
                raise self.fail(act)
            return self.activation(self._one(args), act)
        if name in ("maximum", "minimum", "max", "min", "amax", "amin"):
            return self.max_like(name, args, kwargs)
        if name in _SMOOTH_NAMES or name.rstrip("_") in _SMOOTH_NAMES:
            raise self.fail("not piecewise linear")
        raise self.fail(f"tensor method .{name}() is not supported (only affine maps, piecewise-linear activations and maxima)")

    def call_function(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        fname = getattr(fn, "__name__", str(fn))
        if fn is getattr or fname == "getattr":
            if args[1] in ("shape", "ndim", "dtype", "device"):
                return getattr(args[0].const, args[1])
            raise self.fail(f"attribute {args[1]!r} of a tensor is not supported")
        if fn in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout):
            return args[0]
        if fn in _STRUCT_FUNCS:
            return self.lin(fn, args, kwargs)
        if fn in _ADD_FUNCS:
            return self.add_like(fn, args, kwargs)
        if fn in _MUL_FUNCS:
            return self.mul_like(fn, args, kwargs, divide=fn in (operator.truediv, operator.itruediv, torch.div, torch.true_divide))
        if fn in (operator.matmul, torch.matmul, torch.mm):
            if isinstance(args[1], _Value) or not isinstance(args[0], _Value):
                raise self.fail("matmul is supported only as input @ constant matrix")
            return self.lin(fn, args, kwargs)
        if fn is F.linear:
            x, w, b = args[0], _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
            return self.affine_op(lambda t: F.linear(t, w), lambda t: F.linear(t, w, b), x, b, self._param_name(2, "bias"),
                                  lambda e: F.linear(torch.zeros_like(x.const), w, e))
        if fn in (F.conv1d, F.conv2d, F.conv3d):
            x, w, b = args[0], _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
            rest = dict(stride=_arg(args, kwargs, 3, "stride", 1), padding=_arg(args, kwargs, 4, "padding", 0),
                        dilation=_arg(args, kwargs, 5, "dilation", 1), groups=_arg(args, kwargs, 6, "groups", 1))
            return self.affine_op(lambda t: fn(t, w, None, **rest), lambda t: fn(t, w, b, **rest), x, b, self._param_name(2, "bias"),
                                  lambda e: fn(torch.zeros_like(x.const), w, e, **rest))
        if fn is F.batch_norm:
            x = args[0]
            rm, rv = _arg(args, kwargs, 1, "running_mean"), _arg(args, kwargs, 2, "running_var")
            w, b = _arg(args, kwargs, 3, "weight"), _arg(args, kwargs, 4, "bias")
            if _arg(args, kwargs, 5, "training", False) or rm is None or rv is None:
                raise self.fail("batch norm with batch statistics (training mode) depends on the batch; call module.eval()")
            eps = float(_arg(args, kwargs, 7, "eps", 1e-5))
            return self.batch_norm(x, rm, rv, w, b, eps, self._param_name(4, "bias"))
        if fn is F.pad:
            mode = _arg(args, kwargs, 2, "mode", "constant")
            value = _arg(args, kwargs, 3, "value", None)
            if mode == "constant" and value not in (None, 0, 0.0):
                return self.lin(lambda t, v: F.pad(t, args[1], mode, v), (args[0], value), {}, zero_consts=True)
            return self.lin(fn, args, kwargs)
        if fn in _ACT_FUNCS:
            act = _act_from_call(_ACT_FUNCS[fn], args, kwargs)
            if isinstance(act, str):
                raise self.fail(act)
            return self.activation(self._one(args), act)
        if fn in (torch.maximum, torch.minimum, torch.max, torch.min, torch.amax, torch.amin, torch.fmax, torch.fmin):
            return self.max_like(fname, args, kwargs)
        if fn in (F.max_pool1d, F.max_pool2d, F.max_pool3d, F.max_pool1d_with_indices, F.max_pool2d_with_indices):
            nd = 1 if "1d" in fname else 2 if "2d" in fname else 3
            if _arg(args, kwargs, 6, "return_indices", False) or "indices" in fname:
                raise self.fail("max pooling with return_indices: the indices are not a continuous function")
            k = _arg(args, kwargs, 1, "kernel_size")
            st = _arg(args, kwargs, 2, "stride", None)
            return self.max_pool(args[0], nd, k, st if st not in (None, []) else k, _arg(args, kwargs, 3, "padding", 0),
                                 _arg(args, kwargs, 4, "dilation", 1), lambda t: fn(t, *args[1:], **kwargs))
        if fn in (F.adaptive_max_pool1d, F.adaptive_max_pool2d):
            if _arg(args, kwargs, 2, "return_indices", False):
                raise self.fail("adaptive max pooling with return_indices: the indices are not a continuous function")
            return self.adaptive_max_pool(args[0], 1 if "1d" in fname else 2, lambda t: fn(t, *args[1:], **kwargs))
        if fname.rstrip("_") in _SMOOTH_NAMES:
            raise self.fail("not piecewise linear")
        raise self.fail("not supported (only affine maps, piecewise-linear activations and maxima can be compiled)")

    def _param_name(self, i: int, name: str) -> str | None:
        a = self.node.args[i] if len(self.node.args) > i else self.node.kwargs.get(name)
        if isinstance(a, torch.fx.Node) and a.op == "get_attr" and a.target in self.params:
            return a.target
        return None

    def affine_op(self, lin_fn, full_fn, x: _Value, bias, pname: str | None, contrib) -> _Value:
        out = self.lin(lambda t: lin_fn(t), (x,), {})
        out = _Value(out.coef, full_fn(x.const))
        if bias is not None and pname is not None:
            out = self.add_bias(out, pname, contrib, int(bias.numel()))
        return out

    def batch_norm(self, x: _Value, rm, rv, w, b, eps: float, pname: str | None) -> _Value:
        rm, rv = rm.detach().double(), rv.detach().double()
        scale = 1.0 / torch.sqrt(rv + eps)
        if w is not None:
            scale = scale * w.detach().double()
        shift = -rm * scale
        if b is not None:
            shift = shift + b.detach().double()
        shape = tuple(x.const.shape)
        if len(shape) < 2 or shape[1] != scale.numel():
            raise self.fail(f"batch norm over {scale.numel()} channels needs the channel dim 1 of the input to have that size, got {shape}")
        view = (1, -1) + (1,) * (len(shape) - 2)
        out = self.lin(lambda t: t * scale.view(view), (x,), {})
        out = _Value(out.coef, x.const * scale.view(view) + shift.view(view))
        if b is not None and pname is not None:
            out = self.add_bias(out, pname, lambda e: e.view(view).expand(shape), int(b.numel()))
        return out

    def add_like(self, fn, args: tuple, kwargs: dict) -> _Value:
        out = self.lin(fn, args, kwargs, zero_consts=True)
        # constants that are parameters of the module enter like biases
        for i, a in enumerate(self.node.args[:2]):
            if isinstance(a, torch.fx.Node) and a.op == "get_attr" and a.target in self.params and not isinstance(args[i], _Value):
                p = args[i]
                others = [torch.zeros_like(o.const) if isinstance(o, _Value) else torch.zeros_like(torch.as_tensor(o, dtype=torch.float64)) for o in args[:2]]

                def contrib(e, i=i, p=p, others=others):
                    a2 = list(others)
                    a2[i] = e.reshape(p.shape)
                    return fn(*a2, **kwargs).expand(out.const.shape)

                out = self.add_bias(out, a.target, contrib, int(p.numel()))
        return out

    def mul_like(self, fn, args: tuple, kwargs: dict, divide: bool) -> _Value:
        vals = [i for i, a in enumerate(args[:2]) if isinstance(a, _Value)]
        if len(vals) != 1 or (divide and vals[0] != 0):
            what = "division by an input-dependent tensor" if divide else "product of two input-dependent tensors"
            raise self.fail(f"{what} is not piecewise linear")
        return self.lin(fn, args, kwargs)

    def call_module(self, m: nn.Module, path: str, args: tuple, kwargs: dict) -> Any:
        x = self._one(args)
        if isinstance(m, (nn.Identity, nn.Flatten, nn.Unflatten)) or isinstance(m, nn.modules.dropout._DropoutNd):
            return self.lin(m, args, kwargs) if not isinstance(m, (nn.Identity, nn.modules.dropout._DropoutNd)) else x
        if isinstance(m, nn.Linear):
            W = m.weight.detach().double()
            b = m.bias.detach().double() if m.bias is not None else None
            return self.affine_op(lambda t: F.linear(t, W), lambda t: F.linear(t, W, b), x, b, f"{path}.bias",
                                  lambda e: F.linear(torch.zeros_like(x.const), W, e))
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            W = m.weight.detach().double()
            b = m.bias.detach().double() if m.bias is not None else None
            return self.affine_op(lambda t: m._conv_forward(t, W, None), lambda t: m._conv_forward(t, W, b), x, b, f"{path}.bias",
                                  lambda e: m._conv_forward(torch.zeros_like(x.const), W, e))
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.training or m.running_mean is None:
                raise self.fail("BatchNorm in training mode (or without running statistics) normalises with batch statistics, "
                                "which is not a fixed function of one input; call module.eval()")
            return self.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, float(m.eps),
                                   f"{path}.bias" if m.bias is not None else None)
        if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
            return self.lin(m, args, kwargs)
        if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            if m.return_indices:
                raise self.fail("max pooling with return_indices: the indices are not a continuous function")
            nd = 1 if isinstance(m, nn.MaxPool1d) else 2 if isinstance(m, nn.MaxPool2d) else 3
            return self.max_pool(x, nd, m.kernel_size, m.stride, m.padding, m.dilation, m)
        if isinstance(m, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)):
            if m.return_indices:
                raise self.fail("max pooling with return_indices: the indices are not a continuous function")
            return self.adaptive_max_pool(x, 1 if isinstance(m, nn.AdaptiveMaxPool1d) else 2, m)
        try:
            act = activation_from_module(m, path)
        except TypeError:
            raise self.fail("this module is not supported; supported: Linear, Conv1d/2d/3d, BatchNorm (eval), AvgPool, "
                            "AdaptiveAvgPool, MaxPool, AdaptiveMaxPool, Flatten, Unflatten, Identity, Dropout and the "
                            "piecewise-linear activations (ReLU, LeakyReLU, PReLU, Hardtanh, ReLU6, Hardsigmoid, Softshrink, Threshold)") from None
        except ValueError as e:  # keep torch_io's reason, not its list of Sequential-only modules
            raise self.fail(str(e).split(" Supported: ")[0].split("; supported: ")[0]) from None
        return self.activation(x, act)
