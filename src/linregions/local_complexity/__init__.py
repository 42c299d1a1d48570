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
from ..line import LineBatch, lines
from ..network import Network, _as_matrix
from ..tolerances import T_MERGE
from .probes import _star, probe_directions, published_proxy  # noqa: F401 (re-exported)
from .star import StarCertificate, original_units, proxy_from_crossings, star_certificate, tail_network

if TYPE_CHECKING:  # pandas and scipy (crofton) load on first use: ``import linregions`` stays light
    import pandas as pd

    from ..crofton import Ball

__all__ = ["ALL_LAYERS", "COLUMNS", "local_complexity", "lc_summary", "probe_directions", "published_proxy",
           "is_log_step", "log_steps"]

#: ``layer`` value of the rows that hold the whole network (all layers together).
ALL_LAYERS = -1

#: The column groups ``local_complexity`` can compute (``columns=``).
COLUMNS = ("density", "probes", "proxy", "theory")

#: Run the exact 1D engine only where a diameter may cross: on a ``Network``, on the compact network
#: of the star certificate (``local_complexity.star``), with the proxy read off the same crossings;
#: on a module, on the diameters whose vertices do not both share x's activation pattern (when the
#: proxy's forward pass is made anyway, ``local_complexity.probes``). Off: every diameter through
#: the whole network and the proxy from the vertices' forward pass (the tests compare the two).
_SKIP_EMPTY_PROBES = True

#: Which exact 1D engine partitions a ``Network``'s chords and probes: "dense" (``linregions.lines``:
#: per-segment compiled kernel, close decisions re-decided exactly) or "torch" (``linregions.engine``
#: on ``Network.to_torch()``: the same crossings, batched over all segments; no exact re-decision).
#: ``benchmarks/local_complexity.py`` times both.
_SEGMENT_ENGINE = "dense"

#: Target number of segments handed to one ``lines`` call (chunks of samples are cut to it).
_SEGMENTS_PER_CALL = 16384


# ----------------------------------------------------------------------------------------------
# counting crossings of a LineBatch per segment and layer


def _point_layers(batch: LineBatch, depth: int) -> np.ndarray:
    """(n_points, depth) bool: which layers have a neuron switching at each boundary point."""
    M = np.zeros((batch.t.size, depth), bool)
    M[batch.crossing_point, batch.layer] = True
    return M


def _segment_of(offsets: np.ndarray, n: int) -> np.ndarray:
    return np.repeat(np.arange(offsets.size - 1), np.diff(offsets))[:n] if n else np.zeros(0, np.int64)


def _chord_counts(batch: LineBatch, depth: int) -> dict[str, np.ndarray]:
    """Per segment: boundary points of each kind, all layers (S,) and per layer (S, depth)."""
    S = len(batch)
    seg = _segment_of(batch.point_offsets, batch.t.size)
    PL = _point_layers(batch, depth)
    out = {}
    for kind in ("linear", "activation"):
        keep = batch.linear if kind == "linear" else np.ones(batch.t.size, bool)
        tot = np.bincount(seg[keep], minlength=S)
        per = np.zeros((S, depth))
        for l in range(depth):
            per[:, l] = np.bincount(seg[keep & PL[:, l]], minlength=S)
        out[kind] = np.column_stack([tot, per]).astype(np.float64)  # column 0: all layers
    return out


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


def _lines(net: Any, X0: np.ndarray, X1: np.ndarray) -> LineBatch:
    """Exact partitions of segments: ``lines`` on a ``Network`` (or the torch-native engine on its
    ``to_torch()`` module, with ``_SEGMENT_ENGINE = "torch"``), the engine on a ``ModuleModel``."""
    if not isinstance(net, Network):
        return net.lines(X0, X1)
    if _SEGMENT_ENGINE == "torch":
        from ..engine import lines as engine_lines

        return engine_lines(net.to_torch(), X0, X1, input_shape=(net.n_in,))
    return lines(net, X0, X1)


def _unit_layers(net: Any) -> np.ndarray:
    """(sum(widths),) the layer of every unit (passthrough units included: they never switch)."""
    return np.repeat(np.arange(net.depth), net.widths)


def _hr_values(net: Network, X: np.ndarray, bias_law: Any, device: Any) -> np.ndarray:
    """(S, depth, 2): the Theorem 6 k = 1 integrand at each x per layer (activation kind, linear
    kind in the substituted network), from the theory module's kernel ``_k1_values``: the layer
    split masks every other layer's terms (the kernel sums over layers)."""
    if not isinstance(net, Network):
        return net.hr(X, bias_law)
    import torch

    from ..crofton import Ball
    from ..laws import AssumptionError
    from ..theory._kernels import _k1_values, _TorchStack, _cpu_threads
    from ..theory.estimators import _check_a2_structure
    from ..theory.network_law import _laws_for

    linear_ok = True
    try:
        _check_a2_structure(net, per_neuron=False)  # ARGMAX units, shared conv biases: Theorem 6 does not apply
    except AssumptionError:
        _check_a2_structure(net, per_neuron=True)  # ARGMAX units still raise; shared biases warn
        linear_ok = False
    laws = _laws_for(net, bias_law, net.depth)
    ts = _TorchStack([net], laws, device, Ball(np.zeros(net.n_in), 1.0))
    switch = list(ts.switch)
    per_x = net.n_in * max(net.widths) + max(net.widths) ** 2 + 1
    B = max(1, min(X.shape[0], (8 * 2**20) // per_x))
    out = np.zeros((X.shape[0], net.depth, 2))
    for l in range(net.depth):
        ts.switch = [s if j == l else torch.zeros_like(s) for j, s in enumerate(switch)]
        for b0 in range(0, X.shape[0], B):
            S = torch.as_tensor(np.array(X[None, b0 : b0 + B]), dtype=torch.float64, device=ts.device)
            with _cpu_threads(device, S.shape[1] * per_x), torch.no_grad():
                v = _k1_values(ts, S)[0].cpu().numpy()  # (B, 3): activation, linear substituted, unmodified
            out[b0 : b0 + B, l] = v[:, :2]
    ts.switch = switch
    if not linear_ok:  # the linear kind's multi-neuron goodness needs independent biases (A2)
        import warnings

        warnings.warn("hr_linear is NaN: neurons of this network share biases (convolutions), so assumption A2 fails "
                      "for the linear kind of Theorem 6; hr_activation (per neuron) is computed", stacklevel=3)
        out[..., 1] = np.nan
    return out


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


def _density(net: Network, Xc: np.ndarray, ball: Ball, n_ch: int, key: list, kap: float,
             per_neuron: bool, us: list | None = None) -> dict[str, np.ndarray]:
    """Column 1 for a chunk: per sample, mean and SE over its chords of #points / length / κ.
    Each sample's chords come from its own generator (``key`` + its index), so results do not
    depend on how the samples are chunked. On a ``Network`` narrower than its input, the chords
    run in first-layer coordinates (``_segments_in_first_layer``), from the centres' u_0 (``us``)."""
    from ..crofton import random_directions

    m = Xc.shape[0]
    Pts, V = np.empty((m * n_ch, net.n_in)), np.empty((m * n_ch, net.n_in))
    for i in range(m):
        rng = np.random.default_rng([*key[:3], key[3] + i])
        Pts[i * n_ch : (i + 1) * n_ch] = ball.sample(rng, n_ch)  # uniform in B(0, r)
        V[i * n_ch : (i + 1) * n_ch] = random_directions(rng, n_ch, net.n_in)
    A, B = ball.chord(Pts, V)
    smp = np.repeat(np.arange(m), n_ch)
    batch = None
    if _folds(net):
        W0 = net.weights[0]
        batch = _segments_in_first_layer(net, Xc, smp, A @ W0.T, B @ W0.T, us)
    if batch is None:
        base = Xc[smp]
        batch = _lines(net, base + A, base + B)
    L = np.linalg.norm(B - A, axis=1)
    out = {"close_decisions": _close_per_sample(batch, m)}
    if per_neuron:
        seg = _segment_of(batch.crossing_offsets, batch.layer.size)
        col = _neuron_index(net, batch.layer, batch.unit)
        for kind in ("linear", "activation"):
            keep = batch.linear[batch.crossing_point] if kind == "linear" else np.ones(seg.size, bool)
            C = np.zeros((m * n_ch, int(sum(net.widths))))
            np.add.at(C, (seg[keep], col[keep]), 1.0)
            D = (C / L[:, None] / kap).reshape(m, n_ch, -1)
            out[f"density_{kind}"] = D.mean(axis=1)
            out[f"density_{kind}_se"] = D.std(axis=1, ddof=1) / math.sqrt(n_ch)
        return out
    counts = _chord_counts(batch, net.depth)
    for kind, C in counts.items():
        D = (C / L[:, None] / kap).reshape(m, n_ch, -1)  # (m, chords, 1 + depth)
        out[f"density_{kind}"] = D.mean(axis=1)
        out[f"density_{kind}_se"] = D.std(axis=1, ddof=1) / math.sqrt(n_ch)
    return out


def _neuron_index(net: Network, layer: np.ndarray, unit: np.ndarray) -> np.ndarray:
    offs = np.concatenate([[0], np.cumsum(net.widths)])
    return offs[layer] + unit


def _segments_in_first_layer(net: Any, Xc: np.ndarray, smp: np.ndarray, dA: np.ndarray, dB: np.ndarray,
                             us: list | None) -> LineBatch | None:
    """Exact partitions of the segments [x_s + A, x_s + B] (s = ``smp``) in first-layer coordinates:
    ``lines`` of ``star.tail_network(net, 0)`` on [u_0(x_s) + dA, u_0(x_s) + dB], with dA = A W_0^T,
    dB = B W_0^T (the same crossings at the same t, at a fraction of the cost when n_0 < n_in;
    ``us``: the centres' pre-activations). None where that does not apply (a segment that W_0 maps
    to a point)."""
    U0 = (net.pre_activations(Xc) if us is None else us)[0][smp]
    Y0, Y1 = U0 + dA, U0 + dB
    if np.any(np.all(Y0 == Y1, axis=1)):
        return None
    return _lines(tail_network(net, 0), Y0, Y1)


def _folds(net: Any) -> bool:
    """Whether segments of ``net`` run in first-layer coordinates (a ``Network`` narrower than its input)."""
    return isinstance(net, Network) and net.widths[0] < net.n_in


def _diameters(net: Any, Xc: np.ndarray, r: float, Q: np.ndarray, todo: np.ndarray,
               us: list | None) -> LineBatch | None:
    """Exact partitions of the diameters [x - r q_i, x + r q_i] of the flat indices ``todo``
    (s * P + i), in first-layer coordinates where that applies (``_segments_in_first_layer``; the
    first-layer change along each probe, r Q W_0^T, is shared by all samples)."""
    if todo.size == 0:
        return None
    P = Q.shape[0]
    smp, dirs = todo // P, todo % P
    batch = None
    if _folds(net):
        D0 = ((r * Q) @ net.weights[0].T)[dirs]  # u_0 changes by r W_0 q_i along probe i
        batch = _segments_in_first_layer(net, Xc, smp, -D0, D0, us)
    if batch is None:
        D = r * Q[dirs]
        batch = _lines(net, Xc[smp] - D, Xc[smp] + D)
    return batch


def _probe_crossings(net: Any, Xc: np.ndarray, r: float, Q: np.ndarray, busy: np.ndarray | None,
                     us: list | None) -> tuple[list, StarCertificate | None]:
    """The exact crossings of the probe diameters of a chunk, as a list of (flat diameter indices,
    ``LineBatch``, unit map or None). On a ``Network`` (with ``_SKIP_EMPTY_PROBES``) each
    certified sample's diameters that a candidate may cross run on its compact network
    (``star.star_certificate``; ``units[l]`` maps compact layer l's switching units to the
    network's), the others nowhere; samples the star leaves alone run every diameter through the
    whole network. Otherwise every diameter (or those in ``busy``) runs through the whole network."""
    m, P = Xc.shape[0], Q.shape[0]
    if not (isinstance(net, Network) and _SKIP_EMPTY_PROBES):
        todo = np.arange(m * P) if busy is None else np.flatnonzero(busy.reshape(-1))
        batch = _diameters(net, Xc, r, Q, todo, us)
        return ([] if batch is None else [(todo, batch, None)]), None
    cert = star_certificate(net, Xc, r, Q, us)
    runs, whole = [], [np.flatnonzero(np.repeat(cert.fallback, P))]
    size = sum(W.size for W in (tail_network(net, 0) if _folds(net) else net).weights)
    for s, star in cert.stars.items():
        point = np.all(star.Y0 == star.Y1, axis=1)  # below the resolution of y: run on the whole network
        if sum(W.size for W in star.net.weights) >= size:  # many candidates: the whole network is cheaper
            point[:] = True
        whole.append(s * P + star.diam[point])
        if not point.all():
            keep = ~point
            runs.append((s * P + star.diam[keep], _lines(star.net, star.Y0[keep], star.Y1[keep]), star.units))
    todo = np.sort(np.concatenate(whole))
    batch = _diameters(net, Xc, r, Q, todo, cert.us)
    return ([] if batch is None else [(todo, batch, None)]) + runs, cert


def _probes(net: Any, Xc: np.ndarray, r: float, Q: np.ndarray, per_neuron: bool, want_proxy: bool = False,
            device: Any = None, us: list | None = None) -> dict[str, np.ndarray]:
    """Column 2 for a chunk (and column 3 with ``want_proxy``, under "proxy"): exact crossings on
    the 2P half-probes [x, x ± r q_i], computed on the P diameters [x - r q_i, x + r q_i] (x at
    t = 1/2). Crossings within the merge distance of x belong to no half-probe (as for ``line`` on
    [x, x ± r q_i]); neurons that switch *at* x (``_center_switches``) are counted in
    ``probe_at_center`` and among the distinct neurons. Which diameters run, and from which layer,
    is ``_probe_crossings``'s choice; the counts are those of ``line`` on every probe. On a
    ``Network`` the proxy follows from x's pattern and these crossings (``star.proxy_from_crossings``),
    except on samples the star does not certify or with a close decision on a probe, where it is
    the forward pass of the vertices (``probes._star``)."""
    m, P, d = Xc.shape[0], Q.shape[0], net.depth
    proxy = busy = None
    if want_proxy and not (isinstance(net, Network) and _SKIP_EMPTY_PROBES):
        proxy, busy = _star(net, Xc, r, Q, device, per_neuron, _SKIP_EMPTY_PROBES)
    runs, cert = _probe_crossings(net, Xc, r, Q, busy, us)
    parts = []
    close = np.zeros(m)
    for idx, batch, units in runs:
        c = getattr(batch, "close_decisions", None)
        if c is not None:
            close += np.bincount(idx // P, weights=np.asarray(c, np.float64), minlength=m)
        unit = batch.unit if units is None else original_units(units, batch.layer, batch.unit)
        parts.append((idx[_segment_of(batch.crossing_offsets, batch.layer.size)], batch.t[batch.crossing_point],
                      batch.linear[batch.crossing_point], batch.layer, unit, batch.breakpoint))
    cat = lambda k, dt: np.concatenate([p[k] for p in parts]).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
    seg, t, lin, layer, unit, bp = (cat(0, np.int64), cat(1, np.float64), cat(2, bool), cat(3, np.int64),
                                    cat(4, np.int64), cat(5, np.int64))
    sample = seg // P
    off_center = np.abs(t - 0.5) > 0.5 * T_MERGE
    N = int(sum(net.widths))
    col = _neuron_index(net, layer, unit)
    center = _center_switches(net, Xc, r, Q, seg, t, us if cert is None else cert.us)  # (m, N) bool
    out: dict[str, np.ndarray] = {}
    if want_proxy:
        out["proxy"] = proxy if cert is None else _proxy(net, Xc, r, Q, device, per_neuron, cert, close, seg, t, col, bp)
    if per_neuron:
        for key, keep in (("probe_crossings_activation", off_center), ("probe_crossings_linear", lin & off_center)):
            C = np.zeros((m, N))
            np.add.at(C, (sample[keep], col[keep]), 1.0)
            out[key] = C
        out["probe_neurons"] = ((out["probe_crossings_activation"] > 0) | center).astype(np.float64)
        out["probe_neurons_linear"] = (out["probe_crossings_linear"] > 0).astype(np.float64)
        out["probe_at_center"] = center.astype(np.float64)
        out["close_decisions"] = close
        return out
    lay_of = _unit_layers(net)

    def per_layer(keep: np.ndarray) -> np.ndarray:
        key = sample[keep] * d + layer[keep]
        per = np.bincount(key, minlength=m * d).reshape(m, d).astype(np.float64)
        return np.column_stack([per.sum(axis=1), per])

    def by_layer(M: np.ndarray) -> np.ndarray:  # (m, N) bool -> (m, 1 + d) counts
        per = np.stack([M[:, lay_of == l].sum(axis=1) for l in range(d)], axis=1).astype(np.float64)
        return np.column_stack([per.sum(axis=1), per])

    def crossed(keep: np.ndarray) -> np.ndarray:
        M = np.zeros((m, N), bool)
        M[sample[keep], col[keep]] = True
        return M

    out["probe_crossings_activation"] = per_layer(off_center)
    out["probe_crossings_linear"] = per_layer(lin & off_center)
    out["probe_neurons"] = by_layer(crossed(off_center) | center)
    out["probe_neurons_linear"] = by_layer(crossed(lin & off_center))
    out["probe_at_center"] = by_layer(center)
    out["close_decisions"] = close
    return out


def _proxy(net: Network, Xc: np.ndarray, r: float, Q: np.ndarray, device: Any, per_neuron: bool,
           cert: StarCertificate, close: np.ndarray, seg: np.ndarray, t: np.ndarray, col: np.ndarray,
           bp: np.ndarray) -> np.ndarray:
    """Column 3 from the exact crossings of the diameters (``star.proxy_from_crossings``; the
    certified-empty ones keep x's pattern at both vertices), with the forward pass of the vertices
    (``probes._star``) on samples the star leaves to the plain path or with a close decision on a
    probe (a crossing near a vertex that ``line`` may have merged into it). (m, N) bool with
    ``per_neuron``, else (m, depth) counts, as ``published_proxy``."""
    P = Q.shape[0]
    pieces = np.concatenate([net.piece(l, cert.us[l]) for l in range(net.depth)], axis=1)
    varies = proxy_from_crossings(pieces, P, seg, t, col, bp)
    plain = np.flatnonzero(cert.fallback | (close > 0))
    if plain.size:
        varies[plain] = _star(net, Xc[plain], r, Q, device, True, False)[0]
    if per_neuron:
        return varies
    return np.stack([varies[:, _unit_layers(net) == l].sum(axis=1) for l in range(net.depth)], axis=1)


def _close_per_sample(batch: LineBatch, m: int) -> np.ndarray:
    """(m,) tolerance decisions left close on each sample's segments (``LineBatch.close_decisions``)."""
    c = getattr(batch, "close_decisions", None)
    if c is None:
        return np.zeros(m)
    return np.asarray(c, dtype=np.float64).reshape(m, -1).sum(axis=1)


def _center_switches(net: Any, Xc: np.ndarray, r: float, Q: np.ndarray, seg: np.ndarray, t: np.ndarray,
                     us: list | None = None) -> np.ndarray:
    """(m, N) bool: neurons that sit on a breakpoint at x (within the snapping tolerance,
    ``tolerances.snap_scale``) and take different pieces just beside x on different probes: they
    switch at x itself, between probes, which no half-probe sees as a crossing. Measure zero for
    continuous parameter laws; normal with zero biases (every first-layer neuron at x = 0). The
    piece beside x on probe ±q_i is read at x ± δ_i q_i, δ_i half the distance from x to the
    nearest other crossing on that diameter, where every neuron is on one piece. ``us``: the
    pre-activations at ``Xc`` when already computed."""
    from ..tolerances import SNAP_RTOL, snap_scale

    m, P, N = Xc.shape[0], Q.shape[0], int(sum(net.widths))
    out = np.zeros((m, N), bool)
    if isinstance(net, Network):
        us = net.pre_activations(Xc) if us is None else us
        a = Xc
        on = []
        for l in range(net.depth):
            W, b, xi = net.weights[l], net.biases[l], net.activations[l].breakpoints
            tol = SNAP_RTOL * snap_scale(W, b, np.abs(a).T, xi)  # (n_l, m, T)
            o = np.any(np.abs(us[l].T[:, :, None] - xi) <= tol, axis=2).T & net.switching(l)  # (m, n_l)
            on.append(o)
            a = net.activate(l, us[l])
        on = np.concatenate(on, axis=1)
    else:
        on = net.on_breakpoint(Xc)
    todo = np.nonzero(on.any(axis=1))[0]
    if todo.size == 0:
        return out
    dist = np.full(m * P, 0.5)
    far = np.abs(t - 0.5) > 0.5 * T_MERGE
    np.minimum.at(dist, seg[far], np.abs(t[far] - 0.5))
    delta = (0.5 * dist * 2.0 * r).reshape(m, P)  # displacement along q (diameter length 2r)
    for i in todo:
        V = Xc[i] + np.concatenate([delta[i][:, None] * Q, -delta[i][:, None] * Q])
        pieces = np.concatenate(net.activation_pattern(V), axis=1)  # (2P, N)
        varies = pieces.max(axis=0) != pieces.min(axis=0)
        out[i] = varies & on[i]
    return out


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
