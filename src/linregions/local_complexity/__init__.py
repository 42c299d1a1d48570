"""Local complexity (LC): how dense the region boundary is around each data point, exactly.

For a batch of samples x and radii r, ``local_complexity`` returns a tidy table (one row per
sample × radius × layer; ``layer == ALL_LAYERS`` (-1) is the whole network) with four columns of
numbers that measure the same thing four ways (docs/local_complexity.md):

1. **Boundary density in the ball** B(x, r): vol_{n-1}(B ∩ B(x, r)) / vol_n(B(x, r)) for the
   linear-region boundary B_N (``density_linear``) and the activation-region boundary
   (``density_activation``), unbiased, from the exact crossings (``linregions.line.lines``) of
   ``n_chords`` isotropic random chords of the ball: a uniform point of the ball, a uniform
   direction, the chord through it; #boundary points / chord length / κ_{n,1} is unbiased for the
   density (Crofton; ``linregions.crofton``, docs/theory.md). ``*_se`` are standard errors over the
   chords. Per layer: the boundary points where a neuron of that layer switches.
2. **Exact probe counts**: on the 2P probe segments [x, x ± r q_i] (q_i the rows of a random
   orthogonal matrix: the proxy's own probe geometry, P = n by default), the exact number of
   crossings (neuron switchings; ``probe_crossings_activation``; ``probe_crossings_linear`` counts
   those at a linear-region boundary) and the number of distinct neurons crossed on any probe
   (``probe_neurons``; ``probe_neurons_linear``: at a linear boundary).
   ``close_decisions`` (per sample and radius, repeated on its rows) counts the tolerance
   decisions of the exact line partitions (chords and probes) that were left close
   (``LineBatch.close_decisions``): where it is not 0, a count depends on a close call.
3. **The published proxy** (Humayun, Balestriero & Baraniuk, ICML 2024): the number of neurons
   whose piece (for ReLU: the sign of the pre-activation) is not constant over the 2P vertices
   x ± r q_i, computed from one forward pass of all vertices (``proxy``), and its undercount
   ``proxy_undercount = probe_neurons - proxy`` (never negative: a neuron whose piece differs
   between two vertices switches on the path vertex → x → vertex').
4. **The Hanin–Rolnick prediction at x** (given ``bias_law``): the Theorem 6 k = 1 integrand
   Σ_z Σ_i ‖∇z̃(x)‖ ρ_β(ξ_i - z̃(x)) (times 1{z good}, in the substituted network, for the linear
   kind; ``hr_linear``, ``hr_activation``), the r → 0 limit of column 1 in expectation over the
   biases' law (``theory``'s own kernel). It does not depend on r.

Conventions and limits. A neuron that switches exactly at x (u(x) on a breakpoint: measure zero
for continuous laws, normal with zero biases at x = 0) is crossed on no half-probe (``line`` on
[x, x + r q] ignores its own ends); it is counted among the distinct neurons of column 2 (it is
not constant on the star of probes) and in ``probe_at_center``, not among the crossings. So the
proxy never exceeds ``probe_neurons`` except through a tolerance decision at a vertex (a crossing
within ``T_MERGE`` of a probe's end, which ``line`` merges into the end). The probe directions are one random orthogonal
matrix per call (``seed``), shared by all samples and radii, so radii are compared on the same
probes (a fresh Haar matrix per sample would cost a QR of n × n each).

Cost. All probes of a sample share its centre x, and under x's pattern their pre-activations are
affine. One Jacobian-times-probes pass per sample (``local_complexity.star``) bounds, layer by
layer, how far each unit can move on every probe: the few units that may switch on the star are its
*candidates*, every other unit is certified affine there, so on the star the network equals a
compact network whose only switching units are the candidates (exactly: the same crossings at the
same t, the same output slopes). The exact 1D engine (``lines``) runs on that compact network, and
only on the diameters a candidate may reach; the proxy is read off x's pattern and the same exact
crossings (no forward pass of the 2P vertices); the chords run in first-layer coordinates. Samples
with a unit at a breakpoint at x, or whose compact network would be no smaller, take the plain path
(the whole network). On modules, the proxy's forward pass of the vertices certifies the empty
diameters instead (``local_complexity.probes``).

Torch modules. An ``nn.Sequential`` MLP is converted by ``Network.from_torch``; any other module
(CNNs, ResNets) runs through the torch-native engine (``local_complexity.modules.ModuleModel``: chords and probes
by ``engine.lines`` on the module's own ops, the proxy and patterns by value passes of its ops,
column 4's activation kind by forward-mode tangents, ``theory.module_k1``), on ``device``, with
``layer`` = activation site. Column 4's linear kind is NaN where Theorem 6's linear-kind estimator
does not apply or is not evaluated: convolutions share biases (assumption A2), and the engine does
not evaluate goodness in the substituted network.

>>> from linregions import random_mlp
>>> import numpy as np
>>> net = random_mlp(3, [16, 16], seed=0)
>>> df = local_complexity(net, np.zeros((2, 3)), [0.5, 1.0], n_chords=16, progress=False)
>>> sorted(df["layer"].unique().tolist()), len(df)
([-1, 0, 1], 12)
>>> bool((df["proxy"] <= df["probe_neurons"]).all())
True
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .._kernels_line import one_blas_thread
from ..network import Network, _as_matrix
from .columns import _density, _hr_values, _probes, _unit_layers
from .probes import _star, probe_directions, published_proxy  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # pandas and scipy (crofton) load on first use: ``import linregions`` stays light
    import pandas as pd

__all__ = ["ALL_LAYERS", "COLUMNS", "local_complexity", "lc_summary", "probe_directions", "published_proxy",
           "is_log_step", "log_steps"]

#: ``layer`` value of the rows that hold the whole network (all layers together).
ALL_LAYERS = -1

#: The column groups ``local_complexity`` can compute (``columns=``).
COLUMNS = ("density", "probes", "proxy", "theory")


#: Target number of segments handed to one ``lines`` call (chunks of samples are cut to it).
_SEGMENTS_PER_CALL = 16384


# ----------------------------------------------------------------------------------------------
# the table


def _as_model(net: Any, X: Any, input_shape: Any, device: Any, chunk_points: Any) -> Any:
    """A ``Network``, or a torch module as a ``Network`` (an ``nn.Sequential`` MLP, converted by
    ``Network.from_torch``: cheap, and the dense 1D engine is fast there) or as an engine
    ``ModuleModel`` (everything else: CNNs, ResNets; the module's own ops, no dense matrix)."""
    if isinstance(net, Network):
        if input_shape is not None or chunk_points is not None:
            raise TypeError("input_shape and chunk_points apply to torch modules, not to a linregions.Network")
        return net
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is None or not isinstance(net, torch.nn.Module):
        raise TypeError(f"model must be a linregions.Network or a torch.nn.Module, got {type(net).__name__}")
    from .modules import ModuleModel
    from ..torch_io import network_from_torch, refuse_complex

    refuse_complex(net)
    shape = None if input_shape is None else tuple(int(v) for v in np.atleast_1d(np.asarray(input_shape)).reshape(-1))
    Xs = np.shape(X.detach().cpu() if isinstance(X, torch.Tensor) else X)
    if shape is None and len(Xs) > 2:
        shape = tuple(int(v) for v in Xs[1:])  # samples shaped like the module's input
    if chunk_points is None and isinstance(net, torch.nn.Sequential):
        try:
            with torch.no_grad():
                dense = network_from_torch(net)
        except (TypeError, ValueError):
            dense = None
        if dense is not None and (shape is None or int(np.prod(shape)) == dense.n_in):
            return dense
    if shape is None:
        shape = (int(Xs[-1]),) if len(Xs) >= 1 else None
        if shape is None:
            raise ValueError("cannot tell the module's input shape from X; pass input_shape (one sample's shape)")
    return ModuleModel(net, shape, device, chunk_points)


def _check(net: Any, X: Any, radius: Any, columns: Sequence[str], input_shape: Any = None, device: Any = None,
           chunk_points: Any = None) -> tuple[Any, np.ndarray, np.ndarray]:
    module = not isinstance(net, Network)
    net = _as_model(net, X, input_shape, device, chunk_points)
    X = _as_matrix(X, "X")
    X = X[None] if X.ndim == 1 else X
    if X.ndim > 2 and module:
        X = X.reshape(X.shape[0], -1)  # samples shaped like the module's input -> flattened rows
    if X.ndim != 2 or X.shape[1] != net.n_in:
        raise ValueError(f"X must have shape (n_samples, {net.n_in}) (or ({net.n_in},)), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf")
    radii = np.atleast_1d(np.asarray(radius, dtype=np.float64)).reshape(-1)
    if radii.size == 0 or not np.all(np.isfinite(radii)) or np.any(radii <= 0):
        raise ValueError(f"radius must be a positive number or a sequence of them, got {radius!r}")
    bad = [c for c in columns if c not in COLUMNS]
    if bad or not columns:
        raise ValueError(f"columns must be a non-empty subset of {COLUMNS}, got {tuple(columns)!r}")
    return net, X, radii


def local_complexity(model: Any, X: Any, radius: float | Sequence[float], *, n_chords: int = 64,
                     n_probes: int | None = None, directions: Any = None, columns: Sequence[str] = COLUMNS, bias_law: Any = None,
                     per_neuron: bool = False, seed: int = 0, device: Any = None, batch_size: int | None = None,
                     progress: bool | None = None, input_shape: Sequence[int] | None = None,
                     chunk_points: int | None = None) -> pd.DataFrame:
    """Exact local complexity of ``model`` around each row of ``X``, at each radius (module docstring).

    Parameters
    ----------
    model : a ``Network``, or a piecewise-linear torch module: an ``nn.Sequential`` MLP is converted
        by ``Network.from_torch``; any other module (CNNs, ResNets) runs through the torch-native
        engine (``linregions.engine``: the module's own ops in float64 on ``device``, memory set by
        ``chunk_points``; ``layer`` is then the activation site and ``unit`` the flat index in it,
        as ``lines`` reports them). ``input_shape`` is one sample's shape, e.g. (1, 28, 28).
    X : (S, n_in) samples (flattened), or (S,) + input_shape for a module.
    radius : one radius or a sequence of radii.
    n_chords : random chords per sample and radius for column 1 (its SE shrinks as 1/√n_chords).
    n_probes : P, the number of orthonormal probe directions (2P probe segments and hull vertices);
        default n_in, as published.
    directions : (P, n_in) probe directions to use instead (rows; orthonormal for the published
        geometry, not checked), e.g. to compare calls on the very same probes.
    columns : which of ``COLUMNS`` to compute ("density", "probes", "proxy", "theory"); "theory"
        needs ``bias_law`` and is computed whenever ``bias_law`` is given.
    bias_law : the law of the biases (one law or one per hidden layer) for column 4.
    per_neuron : one row per sample × radius × neuron instead of per layer (columns 1-3 split by
        neuron: chord crossings of the neuron, its probe crossings, whether the proxy counts it).
    seed : seeds the probe matrix and the chords (a fixed seed gives the same probes every call).
    device : torch device of the proxy's forward pass and column 4 (exact crossings of a ``Network``
        run in numpy; a module's run on ``device`` too).
    chunk_points : rows evaluated at once by the engine (modules only; sets peak memory). Passing it
        sends an ``nn.Sequential`` MLP through the engine too.
    batch_size : samples per chunk (default: about 16k segments per ``lines`` call).
    progress : progress bar over samples (default: when there are more than 64 samples).

    Returns a ``pandas.DataFrame``; ``df.attrs`` holds the settings (κ_{n,1}, P, n_chords, seed).
    """
    import pandas as pd

    from ..crofton import Ball, kappa

    columns = tuple(columns)
    net, X, radii = _check(model, X, radius, columns, input_shape, device, chunk_points)
    if int(n_chords) < 2 and "density" in columns:
        raise ValueError(f"n_chords must be at least 2 (the standard error needs two chords), got {n_chords!r}")
    want_theory = bias_law is not None and "theory" in columns
    if "theory" in columns and not want_theory and columns != COLUMNS:
        raise ValueError("columns includes 'theory' but no bias_law was given (column 4 needs the law of the biases)")
    if directions is not None:
        Q = np.atleast_2d(_as_matrix(directions, "directions"))
        if Q.ndim != 2 or Q.shape[1] != net.n_in or not np.all(np.isfinite(Q)) or np.any(np.all(Q == 0, axis=1)):
            raise ValueError(f"directions must be non-zero finite rows of shape (P, {net.n_in}), got shape {Q.shape}")
    else:
        Q = probe_directions(net.n_in, n_probes, np.random.default_rng([int(seed), 1]))
    P, S, d = Q.shape[0], X.shape[0], net.depth
    n_ch = int(n_chords)
    kap = kappa(net.n_in, 1)
    per_sample_segments = (P if "probes" in columns else 0) + (n_ch if "density" in columns else 0)
    chunk = int(batch_size) if batch_size else max(1, _SEGMENTS_PER_CALL // max(1, per_sample_segments))
    show = (S > 64) if progress is None else bool(progress)
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=S * radii.size, desc="local complexity", unit="sample")
    hr = _hr_values(net, X, bias_law, device) if want_theory else None
    unit_layer = _unit_layers(net) if per_neuron else None
    rows: list[pd.DataFrame] = []
    for ri, r in enumerate(radii):
        ball = Ball(np.zeros(net.n_in), float(r))
        for s0 in range(0, S, chunk):
            Xc = X[s0 : s0 + chunk]
            m = Xc.shape[0]
            cols: dict[str, np.ndarray] = {}
            close = np.zeros(m)
            with one_blas_thread():  # small products (the segments run on one thread anyway)
                us = net.pre_activations(Xc) if isinstance(net, Network) else None  # the centres, once per chunk
                if "density" in columns:
                    part = _density(net, Xc, ball, n_ch, [int(seed), 2, ri, s0], kap, per_neuron, us)
                    close += part.pop("close_decisions")
                    cols.update(part)
                proxy = None
                if "probes" in columns:  # column 2, and column 3 from the same exact partitions where it can
                    part = _probes(net, Xc, float(r), Q, per_neuron, "proxy" in columns, device, us)
                    proxy = part.pop("proxy", None)
                    close += part.pop("close_decisions")
                    cols.update(part)
            if "proxy" in columns and "probes" not in columns:  # the proxy alone: one forward pass of the probe star
                proxy = _star(net, Xc, float(r), Q, device, per_neuron, False)[0]
            cols["close_decisions"] = close
            if "proxy" in columns:
                cols["proxy"] = proxy
            rows.append(_frame(cols, s0, m, float(r), d, net, hr, unit_layer))
            if bar is not None:
                bar.update(m)
    if bar is not None:
        bar.close()
    df = pd.concat(rows, ignore_index=True)
    if "proxy" in df and "probe_neurons" in df:
        df["proxy_undercount"] = df["probe_neurons"] - df["proxy"]
    df.attrs.update(kappa=kap, n_probes=P, n_chords=n_ch, seed=int(seed), n_in=net.n_in,
                    all_layers=ALL_LAYERS, network=repr(net))
    return df


def _frame(cols: dict[str, np.ndarray], s0: int, m: int, r: float, d: int, net: Network, hr: np.ndarray | None,
           unit_layer: np.ndarray | None) -> pd.DataFrame:
    """Tidy rows for a chunk: (m samples) × (1 + depth) layer rows, or × neurons."""
    import pandas as pd

    reps = unit_layer.size if unit_layer is not None else d + 1
    cols["close_decisions"] = np.repeat(cols.pop("close_decisions", np.zeros(m)), reps).reshape(m, reps)

    samples = np.arange(s0, s0 + m)
    if unit_layer is not None:  # per neuron
        N = unit_layer.size
        units = np.concatenate([np.arange(w) for w in net.widths])
        data: dict[str, Any] = {"sample": np.repeat(samples, N), "radius": r, "layer": np.tile(unit_layer, m),
                                "unit": np.tile(units, m)}
        for k, v in cols.items():
            data[k] = np.asarray(v, dtype=np.float64).reshape(-1)
        if "proxy" in data:
            data["proxy"] = data["proxy"].astype(np.int64)
        return pd.DataFrame(data)
    layers = np.concatenate([[ALL_LAYERS], np.arange(d)])
    data = {"sample": np.repeat(samples, d + 1), "radius": r, "layer": np.tile(layers, m)}
    for k, v in cols.items():
        if k == "proxy":  # (m, depth) -> with the all-layers total first
            v = np.column_stack([v.sum(axis=1), v])
        data[k] = np.asarray(v).reshape(-1)
    for k in ("probe_crossings_activation", "probe_crossings_linear", "probe_neurons", "probe_neurons_linear",
              "probe_at_center", "proxy", "close_decisions"):
        if k in data:
            data[k] = data[k].astype(np.int64)
    if hr is not None:
        h = hr[s0 : s0 + m]  # (m, depth, 2)
        full = np.concatenate([h.sum(axis=1, keepdims=True), h], axis=1)  # (m, 1 + depth, 2)
        data["hr_activation"] = full[..., 0].reshape(-1)
        data["hr_linear"] = full[..., 1].reshape(-1)
    return pd.DataFrame(data)


def lc_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per radius and layer: the mean over the samples of every column of a ``local_complexity``
    table, with ``<name>_sem``, the standard error of that mean over the samples. Standard-error
    columns (``density_*_se``) become the chord noise of the mean, sqrt(Σ se²) / #samples.

    >>> from linregions import random_mlp
    >>> net = random_mlp(2, [4], seed=0)
    >>> lc_summary(local_complexity(net, np.zeros((3, 2)), 0.5, n_chords=4, progress=False))[["radius", "layer"]].shape
    (2, 2)
    """
    values = df.drop(columns=[c for c in ("sample", "unit") if c in df])
    se_cols = [c for c in values.columns if c.endswith("_se")]
    g = values.drop(columns=se_cols).groupby(["radius", "layer"])
    out = g.mean().join(g.sem().add_suffix("_sem"))
    if se_cols:
        gs = values[["radius", "layer", *se_cols]].groupby(["radius", "layer"])
        out = out.join(np.sqrt((gs.agg(lambda v: float(np.sum(np.square(v)))))) / gs.size().to_numpy()[:, None])
    return out.reset_index()


# ----------------------------------------------------------------------------------------------
# log-spaced steps (training dynamics)


def is_log_step(step: int) -> bool:
    """Whether ``step`` is on the log-spaced schedule: every step below 30, every 10 below 150,
    every 100 below 1,000, then every 10^k for steps in [10^k, 10^(k+1)) (k >= 3).

    >>> [s for s in range(0, 400) if is_log_step(s)][28:]
    [28, 29, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 200, 300]
    """
    s = int(step)
    if s < 30:
        return s >= 0
    if s < 150:
        return s % 10 == 0
    if s < 1000:
        return s % 100 == 0
    return s % (10 ** int(math.floor(math.log10(s)))) == 0


def log_steps(last: int) -> list[int]:
    """All steps 0..``last`` on the log-spaced schedule (``is_log_step``).

    >>> log_steps(2000)[-4:]
    [800, 900, 1000, 2000]
    """
    return [s for s in range(int(last) + 1) if is_log_step(s)]
