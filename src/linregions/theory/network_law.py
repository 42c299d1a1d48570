"""Laws of random networks (``NetworkLaw``) and the bias-law checks of assumption A2."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..activations import PiecewiseLinear, relu
from ..laws import AssumptionError, HeNormal, Laplace, Normal, Uniform, random_mlp
from ..network import Network



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


