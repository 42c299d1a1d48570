"""torch.fx compilation of a module into a dense ``Network`` (``compile_module``)."""
from __future__ import annotations

import copy
import operator
import weakref
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from ..activations import PiecewiseLinear, relu
from ..network import ARGMAX, NEURON, PASSTHROUGH, Network
from ..torch_io import PLModule, activation_from_module, input_shape_of
from .compiled import BIAS_DEP_RTOL, CompiledNetwork, GraphError
from .ops import _get_attr, _ACT_FUNCS, _ACT_METHODS, _ADD_FUNCS, _ADD_METHODS, _IDENTITY_METHODS, _MUL_FUNCS, _MUL_METHODS, _SHAPE_METHODS, _SMOOTH_NAMES, _STRUCT_FUNCS, _STRUCT_METHODS, _Value, _act_from_call, _arg, _leaves, _pad, _qualname, _replace
from .pooling import adaptive_positions, pool_positions, window_indices


class _Compiler:
    def __init__(self, gm: torch.fx.GraphModule, input_shape: tuple[int, ...]):
        self.gm = gm
        self.input_shape = input_shape
        self.n_in = int(np.prod(input_shape))
        self.dim_s = self.n_in
        self.extras: list[tuple[str, int]] = []  # ('p', unit uid) or ('t', bias source id)
        self.col: dict[tuple[str, int], int] = {}
        self.blocks: list[dict] = []  # pending blocks of units
        self.units: list[dict] = []  # per uid: node index, position, kind, parent uid, side
        self.layers: list[dict] = []
        self.bias_names: list[str] = []
        self.bias_ids: dict[str, list[int]] = {}
        self.node_names: list[str] = []
        self.env: dict[torch.fx.Node, Any] = {}
        self.node: torch.fx.Node | None = None
        self.params = dict(gm.named_parameters())

    # -- helpers -------------------------------------------------------------------------------
    @property
    def D(self) -> int:
        return self.dim_s + len(self.extras)

    def fail(self, why: str, node: torch.fx.Node | None = None) -> GraphError:
        node = node or self.node
        target = node.target
        if node.op == "call_module":
            what = f"call_module {type(self.gm.get_submodule(target)).__name__} '{target}'"
        elif node.op == "call_function":
            what = f"call_function {_qualname(target)}"
        else:
            what = f"{node.op} {target}"
        return GraphError(f"node '{node.name}' ({what}): {why}")

    def _add_extra(self, key: tuple[str, int]) -> int:
        self.col[key] = self.dim_s + len(self.extras)
        self.extras.append(key)
        return self.col[key]

    def _reindex(self) -> None:
        self.col = {k: self.dim_s + i for i, k in enumerate(self.extras)}

    def _node_id(self) -> int:
        name = self.node.name
        if not self.node_names or self.node_names[-1] != name:
            self.node_names.append(name)
        return len(self.node_names) - 1

    def _pending_cols(self) -> np.ndarray:
        return np.array([self.col[k] for k in self.extras if k[0] == "p"], np.int64)

    # -- linear application in both worlds ---------------------------------------------------
    def lin(self, fn: Callable, args: tuple, kwargs: dict, zero_consts: bool = False) -> Any:
        """Apply ``fn``, linear in its _Value arguments (affine when ``zero_consts``: the other
        tensors and numbers are then dropped in the coefficient world, as for additions)."""
        leaves = _leaves((args, kwargs))
        D = max(v.coef.shape[0] for v in leaves)
        c_args, c_kwargs = _replace((args, kwargs), lambda v: v.const)
        const = fn(*c_args, **c_kwargs)

        def zero(o):
            if isinstance(o, torch.Tensor):
                return torch.zeros_like(o)
            if isinstance(o, (int, float)) and not isinstance(o, bool):
                return 0
            return o

        if zero_consts:  # constants enter additively: drop them in the coefficient world
            args = tuple(o if isinstance(o, _Value) else zero(o) for o in args)
            kwargs = {k: (o if isinstance(o, _Value) or k not in ("other", "input") else zero(o)) for k, o in kwargs.items()}

        def f(*coefs):
            it = iter(coefs)
            a, k = _replace((args, kwargs), lambda v: next(it))
            return fn(*a, **k)

        coef = torch.func.vmap(f)(*(_pad(v.coef, D) for v in leaves))
        return self._pair(coef, const)

    def _pair(self, coef: Any, const: Any) -> Any:
        if isinstance(const, torch.Tensor):
            if not isinstance(coef, torch.Tensor) or coef.shape[1:] != const.shape:
                raise self.fail("the result does not depend linearly on the input in a way that can be unrolled")
            return _Value(coef, const)
        if isinstance(const, (tuple, list)):
            return type(const)(self._pair(a, b) for a, b in zip(coef, const))
        raise self.fail(f"unexpected result of type {type(const).__name__}")

    def add_bias(self, v: _Value, pname: str, contrib: Callable[[torch.Tensor], torch.Tensor], numel: int) -> _Value:
        """Record that the scalars of parameter ``pname`` enter v additively; ``contrib(e)`` maps a
        one-hot vector of the parameter to its contribution (v's logical shape)."""
        if pname not in self.bias_ids:
            ids = []
            for k in range(numel):
                ids.append(len(self.bias_names))
                self.bias_names.append(f"{pname}[{k}]")
                self._add_extra(("t", ids[-1]))
            self.bias_ids[pname] = ids
        cols = [self.col[("t", i)] for i in self.bias_ids[pname]]
        E = torch.eye(numel, dtype=torch.float64)
        block = torch.func.vmap(contrib)(E)
        coef = _pad(v.coef, self.D).clone()
        coef[cols] += block
        return _Value(coef, v.const)

    # -- layers ------------------------------------------------------------------------------
    def live_values(self) -> list[_Value]:
        return [v for o in self.env.values() for v in _leaves(o)]

    def ensure_affine(self, vals: list[_Value]) -> list[_Value]:
        """Flush pending units until no value of ``vals`` depends on any."""
        while True:
            pc = self._pending_cols()
            need = None
            for v in vals:
                c = v.coef.reshape(v.coef.shape[0], -1)
                pcv = pc[pc < c.shape[0]]
                if pcv.size:
                    nz = torch.nonzero(c[pcv].abs().sum(1)).reshape(-1)
                    if nz.numel():
                        need = int(pcv[int(nz[0])])
                        break
            if need is None:
                return vals
            key = self.extras[need - self.dim_s]
            block = next(b for b in self.blocks if key[1] in b["uid_set"])
            vals = self.flush(block["group"], vals)

    def flush(self, group: Any, extra: list[_Value]) -> list[_Value]:
        """Emit a hidden layer holding every pending block of ``group``; carry what is still needed."""
        blocks = [b for b in self.blocks if b["group"] == group]
        self.blocks = [b for b in self.blocks if b["group"] != group]
        D, ds = self.D, self.dim_s
        uids = [u for b in blocks for u in b["uids"]]
        g_cols = np.array([self.col[("p", u)] for u in uids], np.int64)
        # everything whose state part must survive: live values, extra values, other pending pre-activations
        env_items = list(self.env.items())
        vals = [v for _, o in env_items for v in _leaves(o)] + list(extra)
        mats = [_pad(v.coef, D).reshape(D, -1).numpy() for v in vals]
        pre_mats = [np.pad(b["pre"], ((0, 0), (0, D - b["pre"].shape[1]))).T for b in self.blocks]
        state = np.concatenate([m[:ds] for m in mats + pre_mats] + [np.zeros((ds, 0))], axis=1)  # (ds, m)
        nzc = np.any(state != 0, axis=0)
        uniq, inv = (np.unique(state[:, nzc].T, axis=0, return_inverse=True) if nzc.any() else (np.zeros((0, ds)), np.zeros(0, np.int64)))
        inv = np.asarray(inv).reshape(-1)
        identity = uniq.shape[0] >= ds
        carry = np.eye(ds) if identity else uniq
        n_g, n_c = len(uids), carry.shape[0]
        if identity:
            new_state = state
        else:
            new_state = np.zeros((n_c, state.shape[1]))
            new_state[inv, np.nonzero(nzc)[0]] = 1.0
        # the layer
        pre = np.concatenate([np.pad(b["pre"], ((0, 0), (0, D - b["pre"].shape[1]))) for b in blocks])
        W = np.concatenate([pre[:, :ds], carry])
        bvec = np.concatenate([np.concatenate([b["const"] for b in blocks]), np.zeros(n_c)])
        kinds = np.concatenate([np.concatenate([b["kinds"] for b in blocks]), np.full(n_c, PASSTHROUGH, np.int8)])
        act = blocks[0]["act"]
        if act.per_unit or any(b["act"].per_unit for b in blocks):
            q = np.concatenate([b["act"].slopes if b["act"].per_unit else np.broadcast_to(b["act"].slopes, (len(b["uids"]), b["act"].T + 1)) for b in blocks])
            val = np.concatenate([np.broadcast_to(b["act"].value, (len(b["uids"]),)) for b in blocks])
            q = np.concatenate([q, np.broadcast_to(q[:1], (n_c, q.shape[1]))])
            val = np.concatenate([val, np.broadcast_to(val[:1], (n_c,))])
            act = PiecewiseLinear(act.breakpoints, q, val, name=act.name)
        theta_cols = np.array([self.col[k] for k in self.extras if k[0] == "t"], np.int64)
        dep = np.abs(pre[:, theta_cols]) if theta_cols.size else np.zeros((n_g, 0))
        dep = dep > BIAS_DEP_RTOL * np.maximum(dep.max(axis=1, keepdims=True), 0) if dep.size else dep.astype(bool)
        layer_idx = len(self.layers)
        self.layers.append(dict(W=W, b=bvec, act=act, kinds=kinds, uids=uids, dep=dep, theta_ids=[k[1] for k in self.extras if k[0] == "t"]))
        for i, u in enumerate(uids):
            self.units[u]["where"] = (layer_idx, i)
        # new columns: [group units; carried; remaining extras]
        g_set = set(g_cols.tolist())
        keep = [i for i, k in enumerate(self.extras) if not (k[0] == "p" and self.col[k] in g_set)]
        keep_cols = np.array([ds + i for i in keep], np.int64)
        self.extras = [self.extras[i] for i in keep]
        self.dim_s = n_g + n_c
        self._reindex()
        # re-express every value
        off = 0
        new_vals = []
        for v, m in zip(vals, mats):
            k = m.shape[1]
            newm = np.concatenate([m[g_cols], new_state[:, off : off + k], m[keep_cols]])
            off += k
            new_vals.append(_Value(torch.from_numpy(np.ascontiguousarray(newm)).reshape((newm.shape[0],) + tuple(v.coef.shape[1:])), v.const))
        for b, m in zip(self.blocks, pre_mats):
            k = m.shape[1]
            newm = np.concatenate([m[g_cols], new_state[:, off : off + k], m[keep_cols]])
            off += k
            b["pre"] = np.ascontiguousarray(newm.T)
        mapping = {id(v): nv for v, nv in zip(vals, new_vals)}
        for node, o in env_items:
            self.env[node] = _replace(o, lambda v: mapping[id(v)])
        return [mapping[id(v)] for v in extra]

    def new_units(self, pre: _Value, act: PiecewiseLinear, kind: int, positions: np.ndarray, node_id: int,
                  group: Any = None) -> tuple[_Value, list[int]]:
        """Pending units with pre-activations ``pre`` (already affine in the state); returns their
        outputs as a value of pre's shape."""
        D = self.D
        n = int(pre.const.numel())
        P = _pad(pre.coef, D).reshape(D, n).numpy().T.copy()
        uids = list(range(len(self.units), len(self.units) + n))
        for u, p in zip(uids, positions):
            self.units.append(dict(node=node_id, pos=int(p), kind=kind, parent=-1, side=0, where=None))
            self._add_extra(("p", u))
        group = act if group is None else group
        self.blocks.append(dict(group=group, act=act, pre=P, const=pre.const.reshape(-1).numpy().copy(),
                                kinds=np.full(n, kind, np.int8), uids=uids, uid_set=set(uids)))
        coef = torch.zeros((self.D, n), dtype=torch.float64)
        coef[[self.col[("p", u)] for u in uids], torch.arange(n)] = 1.0
        return _Value(coef.reshape((self.D,) + tuple(pre.const.shape)), torch.zeros_like(pre.const)), uids

    def activation(self, x: _Value, act: PiecewiseLinear | None) -> _Value:
        if act is None:
            return x
        (x,) = self.ensure_affine([x])
        group = None
        if act.per_unit:
            n_c = act.width
            shape = tuple(x.const.shape)
            if len(shape) < 2 or shape[1] != n_c:
                raise self.fail(f"per-channel slopes ({n_c}) need the channel dim 1 of the input to have that size, got shape {shape}")
            ch = np.broadcast_to(np.arange(n_c).reshape((1, n_c) + (1,) * (len(shape) - 2)), shape).reshape(-1)
            act = PiecewiseLinear(act.breakpoints, act.slopes[ch], np.asarray(act.value)[ch], name=act.name)
            group = ("per_unit", len(self.blocks), self.node.name)
        out, _ = self.new_units(x, act, NEURON, np.arange(x.const.numel()), self._node_id(), group)
        return out

    def maximum(self, x: _Value, windows: np.ndarray, out_shape: tuple[int, ...]) -> _Value:
        """max over windows[i] (indices into x flattened, -1 = none, at least one valid per row)."""
        valid = windows >= 0
        order = np.argsort(~valid, axis=1, kind="stable")
        windows = np.take_along_axis(windows, order, 1)
        valid = np.take_along_axis(valid, order, 1)
        n_out, k = windows.shape
        node_id = self._node_id()
        (x,) = self.ensure_affine([x])
        D = self.D
        C = _pad(x.coef, D).reshape(D, -1)
        c = x.const.reshape(-1)
        w = torch.from_numpy(np.where(valid, windows, 0))
        vt = torch.from_numpy(valid)
        cur = _Value(C[:, w] * vt, c[w] * vt)  # (D, n_out, k), (n_out, k)
        owner = np.full((n_out, k), -1)
        rel = np.arange(n_out)
        while k > 1:
            (cur,) = self.ensure_affine([cur])
            D = self.D
            Cc = _pad(cur.coef, D)
            A, B = Cc[:, :, 0::2], Cc[:, :, 1::2]
            cA, cB = cur.const[:, 0::2], cur.const[:, 1::2]
            k2, kb = A.shape[2], B.shape[2]
            va, vb = valid[:, 0::2], valid[:, 1::2]
            oa, ob = owner[:, 0::2], owner[:, 1::2]
            r, j = np.nonzero(vb)
            rt, jt = torch.from_numpy(r), torch.from_numpy(j)
            pre = _Value(A[:, rt, jt] - B[:, rt, jt], cA[rt, jt] - cB[rt, jt])
            out, uids = self.new_units(pre, relu(), ARGMAX, rel[r], node_id)
            for u, a_own, b_own in zip(uids, oa[r, j], ob[r, j]):
                if a_own >= 0:
                    self.units[a_own].update(parent=u, side=1)
                if b_own >= 0:
                    self.units[b_own].update(parent=u, side=-1)
            D = self.D
            newC = _pad(A, D).clone()
            newc = cA.clone()
            Bp = _pad(B, D)
            newC[:, rt, jt] = Bp[:, rt, jt] + out.coef.reshape(D, -1)
            newc[rt, jt] = cB[rt, jt]
            new_owner = oa.copy()
            new_owner[r, j] = uids
            cur, valid, owner, k = _Value(newC, newc), va, new_owner, k2
        return _Value(cur.coef.reshape((cur.coef.shape[0],) + tuple(out_shape)), cur.const.reshape(out_shape))

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

    def _one(self, args: tuple) -> _Value:
        x = args[0]
        if not isinstance(x, _Value):
            raise self.fail("the first argument must depend on the input")
        return x

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

    def max_pool(self, x: _Value, nd: int, kernel, stride, padding, dilation, fn) -> _Value:
        shape = tuple(x.const.shape)
        if len(shape) < nd + 1:
            raise self.fail(f"{nd}-d max pooling needs at least {nd + 1} dims, got shape {shape}")
        out_shape = tuple(fn(x.const).shape)
        pos = pool_positions(out_shape, nd, kernel, stride, padding, dilation)
        return self._windows_max(x, shape, out_shape, nd, pos)

    def adaptive_max_pool(self, x: _Value, nd: int, fn) -> _Value:
        shape = tuple(x.const.shape)
        out_shape = tuple(fn(x.const).shape)
        return self._windows_max(x, shape, out_shape, nd, adaptive_positions(shape, out_shape, nd))

    def _windows_max(self, x: _Value, shape, out_shape, nd: int, pos: list[np.ndarray]) -> _Value:
        try:
            win = window_indices(shape, out_shape, nd, pos)
        except ValueError as e:
            raise self.fail(str(e)) from None
        return self.maximum(x, win, out_shape)

    def max_like(self, name: str, args: tuple, kwargs: dict) -> _Value:
        name = name.lstrip("_")
        other = _arg(args, kwargs, 1, "other")
        dim = _arg(args, kwargs, 1, "dim")
        two = isinstance(other, (_Value, torch.Tensor)) or name in ("maximum", "minimum", "fmax", "fmin")
        is_min = name in ("minimum", "min", "amin", "fmin")
        neg = (lambda v: _Value(-v.coef, -v.const)) if is_min else (lambda v: v)
        if two:
            a, b = args[0], other
            if not isinstance(a, _Value):
                a, b = b, a
            if not isinstance(b, _Value):
                b = _Value(torch.zeros((1,) + tuple(torch.as_tensor(b).shape), dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))
            shape = torch.broadcast_shapes(a.const.shape, b.const.shape)
            st = self.lin(lambda s, t: torch.stack(torch.broadcast_tensors(s, t), -1), (neg(a), neg(b)), {})
            n = int(np.prod(shape))
            win = np.arange(2 * n).reshape(n, 2)
            return neg(self.maximum(st, win, tuple(shape)))
        x = self._one(args)
        if name in ("max", "min") and dim is None:
            dims = tuple(range(x.const.dim()))
            keep = False
        else:
            if name in ("max", "min"):
                raise self.fail(f"torch.{name}(x, dim) also returns indices, which are not continuous; use torch.a{name}(x, dim)")
            dims = dim if dim is not None else tuple(range(x.const.dim()))
            dims = (dims,) if isinstance(dims, int) else tuple(dims)
            keep = bool(_arg(args, kwargs, 2, "keepdim", False))
        nd = x.const.dim()
        dims = tuple(sorted(d % nd for d in dims))
        rest = [d for d in range(nd) if d not in dims]
        xm = neg(x)
        perm = self.lin(lambda t: t.permute(rest + list(dims)), (xm,), {})
        rshape = tuple(x.const.shape[d] for d in rest)
        k = int(np.prod([x.const.shape[d] for d in dims]))
        win = np.arange(int(np.prod(rshape)) * k).reshape(-1, k)
        out_shape = tuple(1 if (d in dims) else x.const.shape[d] for d in range(nd)) if keep else rshape
        return neg(self.maximum(perm, win, out_shape))

    # -- result ------------------------------------------------------------------------------
    def finish(self, out: _Value) -> CompiledNetwork:
        if not self.layers:
            raise GraphError("the module is affine in its input (no activation or maximum reaches the output): it has one linear region")
        D, ds = self.D, self.dim_s
        C = _pad(out.coef, D).reshape(D, -1).numpy()
        W_out, b_out = C[:ds].T, out.const.reshape(-1).numpy()
        Ws = [L["W"] for L in self.layers] + [W_out]
        bs = [L["b"] for L in self.layers] + [b_out]
        net = Network(tuple(Ws), tuple(bs), tuple(L["act"] for L in self.layers), tuple(L["kinds"] for L in self.layers))
        n_src = len(self.bias_names)
        unit_node, unit_pos, parent, side, sources = [], [], [], [], []
        for L in self.layers:
            n = L["W"].shape[0]
            un, up = np.full(n, -1), np.full(n, -1)
            pa, si = np.full((n, 2), -1), np.zeros(n, np.int8)
            S = np.zeros((n, n_src), bool)
            for i, u in enumerate(L["uids"]):
                rec = self.units[u]
                un[i], up[i] = rec["node"], rec["pos"]
                if rec["parent"] >= 0 and self.units[rec["parent"]]["where"] is not None:
                    pa[i] = self.units[rec["parent"]]["where"]
                    si[i] = rec["side"]
            if L["dep"].size:
                S[: len(L["uids"]), L["theta_ids"]] = L["dep"]
            for a in (un, up, pa, si, S):
                a.setflags(write=False)
            unit_node.append(un), unit_pos.append(up), parent.append(pa), side.append(si), sources.append(S)
        return CompiledNetwork(
            network=net, input_shape=self.input_shape, output_shape=tuple(out.const.shape[1:]),
            node_names=tuple(self.node_names), unit_node=tuple(unit_node), unit_position=tuple(unit_pos),
            argmax_parent=tuple(parent), argmax_side=tuple(side), bias_names=tuple(self.bias_names),
            bias_sources=tuple(sources),
        )


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

