"""The theory of Hanin & Rolnick evaluated for real networks, and held against measurement.

What is here (THEORY.md §2-§4):

- ``theorem6``: unbiased Monte Carlo estimates of E[vol_{m-k}(B_{N,k} ∩ K)] (Theorem 6) for a
  random-network law (``NetworkLaw``) or for one fixed ``Network`` with the law of its biases, on a
  domain K: a ``Box`` or ``Ball`` of input space, a ``Segment``, a planar ``Rectangle``, or the
  whole line/plane of a 1- or 2-input network (``WholeSpace``). k = 1 sums over every neuron and
  breakpoint; k >= 2 enumerates neuron tuples when there are few and samples them uniformly
  (unbiased) otherwise. Torch, float64, CPU or CUDA (``device=``): k = 1 is batched over
  networks, inputs and the neurons of a layer; k >= 2 over inputs and tuples, network by network.
- ``segment_expected_count``: the k = 1 closed form on a segment, per neuron and affine piece
  |F(ξ - z̃(t1)) - F(ξ - z̃(t0))| (also on the whole real line of a 1-input network).
- ``c_bias``, ``c_grad``, ``corollary7``, ``corollary8``: the constants and the bounds of
  Corollaries 7 and 8 with the measured quantity next to them.
- ``init_facts``: facts (31)-(34) of the appendix at He initialisation, estimate against formula.
- ``measure`` and ``compare``: exact counts/lengths (``line``, ``plane``) or Crofton estimates
  (``crofton``) next to the prediction, with standard errors and z-scores (``TheoryTable``).

Conventions (docs/architecture.md): a bias law describes PyTorch's bias β (u = w·a + β); the
bias-free pre-activation is z̃ = u - β, and the density in Theorem 6 is ρ_β(ξ - z̃(x)).
Goodness is structural (a path of open neurons with non-zero weights to an output); a neuron
exactly at a breakpoint counts as open.

The exact estimator ("substituted"). The coarea argument behind Theorem 6 (Prop. 11) integrates,
for each chosen neuron z and breakpoint ξ, over the level set {u_z = ξ} *with z's bias set so that
z sits at ξ*. So, for every x, chosen neurons are set exactly to their breakpoints in layer order,
and goodness and the bias-free pre-activations (and gradients) of later chosen neurons are taken
in that substituted network. For k >= 2 the Jacobian row of a later chosen neuron is its gradient
in the substituted network (the slopes of earlier chosen neurons only add multiples of their own
rows, which the Gram determinant ignores). The cheaper ``mode="unmodified"`` evaluates everything
in the network as it is: a named approximation, biased where goodness or later pre-activations
depend on the chosen neurons (narrow hard-tanh nets; THEORY.md §2 reports 3.5σ for k = 2).

Assumption A2. Theorem 6 needs biases with a bounded density. ``Zero()`` (no density) or a law
whose density is unbounded raises ``laws.AssumptionError``; so does a fixed network given without
its bias law.

>>> from linregions import relu, Normal
>>> law = NetworkLaw(1, (8, 8), activation=relu(), biases=Normal(0.5))
>>> est = theorem6(law, Segment([-1.0], [1.0]), k=1, n_networks=4, n_samples=256)
>>> est.value > 0
True
"""
from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass, field
from itertools import combinations, product
from typing import Any, Literal, Sequence

import numpy as np
from scipy import special

from .activations import PiecewiseLinear, relu
from .crofton import Ball, Box, boundary_volume, vertex_volume
from .laws import AssumptionError, HeNormal, Laplace, Normal, Uniform, random_mlp
from .line import lines, real_line
from .network import ARGMAX, Network, _as_matrix

__all__ = [
    "NetworkLaw",
    "Segment",
    "Rectangle",
    "WholeSpace",
    "Box",
    "Ball",
    "Estimate",
    "Theorem6Estimate",
    "theorem6",
    "approximation_bias",
    "segment_expected_count",
    "c_bias",
    "c_grad",
    "Corollary7",
    "corollary7",
    "Corollary8Row",
    "Corollary8",
    "corollary8",
    "FactCheck",
    "init_facts",
    "measure",
    "Measurement",
    "TheoryRow",
    "TheoryTable",
    "compare",
]

Kind = Literal["linear", "activation"]
Mode = Literal["substituted", "unmodified"]

#: Elements (float64) of the largest intermediate tensor of one batch of the estimators; the batch
#: of inputs is cut so that no tensor exceeds it (about 64 MiB).
_BATCH_ELEMENTS = 8 * 2**20

#: Above this many (neuron tuple, breakpoint tuple) terms per input, k >= 2 estimators sample
#: tuples uniformly instead of summing over all of them (both are unbiased; the sum has less variance).
_MAX_EXHAUSTIVE_TERMS = 4096


# ------------------------------------------------------------------------------------------------
# laws of networks


@dataclass(frozen=True)
class NetworkLaw:
    """A random fully connected network: architecture, activation, weight law and bias law.

    ``sample(seed)`` draws one ``Network`` with ``laws.random_mlp``.

    >>> law = NetworkLaw(2, (16, 16))
    >>> law.sample(0).widths, law.num_neurons
    ((16, 16), 32)
    """

    n_in: int
    widths: tuple[int, ...]
    n_out: int = 1
    activation: PiecewiseLinear = field(default_factory=relu)
    weights: Any = field(default_factory=HeNormal)
    biases: Any = field(default_factory=lambda: Normal(std=0.1))

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if int(self.n_in) < 1 or int(self.n_out) < 1 or not self.widths or min(self.widths) < 1:
            raise ValueError(f"NetworkLaw: n_in, n_out and widths must be positive (at least one hidden layer), got {self.n_in}, {self.widths}, {self.n_out}")
        if not isinstance(self.activation, PiecewiseLinear):
            raise TypeError(f"NetworkLaw: activation must be a PiecewiseLinear, got {type(self.activation).__name__}")

    def sample(self, seed: int | np.random.Generator | None = None) -> Network:
        return random_mlp(self.n_in, self.widths, self.n_out, activation=self.activation, weights=self.weights,
                          biases=self.biases, seed=seed)

    @property
    def num_neurons(self) -> int:
        return int(sum(self.widths))

    def __repr__(self) -> str:
        arch = "-".join(map(str, (self.n_in,) + self.widths + (self.n_out,)))
        return f"NetworkLaw({arch}, {self.activation.name}, biases={self.biases})"


def _check_law(law: Any, where: str = "bias law") -> None:
    if law is None:
        raise AssumptionError(f"Theorem 6 needs the law of the biases ({where} is None): pass bias_law=Normal(...) with a fixed network")
    if not getattr(law, "has_density", False):
        raise AssumptionError(
            f"{where} {law!r} has no density: assumption A2 of Hanin & Rolnick (biases with a bounded density) "
            "fails, e.g. zero biases put every first-layer hyperplane through the origin. Theorem 6 and "
            "Corollaries 7-8 do not apply; use exact counts (line, plane) instead."
        )
    sup = float(law.sup_density)
    if not (math.isfinite(sup) and sup > 0):
        raise AssumptionError(f"{where} {law!r} has an unbounded density (sup = {sup}): assumption A2 fails")


def _laws_for(model: Any, bias_law: Any, depth: int) -> list:
    law = model.biases if isinstance(model, NetworkLaw) and bias_law is None else bias_law
    laws = list(law) if isinstance(law, (list, tuple)) else [law] * depth
    if len(laws) != depth:
        raise ValueError(f"bias_law: need one law or {depth} (one per hidden layer), got {len(laws)}")
    for i, l in enumerate(laws):
        _check_law(l, f"bias law of hidden layer {i}")
    return laws


def _pdf_torch(law: Any, x):
    import torch

    if isinstance(law, Normal):
        z = (x - law.mean) / law.std
        return torch.exp(-0.5 * z * z) / (law.std * math.sqrt(2 * math.pi))
    if isinstance(law, Uniform):
        return ((x >= law.low) & (x <= law.high)).to(x.dtype) / (law.high - law.low)
    if isinstance(law, Laplace):
        return torch.exp(-torch.abs(x - law.loc) / law.scale) / (2 * law.scale)
    return torch.as_tensor(np.asarray(law.pdf(x.detach().cpu().numpy()), dtype=np.float64), device=x.device)


# ------------------------------------------------------------------------------------------------
# domains


@dataclass(frozen=True, eq=False)
class Segment:
    """The segment [x0, x1]. Theorem 6 with k = 1 on it is the expected number of boundary points."""

    x0: np.ndarray
    x1: np.ndarray

    def __post_init__(self) -> None:
        a = np.atleast_1d(_as_matrix(self.x0, "x0")).reshape(-1)
        b = np.atleast_1d(_as_matrix(self.x1, "x1")).reshape(-1)
        if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))) or np.all(a == b):
            raise ValueError("Segment: x0 and x1 must be finite points of the same dimension, distinct")
        object.__setattr__(self, "x0", a)
        object.__setattr__(self, "x1", b)

    @property
    def dim(self) -> int:
        return 1

    @property
    def n_in(self) -> int:
        return int(self.x0.size)

    @property
    def volume(self) -> float:
        return float(np.linalg.norm(self.x1 - self.x0))

    def __repr__(self) -> str:
        return f"Segment(n_in={self.n_in}, length={self.volume:.4g})"


@dataclass(frozen=True, eq=False)
class Rectangle:
    """The rectangle {origin + basis @ (u, v) : u in [u0, u1], v in [v0, v1]} of a plane of input
    space; ``basis`` (n_in, 2) must have orthonormal columns (so lengths are Euclidean)."""

    origin: np.ndarray
    basis: np.ndarray
    bounds: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        o = np.atleast_1d(_as_matrix(self.origin, "origin")).reshape(-1)
        P = _as_matrix(self.basis, "basis")
        if P.ndim != 2 or P.shape != (o.size, 2):
            raise ValueError(f"Rectangle: basis must have shape ({o.size}, 2), got {P.shape}")
        if not np.allclose(P.T @ P, np.eye(2), atol=1e-10):
            raise ValueError("Rectangle: basis columns must be orthonormal (use np.linalg.qr)")
        b = tuple(float(v) for v in self.bounds)
        if len(b) != 4 or not all(map(math.isfinite, b)) or b[1] <= b[0] or b[3] <= b[2]:
            raise ValueError(f"Rectangle: bounds must be (u_min, u_max, v_min, v_max) with min < max, got {self.bounds}")
        object.__setattr__(self, "origin", o)
        object.__setattr__(self, "basis", P)
        object.__setattr__(self, "bounds", b)

    @classmethod
    def square(cls, r: float = 1.0) -> "Rectangle":
        """[-r, r]^2 in R^2 (the plane is the input space)."""
        return cls(np.zeros(2), np.eye(2), (-r, r, -r, r))

    @property
    def dim(self) -> int:
        return 2

    @property
    def n_in(self) -> int:
        return int(self.origin.size)

    @property
    def volume(self) -> float:
        u0, u1, v0, v1 = self.bounds
        return (u1 - u0) * (v1 - v0)

    def __repr__(self) -> str:
        return f"Rectangle(n_in={self.n_in}, bounds={self.bounds})"


@dataclass(frozen=True)
class WholeSpace:
    """All of R^n_in for a 1- or 2-input network. Only k = n_in is finite there (points of a line,
    vertices of a plane). Estimators integrate by importance sampling from a Cauchy-type
    (multivariate t, one degree of freedom) proposal of the given ``scale``."""

    n_in: int
    scale: float = 1.0

    def __post_init__(self) -> None:
        if int(self.n_in) not in (1, 2):
            raise ValueError(f"WholeSpace: only 1- or 2-input networks, got n_in={self.n_in}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"WholeSpace: scale must be positive, got {self.scale}")

    @property
    def dim(self) -> int:
        return int(self.n_in)

    @property
    def volume(self) -> float:
        return math.inf


Domain = Any  # Box | Ball | Segment | Rectangle | WholeSpace


def _domain_n_in(domain: Domain) -> int:
    if isinstance(domain, (Box, Ball)):
        return domain.dim
    if isinstance(domain, (Segment, Rectangle, WholeSpace)):
        return domain.n_in
    raise TypeError(f"domain must be a Box, Ball, Segment, Rectangle or WholeSpace, got {type(domain).__name__}")


def _restriction(domain: Domain) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(origin, P) with x = origin + P s, or (None, None) when s is x itself."""
    if isinstance(domain, Segment):
        return domain.x0, (domain.x1 - domain.x0)[:, None]
    if isinstance(domain, Rectangle):
        return domain.origin, domain.basis
    return None, None


def _sample_domain(domain: Domain, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points s in the domain's own coordinates and weights w with E[w f(s)] = ∫ f ds."""
    if isinstance(domain, (Box, Ball)):
        return domain.sample(rng, n), np.full(n, domain.volume)
    if isinstance(domain, Segment):
        return rng.random((n, 1)), np.ones(n)
    if isinstance(domain, Rectangle):
        u0, u1, v0, v1 = domain.bounds
        S = np.column_stack([u0 + (u1 - u0) * rng.random(n), v0 + (v1 - v0) * rng.random(n)])
        return S, np.full(n, domain.volume)
    # WholeSpace: multivariate t with one degree of freedom, scale c
    m, c = domain.dim, domain.scale
    g = rng.normal(size=(n, m))
    w = np.abs(rng.normal(size=n))  # chi with 1 degree of freedom
    S = c * g / w[:, None]
    r2 = np.sum((S / c) ** 2, axis=1)
    logq = (special.gammaln((1 + m) / 2) - special.gammaln(0.5) - (m / 2) * math.log(math.pi) - m * math.log(c)
            - ((1 + m) / 2) * np.log1p(r2))
    return S, np.exp(-logq)


def _param_volume(domain: Domain) -> float:
    """Volume of the domain in its own coordinates (1 for a segment, t in [0, 1])."""
    return 1.0 if isinstance(domain, Segment) else float(domain.volume)


# ------------------------------------------------------------------------------------------------
# torch kernels

#: CPU batches with fewer elements than this run on one torch thread: for small tensors the
#: threads' start-up (and, on a loaded machine, their spin-waiting) costs far more than the work.
_SMALL_WORK = 2**22


class _cpu_threads:
    """Context: one torch thread for small CPU work (see ``_SMALL_WORK``); restores the setting."""

    def __init__(self, device: Any, work: int):
        self.on = (device is None or str(device) == "cpu") and work < _SMALL_WORK
        self.prev = None

    def __enter__(self):
        if self.on:
            import torch

            self.prev = torch.get_num_threads()
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.on and self.prev is not None:
            import torch

            torch.set_num_threads(self.prev)


class _TorchNet:
    """A network's parameters as float64 tensors, with the original biases (for z̃ = u - β)."""

    def __init__(self, net: Network, laws: list, device: Any, domain: Domain):
        import torch

        self.net = net
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        origin, P = _restriction(domain)
        rnet = net if origin is None else net.restrict(origin, P)
        self.rnet = rnet
        as_t = lambda A: torch.tensor(np.array(A, dtype=np.float64), device=self.device)  # noqa: E731
        self.W, self.b = [as_t(W) for W in rnet.weights], [as_t(b) for b in rnet.biases]
        self.beta = [as_t(b) for b in net.biases]  # original biases: z̃ = u - β
        self.laws = laws
        self.nz = [W != 0 for W in self.W]
        self.dense = [bool(m.all()) for m in self.nz]
        self.switch = [torch.tensor(np.array(net.switching(l)), device=self.device) for l in range(net.depth)]
        self.xi = [as_t(a.breakpoints) for a in net.activations]
        self.phi_xi = [as_t(a.values_at_breakpoints) for a in net.activations]
        self.m = rnet.n_in

    def layer_in(self, l: int, a, Ga):
        """Pre-activations u_l and their gradients (B, m, n_l) from a_{l-1} and its gradient."""
        W, b = self.W[l], self.b[l]
        u = a @ W.T + b
        Gu = W.T.expand(a.shape[0], -1, -1) if Ga is None else Ga @ W.T
        return u, Gu


def _reach(nz: list, opens: dict, lo: int) -> dict:
    """R[j] (j = lo..d-1): a path from each neuron of layer j to an output through neurons of
    later layers that are open (``opens[j']`` for j' > j) along non-zero weights (``nz[j]`` =
    weights[j] != 0, torch bool). The boolean matrix products run in float64."""
    import torch

    d = len(nz) - 1
    R = nz[-1].any(dim=0)
    out = {d - 1: R}
    for j in range(d - 1, lo, -1):
        G = opens[j] & R
        if bool(nz[j].all()):  # dense weights: reachable iff some neuron of layer j is
            R = G.any(dim=-1, keepdim=True).expand(*G.shape[:-1], nz[j].shape[1])
        else:
            R = (G.to(torch.float64) @ nz[j].to(torch.float64)) > 0
        out[j - 1] = R
    return out


class _TorchStack:
    """M networks of one architecture (a law's samples, or one network) as stacked float64
    tensors (M, n_out, n_in), restricted to the domain, with the original biases (z̃ = u - β)."""

    def __init__(self, nets: list[Network], laws: list, device: Any, domain: Domain):
        import torch

        net = nets[0]
        shapes = [W.shape for W in net.weights]
        if any([W.shape for W in n.weights] != shapes or n.activations != net.activations for n in nets[1:]):
            raise ValueError("networks batched together must share architecture and activations")
        self.net = net
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        origin, P = _restriction(domain)
        rnets = nets if origin is None else [n.restrict(origin, P) for n in nets]
        st = lambda arrs: torch.tensor(np.stack(arrs).astype(np.float64), device=self.device)  # noqa: E731
        L = len(net.weights)
        self.W = [st([r.weights[l] for r in rnets]) for l in range(L)]  # (M, n_out, n_in)
        self.Wt = [W.transpose(-1, -2) for W in self.W]
        self.b = [st([r.biases[l] for r in rnets]) for l in range(L)]  # (M, n_out)
        self.beta = [st([n.biases[l] for n in nets]) for l in range(L)]
        self.laws = laws
        self.nz = [W != 0 for W in self.W]
        self.dense = [bool(m.all()) for m in self.nz]
        self.switch = [torch.tensor(np.array(net.switching(l)), device=self.device) for l in range(net.depth)]
        self.xi = [torch.tensor(np.array(a.breakpoints, dtype=np.float64), device=self.device) for a in net.activations]
        self.phi_xi = [torch.tensor(np.array(a.values_at_breakpoints, dtype=np.float64), device=self.device)
                       for a in net.activations]
        self.m = rnets[0].n_in
        self.M = len(nets)


def _bcast(x, extra: int):
    """(M, ...) -> (M, 1 x extra, ...): insert ``extra`` broadcast axes after the network axis."""
    return x.reshape(x.shape[:1] + (1,) * extra + x.shape[1:])


def _reach_stack(ts: _TorchStack, opens: dict, lo: int, extra: int) -> dict:
    """``_reach`` for stacked networks: opens[j] has shape (M, <extra axes>, n_j)."""
    import torch

    d = ts.net.depth
    R = _bcast(ts.nz[-1].any(dim=-2), extra)
    out = {d - 1: R}
    for j in range(d - 1, lo, -1):
        G = opens[j] & R
        if ts.dense[j]:
            R = G.any(dim=-1, keepdim=True).expand(*G.shape[:-1], ts.W[j].shape[-1])
        else:
            R = (G.to(torch.float64) @ _bcast(ts.nz[j].to(torch.float64), G.dim() - 3)) > 0
        out[j - 1] = R
    return out


def _k1_values(ts: _TorchStack, S):
    """Per network and input (S: (M, B, m)), the k = 1 integrand summed over neurons and
    breakpoints, three ways: (M, B, 3) = (activation kind, linear kind substituted, linear kind
    unmodified). Vectorised over networks, inputs, and the neurons of each layer."""
    import torch

    net, d = ts.net, ts.net.depth
    a, Ga = S, None
    us, acts, opens, terms = [], [], {}, []
    for l in range(d):
        Wt = ts.Wt[l]
        u = a @ Wt + ts.b[l][:, None, :]
        Gu = Wt[:, None].expand(S.shape[0], S.shape[1], *Wt.shape[1:]) if Ga is None else Ga @ Wt[:, None]
        gn = torch.linalg.vector_norm(Gu, dim=-2)  # (M, B, n_l)
        zt = u - ts.beta[l][:, None, :]
        dens = torch.stack([_pdf_torch(ts.laws[l], x - zt) for x in ts.xi[l]], dim=0)  # (T, M, B, n_l)
        terms.append(gn[None] * (dens * ts.switch[l]))
        q = net.slope(l, net.piece(l, u))
        opens[l] = q != 0
        us.append(u)
        a = net.activate(l, u)
        acts.append(a)
        Ga = Gu * q[..., None, :].to(Gu.dtype)
        del Gu
    R = _reach_stack(ts, opens, 0, 1)
    act = torch.zeros(S.shape[:2], dtype=torch.float64, device=S.device)
    sub = torch.zeros_like(act)
    unm = torch.zeros_like(act)
    for l in range(d):
        t = terms[l]  # (T, M, B, n_l)
        act += t.sum(dim=(0, 3))
        unm += (t * R[l]).sum(dim=(0, 3))
        if l == d - 1:
            sub += (t * R[l]).sum(dim=(0, 3))
            continue
        for i in range(t.shape[0]):
            delta = ts.phi_xi[l][..., i] - acts[l]  # (M, B, n_l): change of z's output when z sits at ξ_i
            U = us[l + 1][:, :, None, :] + delta[..., None] * ts.Wt[l + 1][:, None]  # (M, B, n_l, n_{l+1})
            op = {}
            for j in range(l + 1, d):
                if j > l + 1:
                    U = net.activate(j - 1, U) @ ts.Wt[j][:, None] + ts.b[j][:, None, None, :]
                op[j] = net.slope(j, net.piece(j, U)) != 0
            Rs = _reach_stack(ts, op, l + 1, 2)
            G = op[l + 1] & Rs[l + 1]  # (M, B, n_l, n_{l+1})
            if ts.dense[l + 1]:
                good = G.any(dim=-1)
            else:
                good = (G.to(torch.float64) * ts.nz[l + 1].transpose(-1, -2).to(torch.float64)[:, None]).sum(-1) > 0
            sub += (t[i] * good).sum(dim=-1)
    return torch.stack([act, sub, unm], dim=-1)


def _kk_values(tn: _TorchNet, S, tl, tu, tb, substitute: bool):
    """Per row (input, neuron tuple sorted by layer, breakpoint tuple): the Theorem 6 integrand
    ‖J‖ Π ρ(ξ - z̃) (columns: activation kind, linear kind = times 1{all good})."""
    import torch

    net, d = tn.net, tn.net.depth
    B, k = tl.shape
    a, Ga = S, None
    dens = torch.ones(B, dtype=torch.float64, device=S.device)
    J = torch.zeros(B, k, tn.m, dtype=torch.float64, device=S.device)
    opens = {}
    rows = torch.arange(B, device=S.device)
    for l in range(d):
        u, Gu = tn.layer_in(l, a, Ga)
        force = torch.zeros_like(u, dtype=torch.bool)
        for j in range(k):
            r = rows[tl[:, j] == l]
            if r.numel() == 0:
                continue
            un = tu[r, j]
            xi = tn.xi[l][tb[r, j]]
            zt = u[r, un] - tn.beta[l][un]
            dens[r] = dens[r] * _pdf_torch(tn.laws[l], xi - zt)
            J[r, j, :] = Gu[r, :, un]
            if substitute:
                u[r, un] = xi
                force[r, un] = True
        q = net.slope(l, net.piece(l, u))
        opens[l] = (q != 0) | force
        a = net.activate(l, u)
        Ga = Gu * q[:, None, :].to(Gu.dtype)
        del Gu
    R = _reach(tn.nz, opens, 0)
    good = torch.ones(B, dtype=torch.bool, device=S.device)
    for j in range(k):
        for l in range(d):
            r = rows[tl[:, j] == l]
            if r.numel():
                Rl = R[l]
                g = Rl[tu[r, j]] if Rl.dim() == 1 else Rl[r, tu[r, j]]
                good[r] &= g
    gram = J @ J.transpose(1, 2)
    vol = torch.sqrt(torch.clamp(torch.linalg.det(gram), min=0.0)) if k > 1 else torch.sqrt(gram[:, 0, 0])
    y = vol * dens
    return torch.stack([y, y * good], dim=1)


def _chunk(tn: _TorchNet, k: int) -> int:
    widths = tn.net.widths
    per = tn.m * max(widths) + (max(widths) ** 2 if k == 1 else 0) + 1
    return max(1, min(1 << 16, _BATCH_ELEMENTS // per))


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
                 device: Any) -> list[dict]:
    """k = 1 for many networks at once: batches of networks x inputs through ``_k1_values``."""
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
                vals.append(_k1_values(ts, torch.as_tensor(S, dtype=torch.float64, device=ts.device)).cpu().numpy())
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


def theorem6(model: NetworkLaw | Network, domain: Domain, k: int = 1, *, bias_law: Any = None,
             kind: Kind = "linear", mode: Mode = "substituted", n_networks: int = 16, n_samples: int = 1024,
             tuples: int | str | None = None, seed: int = 0, device: Any = None,
             progress: bool = False) -> Theorem6Estimate:
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
        networks) or one ``Network`` with its ``bias_law`` (SE over the ``n_samples`` inputs).
    domain : ``Box``, ``Ball``, ``Segment``, ``Rectangle`` or ``WholeSpace``.
    k : 1..dim(K). k = 1 sums over all neurons; k >= 2 over all tuples when there are at most
        ``_MAX_EXHAUSTIVE_TERMS`` of them (or ``tuples="all"``), else ``tuples`` uniform random tuples
        per input (default 1), weighted by their number.
    device : torch device ("cpu", "cuda").

    >>> from linregions import Normal, hard_tanh
    >>> law = NetworkLaw(2, (4, 4), activation=hard_tanh(), biases=Normal(0.5))
    >>> theorem6(law, Rectangle.square(1.0), k=2, n_networks=2, n_samples=64).k
    2
    """
    _check_common(model, domain, k, kind, mode)
    nets = _nets(model, n_networks, seed, per_neuron=(k == 1 and kind == "activation"))
    laws = _laws_for(model, bias_law, nets[0].depth)
    rng = np.random.default_rng([int(seed), 11])
    key = "activation" if kind == "activation" else f"linear/{mode}"
    if int(k) == 1:
        res = [r[key] for r in _estimate_k1(nets, laws, domain, n_samples, rng, device)]
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


def approximation_bias(model: NetworkLaw | Network, domain: Domain, k: int = 1, *, bias_law: Any = None,
                       n_networks: int = 16, n_samples: int = 1024, seed: int = 0, device: Any = None,
                       tuples: Any = None) -> Estimate:
    """The bias of the "unmodified" approximation (goodness, and for k >= 2 the later neurons'
    pre-activations, taken in the network as it is) against the exact substituted estimator:
    mean over networks of (approximate - exact) ± SE of the paired differences (the two use the
    same networks and the same inputs, so their noise largely cancels). Linear kind.

    Where nothing downstream of a chosen neuron matters the two agree exactly (e.g. one hidden
    layer); they differ where goodness depends on the chosen neuron's own output (narrow hard-tanh
    nets) and, for k >= 2, where a later chosen neuron's pre-activation does (THEORY.md §2).
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


# ------------------------------------------------------------------------------------------------
# closed form on segments


def segment_expected_count(net: Network, x0: Any, x1: Any | None = None, *, bias_law: Any,
                           kind: Kind = "linear") -> float:
    """Theorem 6 with k = 1 in closed form on the segment [x0, x1]: Σ_z E_{β_z}[#points of z's
    boundary on the segment | all other parameters], the expected count of boundary points.

    On each interval where z̃ is affine, ∫ |dz̃/dt| ρ_β(ξ - z̃(t)) dt = |F_β(ξ - z̃(t1)) - F_β(ξ - z̃(t0))|
    (F_β the bias CDF). For ``kind="linear"`` the intervals are those of the network with z frozen
    at φ(ξ) (the substituted network), and only those where z is good there count. With
    ``x1=None`` and a 1-input network, the segment is the whole real line (outer intervals to ±∞).

    >>> from linregions import Normal, Network, relu
    >>> net = Network((np.array([[1.0]]), np.array([[1.0]])), (np.zeros(1), np.zeros(1)), (relu(),))
    >>> round(segment_expected_count(net, [-1.0], [1.0], bias_law=Normal(1.0)), 6)  # P(|β| < 1)
    0.682689
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")
    laws = _laws_for(None, bias_law, net.depth)
    whole = x1 is None
    if whole and net.n_in != 1:
        raise ValueError("x1=None (the whole real line) needs a 1-input network")
    x0 = np.atleast_1d(_as_matrix(x0, "x0")).reshape(-1) if not whole else None
    x1 = np.atleast_1d(_as_matrix(x1, "x1")).reshape(-1) if not whole else None
    if kind == "activation":
        return _segment_expected_activation(net, x0, x1, laws)
    total = 0.0
    ids = net.neuron_ids
    for l, z in ids:
        Ws = list(net.weights)
        bs = list(net.biases)
        for i, xi in enumerate(net.activations[l].breakpoints):
            # substituted (frozen) network: u_z ≡ ξ, so z's output is φ(ξ) everywhere
            W = Ws[l].copy()
            W[z] = 0.0
            b = bs[l].copy()
            b[z] = xi
            frozen = Network(tuple(Ws[:l]) + (W,) + tuple(Ws[l + 1 :]), tuple(bs[:l]) + (b,) + tuple(bs[l + 1 :]),
                             net.activations, net.unit_kinds)
            if whole:
                part = real_line(frozen)
                a0, a1 = part.x0, part.x1
            else:
                part = lines(frozen, x0[None], x1[None])[0]
                a0, a1 = x0, x1
            t = np.concatenate([[0.0], part.t, [1.0]])
            P = a0 + t[:, None] * (a1 - a0)
            zt = net.pre_activations(P)[l][:, z] - net.biases[l][z]
            F = np.asarray(laws[l].cdf(xi - zt), dtype=np.float64)
            if whole:  # outer intervals extend to ±∞ (z̃ is affine beyond the last point)
                ends = a0 + np.array([[0.5 * t[1]], [0.5 * (t[-2] + 1.0)]]) * (a1 - a0)
                slope_lo, slope_hi = _tangent(net, ends, np.broadcast_to(a1 - a0, ends.shape), l)[:, z]
                F = F.copy()
                if slope_lo != 0:  # t → -∞: ξ - z̃ → +∞ if z̃ increases
                    F[0] = 1.0 if slope_lo > 0 else 0.0
                if slope_hi != 0:  # t → +∞: ξ - z̃ → -∞ if z̃ increases
                    F[-1] = 0.0 if slope_hi > 0 else 1.0
            dF = np.abs(np.diff(F))
            if kind == "linear":
                mid = a0 + (0.5 * (t[:-1] + t[1:]))[:, None] * (a1 - a0)
                dF = dF * _good_numpy(frozen, mid, l, z)
            total += float(dF.sum())
    return total


def _segment_expected_activation(net: Network, x0: np.ndarray | None, x1: np.ndarray | None, laws: list) -> float:
    """``segment_expected_count`` for activation boundaries from ONE partition of the network.

    z̃ (the bias-free part of u_z) depends only on neurons upstream of z, so it is affine on every
    interval of the network's own partition (finer than the substituted network's, but z̃ keeps
    one direction on the sub-intervals of an affine piece, so the |ΔF| add up to the same value).
    """
    whole = x1 is None
    if whole:
        part = real_line(net)
        a0, a1 = part.x0, part.x1
    else:
        part = lines(net, x0[None], x1[None])[0]
        a0, a1 = x0, x1
    t = np.concatenate([[0.0], part.t, [1.0]])
    us = net.pre_activations(a0 + t[:, None] * (a1 - a0))
    if whole:
        ends = a0 + np.array([[0.5 * t[1]], [0.5 * (t[-2] + 1.0)]]) * (a1 - a0)
        V = np.broadcast_to(a1 - a0, ends.shape)
    total = 0.0
    for l in range(net.depth):
        sw = net.switching(l)
        zt = us[l][:, sw] - net.biases[l][sw]
        if whole:
            slope_lo, slope_hi = _tangent(net, ends, V, l)[:, sw]
        for xi in net.activations[l].breakpoints:
            F = np.asarray(laws[l].cdf(xi - zt), dtype=np.float64).copy()
            if whole:  # outer intervals extend to ±∞ (z̃ is affine beyond the last point)
                F[0] = np.where(slope_lo > 0, 1.0, np.where(slope_lo < 0, 0.0, F[0]))
                F[-1] = np.where(slope_hi > 0, 0.0, np.where(slope_hi < 0, 1.0, F[-1]))
            total += float(np.abs(np.diff(F, axis=0)).sum())
    return total


def _good_numpy(net: Network, X: np.ndarray, l: int, z: int) -> np.ndarray:
    """Whether neuron (l, z) is good at each input (structural; a neuron at a breakpoint is open)."""
    us = net.pre_activations(X)
    R = np.any(net.weights[-1] != 0, axis=0)[None, :]
    for j in range(net.depth - 1, l, -1):
        u = us[j]
        on = (net.derivative(j, u) != 0) | np.isin(u, net.activations[j].breakpoints)
        R = ((on & R).astype(np.float64) @ (net.weights[j] != 0).astype(np.float64)) > 0
    return np.broadcast_to(R, (X.shape[0], net.widths[l]))[:, z]


def _tangent(net: Network, X: np.ndarray, V: np.ndarray, l: int) -> np.ndarray:
    """d u_l / dt along direction V at inputs X (pieces from the pattern at X; exact zeros where
    the path of the derivative passes through flat pieces)."""
    a, da = X, V
    for j in range(l + 1):
        u = a @ net.weights[j].T + net.biases[j]
        du = da @ net.weights[j].T
        if j == l:
            return du
        a, da = net.activate(j, u), net.derivative(j, u) * du
    raise AssertionError


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
           seed: int = 0, device: Any = None) -> Estimate:
    """Estimate of C_grad for hypothesis (14) of Corollary 7, sup_{z_1..z_k, x} E[Π_j ‖∇z_j(x)‖] <= C_grad^k.

    By Hölder, E[Π_j ‖∇z_j‖] <= max_j E[‖∇z_j‖^k], so C_grad = max over hidden layers of
    (E ‖∇z(x)‖^k)^{1/k} is admissible when neurons of a layer are exchangeable (fully connected
    laws). The expectation runs over sampled networks, the layer's neurons and x uniform in K (the
    supremum over x is replaced by this average; at He initialisation E‖∇z(x)‖² = 2 for every x,
    fact (33)). Gradients are taken within the domain (directional on a segment, per unit length;
    in-plane on a rectangle). For one fixed ``Network`` the average is over its neurons and inputs.
    SE by the delta method over networks (over inputs for one network).
    """
    import torch

    if isinstance(domain, WholeSpace):
        raise ValueError("c_grad needs a bounded domain (Box, Ball, Segment or Rectangle)")
    nets = _nets(model, n_networks, seed)
    rng = np.random.default_rng([int(seed), 13])
    scale = _unit_scale(domain)
    per = []  # (n_networks or n_samples, depth) means of ‖∇z‖^k
    for net in nets:
        tn = _TorchNet(net, [None] * net.depth, device, domain)
        S, _ = _sample_domain(domain, rng, int(n_samples))
        with _cpu_threads(device, S.shape[0] * tn.m * max(net.widths)):
            G = _grad_norms(tn, torch.as_tensor(S, dtype=torch.float64, device=tn.device))
        per.append([np.mean((g * scale) ** k, axis=1) for g in G])  # per layer: (B,) means over units
    if len(nets) >= 2:
        vals = np.array([[p.mean() for p in pn] for pn in per])  # (n_networks, depth)
    else:
        vals = np.stack(per[0], axis=1)  # (n_samples, depth)
    means = vals.mean(axis=0)
    ses = vals.std(axis=0, ddof=1) / math.sqrt(vals.shape[0])
    l = int(np.argmax(means))
    v = means[l] ** (1.0 / k)
    se = ses[l] / (k * means[l] ** ((k - 1.0) / k)) if means[l] > 0 else 0.0
    return Estimate(float(v), float(se), int(vals.shape[0]), f"C_grad(k={k}), layer {l}")


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
    from .distance import distance_to_boundary

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


# ------------------------------------------------------------------------------------------------
# facts (31)-(34) at initialisation


@dataclass(frozen=True)
class FactCheck:
    """One fact of the appendix at He initialisation: Monte Carlo estimate ± SE, the paper's
    formula (``formula``; a lower bound where ``bound`` is True) and, where derived here, the exact
    value for the same setting (``exact``; NaN when none)."""

    name: str
    layer: int
    estimate: float
    se: float
    formula: float
    exact: float = math.nan
    bound: bool = False
    n: int = 0

    @property
    def z(self) -> float:
        """(estimate - reference) / se, against ``exact`` when derived, else the paper's formula."""
        ref = self.exact if math.isfinite(self.exact) else self.formula
        return (self.estimate - ref) / self.se if self.se > 0 else math.nan

    def __repr__(self) -> str:
        ex = f", exact {self.exact:.5g}" if math.isfinite(self.exact) else ""
        rel = ">=" if self.bound else "formula"
        return f"FactCheck({self.name}, layer {self.layer}: {self.estimate:.5g} ± {self.se:.2g}, {rel} {self.formula:.5g}{ex})"


def _log_factor(n: int) -> float:
    """E[log(4/n · χ²_M)] - log 2 ... i.e. log(4/n) + E[ψ(M/2)], M ~ Binomial(n, 1/2) given M >= 1."""
    M = np.arange(1, n + 1)
    p = special.comb(n, M) / (2.0 ** n - 1.0)
    return float(math.log(4.0 / n) + np.sum(p * special.digamma(M / 2.0)))


def init_facts(n_in: int = 8, widths: Sequence[int] = (32, 32, 32), *, bias_std: float = 0.1, x: Any = None,
               n_networks: int = 4000, seed: int = 0) -> list[FactCheck]:
    """Facts (31)-(34) of the appendix for ReLU nets with He-normal weights and N(0, bias_std²) biases,
    at one input x (default all ones), per hidden layer ℓ (0-based here; the paper's ℓ + 1):

    - (31) each neuron is open with probability 1/2; P(z good at x) >= 1 - Σ_j 2^{-n_j} (bound).
    - (32) ½ E[z(x)²] = ‖x‖²/n_in + Σ_{j≤ℓ} σ_b² (paper); exact here, for the pre-activation u
      including its bias: ‖x‖²/n_in + (ℓ+1) σ_b²/2 (E[relu(u)²] = E[u²]/2 for symmetric u).
    - (33) E‖∇z(x)‖² = 2.
    - (34) E[log(n_in (∂z/∂x_1)²)] = -(5/2) Σ_{j≤ℓ} 1/n_j + O(Σ 1/n_j²) (paper); exact here:
      -γ + Σ_{j<ℓ} [log(4/n_j) + E ψ(M_j/2)], M_j ~ Binomial(n_j, 1/2) (derived from the layerwise
      product of independent χ² factors; conditioned on no layer being all closed, probability
      1 - 2^{-n_j}). The paper's form omits the constant -γ (Euler's) of the first layer.

    Estimates average ``n_networks`` independent networks (vectorised); SE is over networks.
    """
    widths = [int(w) for w in widths]
    n_in = int(n_in)
    if n_in < 1 or not widths or min(widths) < 1:
        raise ValueError(f"init_facts: need n_in >= 1 and positive widths, got {n_in}, {widths}")
    if not (math.isfinite(bias_std) and bias_std > 0):
        raise AssumptionError(f"init_facts: bias_std must be positive (A2: biases with a density), got {bias_std}")
    x = np.ones(n_in) if x is None else np.asarray(x, dtype=np.float64).reshape(-1)
    if x.shape != (n_in,):
        raise ValueError(f"x must have shape ({n_in},), got {x.shape}")
    rng = np.random.default_rng([int(seed), 19])
    d = len(widths)
    M = int(n_networks)
    if M < 2:
        raise ValueError("n_networks must be at least 2")
    acc = {key: [[] for _ in range(d)] for key in ("open", "good", "u2", "g2", "log")}
    chunk = max(1, (2 ** 22) // (max(widths) * n_in + max(widths) ** 2))
    for s in range(0, M, chunk):
        m = min(chunk, M - s)
        sizes = [n_in] + widths
        Ws = [rng.normal(0, math.sqrt(2.0 / sizes[l]), size=(m, sizes[l + 1], sizes[l])) for l in range(d)]
        bs = [rng.normal(0, bias_std, size=(m, sizes[l + 1])) for l in range(d)]
        w_out = rng.normal(0, math.sqrt(2.0 / widths[-1]), size=(m, widths[-1]))
        a = np.broadcast_to(x, (m, n_in))
        G = np.broadcast_to(np.eye(n_in), (m, n_in, n_in))  # d a / d x, rows = units
        opens = []
        for l in range(d):
            u = np.einsum("mij,mj->mi", Ws[l], a) + bs[l]
            Gu = np.einsum("mij,mjk->mik", Ws[l], G)
            o = u > 0
            opens.append(o)
            acc["open"][l].append(o.mean(axis=1))
            acc["u2"][l].append(0.5 * (u * u).mean(axis=1))
            acc["g2"][l].append((Gu * Gu).sum(axis=2).mean(axis=1))
            with np.errstate(divide="ignore"):
                acc["log"][l].append(np.log(n_in * Gu[:, :, 0] ** 2).mean(axis=1))
            a = np.maximum(u, 0)
            G = Gu * o[:, :, None]
        # goodness: a path of open neurons to the output (dense non-zero weights)
        R = w_out != 0
        for l in range(d - 1, -1, -1):
            acc["good"][l].append(R.mean(axis=1))
            if l > 0:
                R = np.broadcast_to(np.any(opens[l] & R, axis=1, keepdims=True), (m, widths[l - 1]))
    facts = []
    xx = float(x @ x) / n_in
    gamma = float(np.euler_gamma)
    good_bound = 1.0 - sum(2.0 ** -n for n in widths)
    for l in range(d):
        col = {key: np.concatenate(acc[key][l]) for key in acc}
        est = lambda v: (float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(v.size)))  # noqa: E731
        e, se = est(col["open"])
        facts.append(FactCheck("(31) P(open)", l, e, se, 0.5, 0.5, n=M))
        e, se = est(col["good"])
        facts.append(FactCheck("(31) P(good)", l, e, se, good_bound, bound=True, n=M))
        e, se = est(col["u2"])
        facts.append(FactCheck("(32) E[z^2]/2", l, e, se, xx + (l + 1) * bias_std ** 2, xx + (l + 1) * bias_std ** 2 / 2, n=M))
        e, se = est(col["g2"])
        facts.append(FactCheck("(33) E|grad z|^2", l, e, se, 2.0, 2.0, n=M))
        lg = col["log"]
        lg = lg[np.isfinite(lg)]
        e, se = est(lg)
        exact = -gamma + sum(_log_factor(widths[j]) for j in range(l))
        facts.append(FactCheck("(34) E log(n_in dz/dx_1^2)", l, e, se, -2.5 * sum(1.0 / widths[j] for j in range(l + 1)), exact, n=int(lg.size)))
    return facts


# ------------------------------------------------------------------------------------------------
# measurement and comparison


#: Largest half-width tried when growing a square to hold every vertex of a 2-input network.
_WHOLE_PLANE_MAX_HALF_WIDTH = 1e6


def _whole_plane_vertices(net: Network, kind: str, **plane_kw) -> int:
    """Vertices of a 2-input network on all of R²: count in squares [-L, L]² of growing L (starting
    beyond every first-layer line's distance from the origin) until the count stops changing twice."""
    from .plane import plane

    W, b = net.weights[0], net.biases[0]
    xi = np.abs(net.activations[0].breakpoints).max()
    nrm = np.linalg.norm(W, axis=1)
    ok = nrm > 0
    L = 2.0 * float(np.max((np.abs(b[ok]) + xi) / nrm[ok], initial=1.0)) + 1.0
    counts = []
    while L <= _WHOLE_PLANE_MAX_HALF_WIDTH:
        counts.append(int(plane(net, np.zeros(2), np.eye(2), (-L, L, -L, L), **plane_kw).num_vertices(kind)))
        if len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]:
            return counts[-1]
        L *= 4.0
    raise RuntimeError("vertices keep appearing far out; the network may be degenerate")


def _measure_one(net: Network, domain: Domain, k: int, kind: str, rng: np.random.Generator, crofton_n: int,
                 plane_kw: dict) -> tuple[float, float, str]:
    """(value, se, method) of vol_{m-k}(B_{N,k} ∩ K) for one network; se > 0 only for Crofton."""
    if isinstance(domain, Segment):
        if k != 1:
            raise ValueError("on a segment only k = 1 (boundary points) is defined")
        return float(lines(net, domain.x0[None], domain.x1[None]).num_regions(kind)[0] - 1), 0.0, "exact (line)"
    if isinstance(domain, Rectangle):
        from .plane import plane

        part = plane(net, domain.origin, domain.basis, domain.bounds, **plane_kw)
        v = part.boundary_length(kind) if k == 1 else part.num_vertices(kind)
        return float(v), 0.0, "exact (plane)"
    if isinstance(domain, WholeSpace):
        if domain.dim == 1:
            return float(real_line(net).num_regions(kind) - 1), 0.0, "exact (real_line)"
        return float(_whole_plane_vertices(net, kind, **plane_kw)), 0.0, "exact (plane, growing square)"
    if isinstance(domain, Box) and domain.dim == 1:
        return float(lines(net, domain.low[None], domain.high[None]).num_regions(kind)[0] - 1), 0.0, "exact (line)"
    if isinstance(domain, Box) and domain.dim == 2:
        from .plane import plane

        part = plane(net, np.zeros(2), np.eye(2), (domain.low[0], domain.high[0], domain.low[1], domain.high[1]), **plane_kw)
        v = part.boundary_length(kind) if k == 1 else part.num_vertices(kind)
        return float(v), 0.0, "exact (plane)"
    if k == 1:
        e = boundary_volume(net, domain, kind=kind, n=crofton_n, seed=rng)
        return e.value, e.se, "Crofton (chords)"
    if k == 2:
        e = vertex_volume(net, domain, kind=kind, n=crofton_n, seed=rng, **plane_kw)
        return e.value, e.se, "Crofton (planes)"
    raise ValueError(f"no measurement for k={k} on {domain!r} (exact or Crofton: k = 1, 2)")


@dataclass(frozen=True, eq=False)
class Measurement:
    """Measured vol_{m-k}(B_{N,k} ∩ K): mean over networks ± SE (over networks; for one network,
    the Crofton SE or 0 for exact counts), with each network's value."""

    value: float
    se: float
    k: int
    kind: str
    method: str
    per_network: np.ndarray

    def __repr__(self) -> str:
        return f"Measurement(k={self.k}, {self.kind}, {self.method}: {self.value:.5g} ± {self.se:.2g}, networks={self.per_network.size})"


def measure(model: NetworkLaw | Network, domain: Domain, k: int = 1, *, kind: Kind = "linear", n_networks: int = 16,
            seed: int = 0, crofton_n: int = 200, progress: bool = False, **plane_kw) -> Measurement:
    """The measured counterpart of ``theorem6``: exact counts/lengths (segments, 1D/2D boxes,
    rectangles, the whole line or plane of 1-/2-input networks) or unbiased Crofton estimates
    (boxes and balls in higher dimension), for the same networks ``theorem6`` samples with the
    same ``seed`` (so the two can be compared pairwise)."""
    _check_common(model, domain, k, kind, "substituted")
    nets = _nets(model, n_networks, seed)
    rng = np.random.default_rng([int(seed), 23])
    it = nets
    if progress and len(nets) > 1:
        from tqdm.auto import tqdm

        it = tqdm(nets, desc="measure", unit="net")
    res = [_measure_one(net, domain, int(k), kind, rng, crofton_n, plane_kw) for net in it]
    per = np.array([r[0] for r in res])
    if len(nets) >= 2:
        value, se = float(per.mean()), float(per.std(ddof=1) / math.sqrt(per.size))
    else:
        value, se = float(per[0]), float(res[0][1])
    return Measurement(value, se, int(k), kind, res[0][2], per)


@dataclass(frozen=True)
class TheoryRow:
    """One k of a formula-against-measurement table.

    ``z`` = (predicted - measured) / SE of the difference: paired over the same networks when a
    law was sampled (SE of the per-network differences), else sqrt(se_pred² + se_meas²). For one
    fixed network the measured value is a single realisation of the biases while the prediction
    averages over them, so there ``z`` is indicative only; tests use laws.
    ``approx*``: the same with the "unmodified" approximation.
    """

    k: int
    kind: str
    predicted: float
    predicted_se: float
    measured: float
    measured_se: float
    z: float
    approx: float
    approx_se: float
    approx_z: float
    method: str
    measured_by: str

    def __repr__(self) -> str:
        return (f"TheoryRow(k={self.k}, {self.kind}: predicted {self.predicted:.5g} ± {self.predicted_se:.2g}, "
                f"measured {self.measured:.5g} ± {self.measured_se:.2g}, z={self.z:.2f})")


@dataclass(frozen=True)
class TheoryTable:
    """Theorem 6 against measurement for one model and domain (``compare``)."""

    model: str
    domain: str
    n_networks: int
    n_samples: int
    rows: tuple[TheoryRow, ...]

    def to_text(self) -> str:
        out = [f"Theorem 6 vs measurement: {self.model} on {self.domain} ({self.n_networks} network(s), {self.n_samples} samples each)",
               f"{'k':>2} {'kind':<10} {'predicted':>11} {'± se':>8} {'measured':>11} {'± se':>8} {'z':>6}   "
               f"{'approx.':>11} {'z':>6}  method / measured by"]
        for r in self.rows:
            out.append(f"{r.k:>2} {r.kind:<10} {r.predicted:>11.5g} {r.predicted_se:>8.2g} {r.measured:>11.5g} "
                       f"{r.measured_se:>8.2g} {r.z:>6.2f}   {r.approx:>11.5g} {r.approx_z:>6.2f}  {r.method} / {r.measured_by}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {"model": self.model, "domain": self.domain, "n_networks": self.n_networks, "n_samples": self.n_samples,
                "rows": [dict(r.__dict__) for r in self.rows]}

    def __repr__(self) -> str:
        zs = ", ".join(f"k={r.k}: z={r.z:.2f}" for r in self.rows)
        return f"TheoryTable({self.model} on {self.domain}: {zs})"


def _z(pred: np.ndarray, pred_se: float, meas: np.ndarray, meas_se: float, paired: bool) -> float:
    if paired and pred.size >= 2:
        d = pred - meas
        se = float(d.std(ddof=1) / math.sqrt(d.size))
        return float(d.mean() / se) if se > 0 else math.nan
    se = math.hypot(pred_se, meas_se)
    return float((pred.mean() - meas.mean()) / se) if se > 0 else math.nan


def compare(model: NetworkLaw | Network, domain: Domain, ks: Sequence[int] = (1,), *, bias_law: Any = None,
            kind: Kind = "linear", n_networks: int = 16, n_samples: int = 1024, method: str = "auto", seed: int = 0,
            device: Any = None, tuples: Any = None, crofton_n: int = 200, verbose: bool = False,
            progress: bool = False, **plane_kw) -> TheoryTable:
    """Theorem 6 (exact substituted estimator, and the "unmodified" approximation) against
    measurement, for each k in ``ks``, on the same sampled networks; prints the table when
    ``verbose`` and returns it (``to_text()``, ``to_dict()`` for JSON).

    ``method``: "closed" (the closed form of ``segment_expected_count``: k = 1 on segments and the
    whole line of 1-input nets), "mc" (``theorem6``) or "auto" (closed form where it exists).
    """
    if method not in ("auto", "closed", "mc"):
        raise ValueError(f"method must be 'auto', 'closed' or 'mc', got {method!r}")
    nets = _nets(model, n_networks, seed)
    laws = _laws_for(model, bias_law, nets[0].depth)
    paired = isinstance(model, NetworkLaw) and len(nets) >= 2
    rows = []
    for k in ks:
        k = int(k)
        _check_common(model, domain, k, kind, "substituted")
        closed_ok = k == 1 and (isinstance(domain, Segment) or (isinstance(domain, WholeSpace) and domain.dim == 1))
        if method == "closed" and not closed_ok:
            raise ValueError("method='closed' exists for k = 1 on a Segment or the whole line (WholeSpace(1)) only")
        if closed_ok and method != "mc":
            ends = (domain.x0, domain.x1) if isinstance(domain, Segment) else (np.zeros(1), None)
            pred = np.array([segment_expected_count(n, *ends, bias_law=laws, kind=kind) for n in nets])
            pred_se = float(pred.std(ddof=1) / math.sqrt(pred.size)) if pred.size >= 2 else 0.0
            if kind == "linear":
                mc_u = theorem6(model, domain, k, bias_law=bias_law, kind=kind, mode="unmodified", n_networks=n_networks,
                                n_samples=n_samples, seed=seed, device=device)
                approx, approx_se, approx_per = mc_u.value, mc_u.se, mc_u.per_network
            else:
                approx, approx_se, approx_per = float(pred.mean()), pred_se, pred
            mname = "closed form"
        else:
            est = theorem6(model, domain, k, bias_law=bias_law, kind=kind, mode="substituted", n_networks=n_networks,
                           n_samples=n_samples, seed=seed, device=device, tuples=tuples, progress=progress)
            pred, pred_se = est.per_network, est.se
            if kind == "linear":
                est_u = theorem6(model, domain, k, bias_law=bias_law, kind=kind, mode="unmodified", n_networks=n_networks,
                                 n_samples=n_samples, seed=seed, device=device, tuples=tuples)
                approx, approx_se, approx_per = est_u.value, est_u.se, est_u.per_network
            else:
                approx, approx_se, approx_per = est.value, est.se, pred
            mname = "Monte Carlo"
        meas = measure(model, domain, k, kind=kind, n_networks=n_networks, seed=seed, crofton_n=crofton_n,
                       progress=progress, **plane_kw)
        rows.append(TheoryRow(
            k, kind, float(pred.mean()), float(pred_se), meas.value, meas.se,
            _z(pred, pred_se, meas.per_network, meas.se, paired),
            float(approx), float(approx_se), _z(np.asarray(approx_per), approx_se, meas.per_network, meas.se, paired),
            mname, meas.method))
    table = TheoryTable(repr(model), repr(domain), len(nets), int(n_samples), tuple(rows))
    if verbose:
        print(table.to_text())
    return table
