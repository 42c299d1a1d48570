"""Piecewise-linear units of a compiled graph (``_UnitBuilder``): activations (one pending unit
per element, per-channel slopes expanded) and maxima, each a tournament of
``max(a, b) = b + relu(a - b)`` rounds whose ``relu(a - b)`` units are of kind ``ARGMAX``
(max pooling, adaptive max pooling, ``torch.maximum``/``max``/``amax`` and their minima).
"""
from __future__ import annotations

import numpy as np
import torch

from ..activations import PiecewiseLinear, relu
from ..network import ARGMAX, NEURON
from .layers import _LayerBuilder
from .ops import _Value, _arg, _pad
from .pooling import adaptive_positions, pool_positions, window_indices


class _UnitBuilder(_LayerBuilder):
    """Adds activation units and maxima to the affine state."""

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
