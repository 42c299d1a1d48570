"""``linregions line``: exact regions along segments."""
from __future__ import annotations

import argparse

import numpy as np

from ..line import lines
from ._common import add_json_arg, add_network_args, add_progress_arg, emit, load_points, network_from_args, parse_floats, show_progress


def register(sub) -> None:
    p = sub.add_parser("line", help="exact regions along segments of input space",
                       description="Exact activation and linear regions along segments [x0, x1] of a network's input space.")
    add_network_args(p, default_spec="784-64x3-10")
    g = p.add_argument_group("segments")
    g.add_argument("--x0", default=None, help="comma-separated start point, e.g. --x0=-1,0.5 (write '=' before a leading minus); default: random pairs")
    g.add_argument("--x1", default=None, help="comma-separated end point, e.g. --x1=1,0")
    g.add_argument("--points", default=None, help=".npy or text (.txt/.csv) file of inputs, an even number of rows; "
                   "segments join rows 0-1, 2-3, ...")
    g.add_argument("--segments", type=int, default=100, help="number of random segments between N(0, I) points (default 100)")
    add_json_arg(p)
    add_progress_arg(p)
    p.set_defaults(func=run)


def _segments(args, n_in: int, rng) -> tuple[np.ndarray, np.ndarray]:
    if (args.x0 is None) != (args.x1 is None):
        raise ValueError("give both --x0 and --x1")
    if args.x0 is not None:
        return parse_floats(args.x0, "x0")[None], parse_floats(args.x1, "x1")[None]
    if args.points:
        X = load_points(args.points)
        if X.shape[0] < 2 or X.shape[0] % 2:
            raise ValueError(f"{args.points}: has {X.shape[0]} row(s); segments join rows 0-1, 2-3, ..., so give an even "
                             "number of rows (at least two)")
        return X[0::2], X[1::2]
    if args.segments < 1:
        raise ValueError("--segments must be at least 1")
    return rng.normal(size=(args.segments, n_in)), rng.normal(size=(args.segments, n_in))


def run(args: argparse.Namespace) -> int:
    net = network_from_args(args)
    X0, X1 = _segments(args, net.n_in, np.random.default_rng(args.seed + 1))
    batch = lines(net, X0, X1, progress=show_progress(args) and len(X0) > 200)
    lin, act = batch.num_regions("linear"), batch.num_regions("activation")
    per_neuron = (lin - 1) / net.num_neurons
    summary = {
        "network": repr(net), "num_neurons": net.num_neurons, "segments": len(batch),
        "linear_regions": {"mean": float(lin.mean()), "min": int(lin.min()), "max": int(lin.max())},
        "activation_regions": {"mean": float(act.mean()), "min": int(act.min()), "max": int(act.max())},
        "boundaries_per_neuron": float(per_neuron.mean()),
        "mean_segment_length": float(batch.lengths().mean()),
    }
    if len(batch) <= 20:
        summary["per_segment"] = [{"linear": int(a), "activation": int(b)} for a, b in zip(lin, act)]
    text = (
        f"{net}  ({net.num_neurons} neurons)\n"
        f"{len(batch)} segment(s), mean length {summary['mean_segment_length']:.4g}\n"
        f"linear regions:     mean {lin.mean():.2f}  (min {lin.min()}, max {lin.max()})\n"
        f"activation regions: mean {act.mean():.2f}  (min {act.min()}, max {act.max()})\n"
        f"linear boundaries per neuron: {per_neuron.mean():.3f}"
    )
    emit(args, summary, text)
    return 0
