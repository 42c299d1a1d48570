"""``linregions distance``: exact distance from inputs to the boundary of their region."""
from __future__ import annotations

import argparse
import time

import numpy as np

from ..distance import distance_to_boundary
from ._common import add_json_arg, add_network_args, add_progress_arg, check_device, emit, load_points, network_from_args, show_progress


def register(sub) -> None:
    p = sub.add_parser(
        "distance", help="exact distance from inputs to the activation-region boundary and to B_N",
        description="Exact distance from each input to the boundary of its activation region (kind activation, "
        "docs/theory.md) and/or of its linear region, B_N (kind linear: a best-first search over activation regions, "
        "meant for small input dimensions).",
    )
    add_network_args(p, default_spec="784-64x3-10")
    g = p.add_argument_group("inputs")
    g.add_argument("--points", default=None, help=".npy or text (.txt/.csv) file of inputs, one per row (N, n_in)")
    g.add_argument("--samples", type=int, default=200, help="number of N(0, I) inputs when --points is not given (default 200)")
    g.add_argument("--kind", choices=("activation", "linear", "both"), default="activation", help="which boundary (default activation)")
    g.add_argument("--max-regions", type=int, default=2000, help="kind linear: activation regions examined per input before giving bounds")
    g.add_argument("--device", default=None, help="torch device for kind activation (cpu, cuda)")
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


def run(args: argparse.Namespace) -> int:
    if args.device is not None and args.kind == "linear":
        raise ValueError("--device applies to --kind activation (or both); kind linear runs in numpy")
    device = check_device(args.device)  # before the network is built: one line, no traceback
    if args.max_regions < 1:
        raise ValueError(f"--max-regions must be at least 1, got {args.max_regions}")
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
        fmt = lambda v, f=".4g": "inf" if v is None else format(v, f)  # noqa: E731
        line = (f"{kind:>10}: mean {fmt(s['mean'])}  median {fmt(s['median'])}  min {fmt(s['min'])}  max {fmt(s['max'])}"
                f"  (#neurons x mean = {fmt(s['mean_times_neurons'], '.3g')}; {s['seconds']:.2f} s)")
        if kind == "linear":
            line += f"\n{'':>12}regions examined per input: {s['mean_regions_examined']:.1f}"
            if s["exact"] < len(r):
                line += f"; {len(r) - s['exact']} input(s) hit --max-regions (bounds only)"
        lines.append(line)
    emit(args, summary, "\n".join(lines))
    return 0
