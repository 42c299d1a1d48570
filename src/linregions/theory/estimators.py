"""Theorem 6 as unbiased Monte Carlo estimators (``theorem6``; the exact "substituted" estimator and
the "unmodified" approximation, ``approximation_bias``)."""
from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass
from itertools import combinations, product
from typing import Any

import numpy as np

from ..laws import AssumptionError
from ..network import ARGMAX, Network, is_module as _is_module

from .network_law import Kind, Mode, _BATCH_ELEMENTS, _MAX_EXHAUSTIVE_TERMS, NetworkLaw, _laws_for
from .domains import Segment, WholeSpace, Domain, _domain_n_in, _restriction, _sample_domain, _param_volume
from ._kernels import _cpu_threads, _TorchNet, _TorchStack, _k1_values, _kk_values, _chunk


# ------------------------------------------------------------------------------------------------
# estimates


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate with its standard error (over ``n`` i.i.d. samples)."""

    value: float
    se: float
    n: int
    label: str = ""

    def __repr__(self) -> str:
        lab = f"{self.label}: " if self.label else ""
        return f"Estimate({lab}{self.value:.5g} ± {self.se:.2g}, n={self.n})"


@dataclass(frozen=True, eq=False)
class Theorem6Estimate:
    """Theorem 6 estimate of E[vol_{m-k}(B_{N,k} ∩ K)] (m = dimension of K; on a segment, k = 1
    gives the expected number of boundary points, on a rectangle k = 2 the expected vertices).

    ``value`` ± ``se``: over networks when a law was given (``per_network`` holds each network's
    estimate), else over input samples. ``density`` = value / vol(K).
    """

    value: float
    se: float
    k: int
    kind: str
    mode: str
    n_networks: int
    n_samples: int
    volume: float
    per_network: np.ndarray
    per_network_se: np.ndarray

    @property
    def density(self) -> float:
        return self.value / self.volume

    def __repr__(self) -> str:
        return (f"Theorem6Estimate(k={self.k}, {self.kind}, {self.mode}: {self.value:.5g} ± {self.se:.2g}, "
                f"networks={self.n_networks}, samples={self.n_samples})")


def _check_a2_structure(net: Network, per_neuron: bool) -> None:
    """Refuse networks whose structure breaks assumption A2 whatever the law: ARGMAX units
    (compiled max-pooling) have no bias of their own, and conv neurons of one channel share one
    bias. With ``per_neuron`` (k = 1, activation boundaries: one neuron at a time, only the
    marginal law of its bias) shared biases only warn, since that estimator stays valid."""
    if net.has_special_units and any(np.any(net.kinds(l) == ARGMAX) for l in range(net.depth)):
        raise AssumptionError(
            "this network has ARGMAX units (max-pooling compiled by linregions.graph): they have no bias "
            "of their own, so assumption A2 fails for them and Theorem 6 does not cover their boundaries; "
            "use exact counts (line, plane) instead"
        )
    graph = sys.modules.get("linregions.graph")
    info = graph.compiled_from(net) if graph is not None else None
    if info is None:
        return
    try:
        info.check_independent_biases()
    except AssumptionError as e:
        if not per_neuron:
            raise AssumptionError(f"{e}. The per-neuron k = 1 estimator of activation boundaries "
                                  "(kind='activation') still applies.") from None
        warnings.warn(f"{e}; the k = 1 activation-boundary estimate uses each neuron's marginal bias law only, "
                      "which stays valid", stacklevel=4)


def _nets(model: Any, n_networks: int, seed: int, *, per_neuron: bool = False) -> list[Network]:
    if isinstance(model, Network):
        _check_a2_structure(model, per_neuron)
        if float(sum(np.abs(b).sum() for b in model.biases[:-1])) == 0.0:
            warnings.warn("every hidden bias of this network is zero: if it came from a zero-bias initialisation, "
                          "assumption A2 of Theorem 6 fails for its law (regions are cones through the origin)", stacklevel=3)
        return [model]
    if isinstance(model, NetworkLaw):
        if int(n_networks) < 1:
            raise ValueError(f"n_networks must be at least 1, got {n_networks}")
        rng = np.random.default_rng([int(seed), 7])
        return [model.sample(rng) for _ in range(int(n_networks))]
    raise TypeError(f"model must be a NetworkLaw or a Network, got {type(model).__name__}")


def _check_common(model: Any, domain: Domain, k: int, kind: str, mode: str) -> None:
    if not isinstance(model, (NetworkLaw, Network)):
        raise TypeError(f"model must be a NetworkLaw or a Network, got {type(model).__name__}")
    n_in = model.n_in
    if _domain_n_in(domain) != n_in:
        raise ValueError(f"domain lives in R^{_domain_n_in(domain)} but the network has {n_in} inputs")
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")
    if mode not in ("substituted", "unmodified"):
        raise ValueError(f"mode must be 'substituted' (exact) or 'unmodified' (approximation), got {mode!r}")
    if not isinstance(k, (int, np.integer)) or not (1 <= k <= domain.dim):
        raise ValueError(f"k must be an integer in 1..{domain.dim} (the dimension of the domain), got {k!r}")
    if isinstance(domain, WholeSpace) and k != domain.dim:
        raise ValueError(f"on the whole of R^{domain.dim} only k = {domain.dim} has a finite volume, got k={k}")


def _tuples(net: Network, k: int, n_x: int, tuples: int | str | None, rng: np.random.Generator):
    """Neuron and breakpoint tuples for n_x inputs: (tl, tu, tb) each (n_x * r, k) (rows grouped by
    input, neurons in layer order), r, and per-row weights wt such that Σ over an input's rows of
    wt · Y is unbiased for the full sum over distinct neuron k-sets and their breakpoints."""
    ids = net.neuron_ids
    N = ids.shape[0]
    if N < k:
        raise ValueError(f"k={k} needs at least {k} neurons, the network has {N}")
    T = np.array([a.T for a in net.activations])
    n_terms = math.comb(N, k) * int(T.max()) ** k
    if tuples == "all" or (tuples is None and n_terms <= _MAX_EXHAUSTIVE_TERMS):
        C, Bp = [], []
        for c in combinations(range(N), k):
            for bp in product(*[range(T[l]) for l in ids[list(c), 0]]):
                C.append(c)
                Bp.append(bp)
        C, Bp = np.array(C, np.int64).reshape(-1, k), np.array(Bp, np.int64).reshape(-1, k)
        r = C.shape[0]
        C, Bp = np.tile(C, (n_x, 1)), np.tile(Bp, (n_x, 1))
        wt = np.ones(C.shape[0])
    else:
        r = 1 if tuples is None else int(tuples) if not isinstance(tuples, str) else -1
        if r < 1:
            raise ValueError(f"tuples must be 'all' or a positive number of tuples per input, got {tuples!r}")
        M = n_x * r
        if k == 2:  # rejection sampling of distinct pairs
            C = rng.integers(0, N, size=(M, 2))
            bad = C[:, 0] == C[:, 1]
            while bad.any():
                C[bad] = rng.integers(0, N, size=(int(bad.sum()), 2))
                bad = C[:, 0] == C[:, 1]
        else:
            C = np.argsort(rng.random((M, N)), axis=1)[:, :k]
        C = np.sort(C, axis=1)
        Tl = T[ids[C, 0]]
        Bp = np.minimum(np.floor(rng.random(C.shape) * Tl), Tl - 1).astype(np.int64)
        wt = math.comb(N, k) * np.prod(Tl, axis=1).astype(np.float64) / r
    return ids[C, 0], ids[C, 1], Bp, r, wt


def _estimate_k1(nets: list[Network], laws: list, domain: Domain, n_samples: int, rng: np.random.Generator,
                 device: Any, substituted: bool = True) -> list[dict]:
    """k = 1 for many networks at once: batches of networks x inputs through ``_k1_values``
    (``substituted``: also the linear kind in the substituted network, else NaN there)."""
    import torch

    net = nets[0]
    n = int(n_samples)
    S_all, w_all = zip(*[_sample_domain(domain, rng, n) for _ in nets])
    m = S_all[0].shape[1]
    per_input = m * max(net.widths) + max(net.widths) ** 2 + 1
    B = max(1, min(n, _BATCH_ELEMENTS // per_input))
    Mb = max(1, min(len(nets), _BATCH_ELEMENTS // (per_input * B)))
    out = []
    for s0 in range(0, len(nets), Mb):
        group = nets[s0 : s0 + Mb]
        ts = _TorchStack(group, laws, device, domain)
        vals = []
        with _cpu_threads(device, len(group) * B * per_input):
            for b0 in range(0, n, B):
                S = np.stack([S_all[s0 + i][b0 : b0 + B] for i in range(len(group))])
                St = torch.as_tensor(S, dtype=torch.float64, device=ts.device)
                vals.append(_k1_values(ts, St, substituted).cpu().numpy())
        V = np.concatenate(vals, axis=1)  # (M, n, 3)
        for i in range(len(group)):
            Vi = V[i] * w_all[s0 + i][:, None]
            cols = {"activation": Vi[:, 0], "linear/substituted": Vi[:, 1], "linear/unmodified": Vi[:, 2]}
            out.append({key: (float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))) for key, v in cols.items()})
    return out


def _estimate_one(net: Network, laws: list, domain: Domain, k: int, mode: str, n_samples: int,
                  rng: np.random.Generator, device: Any, tuples: Any) -> dict:
    """k >= 2 for one network: {kind/mode: (mean, se)} of the volume over the sampled inputs."""
    import torch

    tn = _TorchNet(net, laws, device, domain)
    S, w = _sample_domain(domain, rng, int(n_samples))
    tl, tu, tb, r, wt = _tuples(net, k, S.shape[0], tuples, rng)
    rows = np.repeat(np.arange(S.shape[0]), r)
    chunk = max(r, (_chunk(tn, k) // r) * r)
    vals = []
    with _cpu_threads(device, chunk * (tn.m * max(net.widths) + k * tn.m)):
        for s in range(0, rows.size, chunk):
            sl = slice(s, s + chunk)
            St = torch.as_tensor(S[rows[sl]], dtype=torch.float64, device=tn.device)
            tt = [torch.as_tensor(x[sl], device=tn.device) for x in (tl, tu, tb)]
            vals.append(_kk_values(tn, St, *tt, substitute=(mode == "substituted")).cpu().numpy())
    V = np.concatenate(vals) * wt[:, None]
    V = V.reshape(S.shape[0], r, 2).sum(axis=1) * w[:, None]
    out = {"activation": V[:, 0], f"linear/{mode}": V[:, 1]}
    return {key: (float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))) for key, v in out.items()}


def theorem6(model: Any, domain: Domain, k: int = 1, *, bias_law: Any = None,
             kind: Kind = "linear", mode: Mode = "substituted", n_networks: int = 16, n_samples: int = 1024,
             tuples: int | str | None = None, seed: int = 0, device: Any = None,
             progress: bool = False, input_shape: Any = None, chunk_points: int | None = None) -> Theorem6Estimate:
    """Theorem 6: an unbiased estimate of E[vol_{m-k}(B_{N,k} ∩ K)], with its standard error.

    For each sampled input x ∈ K (uniform; importance-sampled on ``WholeSpace``) the integrand
    Σ_{z_1..z_k} Σ_{i_1..i_k} ‖J(x)‖ Π_j ρ_β(ξ_{i_j} - z̃_j(x)) 1{all z_j good} is evaluated in the
    network with the chosen neurons set at their breakpoints (``mode="substituted"``, exact), or in
    the network as it is (``mode="unmodified"``, a named approximation). ``kind="activation"`` drops
    the goodness indicator (the activation-region boundary). On a segment or rectangle, ∇ is the
    directional (in-plane) gradient and volumes are in the segment's t ∈ [0, 1] (counts) or the
    plane's Euclidean coordinates.

    Parameters
    ----------
    model : a ``NetworkLaw`` (the estimate averages ``n_networks`` sampled networks; its SE is over
        networks) or one ``Network`` with its ``bias_law`` (SE over the ``n_samples`` inputs), or a
        piecewise-linear ``torch.nn.Module`` with its ``bias_law`` (a stated law of the biases:
        the module's own biases enter only through z̃ = u - β). For a module, k = 1 with
        ``kind="activation"`` runs on the module's own ops (``theory.module_k1``: forward-mode
        tangents in chunks of ``chunk_points`` rows, no dense matrix of a convolution; the domain
        lives in the flattened input space of one sample of shape ``input_shape``); every other
        case compiles the module with ``Network.from_torch(module, input_shape=...)`` (where
        convolutions fail A2 for the linear kind: shared biases).
    domain : ``Box``, ``Ball``, ``Segment``, ``Rectangle`` or ``WholeSpace``.
    k : 1..dim(K). k = 1 sums over all neurons; k >= 2 over all tuples when there are at most
        ``_MAX_EXHAUSTIVE_TERMS`` of them (or ``tuples="all"``), else ``tuples`` uniform random tuples
        per input (default 1), weighted by their number.
    device : torch device ("cpu", "cuda").

    >>> from linregions import Normal, hard_tanh
    >>> from linregions.theory import Rectangle
    >>> law = NetworkLaw(2, (4, 4), activation=hard_tanh(), biases=Normal(0.5))
    >>> theorem6(law, Rectangle.square(1.0), k=2, n_networks=2, n_samples=64).k
    2
    """
    if _is_module(model):
        if isinstance(k, (int, np.integer)) and int(k) == 1 and kind == "activation":
            return _theorem6_module(model, domain, bias_law, mode, n_samples, seed, device, input_shape, chunk_points)
        from ..network import Network as _Network

        model = _Network.from_torch(model, input_shape=input_shape)
    elif input_shape is not None or chunk_points is not None:
        raise TypeError("input_shape and chunk_points apply to torch modules, not to a Network or NetworkLaw")
    _check_common(model, domain, k, kind, mode)
    nets = _nets(model, n_networks, seed, per_neuron=(k == 1 and kind == "activation"))
    laws = _laws_for(model, bias_law, nets[0].depth)
    rng = np.random.default_rng([int(seed), 11])
    key = "activation" if kind == "activation" else f"linear/{mode}"
    if int(k) == 1:
        res = [r[key] for r in _estimate_k1(nets, laws, domain, n_samples, rng, device, key == "linear/substituted")]
    else:
        it = nets
        if progress and len(nets) > 1:
            from tqdm.auto import tqdm

            it = tqdm(nets, desc="theorem 6", unit="net")
        res = [_estimate_one(net, laws, domain, int(k), mode, n_samples, rng, device, tuples)[key] for net in it]
    per = np.array([r[0] for r in res])
    per_se = np.array([r[1] for r in res])
    if len(nets) >= 2:
        value, se = float(per.mean()), float(per.std(ddof=1) / math.sqrt(len(nets)))
    else:
        value, se = float(per[0]), float(per_se[0])
    return Theorem6Estimate(value, se, int(k), kind, mode, len(nets), int(n_samples),
                            _param_volume(domain) if not isinstance(domain, Segment) else domain.volume,
                            per, per_se)


def _theorem6_module(module: Any, domain: Domain, bias_law: Any, mode: str, n_samples: int, seed: int, device: Any,
                     input_shape: Any, chunk_points: int | None) -> Theorem6Estimate:
    """Theorem 6, k = 1, activation kind, on a module's own ops (``theory.module_k1``): the same
    input samples (same ``seed``) and the same integrand as on the module's dense compilation."""
    from ..engine import CHUNK_POINTS
    from .module_k1 import check_module_a2, k1_activation, module_program, site_biases

    n_in = _domain_n_in(domain)
    if mode not in ("substituted", "unmodified"):
        raise ValueError(f"mode must be 'substituted' (exact) or 'unmodified' (approximation), got {mode!r}")
    if isinstance(domain, WholeSpace) and domain.dim != 1:
        raise ValueError(f"on the whole of R^{domain.dim} only k = {domain.dim} has a finite volume, got k=1")
    chunk = CHUNK_POINTS if chunk_points is None else int(chunk_points)
    prog = module_program(module, input_shape, n_in, device)
    laws = _laws_for(None, bias_law, len(prog.sites))
    check_module_a2(module, prog)
    rng = np.random.default_rng([int(seed), 11])
    S, w = _sample_domain(domain, rng, int(n_samples))
    origin, P = _restriction(domain)
    X = S if origin is None else origin + S @ P.T
    with _cpu_threads(device, S.shape[0] * n_in):
        v = k1_activation(prog, X, P, laws, site_biases(prog, chunk), chunk).sum(axis=1) * w
    value, se = float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return Theorem6Estimate(value, se, 1, "activation", mode, 1, int(n_samples),
                            _param_volume(domain) if not isinstance(domain, Segment) else domain.volume,
                            np.array([value]), np.array([se]))


def approximation_bias(model: NetworkLaw | Network, domain: Domain, k: int = 1, *, bias_law: Any = None,
                       n_networks: int = 16, n_samples: int = 1024, seed: int = 0, device: Any = None,
                       tuples: Any = None) -> Estimate:
    """The bias of the "unmodified" approximation (goodness, and for k >= 2 the later neurons'
    pre-activations, taken in the network as it is) against the exact substituted estimator:
    mean over networks of (approximate - exact) ± SE of the paired differences (the two use the
    same networks and the same inputs, so their noise largely cancels). Linear kind.

    Where nothing downstream of a chosen neuron matters the two agree exactly (e.g. one hidden
    layer); they differ where goodness depends on the chosen neuron's own output (narrow hard-tanh
    nets) and, for k >= 2, where a later chosen neuron's pre-activation does (docs/theory.md §3).
    """
    kw = dict(bias_law=bias_law, kind="linear", n_networks=n_networks, n_samples=n_samples, seed=seed, device=device,
              tuples=tuples)
    ex = theorem6(model, domain, k, mode="substituted", **kw)
    ap = theorem6(model, domain, k, mode="unmodified", **kw)
    d = ap.per_network - ex.per_network
    if d.size >= 2:
        se = float(d.std(ddof=1) / math.sqrt(d.size))
    else:
        se = math.hypot(float(ap.per_network_se[0]), float(ex.per_network_se[0]))
    return Estimate(float(d.mean()), se, int(d.size), f"unmodified - substituted, k={k}")


