"""The affine state of a compilation and the hidden layers it emits (``_LayerBuilder``).

Every node's value is an affine expression ``coef @ z + const`` (``ops._Value``) in the current
state ``z``: the last hidden layer's output, then one column per pending unit and one per scalar
bias parameter. ``lin`` applies a linear map to both parts; ``add_bias`` records where a bias
parameter enters; ``new_units`` makes pending units; ``ensure_affine`` / ``flush`` emit a hidden
layer of pending units (carrying what is still needed through ``PASSTHROUGH`` units) when a value
must not depend on them; ``finish`` assembles the ``CompiledNetwork``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.fx

from ..activations import PiecewiseLinear
from ..network import PASSTHROUGH, Network
from .compiled import BIAS_DEP_RTOL, CompiledNetwork, GraphError
from .ops import _Value, _leaves, _node_error, _pad, _replace


class _LayerBuilder:
    """The state of one compilation: affine values, pending units, emitted layers."""

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
        return _node_error(self.gm, node or self.node, why)

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

    def _one(self, args: tuple) -> _Value:
        x = args[0]
        if not isinstance(x, _Value):
            raise self.fail("the first argument must depend on the input")
        return x

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
