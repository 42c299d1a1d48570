"""Facts (31)-(34) of the appendix at He initialisation: Monte Carlo estimate against the
paper's formula and the exact value derived here."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import special

from ..laws import AssumptionError



# ------------------------------------------------------------------------------------------------
# facts (31)-(34) at initialisation


@dataclass(frozen=True)
class FactCheck:
    """One fact of the appendix at He initialisation: Monte Carlo estimate ± SE of ``quantity``
    (what exactly was measured), the paper's formula (``formula``; a lower bound where ``bound`` is
    True), where derived here the exact value for the same setting (``exact``; NaN when none), the
    paper's formula with its errata corrected (``corrected``; NaN when the formula is right or no
    simple correction exists) and a ``note`` on how the paper's statement errs, if it does."""

    name: str
    layer: int
    estimate: float
    se: float
    formula: float
    exact: float = math.nan
    bound: bool = False
    n: int = 0
    quantity: str = ""
    corrected: float = math.nan
    note: str = ""

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
    - (32) ½ E[z(x)²] = ‖x‖²/n_in + Σ_{j≤ℓ} σ_b² (paper, for the bias-free z). Two rows: the
      bias-free z̃ = u − β (the paper's z), exact ‖x‖²/n_in + ℓ σ_b²/2 with 0-based ℓ (in the paper's
      1-based layers, (ℓ−1)σ²/2); and the pre-activation u including its own bias, exact
      ‖x‖²/n_in + (ℓ+1) σ_b²/2 (E[relu(u)²] = E[u²]/2 for symmetric u). The paper's sum counts
      σ_b² instead of σ_b²/2 per layer and includes the neuron's own layer.
    - (33) E‖∇z(x)‖² = 2.
    - (34) E[log(n_in (∂z/∂x_1)²)] = -(5/2) Σ_{j≤ℓ} 1/n_j + O(Σ 1/n_j²) (paper); exact here:
      -γ + Σ_{j<ℓ} [log(4/n_j) + E ψ(M_j/2)], M_j ~ Binomial(n_j, 1/2) (derived from the layerwise
      product of independent χ² factors; conditioned on no layer being all closed, probability
      1 - 2^{-n_j}). The paper's form errs in two ways: the constant -γ (Euler's) is missing at
      every layer, and its sum runs to ℓ(z) where it should stop at ℓ(z) - 1 (1-based; the width
      of the neuron's own layer does not enter). ``corrected`` = -γ - (5/2) Σ_{j<ℓ} 1/n_j.

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
    acc = {key: [[] for _ in range(d)] for key in ("open", "good", "z2", "u2", "g2", "log")}
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
            zt = u - bs[l]
            acc["z2"][l].append(0.5 * (zt * zt).mean(axis=1))
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
        facts.append(FactCheck("(31) P(open)", l, e, se, 0.5, 0.5, n=M, quantity="fraction of the layer's neurons with u > 0"))
        e, se = est(col["good"])
        facts.append(FactCheck("(31) P(good)", l, e, se, good_bound, bound=True, n=M,
                               quantity="fraction of the layer's neurons with an open path to the output"))
        paper32 = xx + (l + 1) * bias_std ** 2
        e, se = est(col["z2"])
        facts.append(FactCheck("(32) E[z^2]/2, bias-free z", l, e, se, paper32, xx + l * bias_std ** 2 / 2, n=M,
                               quantity="½E[z̃(x)²], z̃ = u − β the bias-free pre-activation (the paper's z)",
                               corrected=xx + l * bias_std ** 2 / 2,
                               note="the paper adds σ² per layer up to and including ℓ(z); exact: σ²/2 per earlier layer"))
        e, se = est(col["u2"])
        facts.append(FactCheck("(32) E[u^2]/2, with bias", l, e, se, paper32, xx + (l + 1) * bias_std ** 2 / 2, n=M,
                               quantity="½E[u(x)²], u = z̃ + β the pre-activation including the neuron's own bias",
                               note="not the paper's z: it includes the neuron's own bias (one more σ²/2)"))
        e, se = est(col["g2"])
        facts.append(FactCheck("(33) E|grad z|^2", l, e, se, 2.0, 2.0, n=M, quantity="E‖∇z(x)‖² (= E‖∇u(x)‖²)"))
        lg = col["log"]
        lg = lg[np.isfinite(lg)]
        e, se = est(lg)
        exact = -gamma + sum(_log_factor(widths[j]) for j in range(l))
        facts.append(FactCheck("(34) E log(n_in dz/dx_1^2)", l, e, se, -2.5 * sum(1.0 / widths[j] for j in range(l + 1)), exact, n=int(lg.size),
                               quantity="E[log(n_in (∂z/∂x_1)²)] (the same for u: the bias has no gradient)",
                               corrected=-gamma - 2.5 * sum(1.0 / widths[j] for j in range(l)),
                               note="two errata: −γ (Euler's constant) is missing at every layer, and the sum must stop at "
                                    "ℓ(z)−1 (1-based), not ℓ(z)"))
    return facts


