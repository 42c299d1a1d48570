"""Building a ``ModuleProgram`` from a module: torch.fx tracing and one step per graph node.

Each node becomes a step with its four evaluation modes (see ``engine.program``); activation and
maximum nodes become activation sites. Unsupported nodes are refused with an error naming the node
(``graph.GraphError``); inputs whose shape does not fit the module raise ``InputShapeError``
naming both shapes.
"""
from __future__ import annotations

import copy
import operator
from typing import Any, Sequence

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from .. import graph as G
from ..activations import PiecewiseLinear, relu
from ..network import ARGMAX, NEURON
from ..torch_io import _module_kinds, activation_from_module, input_shape_of
from .program import Fn, ModuleProgram, Ref, SiteOps, Step, _abs_const, _is_abs, _is_lin, _lookup, _zero_const
from .blocks import blockwise
from .protocol import Site

__all__ = ["compile_program", "InputShapeError"]

_NEG_FUNCS = {torch.neg, operator.neg}
_SUB_FUNCS = {operator.sub, operator.isub, torch.sub, torch.subtract}
_DIV = {operator.truediv, operator.itruediv, torch.div, torch.true_divide}
_INPLACE = {operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
            operator.itruediv: operator.truediv}


def _rows_blockwise(op, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """``op(x, out)`` (a row-wise op writing (rows,) + shape into ``out``) over row blocks of x
    (``engine.blocks``); one call where autograd records x (``reach``'s backward pass)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return op(x, None)
    out = x.new_empty((x.shape[0],) + tuple(shape))
    blockwise(lambda a, b: op(x[a:b], out[a:b]), x.shape[0], max(1, out[:1].numel()), x.device)
    return out


class InputShapeError(ValueError):
    """Inputs whose shape does not match the module."""


class _Builder:
    def __init__(self, gm: torch.fx.GraphModule, input_shape: tuple[int, ...], device: torch.device):
        self.gm, self.input_shape, self.device = gm, input_shape, device
        self.steps: list[Step] = []
        self.sites: list[Site] = []
        self.site_ops: list[SiteOps] = []
        self.site_step: list[int] = []
        self.dyn: set[str] = set()
        self.sample: dict[str, Any] = {}  # value of each node on one sample (batch 1)
        self.const: dict[str, Any] = {}
        self.node: torch.fx.Node | None = None

    def fail(self, why: str, node: torch.fx.Node | None = None) -> G.GraphError:
        return G._node_error(self.gm, node or self.node, why)

    # -- steps -----------------------------------------------------------------------------------
    def add(self, key: str, fn: Fn, args: Any, kwargs: Any, deps: Sequence[str]) -> Any:
        st = Step(key, tuple(deps), fn, args, kwargs or {}, -1, self.node.name)
        self.steps.append(st)
        look = _lookup(self.sample)
        try:
            val = fn("value", torch.fx.node.map_aggregate(args, look), torch.fx.node.map_aggregate(kwargs or {}, look))
        except (RuntimeError, IndexError, ValueError, TypeError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise InputShapeError(f"{self.fail(f'cannot be evaluated on inputs of shape {self.input_shape} ({msg})')}") from None
        self.sample[key] = val
        self.dyn.add(key)
        return val

    def add_site(self, key: str, site: Site, ops: SiteOps) -> torch.Tensor:
        l = len(self.sites)
        self.sites.append(site)
        self.site_ops.append(ops)
        self.site_step.append(len(self.steps))
        self.steps.append(Step(key, (ops.input,), None, (), {}, l, self.node.name))
        x = self.sample[ops.input]
        u = ops.pre("value", x)
        a = torch.relu(u) if site.act.name == "relu" and not site.act.per_unit else site.act(u)
        if site.passthrough is not None:
            a = torch.where(torch.as_tensor(site.passthrough), u, a)
        val = ops.post("value", x, a)
        self.sample[key] = val
        self.dyn.add(key)
        return val

    # -- nodes -----------------------------------------------------------------------------------
    def run(self) -> ModuleProgram:
        nodes = list(self.gm.graph.nodes)
        ph = [n for n in nodes if n.op == "placeholder"]
        if not ph:
            raise G.GraphError("the module's forward takes no input")
        out_key = None
        for n in nodes:
            self.node = n
            if n.op == "placeholder":
                if n is ph[0]:
                    self.sample[n.name] = torch.zeros((1,) + self.input_shape, dtype=torch.float64, device=self.device)
                    self.dyn.add(n.name)
                elif n.args:
                    self.sample[n.name] = n.args[0]
                else:
                    raise self.fail("a forward with more than one tensor input is not supported (the input must be one tensor)")
            elif n.op == "output":
                o = n.args[0]
                if not isinstance(o, torch.fx.Node) or o.name not in self.dyn:
                    raise self.fail("the module must return one tensor that depends on the input (e.g. torch.cat several outputs)", n)
                out_key = o.name
            else:
                deps = [a.name for a in n.all_input_nodes if a.name in self.dyn]
                if not deps:  # a constant (parameters, shapes): evaluate once
                    self.sample[n.name] = self.eval_const(n)
                else:
                    self.node_step(n, deps)
        if not self.sites:
            raise G.GraphError("the module is affine in its input (no activation or maximum reaches the output): it has one linear region")
        out = self.sample[out_key]
        if not isinstance(out, torch.Tensor):
            raise self.fail("the module returns several tensors; return one tensor (e.g. torch.cat the outputs)", nodes[-1])
        prog = ModuleProgram(self.steps, self.sites, self.site_ops, self.site_step, ph[0].name, out_key,
                             self.input_shape, tuple(out.shape[1:]), self.device)
        # constants (parameters) are baked into the steps' closures; drop the samples
        return prog

    def eval_const(self, n: torch.fx.Node) -> Any:
        look = lambda o: self.sample[o.name] if isinstance(o, torch.fx.Node) else o  # noqa: E731
        args = torch.fx.node.map_aggregate(n.args, look)
        kwargs = torch.fx.node.map_aggregate(n.kwargs, look)
        if n.op == "get_attr":
            return G._get_attr(self.gm, n.target)
        if n.op == "call_module":
            raise self.fail("a module applied to something that does not depend on the input")
        if n.op == "call_method":
            return getattr(args[0], n.target)(*args[1:], **kwargs)
        return n.target(*args, **kwargs)

    def node_step(self, n: torch.fx.Node, deps: list[str]) -> None:
        if n.op == "call_module":
            return self.module_step(n, self.gm.get_submodule(n.target), deps)
        if n.op == "call_method":
            return self.method_step(n, n.target, deps)
        if n.op == "call_function":
            return self.function_step(n, n.target, deps)
        raise self.fail(f"unsupported graph operation {n.op!r}")

    def alias(self, n, deps):
        self.add(n.name, lambda m, a, k: a[0], n.args, n.kwargs, deps)

    def struct(self, n, fn, deps, args=None, kwargs=None):
        self.add(n.name, lambda m, a, k: fn(*a, **k), n.args if args is None else args, n.kwargs if kwargs is None else kwargs, deps)

    def module_step(self, n: torch.fx.Node, m: nn.Module, deps: list[str]) -> None:
        if isinstance(m, nn.Identity) or isinstance(m, nn.modules.dropout._DropoutNd):
            return self.alias(n, deps)
        if isinstance(m, (nn.Flatten, nn.Unflatten, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d,
                          nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
            return self.struct(n, m, deps)
        if isinstance(m, nn.Linear):
            W, b = m.weight.detach(), None if m.bias is None else m.bias.detach()
            aW, ab = W.abs(), None if b is None else b.abs()

            def lin(mode, a, k, W=W, b=b, aW=aW, ab=ab):
                if mode == "value":
                    return F.linear(a[0], W, b)
                if mode == "lin":
                    return F.linear(a[0], W)
                return F.linear(a[0], aW, ab if mode == "abs" else None)

            return self.add(n.name, lin, n.args[:1], {}, deps)
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            W, b = m.weight.detach(), None if m.bias is None else m.bias.detach()
            aW, ab = W.abs(), None if b is None else b.abs()

            def conv(mode, a, k, m=m, W=W, b=b, aW=aW, ab=ab):
                if mode == "value":
                    return m._conv_forward(a[0], W, b)
                if mode == "lin":
                    return m._conv_forward(a[0], W, None)
                return m._conv_forward(a[0], aW, ab if mode == "abs" else None)

            return self.add(n.name, conv, n.args[:1], {}, deps)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.training or m.running_mean is None:
                raise self.fail("BatchNorm in training mode (or without running statistics) normalises with batch statistics, "
                                "which is not a fixed function of one input; call module.eval()")
            return self.batch_norm(n, m.running_mean, m.running_var, m.weight, m.bias, float(m.eps), deps, m)
        if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            if m.return_indices:
                raise self.fail("max pooling with return_indices: the indices are not a continuous function")
            nd = 1 if isinstance(m, nn.MaxPool1d) else 2 if isinstance(m, nn.MaxPool2d) else 3
            return self.max_pool(n, nd, m.kernel_size, m.stride, m.padding, m.dilation, m, deps)
        if isinstance(m, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)):
            if m.return_indices:
                raise self.fail("max pooling with return_indices: the indices are not a continuous function")
            return self.adaptive_max_pool(n, 1 if isinstance(m, nn.AdaptiveMaxPool1d) else 2, m, deps)
        try:
            act = activation_from_module(m, n.target)
        except TypeError:
            raise self.fail("this module is not supported; supported: Linear, Conv1d/2d/3d, BatchNorm (eval), AvgPool, "
                            "AdaptiveAvgPool, MaxPool, AdaptiveMaxPool, Flatten, Unflatten, Identity, Dropout and the "
                            "piecewise-linear activations (ReLU, LeakyReLU, PReLU, Hardtanh, ReLU6, Hardsigmoid, Softshrink, Threshold)") from None
        except ValueError as e:
            raise self.fail(str(e).split(" Supported: ")[0].split("; supported: ")[0]) from None
        kinds = _module_kinds(m)
        return self.activation(n, act, deps, None if kinds is None else kinds != NEURON)

    def batch_norm(self, n, rm, rv, w, b, eps, deps, mod=None, x_arg=None):
        rm, rv = rm.detach().double(), rv.detach().double()
        scale = 1.0 / torch.sqrt(rv + eps)
        if w is not None:
            scale = scale * w.detach().double()
        shift = -rm * scale + (b.detach().double() if b is not None else 0.0)
        abs_shift = (rm * scale).abs() + (b.detach().double().abs() if b is not None else 0.0)
        x0 = self.sample[deps[0]]
        if x0.dim() < 2 or x0.shape[1] != scale.numel():
            raise self.fail(f"batch norm over {scale.numel()} channels needs the channel dim 1 of the input to have that size, got {tuple(x0.shape[1:])}")
        view = (1, -1) + (1,) * (x0.dim() - 2)
        sc, sh, asc, ash = scale.view(view), shift.view(view), scale.abs().view(view), abs_shift.view(view)

        def bn(mode, a, k):
            x = a[0]
            if mode == "value":
                return mod(x) if mod is not None else x * sc + sh
            if mode == "lin":
                return x * sc
            return x * asc + ash if mode == "abs" else x * asc

        return self.add(n.name, bn, (n.args[0] if x_arg is None else x_arg,), {}, deps[:1])

    def activation(self, n, act: PiecewiseLinear | None, deps, passthrough=None) -> None:
        if act is None:
            return self.alias(n, deps)
        x = self.sample[deps[0]]
        nunits = int(x[0].numel())
        if act.per_unit:
            shape = tuple(x.shape)
            n_c = act.width
            if len(shape) < 2 or shape[1] != n_c:
                raise self.fail(f"per-channel slopes ({n_c}) need the channel dim 1 of the input to have that size, got shape {shape[1:]}")
            ch = np.broadcast_to(np.arange(n_c).reshape((n_c,) + (1,) * (len(shape) - 2)), shape[1:]).reshape(-1)
            act = PiecewiseLinear(act.breakpoints, act.slopes[ch], np.asarray(act.value)[ch], name=act.name)
            if passthrough is not None:
                passthrough = np.asarray(passthrough).reshape(-1)[ch]
        elif passthrough is not None:
            passthrough = None if not np.any(passthrough) else np.broadcast_to(np.asarray(passthrough).reshape(-1), (nunits,)).copy()
        first = n.args[0]
        if not (isinstance(first, torch.fx.Node) and first.name in self.dyn):
            raise self.fail("the first argument must depend on the input")
        site = Site(n.name, NEURON, act, nunits, np.arange(nunits), 0, passthrough)
        ops = SiteOps(first.name, lambda mode, x: x.reshape(x.shape[0], -1),
                      lambda mode, x, a: a.reshape(x.shape), view=True)
        self.add_site(n.name, site, ops)

    # -- maxima ----------------------------------------------------------------------------------
    def max_pool(self, n, nd, kernel, stride, padding, dilation, fn, deps):
        x = self.sample[deps[0]]
        shape = tuple(x.shape)
        if len(shape) < nd + 1:
            raise self.fail(f"{nd}-d max pooling needs at least {nd + 1} dims, got shape {shape[1:]}")
        out_shape = tuple(fn(x).shape)
        pos = G.pool_positions(out_shape, nd, kernel, stride, padding, dilation)
        self.windows_max(n, deps[0], shape, out_shape, nd, pos)

    def adaptive_max_pool(self, n, nd, fn, deps):
        x = self.sample[deps[0]]
        shape, out_shape = tuple(x.shape), tuple(fn(x).shape)
        self.windows_max(n, deps[0], shape, out_shape, nd, G.adaptive_positions(shape, out_shape, nd))

    def windows_max(self, n, xkey, shape, out_shape, nd, pos):
        try:
            win = G.window_indices(shape, out_shape, nd, pos)  # batch dim 1: indices into one sample
        except ValueError as e:
            raise self.fail(str(e)) from None
        self.tournament(n, lambda mode, a, k: a[0], (self.node.args[0],), [xkey], win, out_shape, negate=False)

    def tournament(self, n, prep: Fn, args, deps, windows: np.ndarray, out_shape, negate: bool) -> None:
        """Steps of max over windows of prep(...) flattened per row (windows index one sample)."""
        win, valid, rounds = G.tournament_rounds(windows)
        widx = torch.from_numpy(np.where(valid, win, 0)).to(self.device)
        wflat = widx.reshape(-1)
        vmask = None if valid.all() else torch.from_numpy(valid).to(self.device)
        sgn = -1.0 if negate else 1.0

        def cand(mode, a, k):
            flat = prep(mode, a, k)
            flat = flat.reshape(flat.shape[0], -1)
            c = _rows_blockwise(lambda x, out: torch.index_select(x, 1, wflat, out=out), flat, (wflat.numel(),))
            c = c.reshape((flat.shape[0],) + tuple(widx.shape))  # flat[:, widx]
            if vmask is not None:
                c = c * vmask
            return c * sgn if (negate and not _is_abs(mode)) else c

        ckey = f"{n.name}#c0"
        self.add(ckey, cand, args, {}, deps)
        node_sites = []
        k_cols = win.shape[1]
        for r, (rr, jj) in enumerate(rounds):
            rt, jt = torch.from_numpy(rr).to(self.device), torch.from_numpy(jj).to(self.device)
            full = k_cols % 2 == 0 and rr.size == win.shape[0] * (k_cols // 2)  # every pair compared, in order

            def pre(mode, c, rt=rt, jt=jt, full=full):
                if full:
                    op = torch.add if _is_abs(mode) else torch.sub
                    d = _rows_blockwise(lambda x, out: op(x[:, :, 0::2], x[:, :, 1::2], out=out), c,
                                        (c.shape[1], c.shape[2] // 2))
                    return d.reshape(c.shape[0], -1)
                A, B = c[:, rt, 2 * jt], c[:, rt, 2 * jt + 1]
                return A + B if _is_abs(mode) else A - B

            def post(mode, c, a, rt=rt, jt=jt, full=full):
                # a is always the caller's fresh tensor (an activation of pre's output): overwritten
                if full:
                    return _second_plus(mode, c[:, :, 1::2], a)
                new = c[:, :, 0::2].clone()
                new[:, rt, jt] = c[:, rt, 2 * jt + 1] + a
                return new

            site = Site(n.name, ARGMAX, relu(), int(rr.size), rr.astype(np.int64), r)
            nxt = f"{n.name}#c{r + 1}"
            # a full round's post reads only the second candidates (SiteOps.part)
            part = (lambda c: c[:, :, 1::2]) if full else None
            self.add_site(nxt, site, SiteOps(ckey, pre, post, part=part, post_part=_second_plus if full else None))
            ckey = nxt
            node_sites.append(site)
            k_cols = (k_cols + 1) // 2
        if not rounds:  # windows of one candidate: no units
            pass

        def finish(mode, a, k):
            c = a[0].reshape((a[0].shape[0],) + tuple(out_shape[1:]))
            return c * sgn if (negate and not _is_abs(mode)) else c

        self.add(n.name, finish, (Ref(ckey),), {}, [ckey])

    def max_like(self, n, name: str, args, kwargs, deps):
        name = name.lstrip("_")
        other = G._arg(args, kwargs, 1, "other")
        dim = G._arg(args, kwargs, 1, "dim")
        is_node = lambda o: isinstance(o, torch.fx.Node)  # noqa: E731
        two = (is_node(other) or isinstance(other, torch.Tensor)) or name in ("maximum", "minimum", "fmax", "fmin")
        negate = name in ("minimum", "min", "amin", "fmin")
        if two:
            a, b = args[0], other
            sa = self.sample[a.name] if is_node(a) else torch.as_tensor(a, dtype=torch.float64)
            sb = self.sample[b.name] if is_node(b) else torch.as_tensor(b, dtype=torch.float64)
            dyn_a, dyn_b = is_node(a) and a.name in self.dyn, is_node(b) and b.name in self.dyn
            shape = torch.broadcast_shapes(sa.shape, sb.shape)
            if len(shape) == 0 or (shape[0] != 1 and (dyn_a or dyn_b)):
                raise self.fail("a maximum that broadcasts over the batch dim is not supported")

            def prep(mode, xs, k, dyn_a=dyn_a, dyn_b=dyn_b):
                p, q = xs
                P = (p if dyn_a else q).shape[0]
                p = torch.as_tensor(p, dtype=torch.float64, device=self.device)
                q = torch.as_tensor(q, dtype=torch.float64, device=self.device)
                if _is_lin(mode):
                    p, q = (p if dyn_a else torch.zeros_like(p)), (q if dyn_b else torch.zeros_like(q))
                if _is_abs(mode) and mode == "abs":
                    p, q = p.abs(), q.abs()
                p, q = p.expand((P,) + tuple(shape[1:])), q.expand((P,) + tuple(shape[1:]))
                return torch.stack([p, q], -1)

            m = int(np.prod(shape[1:]))
            win = np.arange(2 * m).reshape(m, 2)
            return self.tournament(n, lambda mode, xs, k: prep(mode, xs, k), (a, b), deps, win, tuple(shape), negate)
        x = self.sample[args[0].name]
        if name in ("max", "min") and dim is None:
            raise self.fail(f"torch.{name}(x) reduces over the batch dim too; use torch.a{name}(x, dim) over the sample dims")
        if name in ("max", "min"):
            raise self.fail(f"torch.{name}(x, dim) also returns indices, which are not continuous; use torch.a{name}(x, dim)")
        nd = x.dim()
        dims = dim if dim is not None else tuple(range(nd))
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        dims = tuple(sorted(d % nd for d in dims))
        if 0 in dims:
            raise self.fail("a maximum over the batch dim is not supported")
        keep = bool(G._arg(args, kwargs, 2, "keepdim", False))
        rest = [d for d in range(nd) if d not in dims]
        rshape = tuple(x.shape[d] for d in rest)
        k = int(np.prod([x.shape[d] for d in dims]))
        win = np.arange(int(np.prod(rshape[1:])) * k).reshape(-1, k)
        out_shape = tuple(1 if d in dims else x.shape[d] for d in range(nd)) if keep else rshape
        perm = rest + list(dims)
        return self.tournament(n, lambda mode, xs, kk: xs[0].permute(perm), (args[0],), deps[:1], win, out_shape, negate)

    # -- functions and methods -------------------------------------------------------------------
    def function_step(self, n, fn, deps):
        fname = getattr(fn, "__name__", str(fn))
        args, kwargs = n.args, n.kwargs
        if fn is getattr:
            if args[1] in ("shape", "ndim", "dtype", "device"):
                return self.struct(n, fn, deps)
            raise self.fail(f"attribute {args[1]!r} of a tensor is not supported")
        if fn in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout):
            if G._arg(args, kwargs, 2, "training", True):
                raise self.fail("dropout in training mode is random; call module.eval()")
            return self.alias(n, deps)
        if fn in _NEG_FUNCS:
            return self.add(n.name, lambda m, a, k: a[0] if _is_abs(m) else -a[0], args, kwargs, deps)
        if fn in G._STRUCT_FUNCS:
            return self.struct(n, fn, deps)
        if fn in G._ADD_FUNCS:
            return self.add_like(n, _INPLACE.get(fn, fn), deps, sub=fn in _SUB_FUNCS)
        if fn in G._MUL_FUNCS:
            return self.mul_like(n, _INPLACE.get(fn, fn), deps, divide=fn in _DIV)
        if fn in (operator.matmul, torch.matmul, torch.mm):
            if not (isinstance(args[0], torch.fx.Node) and args[0].name in self.dyn) or (
                    isinstance(args[1], torch.fx.Node) and args[1].name in self.dyn):
                raise self.fail("matmul is supported only as input @ constant matrix")
            return self.mul_like(n, fn, deps, divide=False)
        if fn is F.linear:
            return self.add(n.name, _affine(fn, 2), args, kwargs, deps)
        if fn in (F.conv1d, F.conv2d, F.conv3d):
            return self.add(n.name, _affine(fn, 2), args, kwargs, deps)
        if fn is F.batch_norm:
            look = lambda o: self.sample[o.name] if isinstance(o, torch.fx.Node) else o  # noqa: E731
            rm, rv = look(G._arg(args, kwargs, 1, "running_mean")), look(G._arg(args, kwargs, 2, "running_var"))
            w, b = look(G._arg(args, kwargs, 3, "weight")), look(G._arg(args, kwargs, 4, "bias"))
            if G._arg(args, kwargs, 5, "training", False) or rm is None or rv is None:
                raise self.fail("batch norm with batch statistics (training mode) depends on the batch; call module.eval()")
            return self.batch_norm(n, rm, rv, w, b, float(G._arg(args, kwargs, 7, "eps", 1e-5)), deps)
        if fn is F.pad:
            def pad(mode, a, k):
                v = G._arg(a, k, 3, "value", None)
                md = G._arg(a, k, 2, "mode", "constant")
                if md != "constant" or v in (None, 0, 0.0):
                    return F.pad(*a, **k)
                v = 0.0 if _is_lin(mode) else (abs(v) if _is_abs(mode) else v)
                return F.pad(a[0], a[1], "constant", v)

            return self.add(n.name, pad, args, kwargs, deps)
        if fn in G._ACT_FUNCS:
            act = G._act_from_call(G._ACT_FUNCS[fn], args, kwargs)
            if isinstance(act, str):
                raise self.fail(act)
            return self.activation(n, act, deps)
        if fn in (torch.maximum, torch.minimum, torch.max, torch.min, torch.amax, torch.amin, torch.fmax, torch.fmin):
            return self.max_like(n, fname, args, kwargs, deps)
        if fn in (F.max_pool1d, F.max_pool2d, F.max_pool3d, F.max_pool1d_with_indices, F.max_pool2d_with_indices):
            nd = 1 if "1d" in fname else 2 if "2d" in fname else 3
            if G._arg(args, kwargs, 6, "return_indices", False) or "indices" in fname:
                raise self.fail("max pooling with return_indices: the indices are not a continuous function")
            k = G._arg(args, kwargs, 1, "kernel_size")
            st = G._arg(args, kwargs, 2, "stride", None)
            return self.max_pool(n, nd, k, st if st not in (None, []) else k, G._arg(args, kwargs, 3, "padding", 0),
                                 G._arg(args, kwargs, 4, "dilation", 1), lambda t: fn(t, *args[1:], **kwargs), deps)
        if fn in (F.adaptive_max_pool1d, F.adaptive_max_pool2d):
            if G._arg(args, kwargs, 2, "return_indices", False):
                raise self.fail("adaptive max pooling with return_indices: the indices are not a continuous function")
            return self.adaptive_max_pool(n, 1 if "1d" in fname else 2, lambda t: fn(t, *args[1:], **kwargs), deps)
        if fname.rstrip("_") in G._SMOOTH_NAMES:
            raise self.fail("not piecewise linear")
        raise self.fail("not supported by the torch engine (only affine maps, piecewise-linear activations and maxima)")

    def method_step(self, n, name, deps):
        args, kwargs = n.args, n.kwargs
        meth = lambda s, *a, **k: getattr(s, name)(*a, **k)  # noqa: E731
        if name in G._SHAPE_METHODS:
            return self.struct(n, meth, deps)
        if name in G._IDENTITY_METHODS:
            return self.alias(n, deps)
        if name == "neg":
            return self.add(n.name, lambda m, a, k: a[0] if _is_abs(m) else -a[0], args, kwargs, deps)
        if name in G._STRUCT_METHODS:
            return self.struct(n, meth, deps)
        if name in G._ADD_METHODS:
            if name == "__radd__":
                fn = lambda a, b, **k: b + a  # noqa: E731
            elif name == "__rsub__":
                fn = lambda a, b, **k: b - a  # noqa: E731
            else:
                base = name if name.startswith("__") else name.rstrip("_")
                fn = lambda a, b, base=base, **k: getattr(a, base)(b, **k)  # noqa: E731
            return self.add_like(n, fn, deps, sub="sub" in name)
        if name in G._MUL_METHODS:
            base = name.rstrip("_") if not name.startswith("__") else name
            return self.mul_like(n, lambda a, b, base=base: getattr(a, base)(b), deps, divide="div" in name)
        if name in G._ACT_METHODS:
            act = G._act_from_call(name, args, kwargs)
            if isinstance(act, str):
                raise self.fail(act)
            return self.activation(n, act, deps)
        if name in ("maximum", "minimum", "max", "min", "amax", "amin"):
            return self.max_like(n, name, args, kwargs, deps)
        if name in G._SMOOTH_NAMES or name.rstrip("_") in G._SMOOTH_NAMES:
            raise self.fail("not piecewise linear")
        raise self.fail(f"tensor method .{name}() is not supported (only affine maps, piecewise-linear activations and maxima)")

    def add_like(self, n, fn, deps, sub: bool):
        dyn = [isinstance(a, torch.fx.Node) and a.name in self.dyn for a in n.args[:2]]

        def f(mode, a, k):
            a = list(a)
            if _is_lin(mode):
                a[:2] = [x if d else _zero_const(x) for x, d in zip(a[:2], dyn)]
            if _is_abs(mode):
                a[:2] = [x if d else _abs_const(x) for x, d in zip(a[:2], dyn)]
                alpha = abs(k.get("alpha", 1))
                x, y = a[0], a[1]
                return (x + alpha * y) if alpha != 1 else x + y
            return fn(*a, **k)

        return self.add(n.name, f, n.args, n.kwargs, deps)

    def mul_like(self, n, fn, deps, divide: bool):
        dyn = [isinstance(a, torch.fx.Node) and a.name in self.dyn for a in n.args[:2]]
        if sum(dyn) != 1 or (divide and not dyn[0]):
            what = "division by an input-dependent tensor" if divide else "product of two input-dependent tensors"
            raise self.fail(f"{what} is not piecewise linear")

        def f(mode, a, k):
            if _is_abs(mode):
                a = tuple(x if d else _abs_const(x) for x, d in zip(a[:2], dyn)) + tuple(a[2:])
            return fn(*a, **k)

        return self.add(n.name, f, n.args, n.kwargs, deps)


def _second_plus(mode: str, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """A full tournament round's post from its second candidates b (P, m, k): b + a, written into
    a (the caller's fresh activation of the round's differences, (P, m k))."""
    return a.reshape(b.shape).add_(b)


def _affine(fn, bias_pos: int) -> Fn:
    """F.linear / F.conv*: (x, weight, bias, ...): lin drops the bias, abs uses |weight|, |bias|."""
    def f(mode, a, k):
        a, k = list(a), dict(k)
        if len(a) > bias_pos:
            b = a[bias_pos]
        else:
            b = k.get("bias")
        w = a[1] if len(a) > 1 else k.get("weight")
        if _is_abs(mode):
            w = w.abs()
            b = None if b is None else b.abs()
        if _is_lin(mode):
            b = None
        if len(a) > 1:
            a[1] = w
        else:
            k["weight"] = w
        if len(a) > bias_pos:
            a[bias_pos] = b
        else:
            k["bias"] = b
        return fn(*a, **k)

    return f


def compile_program(module: nn.Module, input_shape: Sequence[int], device: Any = None) -> ModuleProgram:
    """Trace ``module`` and build its ``ModuleProgram`` on inputs of shape ``input_shape`` (no batch dim).

    The module is copied, put in float64 and eval mode on ``device``; the caller's module is never
    changed. A module in training mode with batch norm or dropout is refused (its output depends
    on the batch or on chance), as is any node that is not piecewise linear (naming the node).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(module).__name__}")
    if isinstance(module, torch.jit.ScriptModule):
        raise TypeError("a TorchScript module cannot be traced with torch.fx; pass the original nn.Module")
    for name, m in module.named_modules():
        if m.training and isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)):
            raise ValueError(
                f"module '{name or type(module).__name__}' ({type(m).__name__}) is in training mode: batch norm then uses batch "
                "statistics and dropout is random, so the network is not a fixed function; call module.eval() first")
    shape = input_shape_of(input_shape)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    m = copy.deepcopy(module).to(device=dev, dtype=torch.float64).eval()
    gm = G._trace(m)
    with torch.no_grad():
        b = _Builder(gm, shape, dev)
        try:
            return b.run()
        except InputShapeError as e:
            raise InputShapeError(f"inputs of shape {shape} do not fit the module{_expected(module)}: {e}") from None


def _expected(module: nn.Module) -> str:
    """What input the module's first layer expects, for error messages."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nd = 1 if isinstance(m, nn.Conv1d) else 2 if isinstance(m, nn.Conv2d) else 3
            return f" (its first layer expects shape ({m.in_channels}, {', '.join('*' * nd)}))"
        if isinstance(m, nn.Linear):
            return f" (its first layer expects shape (..., {m.in_features}))"
    return ""
