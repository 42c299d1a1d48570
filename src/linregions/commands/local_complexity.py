"""``linregions local-complexity``: exact local complexity around inputs, next to the published proxy."""
from __future__ import annotations

import argparse
import sys

import numpy as np

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
    parse_floats,
    parse_law,
    show_progress,
    table_suffix_check,
    write_table,
)


def register(sub) -> None:
    p = sub.add_parser(
        "local-complexity", help="exact local complexity around inputs (boundary density, probe counts, published proxy)",
        description="Local complexity around each input x at each radius r (docs/local_complexity.md): the exact boundary "
        "density in the ball B(x, r) (Crofton, from exact crossings of random chords, with standard errors), exact "
        "crossings and distinct neurons on the 2P orthogonal probe segments [x, x ± r q_i], the published proxy "
        "(neurons whose sign changes over the 2P vertices) and its undercount, and with --theory the Hanin-Rolnick "
        "prediction at x. One row per input x radius x layer (layer -1: all layers). A saved CNN or ResNet "
        "(--model m.pt --input-shape 1,28,28) runs with its own ops; its layers are then its activation sites.",
    )
    add_network_args(p, default_spec="784-64x3-10", modules=True)
    g = p.add_argument_group("inputs")
    g.add_argument("--points", default=None, help=".npy or text (.txt/.csv) file of inputs, one per row (N, n_in); with "
                   "--input-shape a .npy of shape (N, C, H, W), (C, H, W) or (N, C*H*W)")
    g.add_argument("--mnist-indices", default=None, metavar="I,J,K|A:B",
                   help="MNIST images by index, e.g. 0,5,7 or 0:100 (784 inputs; offline data)")
    g.add_argument("--split", choices=("train", "test"), default="test", help="MNIST split for --mnist-indices (default test)")
    g.add_argument("--samples", type=int, default=10, help="number of N(0, I) inputs when neither --points nor --mnist-indices is given (default 10)")
    g = p.add_argument_group("measurement")
    g.add_argument("--radii", default="0.1,1", help="comma-separated radii (default 0.1,1)")
    g.add_argument("--chords", type=int, default=64, help="random chords per input and radius for the boundary density (default 64)")
    g.add_argument("--probes", type=int, default=None, help="P, number of orthonormal probe directions (default: the input dimension)")
    g.add_argument("--columns", default="density,probes,proxy", help="which of density,probes,proxy to compute (default all three)")
    g.add_argument("--theory", default=None, metavar="LAW",
                   help="also the Hanin-Rolnick prediction at x for biases from LAW (e.g. normal:0.1; with --mlp, the --bias law is natural)")
    g.add_argument("--per-neuron", action="store_true", help="one row per input x radius x neuron instead of per layer")
    g.add_argument("--device", default=None, help="torch device for the proxy's forward pass and the prediction, and for "
                   "a module's own ops (cpu, cuda)")
    g.add_argument("--chunk-points", type=int, default=None,
                   help="with --input-shape: rows evaluated at once by the module's ops (sets the memory)")
    out = p.add_argument_group("output")
    out.add_argument("--csv", default=None, metavar="PATH", help="write the whole table (CSV, or Parquet for .parquet); '-' for stdout")
    add_json_arg(p)
    add_progress_arg(p)
    p.set_defaults(func=run)


def _indices(text: str) -> slice | np.ndarray:
    """'0,5,7' -> array([0, 5, 7]); '0:100' -> slice(0, 100) (checked against the split later)."""
    t = text.strip()
    try:
        if ":" in t:
            a, b = (int(v) if v.strip() else None for v in t.split(":", 1))
            return slice(a, b)
        idx = np.array([int(v) for v in t.split(",") if v.strip()], dtype=np.int64)
    except ValueError:
        raise ValueError(f"--mnist-indices must be integers like 0,5,7 or a range like 0:100, got {text!r}") from None
    if idx.size == 0:
        raise ValueError(f"--mnist-indices {text!r} selects no image")
    return idx


def _inputs(args, n_in: int, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The inputs as (N, n_in) rows, or, for a module (``shape`` given), as (N,) + shape samples."""
    if args.points is not None and args.mnist_indices is not None:
        raise ValueError("give either --points or --mnist-indices, not both")
    if args.points is not None:
        return load_points(args.points) if shape is None else load_samples(args.points, shape, "--points")
    if args.mnist_indices is not None:
        from ..data import mnist

        sel = _indices(args.mnist_indices)
        data = mnist(args.split)
        n = len(data)
        idx = np.arange(n)[sel] if isinstance(sel, slice) else sel
        if idx.size == 0 or idx.min() < -n or idx.max() >= n:
            raise ValueError(f"--mnist-indices {args.mnist_indices!r}: indices must select images below {n} (the size of the {args.split} split)")
        X = np.asarray(data.images[idx], dtype=np.float64)
        if shape is None:
            return X
        if int(np.prod(shape)) != X.shape[1]:
            raise ValueError(f"--mnist-indices gives images of {X.shape[1]} pixels, which do not fit --input-shape "
                             f"{','.join(map(str, shape))}; use --input-shape 1,28,28 (or --points)")
        return X.reshape((-1,) + tuple(shape))
    if args.samples < 1:
        raise ValueError(f"--samples must be at least 1, got {args.samples}")
    return np.random.default_rng(args.seed + 1).normal(size=(args.samples,) + (tuple(shape) if shape else (n_in,)))


def run(args: argparse.Namespace) -> int:
    from ..experiments.verdicts import fmt
    from ..local_complexity import COLUMNS, lc_summary, local_complexity

    device = check_device(args.device)
    radii = parse_floats(args.radii, "radii")
    if np.any(~np.isfinite(radii)) or np.any(radii <= 0):
        raise ValueError(f"--radii must be positive numbers, got {args.radii!r}")
    cols = tuple(c.strip() for c in args.columns.split(",") if c.strip())
    bad = [c for c in cols if c not in COLUMNS or c == "theory"]
    if bad or not cols:
        raise ValueError(f"--columns must be a comma-separated subset of density,probes,proxy, got {args.columns!r}")
    if args.chords < 2:
        raise ValueError(f"--chords must be at least 2, got {args.chords}")
    law = parse_law(args.theory) if args.theory else None
    if args.csv not in (None, "-"):
        table_suffix_check(args.csv, "--csv")
    loaded = module_from_args(args, device)
    if loaded is None:
        if args.chunk_points is not None:
            raise ValueError("--chunk-points applies to a saved module run with its own ops (--model with --input-shape)")
        net = network_from_args(args)
        X = _inputs(args, net.n_in)
        if X.shape[1] != net.n_in:
            raise ValueError(f"the inputs have {X.shape[1]} coordinates but the network has {net.n_in} inputs")
        model, shape, name, neurons = net, None, repr(net), net.num_neurons
    else:
        X = _inputs(args, int(np.prod(loaded.shape)), loaded.shape)
        model, shape, name = loaded.module, loaded.shape, repr(loaded.program)
        neurons = loaded.program.num_neurons
    if law is not None:
        cols = cols + ("theory",)
    df = local_complexity(model, X, radii, n_chords=args.chords, n_probes=args.probes, columns=cols, bias_law=law,
                          per_neuron=args.per_neuron, seed=args.seed, device=device, progress=show_progress(args),
                          input_shape=shape, chunk_points=args.chunk_points)
    if args.csv == "-":
        df.to_csv(sys.stdout, index=False)
        return 0
    if args.csv:
        write_table(df, args.csv)
    if args.per_neuron:  # totals per input first (standard errors of neurons do not add up)
        per = df.drop(columns=["unit", "layer"] + [c for c in df.columns if c.endswith("_se")])
        summ = lc_summary(per.groupby(["sample", "radius"]).sum().reset_index().assign(layer=-1))
    else:
        summ = lc_summary(df)
    tot = summ[summ["layer"] == -1]
    keys = [c for c in tot.columns if c not in ("radius", "layer") and not c.endswith("_sem")]
    summary = {
        "network": name, "num_neurons": neurons, "inputs": int(X.shape[0]),
        "probes": int(df.attrs["n_probes"]), "chords": int(args.chords), "radii": radii.tolist(),
        "mean_over_inputs": [{"radius": float(r["radius"]), **{k: float(r[k]) for k in keys},
                              **{f"{k}_sem": float(r[f"{k}_sem"]) for k in keys if f"{k}_sem" in r}} for _, r in tot.iterrows()],
    }
    if args.csv:
        summary["table"] = args.csv
    if shape is not None:
        summary["input_shape"] = list(shape)
    lines = [f"{name}  ({neurons} neurons), {X.shape[0]} input(s), {df.attrs['n_probes']} probe directions, {args.chords} chords"]
    for _, r in tot.iterrows():
        parts = [f"r = {r['radius']:g}:"]
        if "density_linear" in r:
            parts.append(f"boundary density {fmt(r['density_linear'], '.4g')} ± {fmt(r['density_linear_sem'], '.2g')} (linear), "
                         f"{fmt(r['density_activation'], '.4g')} (activation);")
        if "probe_neurons" in r:
            parts.append(f"neurons crossed on the probes {r['probe_neurons']:.2f} (crossings {r['probe_crossings_activation']:.1f});")
        if "proxy" in r:
            parts.append(f"published proxy {r['proxy']:.2f}" + (f" (undercount {r['proxy_undercount']:.2f})" if "proxy_undercount" in r else "") + ";")
        if "hr_linear" in r:
            parts.append(f"Hanin-Rolnick prediction {fmt(r['hr_linear'], '.4g')} (linear), {fmt(r['hr_activation'], '.4g')} (activation)")
        lines.append("  " + " ".join(parts).rstrip(";"))
    lines.append("(means over the inputs; layer-by-layer values in --csv)")
    emit(args, summary, "\n".join(lines))
    return 0
