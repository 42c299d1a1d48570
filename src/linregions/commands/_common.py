"""Options shared by the subcommands: which network, which laws, JSON output, output paths,
devices and progress bars. Every check here runs before any work, so that a bad argument costs
nothing and ends in one line that quotes it."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any, Callable, NamedTuple

import numpy as np

from .. import activations as A
from ..laws import Laplace, Normal, Uniform, Zero, random_mlp
from ..network import Network

#: name -> (constructor, allowed numbers of parameters, how to write them)
ACTIVATIONS: dict[str, tuple[Callable, tuple[int, ...], str]] = {
    "relu": (lambda: A.relu(), (0,), "relu"),
    "leaky_relu": (lambda a=0.01: A.leaky_relu(a), (0, 1), "leaky_relu[:SLOPE]"),
    "hard_tanh": (lambda lo=-1.0, hi=1.0: A.hard_tanh(lo, hi), (0, 2), "hard_tanh[:MIN,MAX]"),
    "abs": (lambda: A.absolute(), (0,), "abs"),
    "relu6": (lambda: A.relu6(), (0,), "relu6"),
    "hard_sigmoid": (lambda: A.hard_sigmoid(), (0,), "hard_sigmoid"),
    "soft_shrink": (lambda lam=0.5: A.soft_shrink(lam), (0, 1), "soft_shrink[:LAMBDA]"),
}
LAWS: dict[str, tuple[Callable, tuple[int, ...], str]] = {
    "normal": (lambda std, mean=0.0: Normal(std, mean), (1, 2), "normal:STD[,MEAN]"),
    "uniform": (lambda a, b: Uniform(a, b), (2,), "uniform:LOW,HIGH"),
    "laplace": (lambda s, loc=0.0: Laplace(s, loc), (1, 2), "laplace:SCALE[,LOC]"),
    "zero": (lambda: Zero(), (0,), "zero"),
}


def _parse_call(text: str, table: dict, what: str):
    name, _, params = text.partition(":")
    name = name.strip().lower().replace("-", "_")
    if name not in table:
        raise ValueError(f"unknown {what} {name!r} in {text!r}; choose from {', '.join(table)} "
                         "(parameters after ':', e.g. leaky_relu:0.1, normal:0.1, uniform:-0.3,0.3)")
    make, arities, usage = table[name]
    try:
        vals = [float(v) for v in params.split(",")] if params.strip() else []
    except ValueError:
        raise ValueError(f"{what} parameters must be numbers, got {params!r} in {text!r}") from None
    if len(vals) not in arities:
        takes = " or ".join("no parameter" if n == 0 else f"{n} parameter{'s' if n > 1 else ''}" for n in arities)
        raise ValueError(f"{what} {name!r} takes {takes} (write {usage}), got {len(vals)} in {text!r}")
    if not all(np.isfinite(vals)):
        raise ValueError(f"{what} parameters must be finite numbers, got {text!r}")
    return make(*vals)


def parse_floats(text: str, name: str) -> np.ndarray:
    """'0.5,-1,2' -> array([0.5, -1., 2.]); ``name`` is the option, for the error message."""
    try:
        vals = np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise ValueError(f"--{name} must be comma-separated numbers like 0.5,-1,2 (negative first value: --{name}=-1,2), got {text!r}") from None
    if not np.all(np.isfinite(vals)):
        raise ValueError(f"--{name} must be finite numbers, got {text!r}")
    return vals


def parse_activation(text: str) -> A.PiecewiseLinear:
    """'relu', 'leaky_relu:0.1', 'hard_tanh:-1,1', 'abs', ... A parameter the activation does not
    take is refused (``relu:5`` is an error, not ReLU)."""
    return _parse_call(text, ACTIVATIONS, "activation")


def parse_law(text: str):
    """'normal:0.1' (std), 'uniform:-0.3,0.3', 'laplace:0.1' (scale), 'zero'."""
    return _parse_call(text, LAWS, "law")


_SPEC_TOKEN = re.compile(r"^(\d+)(?:x(\d+))?$")


def parse_spec(spec: str) -> tuple[int, list[int], int]:
    """'784-256x4-10' -> (784, [256, 256, 256, 256], 10). The output size may be left out (then 1)
    when the spec ends with a repeated group ('784-256x4') or has only two sizes ('2-64').

    Sizes are positive integers separated by single '-' (or ','); an empty size (``2--3``), a sign
    (``-2-3``) or anything else is refused with the spec quoted.
    """
    bad = ValueError(f"cannot read the architecture {spec!r}; write positive sizes separated by '-', like "
                     "784-256x4-10 (input, hidden widths, output; WxR repeats width W R times)")
    text = spec.strip()
    if not text:
        raise bad
    tokens = re.split(r"\s*[-,]\s*", text)
    sizes: list[int] = []
    for tok in tokens:
        m = _SPEC_TOKEN.match(tok)
        if m is None:
            raise bad
        w, r = int(m.group(1)), int(m.group(2) or 1)
        if w < 1 or r < 1:
            raise ValueError(f"architecture {spec!r}: sizes and repeat counts must be at least 1, got {tok!r}")
        sizes += [w] * r
    if len(sizes) < 2:
        raise ValueError(f"architecture {spec!r} needs an input size and at least one hidden width")
    if len(sizes) == 2 or "x" in tokens[-1]:
        return sizes[0], sizes[1:], 1
    return sizes[0], sizes[1:-1], sizes[-1]


def add_network_args(p: argparse.ArgumentParser, default_spec: str = "2-32x3-1", *, modules: bool = False) -> None:
    """``--mlp``/``--model`` and the law options; ``modules=True`` adds ``--input-shape`` (torch
    modules through the torch-native engine, ``module_from_args``)."""
    g = p.add_argument_group("network")
    g.add_argument("--mlp", default=None, metavar="SPEC", help=f"random MLP 'n_in-widths-n_out', e.g. 784-256x4-10 (default {default_spec})")
    g.add_argument("--model", default=None, metavar="PATH", help="a saved model: TorchScript, or a pickled module with --trust"
                   + ("; with --input-shape a CNN/ResNet, run by the torch-native engine (its own ops)" if modules else ""))
    g.add_argument("--trust-pickle", "--trust", dest="trust_pickle", action="store_true",
                   help="allow loading a pickled module (runs code from the file)")
    if modules:
        g.add_argument("--input-shape", default=None, metavar="C,H,W",
                       help="with --model: the input shape of one sample (e.g. 3,32,32 or 1,28,28); the model then runs as "
                       "a torch module through the torch-native engine, and points are shaped like samples")
    g.add_argument("--activation", default="relu", help="for --mlp: relu, leaky_relu[:SLOPE], hard_tanh[:MIN,MAX], abs, relu6, hard_sigmoid, soft_shrink[:LAMBDA]")
    g.add_argument("--bias", default="normal:0.1", help="for --mlp: bias law normal:STD, uniform:LOW,HIGH, laplace:SCALE or zero (default normal:0.1)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(_default_spec=default_spec)


_SHAPE_TOKEN = re.compile(r"^\s*(\d+)\s*$")


def parse_shape(text: str, option: str = "--input-shape") -> tuple[int, ...]:
    """'3,32,32' -> (3, 32, 32): positive integers separated by single commas; anything else (an
    empty size, a sign, a float, another separator) is refused with the text quoted."""
    parts = str(text).split(",")
    if not str(text).strip() or any(_SHAPE_TOKEN.match(t) is None for t in parts):
        raise ValueError(f"{option} must be positive integers separated by commas, like 3,32,32, got {text!r}")
    shape = tuple(int(t) for t in parts)
    if min(shape) < 1:
        raise ValueError(f"{option} sizes must be at least 1, got {text!r}")
    return shape


class LoadedModule(NamedTuple):
    """A saved torch module for the torch-native engine: the module (eval mode), the input shape of
    one sample, and its compiled ``engine.ModuleProgram`` (on the requested device)."""

    module: Any
    shape: tuple[int, ...]
    program: Any


def module_from_args(args: argparse.Namespace, device: Any = None) -> LoadedModule | None:
    """``--model`` with ``--input-shape``: the module, its shape and its program (compiled here, so
    that an unsupported op or a wrong shape ends in one line naming it, before any work); None
    when ``--input-shape`` is not given (the model is then read as a ``Network``)."""
    if getattr(args, "input_shape", None) is None:
        return None
    shape = parse_shape(args.input_shape)
    if not args.model:
        raise ValueError("--input-shape applies to --model (a saved torch module), not to --mlp")
    if args.mlp:
        raise ValueError("give either --mlp or --model, not both")
    from ..torch_io import load_module

    module = load_module(args.model, trust=args.trust_pickle).eval()
    from ..engine import compile_program

    return LoadedModule(module, shape, compile_program(module, shape, device))


def load_samples(path: str, shape: tuple[int, ...], option: str) -> np.ndarray:
    """(N,) + shape inputs from a ``.npy`` file holding one sample (``shape``), a batch
    (``(N,) + shape``) or flattened rows (N, prod(shape)); other files as ``load_points`` rows."""
    n = int(np.prod(shape))
    if path.lower().endswith(".npy") and os.path.isfile(path):
        try:
            X = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
        except (ValueError, TypeError, OSError) as e:
            raise ValueError(f"{option} {path!r}: cannot read a numeric array ({e})") from None
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{option} {path!r}: the inputs contain NaN or inf")
    else:
        X = load_points(path)
    if X.shape == shape or X.shape == (n,):
        return X.reshape((1,) + shape)
    if X.ndim == 2 and X.shape[1] == n:
        return X.reshape((-1,) + shape)
    if X.shape[1:] == shape and X.shape[0] > 0:
        return X
    raise ValueError(f"{option} {path!r}: an array of shape {X.shape} does not hold inputs of shape {shape} (give "
                     f"{shape}, (N, {', '.join(map(str, shape))}) or (N, {n}))")


def point_arg(text: str, shape: tuple[int, ...] | None, option: str) -> np.ndarray:
    """``--x0``/``--x1``: comma-separated numbers, or a ``.npy`` file holding one input (with a
    module: one sample of ``shape``)."""
    if shape is None and text.lower().endswith(".npy"):
        X = load_points(text)
        if X.shape[0] != 1:
            raise ValueError(f"{option} {text!r}: holds {X.shape[0]} inputs; give one")
        return X[0]
    if shape is not None and (text.lower().endswith(".npy") or os.path.isfile(text)):
        X = load_samples(text, shape, option)
        if X.shape[0] != 1:
            raise ValueError(f"{option} {text!r}: holds {X.shape[0]} inputs; give one sample of shape {shape}")
        return X[0]
    v = parse_floats(text, option.lstrip("-"))
    if shape is not None:
        if v.size != int(np.prod(shape)):
            raise ValueError(f"{option} has {v.size} number(s), the input shape {shape} needs {int(np.prod(shape))}; "
                             "give a .npy file of one sample")
        return v.reshape(shape)
    return v


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


def add_progress_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bars (by default they show on a terminal, on stderr)")


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars (tqdm, on stderr) unless ``--no-progress`` or stderr is not a terminal."""
    if getattr(args, "no_progress", False):
        return False
    if getattr(args, "progress", False):
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def check_device(device: Any) -> Any:
    """``--device``: None, or a torch device usable here; anything else is a ValueError quoting it."""
    if device is None:
        return None
    from ..torch_io import check_device as _check

    return _check(device)


def check_output_path(path: str | os.PathLike, option: str, *, directory: bool = False, suffixes: tuple[str, ...] | None = None) -> None:
    """Refuse, before any work, an output path that cannot be written: a directory where a file is
    meant (or a file where a directory is meant), a parent that is a file or does not exist, a
    folder without write permission, or a file type we cannot write (``suffixes``, lower case)."""
    p = os.fspath(path)
    if not p:
        raise ValueError(f"{option}: empty path")
    if directory:
        if os.path.exists(p) and not os.path.isdir(p):
            raise ValueError(f"{option} {p!r} is a file, not a directory")
        anc = os.path.abspath(p)
        while not os.path.exists(anc):
            anc = os.path.dirname(anc)
        if not os.path.isdir(anc):
            raise ValueError(f"{option} {p!r}: {anc!r} is a file, so the directory cannot be created")
        if not os.access(anc, os.W_OK | os.X_OK):
            raise ValueError(f"{option} {p!r}: no permission to write in {anc!r}")
        return
    if os.path.isdir(p):
        raise ValueError(f"{option} {p!r} is a directory; give a file name")
    if suffixes is not None:
        ext = os.path.splitext(p)[1].lower()
        if ext not in suffixes:
            raise ValueError(f"{option} {p!r}: cannot write a {ext or 'suffix-less'} file; use one of {', '.join(suffixes)}")
    parent = os.path.dirname(os.path.abspath(p))
    if not os.path.exists(parent):
        anc = parent
        while not os.path.exists(anc):
            anc = os.path.dirname(anc)
        if not os.path.isdir(anc):
            raise ValueError(f"{option} {p!r}: {anc!r} is a file, not a directory")
        raise ValueError(f"{option} {p!r}: the directory {parent!r} does not exist")
    if not os.path.isdir(parent):
        raise ValueError(f"{option} {p!r}: {parent!r} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(p) and not os.access(p, os.W_OK)):
        raise ValueError(f"{option} {p!r}: no permission to write there")


def figure_suffixes() -> tuple[str, ...]:
    """File types matplotlib can write (``--png``, ``--figure``)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple("." + k for k in FigureCanvasBase.get_supported_filetypes())


def table_suffix_check(path: str, option: str) -> None:
    """A table output: ``.csv`` (or any other name: CSV text) or ``.parquet`` (needs pyarrow: the
    ``parquet`` extra). Checked before the work."""
    check_output_path(path, option)
    if path.lower().endswith(".parquet"):
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise ValueError(f"{option} {path!r}: writing Parquet needs pyarrow (pip install 'linregions[parquet]'), or give a .csv name")


def write_table(df, path: str) -> None:
    """Write a pandas table as Parquet (``.parquet``) or CSV (anything else)."""
    if path.lower().endswith(".parquet"):
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)


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
    """Inputs from a ``.npy`` file (N, n_in), or a text file (``.txt``, ``.csv``, any other name)
    with one input per row, numbers separated by spaces, tabs or commas; ``#`` starts a comment."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no points file at {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a directory, not a points file")
    try:
        if path.lower().endswith(".npy"):
            X = np.load(path, allow_pickle=False)
        else:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            data = "\n".join(ln.split("#", 1)[0] for ln in text.splitlines())
            delim = "," if "," in data else None
            X = np.loadtxt(path, ndmin=2, delimiter=delim, comments="#")
        if np.iscomplexobj(X):
            raise ValueError("complex numbers are not inputs")
        X = np.asarray(X, dtype=np.float64)
    except (ValueError, TypeError, OSError) as e:
        raise ValueError(f"{path}: cannot read points as a numeric array of rows ({e})") from None
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(f"{path}: points must be a 2-D array (rows of inputs), got shape {X.shape}")
    if X.size == 0:
        raise ValueError(f"{path}: no points in the file")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{path}: points contain NaN or inf")
    return X
