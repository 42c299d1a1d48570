"""``linregions distance``: exact distance from inputs to the boundary of their region."""
from __future__ import annotations

import argparse
import time

import numpy as np

from ..distance import distance_to_boundary
from ._common import (
    add_json_arg,
    add_network_args,
    add_progress_arg,
    check_device,
    emit,
    load_points,
    load_samples,
    module_from_args,
    network_from_args,
    show_progress,
)


def register(sub) -> None:
    p = sub.add_parser(
        "distance", help="exact distance from inputs to the activation-region boundary and to B_N",
        description="Exact distance from each input to the boundary of its activation region (kind activation, "
        "docs/theory.md) and/or of its linear region, B_N (kind linear: a best-first search over activation regions, "
        "meant for small input dimensions). A saved CNN or ResNet (--model m.pt --input-shape 3,32,32) runs with its own "
        "ops: n_in linear passes of the module per input (--chunk-points rows at once).",
    )
    add_network_args(p, default_spec="784-64x3-10", modules=True)
    g = p.add_argument_group("inputs")
    g.add_argument("--points", default=None, help=".npy or text (.txt/.csv) file of inputs, one per row (N, n_in); with "
                   "--input-shape a .npy of shape (N, C, H, W), (C, H, W) or (N, C*H*W)")
    g.add_argument("--samples", type=int, default=200, help="number of N(0, I) inputs when --points is not given (default 200)")
    g.add_argument("--kind", choices=("activation", "linear", "both"), default="activation", help="which boundary (default activation)")
    g.add_argument("--max-regions", type=int, default=2000, help="kind linear: activation regions examined per input before giving bounds")
    g.add_argument("--device", default=None, help="torch device for kind activation (cpu, cuda)")
    g.add_argument("--chunk-points", type=int, default=None,
                   help="with --input-shape: (input, direction) rows evaluated at once by the module's ops (sets the memory)")
    add_json_arg(p)
    add_progress_arg(p)
    p.set_defaults(func=run)


def _num(v: float):
    """A float for JSON: None where infinite (no boundary) so that the output is strict JSON."""
    return float(v) if np.isfinite(v) else None


def _summary(r, num_neurons: int, seconds: float) -> dict:
    d = r.distance
    fin = d[np.isfinite(d)]
    s = {
        "inputs": len(r), "finite": int(fin.size), "seconds": seconds,
        "mean": _num(fin.mean()) if fin.size else None,
        "median": _num(np.median(fin)) if fin.size else None,
        "min": _num(d.min()), "max": _num(d.max()),
        "mean_times_neurons": _num(fin.mean() * num_neurons) if fin.size else None,
        "exact": int(r.exact.sum()), "mean_regions_examined": float(r.regions.mean()),
    }
    if len(r) <= 20:
        s["per_input"] = [
            {"distance": _num(a), "lower": _num(lo), "layer": int(l), "unit": int(u), "breakpoint": int(b)}
            for a, lo, l, u, b in zip(d, r.lower, r.layer, r.unit, r.breakpoint)
        ]
    return s


def _text(kind: str, s: dict, n_inputs: int) -> str:
    fmt = lambda v, f=".4g": "inf" if v is None else format(v, f)  # noqa: E731
    line = (f"{kind:>10}: mean {fmt(s['mean'])}  median {fmt(s['median'])}  min {fmt(s['min'])}  max {fmt(s['max'])}"
            f"  (#neurons x mean = {fmt(s['mean_times_neurons'], '.3g')}; {s['seconds']:.2f} s)")
    if kind == "linear":
        line += f"\n{'':>12}regions examined per input: {s['mean_regions_examined']:.1f}"
        if s["exact"] < n_inputs:
            line += f"; {n_inputs - s['exact']} input(s) hit --max-regions (bounds only)"
    return line


def _run_module(args: argparse.Namespace, loaded) -> int:
    """Distances for a torch module, with its own ops (``lr.distance_to_boundary`` on its program,
    compiled once on the device)."""
    module, shape, prog = loaded
    if args.points:
        X = load_samples(args.points, shape, "--points")
    else:
        if args.samples < 1:
            raise ValueError("--samples must be at least 1")
        X = np.random.default_rng(args.seed + 1).normal(size=(args.samples,) + tuple(shape))
    kinds = ("activation", "linear") if args.kind == "both" else (args.kind,)
    from ..distance.module import LINEAR_MODULE_MAX_INPUTS

    if "linear" in kinds and int(np.prod(shape)) > LINEAR_MODULE_MAX_INPUTS:  # before any work
        raise ValueError(f"--kind {args.kind}: the exact distance to B_N on a module is searched only for inputs of at most "
                         f"{LINEAR_MODULE_MAX_INPUTS} coordinates, --input-shape {args.input_shape} has "
                         f"{int(np.prod(shape))}; use --kind activation (a lower bound of it)")
    neurons = prog.num_neurons
    summary: dict = {"network": repr(prog), "input_shape": list(shape), "num_neurons": neurons, "inputs": int(X.shape[0])}
    out = [f"{prog}, {X.shape[0]} input(s)"]
    for kind in kinds:
        t0 = time.perf_counter()
        try:
            r = distance_to_boundary(prog if kind == "activation" else module, X, kind, input_shape=shape,
                                     chunk_points=args.chunk_points if kind == "activation" else None,
                                     max_regions=args.max_regions, progress=show_progress(args))
        except NotImplementedError as e:
            raise ValueError(f"--kind {kind}: {e}") from None
        s = _summary(r, neurons, time.perf_counter() - t0)
        if "per_input" in s:
            for d, l, u in zip(s["per_input"], r.layer, r.unit):
                d["unit_name"] = prog.unit_name(int(l), int(u)) if l >= 0 else None
        summary[kind] = s
        out.append(_text(kind, s, len(r)))
    emit(args, summary, "\n".join(out))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.device is not None and args.kind == "linear":
        raise ValueError("--device applies to --kind activation (or both); kind linear runs in numpy")
    device = check_device(args.device)  # before the network is built: one line, no traceback
    if args.max_regions < 1:
        raise ValueError(f"--max-regions must be at least 1, got {args.max_regions}")
    if args.chunk_points is not None and args.chunk_points < 1:
        raise ValueError(f"--chunk-points must be at least 1, got {args.chunk_points}")
    loaded = module_from_args(args, device)
    if loaded is not None:
        return _run_module(args, loaded)
    if args.chunk_points is not None:
        raise ValueError("--chunk-points applies to a torch module (--model with --input-shape)")
    net = network_from_args(args)
    if args.points:
        X = load_points(args.points)
        if X.ndim != 2 or X.shape[1] != net.n_in:
            raise ValueError(f"{args.points}: inputs must have shape (N, {net.n_in}), got {X.shape}")
    else:
        if args.samples < 1:
            raise ValueError("--samples must be at least 1")
        X = np.random.default_rng(args.seed + 1).normal(size=(args.samples, net.n_in))
    kinds = ("activation", "linear") if args.kind == "both" else (args.kind,)
    summary: dict = {"network": repr(net), "num_neurons": net.num_neurons, "inputs": int(X.shape[0])}
    lines = [f"{net}  ({net.num_neurons} neurons), {X.shape[0]} input(s)"]
    if "activation" in kinds:
        import torch  # noqa: F401  (imported before timing)
    for kind in kinds:
        t0 = time.perf_counter()
        r = distance_to_boundary(net, X, kind, device=device if kind == "activation" else None,
                                 max_regions=args.max_regions, progress=show_progress(args) and X.shape[0] > 50)
        s = _summary(r, net.num_neurons, time.perf_counter() - t0)
        summary[kind] = s
        lines.append(_text(kind, s, len(r)))
    emit(args, summary, "\n".join(lines))
    return 0
