"""Distances on ``torch.nn.Module``s, evaluated with the module's own ops (the torch-native engine).

kind="activation" is the closed form of the package docstring (docs/theory.md §4, Corollary 8),

    dist(x, boundary) = min_z min_{xi in {xi_p, xi_{p+1}}} |u_z(x) - xi| / ||grad u_z(x)||,

over every unit z of every activation site (``engine.ModuleProgram``: activations, and the
rounds of a maximum's tournament, whose units are ``ARGMAX``), with the same semantics as the
dense path (``distance.activation``): the piece p_z of z at x counts breakpoints <= u_z (on a
breakpoint: the piece on its right), the two constraints bounding the region are the breakpoints
on either side of p_z, a slack within ``SNAP_RTOL`` of its breakpoint's snap scale
(``tolerances.snap_scale``: ``|W| |a| + |b| + |xi_j|``, here from the module's ops with absolute
parameters, ``ModuleProgram.summand_scale``) is 0, passthrough units and units with
``grad u_z = 0`` on the region never switch there and are skipped, ties go to the lowest site.

No matrix of a convolution is formed. ``u_z`` comes from one value pass of the module's ops;
``||grad u_z||^2 = sum_i (d u_z / d x_i)^2`` for *every* unit from forward-mode tangents along
the input basis e_1..e_n: the linear part of the module's ops (``"lin"`` mode) with the slopes of
the region's pieces, on blocks of at most ``chunk_points`` (input, direction) rows, so peak
memory is set by ``chunk_points`` and the cost is n_in linear passes per input. The gradient of
the minimising unit (for the nearest point) comes from one reverse pass through the same linear
ops. Results report ``layer`` = activation site and ``unit`` = flat index in the site
(``ModuleProgram.unit_name``), as ``lr.lines`` on modules does.

kind="linear" on modules runs the best-first search of ``distance.linear`` on the dense network
compiled from the module (``graph.compile_module``), for inputs of at most
``LINEAR_MODULE_MAX_INPUTS`` coordinates; larger inputs get a ``NotImplementedError``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from ..tolerances import CLOSE_FACTOR, SNAP_NOISE_FRACTION, SNAP_RTOL
from ..torch_io import input_shape_of
from .activation import nearer_facet
from .results import Distances, _warn_erased

__all__ = ["module_distance", "LINEAR_MODULE_MAX_INPUTS"]

#: kind="linear" on a module is searched on its dense compiled network, only up to this many input
#: coordinates. The search (``distance.linear``) solves least-distance programs of n_in + 1 rows
#: over all of a region's constraints, and the number of activation regions inside the ball of
#: radius d(x, B_N) grows exponentially with n_in: it is meant for n_in <= ~10 (milliseconds to a
#: second per input there), and images (784, 3072 coordinates) are far outside what it can finish.
LINEAR_MODULE_MAX_INPUTS = 64


def _inputs(X: Any, input_shape: Sequence[int] | None, prog_shape: tuple | None) -> tuple[torch.Tensor, tuple]:
    """(B,) + shape float64 inputs and the input shape, from inputs shaped like one sample, a batch
    of them, or flattened rows (with ``input_shape``)."""
    try:
        T = torch.as_tensor(np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError(f"X must be an array of numbers, got {type(X).__name__}") from None
    if input_shape is not None:
        shape = input_shape_of(input_shape)
    elif prog_shape is not None:
        shape = prog_shape
    else:
        if T.dim() < 2:
            raise ValueError(f"cannot tell the input shape from X of shape {tuple(T.shape)}; pass input_shape "
                             "(X is read as a batch (B,) + input_shape)")
        shape = tuple(T.shape[1:])
    n = int(np.prod(shape))
    if tuple(T.shape) == shape or tuple(T.shape) == (n,):
        T = T.reshape((1,) + shape)
    elif T.dim() == 2 and T.shape[1] == n:
        T = T.reshape((-1,) + shape)
    elif tuple(T.shape[1:]) != shape:
        from ..engine import InputShapeError

        raise InputShapeError(f"X of shape {tuple(T.shape)} does not match the input shape {shape} (expected {shape} "
                              f"for one input, (B, {', '.join(map(str, shape))}) or (B, {n}) for many)")
    if T.shape[0] == 0:
        raise ValueError(f"X: need at least one input of shape {shape}, got an empty batch")
    if not torch.isfinite(T).all():
        raise ValueError("X contains NaN or inf")
    return T, shape


def module_distance(module: Any, X: Any, kind: str, *, input_shape: Sequence[int] | None = None, device: Any = None,
                    chunk_points: int | None = None, max_regions: int = 2000, progress: bool = False) -> Distances:
    """``distance_to_boundary`` for a module (see the module docstring); ``x`` and ``nearest`` of
    the result are shaped (B,) + input_shape."""
    from ..engine import CHUNK_POINTS
    from ..engine.program import ModuleProgram
    from ..engine.segments import _program
    from ..torch_io import check_device

    if kind not in ("activation", "linear"):
        raise ValueError(f"kind must be 'activation' or 'linear', got {kind!r}")
    if chunk_points is None:
        chunk_points = CHUNK_POINTS
    if isinstance(chunk_points, bool) or not isinstance(chunk_points, (int, np.integer)) or chunk_points < 1:
        raise ValueError(f"chunk_points must be a positive int, got {chunk_points!r}")
    prog_shape = module.input_shape if isinstance(module, ModuleProgram) else None
    X, shape = _inputs(X, input_shape, prog_shape)
    if kind == "linear":
        return _linear(module, X, shape, max_regions=max_regions, progress=progress)
    dev = check_device("cpu" if device is None else device)
    prog = _program(module, shape, dev)
    return _activation(prog, X, int(chunk_points), progress)


def _linear(module: Any, X: torch.Tensor, shape: tuple, *, max_regions: int, progress: bool) -> Distances:
    """kind="linear": the dense search on the compiled network, units renumbered to the engine's sites."""
    import dataclasses

    n = int(np.prod(shape))
    if n > LINEAR_MODULE_MAX_INPUTS:
        raise NotImplementedError(
            f"kind='linear' on a module with inputs of shape {shape} ({n} coordinates) is not supported: the exact "
            f"search over activation regions is meant for small input dimensions (at most {LINEAR_MODULE_MAX_INPUTS}). "
            "Use kind='activation' (a lower bound of the distance to B_N, exact for the activation region), or "
            "lr.lines(module, x, x + r * directions) for the linear boundaries crossed along chosen directions")
    if not isinstance(module, torch.nn.Module):
        raise TypeError("kind='linear' needs the torch.nn.Module itself (it compiles its dense network), "
                        f"got {type(module).__name__}")
    from .. import graph
    from ..engine import compile_program, dense_to_sites
    from .linear import linear_distance

    comp = graph.compile_module(module, shape)
    r = linear_distance(comp.network, X.reshape(X.shape[0], -1).numpy(), max_regions=max_regions, progress=progress)
    site_of, unit_of = dense_to_sites(compile_program(module, shape), comp)
    ok = r.layer >= 0
    layer, unit = r.layer.copy(), r.unit.copy()
    layer[ok] = [site_of[l][u] for l, u in zip(r.layer[ok], r.unit[ok])]
    unit[ok] = [unit_of[l][u] for l, u in zip(r.layer[ok], r.unit[ok])]
    return dataclasses.replace(r, x=X.numpy(), nearest=r.nearest.reshape((-1,) + shape), layer=layer, unit=unit)


def _activation(prog: Any, X: torch.Tensor, chunk: int, progress: bool) -> Distances:
    B = X.shape[0]
    n, total = prog.n_in, prog.num_units
    wmax = max((s.n for s in prog.sites), default=1)
    # inputs per chunk: their per-unit state (slacks, slopes, pieces, norms: ~6 floats per unit)
    # stays within about the memory of chunk_points rows of the widest site
    per = max(1, min(B, chunk, chunk * wmax // max(1, 6 * total)))
    out: dict[str, list] = {k: [] for k in ("distance", "layer", "unit", "breakpoint", "nearest", "close", "erased")}
    bar = None
    if progress and B * n > chunk:
        from tqdm.auto import tqdm

        bar = tqdm(total=B, desc="distance (activation)", unit="input")  # advanced per block of directions
    for s in range(0, B, per):
        res = _activation_chunk(prog, X[s : s + per].to(prog.device), chunk, bar)
        for k, v in res.items():
            out[k].append(v.cpu().numpy())
    if bar is not None:
        bar.close()
    cat = {k: np.concatenate(v) for k, v in out.items()}
    _warn_erased(int(cat["erased"].sum()), "activation")
    return Distances(
        kind="activation", x=X.numpy(), distance=cat["distance"], layer=cat["layer"], unit=cat["unit"],
        breakpoint=cat["breakpoint"], nearest=cat["nearest"], exact=np.ones(B, bool),
        lower=cat["distance"].copy(), regions=np.ones(B, np.int64), close=cat["close"].astype(np.int64),
    )


def _value_pass(prog: Any, x: torch.Tensor) -> list[dict]:
    """Per site: the snapped slacks to the breakpoints on either side of each unit's piece (inf
    where there is none, or for passthrough units), the slopes of the pieces, and the counts of
    close / erased snap decisions (``distance.activation`` semantics, on the module's ops)."""
    from ..engine.protocol import Live

    B = x.shape[0]
    dev = x.device
    live = Live({prog.input_key: x}, {}, 0)
    seg = torch.arange(B, device=dev)
    info = []
    for l, site in enumerate(prog.sites):
        base = prog.summand_scale(l, live, seg, B)  # |W| |a| + |b| by the module's ops on |a|
        stop = prog.site_step[l]
        prog._run("value", live.values, live.pc, stop)
        ops, st = prog.site_ops[l], prog.steps[stop]
        xin = live.values[ops.input]
        U = ops.pre("value", xin)
        t = site.tensors(dev)
        xi, T = t["xi"], site.act.T
        sw = torch.ones(site.n, dtype=torch.bool, device=dev) if t["pt"] is None else ~t["pt"]
        p = site.act.piece(U)
        k_lo, k_hi = (p - 1).clamp(0, T - 1), p.clamp(0, T - 1)
        inf = torch.tensor(math.inf, dtype=torch.float64, device=dev)
        slack_lo = torch.where((p >= 1) & sw, U - xi[k_lo], inf)
        slack_hi = torch.where((p <= T - 1) & sw, xi[k_hi] - U, inf)
        close = torch.zeros(B, dtype=torch.int64, device=dev)
        erased = torch.zeros(B, dtype=torch.int64, device=dev)
        snapped = []
        for sl, k in ((slack_lo, k_lo), (slack_hi, k_hi)):
            tl = SNAP_RTOL * (base + xi.abs()[k])
            noisy = sl.abs() > SNAP_NOISE_FRACTION * tl
            close += (noisy & (sl.abs() <= CLOSE_FACTOR * tl)).sum(1)
            erased += (noisy & (sl <= tl)).sum(1)
            snapped.append(torch.where(sl <= tl, torch.zeros_like(sl), sl))
        q = prog.slopes(l, 2 * p)  # code 2p: inside piece p
        info.append(dict(slack_lo=snapped[0], slack_hi=snapped[1], p=p, q=q, close=close, erased=erased))
        # apply the site (values only), as ModuleProgram.apply does
        live.values[st.key] = ops.post("value", xin, prog.activate(l, U))
        if prog.last_use.get(ops.input, -1) == stop:
            live.values.pop(ops.input)
        live.pc = stop + 1
    return info


def _grad_norms_sq(prog: Any, info: list[dict], B: int, chunk: int, bar: Any = None) -> list[torch.Tensor]:
    """(B, n_l) ||grad u_z||^2 of every unit on its region, from forward-mode tangents along the
    input basis (the linear part of the module's ops with the region's slopes), in blocks of at
    most ``chunk`` (input, direction) rows: whole inputs per block when n_in <= chunk, else
    blocks of directions of one input (sums of squares in a fixed order: deterministic)."""
    n, shape, dev = prog.n_in, prog.input_shape, prog.device
    gsq = [torch.zeros((B, s.n), dtype=torch.float64, device=dev) for s in prog.sites]
    stop = prog.site_step[-1] + 1 if prog.sites else 0
    eye_cols = torch.arange(n, device=dev)
    if n <= chunk:
        blocks = [(b0, min(B, b0 + max(1, chunk // n)), 0, n) for b0 in range(0, B, max(1, chunk // n))]
    else:
        blocks = [(b, b + 1, i0, min(n, i0 + chunk)) for b in range(B) for i0 in range(0, n, chunk)]
    for b0, b1, i0, i1 in blocks:
        k, d = b1 - b0, i1 - i0
        V = torch.zeros((k, d, n), dtype=torch.float64, device=dev)
        V[:, torch.arange(d, device=dev), eye_cols[i0:i1]] = 1.0
        env = {prog.input_key: V.reshape((k * d,) + shape)}

        def site_fn(l, dU, b0=b0, b1=b1, k=k, d=d):
            dU3 = dU.reshape(k, d, -1)
            gsq[l][b0:b1] += (dU3 * dU3).sum(1)
            return (dU3 * info[l]["q"][b0:b1, None, :]).reshape(k * d, -1)

        prog._run("lin", env, 0, stop, site_fn)
        if bar is not None:
            bar.update(k * d / n)
    return gsq


def _chosen_grad(prog: Any, info: list[dict], layer: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """(B, n_in) grad u_z(x) of the chosen unit of each input on its region: one reverse pass
    through the linear part of the module's ops."""
    B = layer.shape[0]
    dev = prog.device
    V = torch.zeros((B,) + prog.input_shape, dtype=torch.float64, device=dev, requires_grad=True)
    last = int(layer.max())
    if last < 0:
        return torch.zeros((B, prog.n_in), dtype=torch.float64, device=dev)
    picked = []

    def site_fn(l, dU):
        m = torch.nonzero(layer == l).reshape(-1)
        if m.numel():
            picked.append(dU[m, unit[m]].sum())
        return dU * info[l]["q"]

    with torch.enable_grad():
        prog._run("lin", {prog.input_key: V}, 0, prog.site_step[last] + 1, site_fn)
        torch.stack(picked).sum().backward()
    return V.grad.reshape(B, -1).detach()


def _activation_chunk(prog: Any, x: torch.Tensor, chunk: int, bar: Any = None) -> dict:
    """One chunk of inputs: the closed form over every unit of every site (``distance.activation``
    semantics), then the nearest point ``x - (u_z - xi) grad u_z / ||grad u_z||^2``."""
    B = x.shape[0]
    dev = x.device
    with torch.no_grad():
        info = _value_pass(prog, x)
        gsq = _grad_norms_sq(prog, info, B, chunk, bar) if info else []
    best = torch.full((B,), math.inf, dtype=torch.float64, device=dev)
    layer = torch.full((B,), -1, dtype=torch.int64, device=dev)
    unit = torch.full((B,), -1, dtype=torch.int64, device=dev)
    bp = torch.full((B,), -1, dtype=torch.int64, device=dev)
    slack = torch.zeros(B, dtype=torch.float64, device=dev)  # signed xi - u of the chosen unit
    close = torch.zeros(B, dtype=torch.int64, device=dev)
    erased = torch.zeros(B, dtype=torch.int64, device=dev)
    for l, (inf_l, g) in enumerate(zip(info, gsq)):
        close += inf_l["close"]
        erased += inf_l["erased"]
        best, layer, unit, bp, slack = nearer_facet(l, g, inf_l["slack_lo"], inf_l["slack_hi"], inf_l["p"],
                                                    (best, layer, unit, bp, slack))
    grad = _chosen_grad(prog, info, layer, unit)
    g2 = (grad * grad).sum(1)
    ok = torch.isfinite(best) & (g2 > 0)
    step = torch.where(ok, slack / torch.where(ok, g2, torch.ones_like(g2)), torch.zeros_like(g2))
    xf = x.reshape(B, -1)
    nearest = torch.where(ok[:, None], xf + step[:, None] * grad, torch.full_like(xf, math.nan))
    return dict(distance=best, layer=layer, unit=unit, breakpoint=bp, nearest=nearest.reshape(x.shape), close=close,
                erased=erased)
