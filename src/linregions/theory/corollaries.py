"""The constants C_bias and C_grad and the bounds of Corollaries 7 and 8, with the measured
quantity next to them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..crofton import Ball, Box
from ..network import Network

from .network_law import Kind, NetworkLaw, _laws_for
from .domains import Segment, WholeSpace, Domain, _sample_domain
from ._kernels import _cpu_threads, _TorchNet
from .estimators import Estimate, _nets
from .measurement import measure


# ------------------------------------------------------------------------------------------------
# constants and corollaries


def c_bias(model: Any, bias_law: Any = None) -> float:
    """C_bias = sup_z sup_b ρ_{b_z}(b), the largest bias density (Corollary 7; N(0, σ²):
    1 / (σ √(2π))). Raises ``AssumptionError`` when A2 fails (no density, or unbounded)."""
    depth = model.depth if isinstance(model, Network) else len(model.widths) if isinstance(model, NetworkLaw) else 1
    if not isinstance(model, (Network, NetworkLaw)):
        bias_law, model = model, None
    laws = _laws_for(model, bias_law, depth)
    return float(max(l.sup_density for l in laws))


def _grad_norms(tn: _TorchNet, S) -> list:
    """‖∇u_z(s)‖ for every hidden neuron: d arrays (B, n_l) (in the domain's coordinates)."""
    import torch

    net = tn.net
    a, Ga, out = S, None, []
    for l in range(net.depth):
        u, Gu = tn.layer_in(l, a, Ga)
        out.append(torch.linalg.vector_norm(Gu, dim=1)[:, tn.switch[l]].cpu().numpy())
        q = net.slope(l, net.piece(l, u))
        a = net.activate(l, u)
        Ga = Gu * q[:, None, :].to(Gu.dtype)
        del Gu
    return out


def _unit_scale(domain: Domain) -> float:
    """Factor turning a gradient in the domain's coordinates into one per unit of input length."""
    return 1.0 / domain.volume if isinstance(domain, Segment) else 1.0


def c_grad(model: NetworkLaw | Network, domain: Domain, k: int = 1, *, n_networks: int = 16, n_samples: int = 256,
           seed: int = 0, device: Any = None, statistic: str = "sup") -> Estimate:
    """C_grad of hypothesis (14) of Corollary 7: sup_{z_1..z_k, x} E[Π_j ‖∇z_j(x)‖] <= C_grad^k,
    the expectation over the random network.

    By Hölder, E[Π_j ‖∇z_j‖] <= max_j E[‖∇z_j‖^k], so C_grad = sup over hidden layers and inputs x
    of (E ‖∇z(x)‖^k)^{1/k} is admissible when neurons of a layer are exchangeable (fully connected
    laws). The same ``n_samples`` inputs x, uniform in K, are used for every network; at each x the
    expectation is the mean over the sampled networks and the layer's neurons (for one fixed
    ``Network``: over the layer's neurons only).

    ``statistic="sup"`` (default; the paper's quantity): the largest of these means over the sampled
    x and the layers. It estimates the supremum from below in x (only sampled points) and from
    above through noise (the largest of noisy means), so use enough networks. ``statistic="mean"``:
    the average over x instead, which is *not* the paper's C_grad (it equals it when E‖∇z(x)‖^k does
    not depend on x, e.g. ReLU at He initialisation, fact (33), but is smaller in general: for hard
    tanh the supremum is about 1.4-1.5 times larger). Gradients are taken within the domain
    (directional on a segment, per unit length; in-plane on a rectangle). SE: over networks at the
    maximising x ("sup"), or by the delta method over networks ("mean"; over inputs for one network).
    """
    import torch

    if statistic not in ("sup", "mean"):
        raise ValueError(f"statistic must be 'sup' (the paper's C_grad) or 'mean', got {statistic!r}")
    if isinstance(domain, WholeSpace):
        raise ValueError("c_grad needs a bounded domain (Box, Ball, Segment or Rectangle)")
    nets = _nets(model, n_networks, seed)
    rng = np.random.default_rng([int(seed), 13])
    scale = _unit_scale(domain)
    S, _ = _sample_domain(domain, rng, int(n_samples))
    per = []  # per network: (n_samples, depth) means over the layer's units of ‖∇z(x)‖^k
    for net in nets:
        tn = _TorchNet(net, [None] * net.depth, device, domain)
        with _cpu_threads(device, S.shape[0] * tn.m * max(net.widths)):
            G = _grad_norms(tn, torch.as_tensor(S, dtype=torch.float64, device=tn.device))
        per.append(np.stack([np.mean((g * scale) ** k, axis=1) for g in G], axis=1))
    P = np.stack(per)  # (n_networks, n_samples, depth)
    if statistic == "sup":
        at_x = P.mean(axis=0)  # (n_samples, depth): E over networks (and units) at each x
        b, l = np.unravel_index(int(np.argmax(at_x)), at_x.shape)
        m = float(at_x[b, l])
        se_m = float(P[:, b, l].std(ddof=1) / math.sqrt(P.shape[0])) if P.shape[0] >= 2 else math.nan
        v = m ** (1.0 / k)
        se = se_m / (k * m ** ((k - 1.0) / k)) if m > 0 and math.isfinite(se_m) else math.nan
        return Estimate(float(v), float(se), int(P.shape[0]), f"C_grad(k={k}), sup over {S.shape[0]} sampled x, layer {l}")
    vals = P.mean(axis=1) if len(nets) >= 2 else P[0]  # (n_networks, depth) or (n_samples, depth)
    means = vals.mean(axis=0)
    ses = vals.std(axis=0, ddof=1) / math.sqrt(vals.shape[0])
    l = int(np.argmax(means))
    v = means[l] ** (1.0 / k)
    se = ses[l] / (k * means[l] ** ((k - 1.0) / k)) if means[l] > 0 else 0.0
    return Estimate(float(v), float(se), int(vals.shape[0]), f"C_grad(k={k}), average over x (not the paper's sup), layer {l}")


@dataclass(frozen=True)
class Corollary7:
    """Corollary 7: E[vol_{m-k}(B_{N,k} ∩ K)] / vol(K) <= C(#neurons, k) (2 T C_grad C_bias)^k,
    with the measured left-hand side next to it."""

    k: int
    bound: float
    measured: float
    measured_se: float
    c_grad: float
    c_bias: float
    T: int
    num_neurons: int

    @property
    def ratio(self) -> float:
        """measured / bound (the corollary says <= 1)."""
        return self.measured / self.bound

    def __repr__(self) -> str:
        return (f"Corollary7(k={self.k}: measured {self.measured:.4g} ± {self.measured_se:.2g} <= bound {self.bound:.4g}, "
                f"ratio {self.ratio:.3g})")


def _T(net_or_law: Any) -> int:
    acts = net_or_law.activations if isinstance(net_or_law, Network) else [net_or_law.activation]
    return int(max(a.T for a in acts))


def corollary7(model: NetworkLaw | Network, domain: Domain, k: int = 1, *, bias_law: Any = None, kind: Kind = "linear",
               n_networks: int = 16, n_samples: int = 256, seed: int = 0, device: Any = None, **measure_kw) -> Corollary7:
    """The Corollary 7 bound for (model, K, k) and the measured E[vol_{m-k}(B_{N,k} ∩ K)] / vol(K)
    (exact counts or Crofton estimates, see ``measure``), on the same networks."""
    nets0 = _nets(model, 1, seed)
    cb = c_bias(model, bias_law)
    cg = c_grad(model, domain, k, n_networks=n_networks, n_samples=n_samples, seed=seed, device=device).value
    n = nets0[0].num_neurons
    T = _T(model if isinstance(model, NetworkLaw) else nets0[0])
    bound = math.comb(n, k) * (2 * T * cg * cb) ** k
    meas = measure(model, domain, k, kind=kind, n_networks=n_networks, seed=seed, **measure_kw)
    vol = domain.volume
    return Corollary7(int(k), float(bound), meas.value / vol, meas.se / vol, float(cg), float(cb), T, n)


@dataclass(frozen=True)
class Corollary8Row:
    """One model of a Corollary 8 comparison: E[distance(x, B)] and the normalised product
    #neurons × mean distance × C_bias × C_grad / T, which the corollary bounds below by c > 0."""

    label: str
    num_neurons: int
    mean_distance: float
    distance_se: float
    c_bias: float
    c_grad: float
    T: int

    @property
    def product(self) -> float:
        return self.num_neurons * self.mean_distance * self.c_bias * self.c_grad / self.T

    @property
    def product_se(self) -> float:
        return self.num_neurons * self.distance_se * self.c_bias * self.c_grad / self.T

    @property
    def lower_bound_shape(self) -> float:
        """T / (C_bias C_grad #neurons): the corollary's bound without its unknown constant c."""
        return self.T / (self.c_bias * self.c_grad * self.num_neurons)

    def __repr__(self) -> str:
        return (f"Corollary8Row({self.label}: neurons={self.num_neurons}, mean distance={self.mean_distance:.4g} "
                f"± {self.distance_se:.2g}, product={self.product:.4g})")


@dataclass(frozen=True)
class Corollary8:
    """Corollary 8 side by side over models: rows, and the fitted exponent of mean distance
    against #neurons (the corollary predicts distance ≳ 1/#neurons: exponent -1 if the bound is tight)."""

    kind: str
    rows: tuple[Corollary8Row, ...]
    exponent: float

    def to_text(self) -> str:
        head = f"{'model':<34} {'neurons':>7} {'mean dist':>10} {'± se':>8} {'C_bias':>8} {'C_grad':>7} {'n·d·Cb·Cg/T':>12}"
        lines_ = [f"Corollary 8 ({self.kind} boundary): #neurons x mean distance x C_bias x C_grad / T is bounded below", head]
        for r in self.rows:
            lines_.append(f"{r.label[:34]:<34} {r.num_neurons:>7d} {r.mean_distance:>10.4g} {r.distance_se:>8.2g} "
                          f"{r.c_bias:>8.3g} {r.c_grad:>7.3g} {r.product:>12.4g}")
        if len(self.rows) >= 2:
            lines_.append(f"fitted exponent of mean distance vs #neurons: {self.exponent:.3f} (bound shape: -1)")
        return "\n".join(lines_)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "exponent": self.exponent, "rows": [
            {"label": r.label, "num_neurons": r.num_neurons, "mean_distance": r.mean_distance, "distance_se": r.distance_se,
             "c_bias": r.c_bias, "c_grad": r.c_grad, "T": r.T, "product": r.product, "product_se": r.product_se}
            for r in self.rows]}

    def __repr__(self) -> str:
        return f"Corollary8({self.kind}, {len(self.rows)} models, exponent={self.exponent:.3g})"


def corollary8(models: Any, domain: Domain | None = None, *, points: Any = None, kind: Kind = "activation",
               bias_law: Any = None, n_networks: int = 8, n_points: int = 256, seed: int = 0,
               device: Any = None) -> Corollary8:
    """Corollary 8 side by side: E[distance(x, B)] for x uniform in K (or the given data ``points``),
    times #neurons, against c·T / (C_bias C_grad #neurons), over one model or a list of models.

    Distances are exact (``linregions.distance.distance_to_boundary``, ``kind="activation"`` by
    default: the paper's measurement; ``"linear"``: B_N itself). The constant c is unknown: each row
    reports #neurons × mean distance × C_bias × C_grad / T, which the corollary bounds below, and
    ``exponent`` is the least-squares slope of log(mean distance) against log(#neurons).
    """
    from ..distance import distance_to_boundary

    if domain is None and points is None:
        raise ValueError("give a domain (Box or Ball) to sample uniform points from, or data points")
    if domain is not None and not isinstance(domain, (Box, Ball)):
        raise TypeError(f"domain must be a Box or Ball for uniform points, got {type(domain).__name__}")
    models = list(models) if isinstance(models, (list, tuple)) else [models]
    rows = []
    rng = np.random.default_rng([int(seed), 17])
    for model in models:
        nets = _nets(model, n_networks, seed)
        cb = c_bias(model, bias_law)
        gdom = domain if domain is not None else Box(np.min(points, axis=0) - 1e-9, np.max(points, axis=0) + 1e-9)
        cg = c_grad(model, gdom, 1, n_networks=n_networks, n_samples=min(n_points, 128), seed=seed, device=device).value
        means = []
        for net in nets:
            X = domain.sample(rng, n_points) if points is None else np.asarray(points, dtype=np.float64)
            kw = {"device": device} if kind == "activation" else {}
            d = distance_to_boundary(net, X, kind=kind, **kw).distance
            means.append(float(np.mean(d[np.isfinite(d)])) if np.isfinite(d).any() else math.inf)
        means = np.array(means)
        se = float(means.std(ddof=1) / math.sqrt(means.size)) if means.size >= 2 else math.nan
        rows.append(Corollary8Row(repr(model), nets[0].num_neurons, float(means.mean()), se, float(cb), float(cg), _T(nets[0])))
    if len(rows) >= 2:
        x = np.log([r.num_neurons for r in rows])
        y = np.log([r.mean_distance for r in rows])
        exponent = float(np.polyfit(x, y, 1)[0]) if np.ptp(x) > 0 else math.nan
    else:
        exponent = math.nan
    return Corollary8(kind, tuple(rows), exponent)


