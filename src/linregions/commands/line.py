"""``linregions line``: exact regions along segments."""
from __future__ import annotations

import argparse

import numpy as np

from ..line import lines
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
    point_arg,
    show_progress,
)


def register(sub) -> None:
    p = sub.add_parser("line", help="exact regions along segments of input space",
                       description="Exact activation and linear regions along segments [x0, x1] of a network's input space. A saved "
                       "CNN or ResNet (--model m.pt --input-shape 3,32,32) runs through the torch-native engine, with "
                       "its own ops; give segment ends as .npy samples (--x0 a.npy --x1 b.npy, or --points).")
    add_network_args(p, default_spec="784-64x3-10", modules=True)
    g = p.add_argument_group("segments")
    g.add_argument("--x0", default=None, help="comma-separated start point, e.g. --x0=-1,0.5 (write '=' before a leading minus), "
                   "or with --input-shape a .npy file of one sample; default: random pairs")
    g.add_argument("--x1", default=None, help="comma-separated end point, e.g. --x1=1,0 (or a .npy file of one sample)")
    g.add_argument("--points", default=None, help=".npy or text (.txt/.csv) file of inputs, an even number of rows "
                   "(with --input-shape: a .npy of shape (2S, C, H, W) or (2S, C*H*W)); segments join rows 0-1, 2-3, ...")
    g.add_argument("--segments", type=int, default=100, help="number of random segments between N(0, I) points (default 100)")
    g.add_argument("--device", default=None, help="with --input-shape: torch device of the engine (cpu, cuda)")
    add_json_arg(p)
    add_progress_arg(p)
    p.set_defaults(func=run)


def _segments(args, n_in: int, rng, shape: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(S, n_in) segment ends, or (S,) + shape for a module."""
    if (args.x0 is None) != (args.x1 is None):
        raise ValueError("give both --x0 and --x1")
    if args.x0 is not None:
        if args.points:
            raise ValueError("give either --x0/--x1 or --points, not both")
        return point_arg(args.x0, shape, "--x0")[None], point_arg(args.x1, shape, "--x1")[None]
    if args.points:
        X = load_points(args.points) if shape is None else load_samples(args.points, shape, "--points")
        if X.shape[0] < 2 or X.shape[0] % 2:
            raise ValueError(f"{args.points}: has {X.shape[0]} row(s); segments join rows 0-1, 2-3, ..., so give an even "
                             "number of rows (at least two)")
        return X[0::2], X[1::2]
    if args.segments < 1:
        raise ValueError("--segments must be at least 1")
    size = (args.segments, n_in) if shape is None else (args.segments,) + tuple(shape)
    return rng.normal(size=size), rng.normal(size=size)


def _run_module(args: argparse.Namespace, loaded) -> int:
    """The segments through a torch module, run by the torch-native engine (``lr.lines`` on the
    module, here on its program compiled once)."""
    from ..engine import lines as module_lines

    shape, prog = loaded.shape, loaded.program
    X0, X1 = _segments(args, int(np.prod(shape)), np.random.default_rng(args.seed + 1), shape)
    batch = module_lines(prog, X0, X1, input_shape=shape, progress=show_progress(args))
    neurons = prog.num_neurons
    return _report(args, batch, f"{prog}", neurons,
                   {"network": repr(prog), "input_shape": list(shape), "num_neurons": neurons, "num_units": prog.num_units})


def _report(args: argparse.Namespace, batch, header: str, neurons: int, head: dict) -> int:
    """Counts of both kinds of region over the segments of ``batch`` (JSON summary and text)."""
    lin, act = batch.num_regions("linear"), batch.num_regions("activation")
    per_neuron = (lin - 1) / max(neurons, 1)
    summary = {
        **head, "segments": len(batch),
        "linear_regions": {"mean": float(lin.mean()), "min": int(lin.min()), "max": int(lin.max())},
        "activation_regions": {"mean": float(act.mean()), "min": int(act.min()), "max": int(act.max())},
        "boundaries_per_neuron": float(per_neuron.mean()),
        "mean_segment_length": float(batch.lengths().mean()),
    }
    if len(batch) <= 20:
        summary["per_segment"] = [{"linear": int(a), "activation": int(b)} for a, b in zip(lin, act)]
    text = (
        f"{header}\n"
        f"{len(batch)} segment(s), mean length {summary['mean_segment_length']:.4g}\n"
        f"linear regions:     mean {lin.mean():.2f}  (min {lin.min()}, max {lin.max()})\n"
        f"activation regions: mean {act.mean():.2f}  (min {act.min()}, max {act.max()})\n"
        f"linear boundaries per neuron: {per_neuron.mean():.3g}"
    )
    emit(args, summary, text)
    return 0


def run(args: argparse.Namespace) -> int:
    device = check_device(args.device)  # before the model is loaded: one line, no traceback
    loaded = module_from_args(args, device)
    if loaded is not None:
        return _run_module(args, loaded)
    if args.device is not None:
        raise ValueError("--device applies to a torch module (--model with --input-shape)")
    net = network_from_args(args)
    X0, X1 = _segments(args, net.n_in, np.random.default_rng(args.seed + 1))
    batch = lines(net, X0, X1, progress=show_progress(args) and len(X0) > 200)
    return _report(args, batch, f"{net}  ({net.num_neurons} neurons)", net.num_neurons,
                   {"network": repr(net), "num_neurons": net.num_neurons})
