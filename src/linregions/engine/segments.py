"""Exact partitions of segments through a module, with the module's own ops (torch, CPU or GPU).

The algorithm is ``linregions.line``'s layer-by-layer splitting, site by site (an activation
node, or one round of a maximum's tournament), on the evaluation protocol of
``engine.protocol``: once the sites before l are constant on each interval between the current
points, every live tensor - in particular site l's pre-activations u_l - is affine in t there,
so each crossing of a breakpoint is solved in closed form from u_l at the interval's ends, new
points get every live tensor by exact interpolation (their tangents from the interval they
split), and each interval's piece of u_l is the piece at its midpoint. The output's slope on
each interval is carried along as a tangent (the linear part of the module's ops with the
pattern fixed).

Tolerances are those of ``linregions.tolerances`` with ``line``'s semantics: a pre-activation is
on breakpoint xi_j within ``SNAP_RTOL * scale_j``, with ``scale_j = |W| |a| + |b| + |xi_j|`` per
segment (``|W| |a|`` by the module's own ops with absolute parameters, ``|a|`` the largest over
the segment's points); crossings closer than ``T_MERGE`` are one point; a linear-region boundary
is a jump of the output's slope (``slope_jump``, rounding floor ``slope_noise`` of the absolute
slopes). Crossings report ``layer`` = site index and ``unit`` = flat index in the site
(``ModuleProgram.unit_name``).

Memory is set by ``chunk_points``, not by the model: when the points of a site would exceed it,
the refined sequence of points is cut into windows of at most ``chunk_points`` rows sharing their
end rows, each finished depth first (``_descend``; nested windows get half the rows of their
parent, so all levels hold about twice ``chunk_points`` rows); the records of consecutive windows are
stitched at the shared row (``_Collector``). Units crossing at a new point are set exactly onto
their breakpoint there, so later sites see exact ties (a max-pool of two ReLUs both at 0) and the
result does not depend on ``chunk_points`` in the degenerate cases tested; the snap scale is taken
over the rows of a window, so in other degenerate cases a split segment may differ from an unsplit
one by the attribution of a tie.

Cost (``benchmarks/torch_engine.py``): the module's ops run twice per point (values and tangents),
each up to the site where the point appears; new rows are gathered once per site (for a site whose
pre-activations are a reshape of its input, u_l is read from the gathered input, not gathered
again; of a tournament round's candidates only the part its post reads, ``SiteOps.part``; the
difference of an interval's ends once per split interval and block); the interval states of
earlier sites are not gathered but kept as row maps (``_States``); crossings are found among sign
changes and only those candidates meet the tolerance; the driver's own copies of u_l and du_l are
activated in place; goodness is decided by a forward pass of a one-hot from the crossing unit's
site (``ModuleProgram.reach_units``, groups of entries on the worker threads) only where a slope
jump with one crossing unit does not settle it; on CPU the element-wise passes (states,
crossings, gathers, the comparison of states across points) run in cache-sized row blocks on
worker threads, the driver's other ops on one thread and the module's ops on torch's number of
threads (``engine.blocks``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..line import LineBatch, LinePartition
from ..line.results import _concat
from ..tolerances import SNAP_RTOL
from ..torch_io import input_shape_of
from .program import InputShapeError, ModuleProgram, compile_program
from .blocks import driver_threads
from .protocol import Live, insert_rows
from .records import _records
from .rows import _gather, _new_points, _States, _states

__all__ = ["lines", "line", "real_line", "partition_segments"]

#: Default number of points (rows) evaluated at once; peak memory is about
#: ``chunk_points * (live tensor size) * 8 bytes * 4`` (values and tangents, plus one op's output).
CHUNK_POINTS = 4096


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    try:
        t = torch.as_tensor(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}") from None
    return t


def _segment_ends(X0: Any, X1: Any, input_shape: Sequence[int] | None, batched: bool) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    X0, X1 = _as_tensor(X0, "x0"), _as_tensor(X1, "x1")
    if X0.shape != X1.shape:
        raise ValueError(f"segment ends must have the same shape, got {tuple(X0.shape)} and {tuple(X1.shape)}")
    if input_shape is None:
        shape = tuple(X0.shape[1:]) if batched else tuple(X0.shape)
        if not shape:
            raise ValueError(f"cannot tell the input shape from segment ends of shape {tuple(X0.shape)}; pass input_shape")
    else:
        shape = input_shape_of(input_shape)
    n = int(np.prod(shape))
    if tuple(X0.shape) == shape or (input_shape is not None and tuple(X0.shape) == (n,)):
        X0, X1 = X0.reshape((1,) + shape), X1.reshape((1,) + shape)
    elif input_shape is not None and X0.dim() == 2 and X0.shape[1] == n:  # flattened samples
        X0, X1 = X0.reshape((-1,) + shape), X1.reshape((-1,) + shape)
    elif tuple(X0.shape[1:]) != shape:
        raise InputShapeError(f"segment ends of shape {tuple(X0.shape)} do not match the input shape {shape} "
                              f"(expected {shape} for one segment or (n_segments, {', '.join(map(str, shape))}))")
    if not (torch.isfinite(X0).all() and torch.isfinite(X1).all()):
        raise ValueError("segment ends contain NaN or inf")
    zero = torch.nonzero((X0 == X1).reshape(X0.shape[0], -1).all(dim=1)).reshape(-1)
    if zero.numel():
        raise ValueError(f"segment {int(zero[0])} has x0 == x1 (zero length); a segment needs two distinct ends")
    return X0, X1, shape


class _Rows:
    """Rows of a window: points sorted by (segment, t), their live tensors and the interval states
    (``_States``) of the sites done so far."""

    __slots__ = ("seg", "t", "live", "states")

    def __init__(self, seg, t, live, states):
        self.seg, self.t, self.live, self.states = seg, t, live, states


class _Collector:
    """Records of the leaf windows, in order, stitched at the windows' shared boundary rows."""

    def __init__(self, prog, X0, X1, chunk):
        self.prog, self.X0, self.X1, self.chunk = prog, X0, X1, chunk
        self.points, self.crossings, self.intervals = [], [], []
        self.n_points = 0
        self.tail = None  # the previous leaf's last interval: (seg, t, states, N, dN) of one row

    def _add(self, rec, with_intervals: bool):
        c = rec["crossings"]
        c["point"] = c["point"] + self.n_points
        self.n_points += rec["points"]["t"].size
        self.points.append(rec["points"])
        self.crossings.append(c)
        if with_intervals:
            self.intervals.append(rec["intervals"])

    def leaf(self, rows: _Rows) -> None:
        prog = self.prog
        N, dN = prog.output(rows.live, self.chunk)
        rows.live = None
        first_keep = False
        if self.tail is not None:
            ts, tt, tst, tN, tdN = self.tail
            mini = _records(prog, torch.cat([ts, rows.seg[:2]]), torch.cat([tt, rows.t[:2]]),
                            [_States(torch.cat([a, s.rows(slice(0, 2))])) for a, s in zip(tst, rows.states)], torch.cat([tN, N[:2]]),
                            torch.cat([tdN, dN[:2]]), self.X0, self.X1, self.chunk)
            first_keep = mini["points"]["t"].size > 0
            self._add(mini, with_intervals=False)
        rec = _records(prog, rows.seg, rows.t, rows.states, N, dN, self.X0, self.X1, self.chunk)
        if first_keep:
            rec["intervals"]["keep"][0] = True
        self._add(rec, with_intervals=True)
        P = rows.t.numel()
        r = slice(P - 2, P - 1)
        self.tail = (rows.seg[r], rows.t[r], [s.rows(r) for s in rows.states], N[r], dN[r])

    def result(self, S: int) -> dict[str, np.ndarray]:
        cat = lambda lst, key: np.concatenate([d[key] for d in lst]) if lst else None  # noqa: E731
        seg_p, t_p, lin_p = cat(self.points, "seg"), cat(self.points, "t"), cat(self.points, "linear")
        order = np.lexsort((t_p, seg_p))
        inv = np.empty_like(order)
        inv[order] = np.arange(order.size)
        cp = inv[cat(self.crossings, "point")]
        layer, unit = cat(self.crossings, "layer"), cat(self.crossings, "unit")
        oc = np.lexsort((unit, layer, cp))
        seg_i, t_i, keep = cat(self.intervals, "seg"), cat(self.intervals, "t"), cat(self.intervals, "keep")
        oi = np.lexsort((t_i, seg_i))
        oi = oi[keep[oi]]
        seg_sorted = seg_p[order]
        return dict(
            t=t_p[order], linear=lin_p[order], point_offsets=np.searchsorted(seg_sorted, np.arange(S + 1)),
            crossing_point=cp[oc], layer=layer[oc], unit=unit[oc], breakpoint=cat(self.crossings, "breakpoint")[oc],
            good=cat(self.crossings, "good")[oc], crossing_offsets=np.searchsorted(seg_sorted[cp[oc]], np.arange(S + 1)),
            slopes=cat(self.intervals, "slopes")[oi], intercepts=cat(self.intervals, "intercepts")[oi],
            unit_kind=cat(self.crossings, "unit_kind")[oc],
        )


def _descend(prog: ModuleProgram, rows: _Rows, l0: int, S: int, chunk: int, out: _Collector, budget: int | None = None) -> None:
    """Sites l0.. on a window of rows, depth first: where the new points of a site would make more
    than ``budget`` rows, the (virtual) refined sequence is cut into windows of at most ``budget``
    rows sharing their end rows, materialised and finished one after another. A window is held
    while its sub-windows run, so each level of nesting halves the budget (down to
    ``min(64, chunk)`` rows): all levels together hold about 2 ``chunk`` rows."""
    budget = chunk if budget is None else budget
    dev = prog.device
    code = torch.int8 if 2 * max(s.act.T for s in prog.sites) + 1 <= 127 else torch.int16
    l = l0
    while l < len(prog.sites):
        site = prog.sites[l]
        scale = prog.summand_scale(l, rows.live, rows.seg, S)  # (S, n_l), from the live values
        U, dU = prog.advance(l, rows.live, chunk)
        xi = [float(x) for x in site.act.breakpoints]
        tol_seg = [SNAP_RTOL * (scale + abs(x)) for x in xi]  # tolerances.snap_scale, per breakpoint
        pt = site.tensors(dev)["pt"]
        new = _new_points(U, rows.t, rows.seg, xi, tol_seg, pt)
        ops = prog.site_ops[l]
        P = rows.t.numel()
        if new is None:
            k = torch.zeros(0, dtype=torch.long, device=dev)
            lam = t_new = torch.zeros(0, dtype=torch.float64, device=dev)
            ids = torch.arange(P, device=dev)
        else:
            k, lam, t_new, on = new
            ids = insert_rows(torch.arange(P, device=dev), k, -1 - torch.arange(k.numel(), device=dev))
        n = ids.numel()
        windows = [(0, n - 1)] if n <= budget else [(a, min(a + budget - 1, n - 1)) for a in range(0, n - 1, budget - 1)]
        for a, b in windows:
            w = ids[a : b + 1]
            whole = len(windows) == 1
            narrow = False
            if whole and new is None:
                child, Uw, dUw = rows, U, dU
            else:
                seg_w = _gather(rows.seg, w, k, lam, False)
                t_w = rows.t[w.clamp(min=0)].clone()
                nw = w < 0
                if bool(nw.any()):
                    t_w[nw] = t_new[-1 - w[nw]]
                # where the site's post reads only part of its input, only that part is gathered
                narrow = prog.narrow_ok(l)
                cut = lambda key, v: ops.part(v) if narrow and key == ops.input else v  # noqa: E731
                vals = {key: (_gather(cut(key, v), w, k, lam, True) if isinstance(v, torch.Tensor) else v)
                        for key, v in rows.live.values.items()}
                tans = {key: (_gather(cut(key, v), w, k, lam, False) if isinstance(v, torch.Tensor) else v)
                        for key, v in rows.live.tangents.items()}
                child = _Rows(seg_w, t_w, Live(vals, tans, rows.live.pc), [s.split(w, k) for s in rows.states])
                if ops.view:  # u_l is a reshape of the site's input: the same rows, no second gather
                    Uw, dUw = ops.pre("value", vals[ops.input]), ops.pre("lin", tans[ops.input])
                    if not prog.inplace_ok(l):
                        Uw, dUw = Uw.clone(), dUw.clone()
                else:
                    Uw, dUw = _gather(U, w, k, lam, True), _gather(dU, w, k, lam, False)
                if new is not None:  # units crossing at a new point are exactly on their breakpoint
                    pos = torch.full((k.numel(),), -1, dtype=torch.long, device=dev)
                    nw_rows = torch.nonzero(w < 0).reshape(-1)
                    pos[-1 - w[nw_rows]] = nw_rows
                    r = pos[on[0]]
                    ok = r >= 0
                    Uw[r[ok], on[1][ok]] = on[2][ok]
                if whole:
                    rows = None
            same = child.seg[:-1] == child.seg[1:]
            s = _states(Uw, same, xi, tol_seg, child.seg, code)
            if pt is not None:
                s[:, pt] = 0
            child.states.append(_States(s))
            # Uw, dUw are this window's own (gathered, or views of an input used by no later step)
            own = not (whole and new is None) or not ops.view or prog.inplace_ok(l)
            prog.apply(l, child.live, Uw, dUw, s, inplace=own, narrowed=narrow)
            del Uw, dUw
            if whole:
                rows, U, dU = child, None, None
                break
            _descend(prog, child, l + 1, S, chunk, out, max(min(64, chunk), budget // 2))
            del child
        else:
            return
        l += 1
    out.leaf(rows)


def partition_segments(prog: ModuleProgram, X0: torch.Tensor, X1: torch.Tensor, chunk_points: int) -> dict[str, np.ndarray]:
    """Exact partitions of a chunk of segments (see the module docstring); returns the fields of a
    ``LineBatch`` for them, as numpy arrays."""
    dev = prog.device
    S = X0.shape[0]
    X0, X1 = X0.to(dev), X1.to(dev)
    seg = torch.arange(S, device=dev).repeat_interleave(2)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64, device=dev).repeat(S)
    pts = torch.stack([X0, X1], 1).reshape((2 * S,) + prog.input_shape)
    V = (X1 - X0).repeat_interleave(2, dim=0)
    out = _Collector(prog, X0, X1, chunk_points)
    with driver_threads():
        _descend(prog, _Rows(seg, t, prog.start(pts, V), []), 0, S, chunk_points, out)
    return out.result(S)


def _program(module: Any, shape: tuple, device: Any) -> ModuleProgram:
    if isinstance(module, ModuleProgram):
        if module.input_shape != shape:
            raise InputShapeError(f"segment ends of shape {shape} do not match the program's input shape {module.input_shape}")
        return module
    if not isinstance(module, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(module).__name__}")
    return compile_program(module, shape, device)


def lines(module: Any, X0: Any, X1: Any, *, input_shape: Sequence[int] | None = None, device: Any = None,
          chunk_points: int = CHUNK_POINTS, progress: bool = False) -> LineBatch:
    """Exact partitions of the segments [X0[i], X1[i]] through a piecewise-linear ``nn.Module``,
    evaluated with the module's own ops in float64 (``device="cuda"`` runs the same code on a GPU).

    Parameters
    ----------
    module : the module (conv, pooling, batch norm in eval mode, residual adds, linear, any
        continuous piecewise-linear activation, maxima), or a ``ModuleProgram``.
    X0, X1 : (S,) + input_shape segment ends (or input_shape for one segment).
    input_shape : the module's input shape without the batch dim (default: ``X0.shape[1:]``).
    device : where to compute (default CPU).
    chunk_points : points per evaluated block and target points per chunk of segments: sets the
        peak memory.
    progress : a progress bar over chunks of segments.

    Crossings report ``layer`` = activation site (an activation node, or one round of a
    maximum's tournament) and ``unit`` = flat index of the unit in it; the result is otherwise
    the ``LineBatch`` of ``linregions.lines`` on the compiled dense network.

    >>> import torch
    >>> from torch import nn
    >>> torch.manual_seed(0) and None
    >>> cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3))
    >>> batch = lines(cnn, torch.zeros(2, 1, 6, 6), torch.ones(2, 1, 6, 6))
    >>> batch.num_regions("activation").shape
    (2,)
    """
    if isinstance(chunk_points, bool) or not isinstance(chunk_points, (int, np.integer)) or chunk_points < 2:
        raise ValueError(f"chunk_points must be an int >= 2, got {chunk_points!r}")
    X0t, X1t, shape = _segment_ends(X0, X1, input_shape, batched=True)
    prog = _program(module, shape, device)
    S = X0t.shape[0]
    bar = None
    if progress and S > 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=S, desc="segments", unit="seg")
    # segments per call: their ends fill at most half a window; windows bound the memory after that
    per_call = max(1, chunk_points // 4)
    parts, start = [], 0
    while start < S:
        chunk = min(S - start, per_call)
        parts.append(partition_segments(prog, X0t[start : start + chunk], X1t[start : start + chunk], chunk_points))
        start += chunk
        if bar is not None:
            bar.update(chunk)
    if bar is not None:
        bar.close()
    return _concat(X0t.numpy(), X1t.numpy(), parts, prog.n_out)  # line.results._concat


def line(module: Any, x0: Any, x1: Any, *, input_shape: Sequence[int] | None = None, device: Any = None,
         chunk_points: int = CHUNK_POINTS, progress: bool = False) -> LinePartition:
    """The exact partition of the segment [x0, x1] through a module (see ``lines``); ``x0`` and
    ``x1`` are shaped like one sample (``input_shape``, default ``x0.shape``).

    >>> import torch
    >>> from torch import nn
    >>> torch.manual_seed(0) and None
    >>> part = line(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)), [-1.0, -1.0], [1.0, 1.0])
    >>> part.num_regions("linear") <= part.num_regions("activation")
    True
    """
    X0t, X1t, shape = _segment_ends(x0, x1, input_shape, batched=False)
    if X0t.shape[0] != 1:
        raise ValueError("line takes one segment; use lines(module, X0, X1) for many")
    return lines(module, X0t, X1t, input_shape=shape, device=device, chunk_points=chunk_points, progress=progress)[0]


def real_line(module: Any, *, max_doublings: int = 64, device: Any = None) -> LinePartition:
    """All breakpoints of a module with one input (shape (1,)) on the whole real line.

    A one-input module is small, so this compiles it (``graph.compile_module``) and runs
    ``linregions.real_line`` on the dense network; crossings are renumbered to the engine's
    (site, unit) so that they read as ``lines`` reports them.
    """
    from .. import graph
    from ..line import real_line as dense_real_line

    if not isinstance(module, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(module).__name__}")
    prog = compile_program(module, (1,), device)
    comp = graph.compile_module(module, (1,))
    part = dense_real_line(comp.network, max_doublings=max_doublings)
    site_of, unit_of = dense_to_sites(prog, comp)
    layer = np.array([site_of[l][u] for l, u in zip(part.layer, part.unit)], np.int64)
    unit = np.array([unit_of[l][u] for l, u in zip(part.layer, part.unit)], np.int64)
    o = np.lexsort((unit, layer, part.crossing_point))
    import dataclasses

    return dataclasses.replace(part, layer=layer[o], unit=unit[o], crossing_point=part.crossing_point[o],
                               breakpoint=part.breakpoint[o], good=part.good[o],
                               unit_kind=None if part.unit_kind is None else part.unit_kind[o])


def dense_to_sites(prog: ModuleProgram, compiled: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each hidden layer of a ``CompiledNetwork`` of the same module, (n_l,) arrays: the engine
    site and unit of each dense unit (-1 for passthrough units).

    Units of one node in one dense layer are one site (an activation, or one round of a
    maximum's tournament: rounds are in increasing dense layers) in the same order."""
    by_name: dict[str, list[int]] = {}
    for i, s in enumerate(prog.sites):
        by_name.setdefault(s.name, []).append(i)
    net = compiled.network
    layers_of: dict[int, list[int]] = {}
    for l in range(net.depth):
        for nd in np.unique(compiled.unit_node[l]):
            if nd >= 0:
                layers_of.setdefault(int(nd), []).append(l)
    site_of, unit_of = [], []
    for l in range(net.depth):
        so = np.full(net.widths[l], -1, np.int64)
        uo = np.full(net.widths[l], -1, np.int64)
        for nd in np.unique(compiled.unit_node[l]):
            if nd < 0:
                continue
            idx = np.nonzero(compiled.unit_node[l] == nd)[0]
            r = layers_of[int(nd)].index(l)
            site = by_name[compiled.node_names[nd]][r]
            so[idx] = site
            uo[idx] = np.arange(idx.size)
        site_of.append(so)
        unit_of.append(uo)
    return site_of, unit_of
