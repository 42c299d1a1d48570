"""``linregions theory``: Theorem 6 against exact measurement, the corollaries' bounds, facts (31)-(34)."""
from __future__ import annotations

import argparse

import numpy as np

from ..laws import HeNormal
from ..network import Network
from ..theory import (
    Ball,
    Box,
    NetworkLaw,
    Rectangle,
    Segment,
    WholeSpace,
    compare,
    corollary7,
    init_facts,
    measure,
    segment_expected_count,
    theorem6,
)
from ._common import (
    add_json_arg,
    add_network_args,
    add_progress_arg,
    check_device,
    emit,
    parse_activation,
    parse_floats,
    parse_law,
    parse_spec,
    show_progress,
)


def register(sub) -> None:
    p = sub.add_parser(
        "theory", help="Theorem 6 (Hanin & Rolnick) predicted vs measured boundary volumes",
        description="Evaluate Theorem 6 for a random-network law (--mlp) or a saved model (--model, with its "
                    "--bias law) on a domain, and hold it against exact counts (line, plane) or Crofton estimates. "
                    "With --facts: facts (31)-(34) at He initialisation instead.")
    add_network_args(p, default_spec="2-16x3-1")
    g = p.add_argument_group("theory")
    g.add_argument("--domain", default="segment",
                   help="segment (from --x0/--x1, default two random N(0, I) points), square:R (the plane of the first "
                        "two inputs, [-R, R]^2), box:R ([-R, R]^n), ball:R, or whole (all of R^n_in, n_in = 1 or 2)")
    g.add_argument("--x0", default=None, help="segment start, comma-separated")
    g.add_argument("--x1", default=None, help="segment end, comma-separated")
    g.add_argument("--k", default="1", help="comma-separated k (codimensions), e.g. 1,2 (default 1)")
    g.add_argument("--kind", default="linear", choices=("linear", "activation"), help="boundary of linear (B_N) or activation regions")
    g.add_argument("--networks", type=int, default=None, help="networks sampled from the law (--mlp; default 16). A --model is "
                   "one fixed network: Theorem 6 is then evaluated for its weights with biases drawn from --bias")
    g.add_argument("--samples", type=int, default=1024, help="Monte Carlo inputs per network (default 1024)")
    g.add_argument("--crofton", type=int, default=200, help="random chords/planes per network for Crofton measurements (default 200)")
    g.add_argument("--method", default="auto", choices=("auto", "closed", "mc"), help="closed form (segments) or Monte Carlo")
    g.add_argument("--bounds", action="store_true", help="also print the Corollary 7 bound for each k")
    g.add_argument("--facts", action="store_true", help="print facts (31)-(34) at He init for the --mlp architecture (ReLU)")
    g.add_argument("--device", default=None, help="torch device for the estimators (cpu, cuda)")
    add_json_arg(p)
    add_progress_arg(p)
    p.set_defaults(func=run)


def _domain(args: argparse.Namespace, n_in: int, rng: np.random.Generator):
    name, _, par = args.domain.partition(":")
    name = name.strip().lower()
    try:
        r = float(par) if par else 1.0
    except ValueError:
        raise ValueError(f"--domain {args.domain!r}: the radius after ':' must be a number, e.g. square:1") from None
    if not (np.isfinite(r) and r > 0):
        raise ValueError(f"--domain {args.domain!r}: the radius must be a positive number")
    if name == "segment":
        if (args.x0 is None) != (args.x1 is None):
            raise ValueError("give both --x0 and --x1")
        if args.x0 is not None:
            return Segment(parse_floats(args.x0, "x0"), parse_floats(args.x1, "x1"))
        return Segment(rng.normal(size=n_in), rng.normal(size=n_in))
    if name == "square":
        if n_in < 2:
            raise ValueError("--domain square needs at least 2 inputs")
        return Rectangle(np.zeros(n_in), np.eye(n_in)[:, :2], (-r, r, -r, r))
    if name == "box":
        return Box.cube(n_in, r)
    if name == "ball":
        return Ball(np.zeros(n_in), r)
    if name == "whole":
        return WholeSpace(n_in, r)
    raise ValueError(f"unknown --domain {args.domain!r}; choose segment, square:R, box:R, ball:R or whole")


def _model(args: argparse.Namespace):
    law = parse_law(args.bias)
    if args.model:
        if args.mlp:
            raise ValueError("give either --mlp or --model, not both")
        from ..torch_io import load_model

        return load_model(args.model, trust=args.trust_pickle), law
    n_in, widths, n_out = parse_spec(args.mlp or args._default_spec)
    return NetworkLaw(n_in, tuple(widths), n_out, parse_activation(args.activation), HeNormal(), law), None


def _fmt(v: float, f: str = ".5g") -> str:
    return "—" if v is None or not np.isfinite(v) else format(v, f)


def _facts_text(facts, header: str) -> str:
    """Facts (31)-(34) as a table: one row per fact and layer, estimate ± SE, the paper's formula
    (a lower bound marked ≥), the exact value derived here, and z against the exact value (else
    the formula); bounds say whether they hold instead of a z."""
    rows = [("fact", "layer", "estimate", "± se", "paper", "exact", "z / bound")]
    for f in facts:
        if f.bound:
            zcol = "holds" if f.estimate >= f.formula - 2 * f.se else "FAILS"
            paper = f"≥ {_fmt(f.formula)}"
        else:
            zcol = _fmt(f.z, "+.2f")
            paper = _fmt(f.formula)
        rows.append((f.name, str(f.layer), _fmt(f.estimate), _fmt(f.se, ".2g"), paper, _fmt(f.exact), zcol))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [header]
    for j, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("Layers are 0-based (the paper's layer + 1). z = (estimate - exact) / se where an exact value is "
                 "derived, else against the paper's formula; see docs/theory.md §5 for the exact values.")
    return "\n".join(lines)


def _run_facts(args: argparse.Namespace) -> int:
    if args.model:
        raise ValueError("--facts is about He-initialised ReLU nets: give the architecture with --mlp, not --model")
    if args.activation.strip().lower() != "relu":
        raise ValueError(f"--facts holds for ReLU only (the appendix's setting), got --activation {args.activation!r}")
    n_in, widths, _ = parse_spec(args.mlp or args._default_spec)
    law = parse_law(args.bias)
    std = getattr(law, "std", None)
    if std is None or getattr(law, "mean", 0.0) != 0.0 or type(law).__name__ != "Normal":
        raise ValueError(f"--facts needs normal biases (--bias normal:STD), got {args.bias!r}")
    n_networks = max(2, (args.networks or 16) * 100)
    facts = init_facts(n_in, widths, bias_std=float(std), n_networks=n_networks, seed=args.seed)
    summary = {"facts": [dict(f.__dict__, z=f.z) for f in facts]}
    header = (f"Facts (31)-(34) at He initialisation: ReLU {n_in}-{'-'.join(map(str, widths))}, biases N(0, {float(std):g}²), "
              f"at x = (1, ..., 1); {n_networks} networks")
    emit(args, summary, _facts_text(facts, header))
    return 0


def _run_fixed(args: argparse.Namespace, net: Network, bias_law, domain, ks: list[int], device) -> int:
    """One fixed network: its measured value, and Theorem 6 for its weights with biases drawn from
    the bias law (the expectation the measurement is one draw of). No z-score: a single draw of
    the biases is not a sample of the prediction's distribution."""
    closed = isinstance(domain, Segment) or (isinstance(domain, WholeSpace) and domain.dim == 1)
    rows, out = [], []
    for k in ks:
        meas = measure(net, domain, k, kind=args.kind, n_networks=1, seed=args.seed, crofton_n=args.crofton)
        if k == 1 and closed and args.method != "mc":
            ends = (domain.x0, domain.x1) if isinstance(domain, Segment) else (np.zeros(1), None)
            pred, pred_se, how = float(segment_expected_count(net, *ends, bias_law=bias_law, kind=args.kind)), 0.0, "closed form (exact)"
        else:
            if args.method == "closed":
                raise ValueError("--method closed exists for k = 1 on a segment or the whole line only")
            est = theorem6(net, domain, k, bias_law=bias_law, kind=args.kind, n_samples=args.samples, seed=args.seed,
                           device=device, progress=show_progress(args))
            pred, pred_se, how = float(est.value), float(est.se), f"Monte Carlo, {args.samples} inputs"
        rows.append({"k": k, "kind": args.kind, "measured": meas.value, "measured_se": meas.se, "measured_by": meas.method,
                     "theorem6": pred, "theorem6_se": pred_se, "theorem6_method": how})
    summary = {"model": repr(net), "domain": repr(domain), "bias_law": repr(bias_law), "fixed_network": True, "rows": rows}
    out.append(f"One fixed network: {net} on {domain}")
    hidden = np.concatenate([np.asarray(b).ravel() for b in net.biases[:-1]])
    summary["hidden_bias_std"] = float(hidden.std())
    out.append(f"Theorem 6 for these weights with biases redrawn from {bias_law!r} (--bias), next to this network's own value. "
               f"(This network's hidden biases have std {hidden.std():.3g} and mean {hidden.mean():.3g}: choose --bias to match "
               "the law they came from.)")
    head = f"{'k':>2}  {'kind':<10}  {'measured':>11}  {'± se':>8}  {'Theorem 6':>11}  {'± se':>8}  measured by / Theorem 6 by"
    out.append(head)
    for r in rows:
        mse = "exact" if r["measured_se"] == 0 else _fmt(r["measured_se"], ".2g")
        pse = "exact" if r["theorem6_se"] == 0 else _fmt(r["theorem6_se"], ".2g")
        out.append(f"{r['k']:>2}  {r['kind']:<10}  {_fmt(r['measured']):>11}  {mse:>8}  {_fmt(r['theorem6']):>11}  {pse:>8}  "
                   f"{r['measured_by']} / {r['theorem6_method']}")
    out.append("The measured value is one draw of the biases; Theorem 6 is the mean over the bias law, so no z-score is given. "
               "To test the formula, sample a law: --mlp with --networks.")
    emit(args, summary, "\n".join(out))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.networks is not None and args.networks < 1:
        raise ValueError(f"--networks must be at least 1, got {args.networks}")
    if args.samples < 1 or args.crofton < 1:
        raise ValueError("--samples and --crofton must be at least 1")
    if args.facts:
        return _run_facts(args)
    device = check_device(args.device)
    if args.model and args.networks is not None:
        raise ValueError("--networks samples a law (--mlp); a --model is one fixed network (its Theorem 6 estimate "
                         "averages over --bias instead)")
    model, bias_law = _model(args)
    try:
        ks = [int(v) for v in args.k.split(",")]
    except ValueError:
        raise ValueError(f"--k must be comma-separated integers, got {args.k!r}") from None
    if any(k < 1 for k in ks):
        raise ValueError(f"--k must be positive codimensions, got {args.k!r}")
    domain = _domain(args, model.n_in, np.random.default_rng(args.seed + 1))
    if isinstance(model, Network):
        if args.bounds:
            raise ValueError("--bounds (Corollary 7) is for a law (--mlp)")
        return _run_fixed(args, model, bias_law, domain, ks, device)
    n_networks = args.networks or 16
    table = compare(model, domain, ks, bias_law=bias_law, kind=args.kind, n_networks=n_networks, n_samples=args.samples,
                    method=args.method, seed=args.seed, device=device, crofton_n=args.crofton, progress=show_progress(args))
    summary = table.to_dict()
    text = table.to_text()
    if args.bounds:
        bounds = []
        for k in ks:
            c7 = corollary7(model, domain, k, bias_law=bias_law, kind=args.kind, n_networks=n_networks, seed=args.seed,
                            device=device, crofton_n=args.crofton)
            bounds.append(c7)
        summary["corollary7"] = [dict(c.__dict__, ratio=c.ratio) for c in bounds]
        text += "\n" + "\n".join(repr(c) for c in bounds)
    emit(args, summary, text)
    return 0
