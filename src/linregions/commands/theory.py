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
)
from ._common import add_json_arg, add_network_args, emit, parse_activation, parse_law, parse_spec, parse_floats


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
    g.add_argument("--networks", type=int, default=16, help="networks sampled from the law (default 16)")
    g.add_argument("--samples", type=int, default=1024, help="Monte Carlo inputs per network (default 1024)")
    g.add_argument("--crofton", type=int, default=200, help="random chords/planes per network for Crofton measurements (default 200)")
    g.add_argument("--method", default="auto", choices=("auto", "closed", "mc"), help="closed form (segments) or Monte Carlo")
    g.add_argument("--bounds", action="store_true", help="also print the Corollary 7 bound for each k")
    g.add_argument("--facts", action="store_true", help="print facts (31)-(34) at He init for the --mlp architecture (ReLU)")
    g.add_argument("--device", default=None, help="torch device for the estimators (cpu, cuda)")
    add_json_arg(p)
    p.set_defaults(func=run)


def _domain(args: argparse.Namespace, n_in: int, rng: np.random.Generator):
    name, _, par = args.domain.partition(":")
    name = name.strip().lower()
    r = float(par) if par else 1.0
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


def run(args: argparse.Namespace) -> int:
    if args.facts:
        n_in, widths, _ = parse_spec(args.mlp or args._default_spec)
        std = float(parse_law(args.bias).std)
        facts = init_facts(n_in, widths, bias_std=std, n_networks=max(2, args.networks * 100), seed=args.seed)
        summary = {"facts": [dict(f.__dict__, z=f.z) for f in facts]}
        text = "\n".join(["Facts (31)-(34) at He initialisation (ReLU), estimate ± se vs the paper's formula and the exact value:"]
                         + [repr(f) for f in facts])
        emit(args, summary, text)
        return 0
    model, bias_law = _model(args)
    try:
        ks = [int(v) for v in args.k.split(",")]
    except ValueError:
        raise ValueError(f"--k must be comma-separated integers, got {args.k!r}") from None
    domain = _domain(args, model.n_in, np.random.default_rng(args.seed + 1))
    n_networks = 1 if isinstance(model, Network) else args.networks
    table = compare(model, domain, ks, bias_law=bias_law, kind=args.kind, n_networks=n_networks, n_samples=args.samples,
                    method=args.method, seed=args.seed, device=args.device, crofton_n=args.crofton, progress=True)
    summary = table.to_dict()
    text = table.to_text()
    if args.bounds:
        bounds = []
        for k in ks:
            c7 = corollary7(model, domain, k, bias_law=bias_law, kind=args.kind, n_networks=n_networks, seed=args.seed,
                            device=args.device, crofton_n=args.crofton)
            bounds.append(c7)
        summary["corollary7"] = [dict(c.__dict__, ratio=c.ratio) for c in bounds]
        text += "\n" + "\n".join(repr(c) for c in bounds)
    emit(args, summary, text)
    return 0
