"""Options shared by the subcommands: which network, which laws, JSON output."""
from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

import numpy as np

from .. import activations as A
from ..laws import Laplace, Normal, Uniform, Zero, random_mlp
from ..network import Network

ACTIVATIONS = {
    "relu": lambda *p: A.relu(),
    "leaky_relu": lambda *p: A.leaky_relu(*(p or (0.01,))),
    "hard_tanh": lambda *p: A.hard_tanh(*p),
    "abs": lambda *p: A.absolute(),
    "relu6": lambda *p: A.relu6(),
    "hard_sigmoid": lambda *p: A.hard_sigmoid(),
    "soft_shrink": lambda *p: A.soft_shrink(*p),
}
LAWS = {
    "normal": lambda *p: Normal(*p),
    "uniform": lambda *p: Uniform(*p),
    "laplace": lambda *p: Laplace(*p),
    "zero": lambda *p: Zero(),
}


def _parse_call(text: str, table: dict, what: str):
    name, _, params = text.partition(":")
    name = name.strip().lower().replace("-", "_")
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}; choose from {', '.join(table)} (parameters after ':', e.g. leaky_relu:0.1, normal:0.1, uniform:-0.3,0.3)")
    try:
        vals = [float(v) for v in params.split(",")] if params else []
    except ValueError:
        raise ValueError(f"{what} parameters must be numbers, got {params!r}") from None
    return table[name](*vals)


def parse_floats(text: str, name: str) -> np.ndarray:
    """'0.5,-1,2' -> array([0.5, -1., 2.]); ``name`` is the option, for the error message."""
    try:
        return np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise ValueError(f"--{name} must be comma-separated numbers like 0.5,-1,2 (negative first value: --{name}=-1,2), got {text!r}") from None


def parse_activation(text: str) -> A.PiecewiseLinear:
    """'relu', 'leaky_relu:0.1', 'hard_tanh:-1,1', 'abs', ..."""
    return _parse_call(text, ACTIVATIONS, "activation")


def parse_law(text: str):
    """'normal:0.1' (std), 'uniform:-0.3,0.3', 'laplace:0.1' (scale), 'zero'."""
    return _parse_call(text, LAWS, "law")


def parse_spec(spec: str) -> tuple[int, list[int], int]:
    """'784-256x4-10' -> (784, [256, 256, 256, 256], 10). The output size may be left out (then 1)
    when the spec ends with a repeated group ('784-256x4') or has only two sizes ('2-64')."""
    parts = [p for p in re.split(r"[-,\s]+", spec.strip()) if p]
    sizes: list[int] = []
    try:
        for p in parts:
            if "x" in p:
                w, r = p.split("x")
                sizes += [int(w)] * int(r)
            else:
                sizes.append(int(p))
    except ValueError:
        raise ValueError(f"cannot read the architecture {spec!r}; write it like 784-256x4-10 (input, hidden widths, output)") from None
    if len(sizes) < 2:
        raise ValueError(f"architecture {spec!r} needs an input size and at least one hidden width")
    if len(sizes) == 2 or "x" in parts[-1]:
        return sizes[0], sizes[1:], 1
    return sizes[0], sizes[1:-1], sizes[-1]


def add_network_args(p: argparse.ArgumentParser, default_spec: str = "2-32x3-1") -> None:
    g = p.add_argument_group("network")
    g.add_argument("--mlp", default=None, metavar="SPEC", help=f"random MLP 'n_in-widths-n_out', e.g. 784-256x4-10 (default {default_spec})")
    g.add_argument("--model", default=None, metavar="PATH", help="a saved model: TorchScript, or a pickled nn.Sequential with --trust-pickle")
    g.add_argument("--trust-pickle", action="store_true", help="allow loading a pickled module (runs code from the file)")
    g.add_argument("--activation", default="relu", help="for --mlp: relu, leaky_relu:A, hard_tanh[:lo,hi], abs, relu6, hard_sigmoid, soft_shrink:L")
    g.add_argument("--bias", default="normal:0.1", help="for --mlp: bias law normal:STD, uniform:A,B, laplace:SCALE or zero (default normal:0.1)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(_default_spec=default_spec)


def network_from_args(args: argparse.Namespace) -> Network:
    if args.model and args.mlp:
        raise ValueError("give either --mlp or --model, not both")
    if args.model:
        from ..torch_io import load_model

        return load_model(args.model, trust=args.trust_pickle)
    n_in, widths, n_out = parse_spec(args.mlp or args._default_spec)
    return random_mlp(n_in, widths, n_out, activation=parse_activation(args.activation), biases=parse_law(args.bias), seed=args.seed)


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def emit(args: argparse.Namespace, summary: dict, text: str) -> None:
    if getattr(args, "json", False):
        json.dump(to_jsonable(summary), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(text)


def load_points(path: str) -> np.ndarray:
    """Inputs from a .npy file (N, n_in) or a text file of rows."""
    import os

    if not os.path.exists(path):
        raise FileNotFoundError(f"no points file at {path!r}")
    try:
        X = np.load(path) if path.endswith(".npy") else np.loadtxt(path, ndmin=2)
        X = np.asarray(X, dtype=np.float64)
    except (ValueError, TypeError, OSError) as e:
        raise ValueError(f"{path}: cannot read points as a numeric array of rows ({e})") from None
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(f"{path}: points must be a 2-D array (rows of inputs), got shape {X.shape}")
    return X
