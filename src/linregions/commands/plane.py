"""``linregions plane``: the exact partition of a planar slice, as a PNG and a JSON summary."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ._common import (
    add_json_arg,
    add_network_args,
    check_device,
    check_output_path,
    emit,
    figure_suffixes,
    load_points,
    load_samples,
    module_from_args,
    network_from_args,
    parse_floats,
    show_progress,
    to_jsonable,
)


def register(sub) -> None:
    p = sub.add_parser(
        "plane", help="exact regions in a 2D slice of input space (picture + summary)",
        description="Exact activation and linear regions of a network on a rectangle of a plane of input space: "
                    "through three inputs (--points, --mnist-digits), or an --origin and --basis. Writes a "
                    "Figure-1-style PNG and prints (or writes) a summary.",
    )
    add_network_args(p, default_spec="2-32x3-1", modules=True)
    g = p.add_argument_group("plane")
    g.add_argument("--points", default=None, help=".npy or text (.txt/.csv) file of exactly three rows: the inputs to pass through "
                   "(with --input-shape: a .npy of shape (3, C, H, W) or (3, C*H*W))")
    g.add_argument("--mnist-digits", default=None, metavar="D,D,D",
                   help="pass through the first MNIST training images of these three digits (e.g. 0,1,2)")
    g.add_argument("--origin", default=None, help="comma-separated origin of the plane (default: zeros)")
    g.add_argument("--basis", default=None, help=".npy/.txt file with an (n_in, 2) basis (orthonormalised with a warning)")
    g.add_argument("--bounds", default="-1,1,-1,1", help="u_min,u_max,v_min,v_max in plane coordinates (with --origin/--basis)")
    g.add_argument("--margin", type=float, default=0.1, help="margin around three points, as a fraction of their extent (default 0.1)")
    g.add_argument("--max-regions", type=int, default=2_000_000, help="refuse domains with more activation regions (default 2e6)")
    g.add_argument("--device", default=None, help="with --input-shape: torch device of the engine (cpu, cuda)")
    o = p.add_argument_group("output")
    o.add_argument("--png", default="slice.png", help="picture to write (default slice.png; 'none' to skip)")
    o.add_argument("--summary", default=None, metavar="PATH", help="also write the JSON summary to this file")
    o.add_argument("--color", choices=["linear", "activation"], default="linear", help="colour linear or activation regions")
    o.add_argument("--decision-boundary", action="store_true", help="draw the decision boundary")
    o.add_argument("--progress", action="store_true", help="progress bar even when stderr is not a terminal")
    o.add_argument("--no-progress", action="store_true", help="no progress bar (by default it shows on a terminal)")
    add_json_arg(p)
    p.set_defaults(func=run)


def _partition(args, net):
    from ..plane import plane, plane_through

    kw = dict(max_regions=args.max_regions, progress=show_progress(args))
    sources = [args.points is not None, args.mnist_digits is not None, args.basis is not None or args.origin is not None]
    if sum(sources) > 1:
        raise ValueError("give one of --points, --mnist-digits, or --origin/--basis")
    if args.points is not None or args.mnist_digits is not None:
        if args.points is not None:
            X = load_points(args.points)
            if X.shape[0] != 3:
                raise ValueError(f"{args.points}: need exactly three rows (the inputs the plane passes through), got {X.shape[0]}")
            labels = ["p0", "p1", "p2"]
        else:
            from ..data import first_of_each_digit, mnist

            digits = [int(d) for d in parse_floats(args.mnist_digits, "mnist-digits")]
            if len(digits) != 3:
                raise ValueError("--mnist-digits needs three digits, e.g. 0,1,2")
            X = first_of_each_digit(mnist("train"), digits)
            labels = [str(d) for d in digits]
        t0 = time.perf_counter()
        part = plane_through(net, X[0], X[1], X[2], margin=args.margin, **kw)
        return part, labels, time.perf_counter() - t0
    if args.basis is None and args.origin is None and net.n_in != 2:
        rng = np.random.default_rng(args.seed + 1)
        X = rng.normal(size=(3, net.n_in))
        t0 = time.perf_counter()
        part = plane_through(net, X[0], X[1], X[2], margin=args.margin, **kw)
        return part, ["p0", "p1", "p2"], time.perf_counter() - t0
    origin = parse_floats(args.origin, "origin") if args.origin is not None else np.zeros(net.n_in)
    basis = load_points(args.basis) if args.basis is not None else np.eye(net.n_in)[:, :2]
    t0 = time.perf_counter()
    part = plane(net, origin, basis, parse_floats(args.bounds, "bounds"), **kw)
    return part, None, time.perf_counter() - t0


def _partition_module(args, module, shape: tuple, device):
    """The plane through three inputs of a torch module (``lr.plane_through`` on the module, the
    torch-native engine): from --points, --mnist-digits (when the shape holds 784 values), or random."""
    from ..plane import plane_through

    if args.basis is not None or args.origin is not None:
        raise ValueError("with --input-shape the plane passes through three inputs: give --points, --mnist-digits or "
                         "neither (three random N(0, I) inputs), not --origin/--basis")
    if args.points is not None and args.mnist_digits is not None:
        raise ValueError("give one of --points or --mnist-digits")
    if args.points is not None:
        X = load_samples(args.points, shape, "--points")
        if X.shape[0] != 3:
            raise ValueError(f"{args.points}: need exactly three inputs (the plane passes through them), got {X.shape[0]}")
        labels = ["p0", "p1", "p2"]
    elif args.mnist_digits is not None:
        from ..data import first_of_each_digit, mnist

        digits = [int(d) for d in parse_floats(args.mnist_digits, "mnist-digits")]
        if len(digits) != 3:
            raise ValueError("--mnist-digits needs three digits, e.g. 0,1,2")
        if int(np.prod(shape)) != 784:
            raise ValueError(f"--mnist-digits gives 28x28 images (784 values); --input-shape {args.input_shape} needs "
                             f"{int(np.prod(shape))}; give --points instead")
        X = first_of_each_digit(mnist("train"), digits).reshape((3,) + shape)
        labels = [str(d) for d in digits]
    else:
        X = np.random.default_rng(args.seed + 1).normal(size=(3,) + shape)
        labels = ["p0", "p1", "p2"]
    kw = dict(max_regions=args.max_regions, progress=show_progress(args), input_shape=shape)
    if device is not None:
        kw["device"] = device
    t0 = time.perf_counter()
    try:
        part = plane_through(module, X[0], X[1], X[2], margin=args.margin, **kw)
    except TypeError as e:
        if "Network" in str(e) or "Module" in str(e):
            raise TypeError(f"planes through torch modules are not available in this version of linregions ({e})") from None
        raise
    return part, labels, time.perf_counter() - t0


def _check_outputs(args: argparse.Namespace) -> None:
    """Before any work: the picture and the summary can be written where the user asked."""
    if args.png and args.png.lower() != "none":
        check_output_path(args.png, "--png", suffixes=figure_suffixes())
    if args.summary:
        check_output_path(args.summary, "--summary")
    if args.max_regions < 1:
        raise ValueError(f"--max-regions must be at least 1, got {args.max_regions}")


def run(args: argparse.Namespace) -> int:
    _check_outputs(args)
    device = check_device(args.device)  # before the model is loaded: one line, no traceback
    loaded = module_from_args(args, device)
    if loaded is not None:
        prog = loaded.program
        name, neurons = repr(prog), prog.num_neurons
        part, labels, seconds = _partition_module(args, loaded.module, loaded.shape, device)
    else:
        if args.device is not None:
            raise ValueError("--device applies to a torch module (--model with --input-shape)")
        net = network_from_args(args)
        name, neurons = repr(net), net.num_neurons
        part, labels, seconds = _partition(args, net)
    summary = {
        "network": name,
        "num_neurons": neurons,
        "domain": part.domain,
        "area": float(part.face_areas.sum()),
        "seconds": seconds,
        "linear_regions": part.num_regions("linear"),
        "activation_regions": part.num_regions("activation"),
        "interior_vertices": {k: part.num_vertices(k) for k in ("linear", "activation")},
        "boundary_length": {k: part.boundary_length(k) for k in ("linear", "activation")},
        "boundary_length_by_layer": {k: part.boundary_length(k, by="layer") for k in ("linear", "activation")},
    }
    if args.png and args.png.lower() != "none":
        part.save(args.png, kind=args.color, decision_boundary=args.decision_boundary, mark_labels=labels)
        summary["png"] = args.png
    if args.summary:
        with open(args.summary, "w") as fh:
            json.dump(to_jsonable(summary), fh, indent=2)
    text = (
        f"{name}  ({neurons} neurons), plane area {summary['area']:.4g}, {seconds:.3f} s\n"
        f"linear regions:     {summary['linear_regions']}\n"
        f"activation regions: {summary['activation_regions']}\n"
        f"interior vertices:  {summary['interior_vertices']['linear']} (linear), {summary['interior_vertices']['activation']} (activation)\n"
        f"boundary length:    {summary['boundary_length']['linear']:.4g} (B_N), {summary['boundary_length']['activation']:.4g} (activation)"
        + (f"\npicture: {args.png}" if "png" in summary else "")
    )
    emit(args, summary, text)
    return 0
