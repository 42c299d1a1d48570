"""Probability laws of weights and biases, and random networks drawn from them (assumptions A1/A2).

A bias law is an object with ``pdf``, ``cdf``, ``sample`` and ``sup_density`` (the constant
C_bias of Corollary 7). Theory code reads densities from these objects only. Laws describe the
PyTorch bias beta (u = w.a + beta); the paper's b = -beta has the mirrored law, the same for the
symmetric laws here (docs/theory.md §1, sign convention).

``Zero()`` is allowed, as the common initialisation it is, but it has no density: assumption A2
fails, and ``has_density`` is False so that theory functions can refuse it with a clear message.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
from scipy import special

from .activations import PiecewiseLinear, relu
from .network import Network

__all__ = [
    "Law",
    "Normal",
    "Uniform",
    "Laplace",
    "Zero",
    "HeNormal",
    "AssumptionError",
    "random_mlp",
]


class AssumptionError(ValueError):
    """A theorem's hypothesis (A1: weight law with a density; A2: bounded bias density) fails."""


@runtime_checkable
class Law(Protocol):
    """A one-dimensional law of an independent bias (or weight) entry."""

    has_density: bool

    def pdf(self, x: np.ndarray) -> np.ndarray: ...
    def cdf(self, x: np.ndarray) -> np.ndarray: ...
    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray: ...
    @property
    def sup_density(self) -> float: ...
    @property
    def std(self) -> float: ...


@dataclass(frozen=True)
class Normal:
    """N(mean, std^2). ``Normal(std=1e-3)`` is the paper's bias law (variance 1e-6)."""

    std: float
    mean: float = 0.0
    has_density = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"Normal: std must be a positive finite number, got {self.std!r} (use Zero() for zero biases)")

    def pdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return np.exp(-0.5 * z * z) / (self.std * math.sqrt(2 * math.pi))

    def cdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return special.ndtr(z)

    def sample(self, rng, shape):
        return rng.normal(self.mean, self.std, size=shape)

    @property
    def sup_density(self) -> float:
        """C_bias = 1 / (std sqrt(2 pi))."""
        return 1.0 / (self.std * math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high]."""

    low: float
    high: float
    has_density = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.high > self.low):
            raise ValueError(f"Uniform: need finite low < high, got ({self.low!r}, {self.high!r})")

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.where((x >= self.low) & (x <= self.high), 1.0 / (self.high - self.low), 0.0)

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def sample(self, rng, shape):
        return rng.uniform(self.low, self.high, size=shape)

    @property
    def sup_density(self) -> float:
        return 1.0 / (self.high - self.low)

    @property
    def std(self) -> float:
        return (self.high - self.low) / math.sqrt(12.0)


@dataclass(frozen=True)
class Laplace:
    """Laplace(loc, scale): density exp(-|x - loc| / scale) / (2 scale)."""

    scale: float
    loc: float = 0.0
    has_density = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"Laplace: scale must be a positive finite number, got {self.scale!r}")

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.exp(-np.abs(x - self.loc) / self.scale) / (2 * self.scale)

    def cdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.loc) / self.scale
        return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)), 1 - 0.5 * np.exp(-np.maximum(z, 0)))

    def sample(self, rng, shape):
        return rng.laplace(self.loc, self.scale, size=shape)

    @property
    def sup_density(self) -> float:
        return 1.0 / (2 * self.scale)

    @property
    def std(self) -> float:
        return math.sqrt(2.0) * self.scale


@dataclass(frozen=True)
class Zero:
    """All biases zero. A common initialisation, but assumption A2 (a bounded bias density) fails:
    every first-layer hyperplane passes through the origin and regions are cones."""

    has_density = False

    def _fail(self):
        raise AssumptionError(
            "Zero() biases have no density: assumption A2 of Hanin & Rolnick fails (every first-layer "
            "hyperplane passes through the origin), so Theorem 6 and Corollaries 7-8 do not apply. "
            "Use exact counts (line, plane) instead, or a law with a density such as Normal(std=1e-3)."
        )

    def pdf(self, x):
        self._fail()

    def cdf(self, x):
        return np.where(np.asarray(x, dtype=np.float64) >= 0, 1.0, 0.0)

    def sample(self, rng, shape):
        return np.zeros(shape)

    @property
    def sup_density(self) -> float:
        return math.inf

    @property
    def std(self) -> float:
        return 0.0


@dataclass(frozen=True)
class HeNormal:
    """He-normal weights: entries N(0, gain / fan_in), gain 2 for ReLU (fact (33): E||grad z||^2 = 2)."""

    gain: float = 2.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.gain) and self.gain > 0):
            raise ValueError(f"HeNormal: gain must be positive, got {self.gain!r}")

    def sample_matrix(self, rng: np.random.Generator, fan_out: int, fan_in: int) -> np.ndarray:
        return rng.normal(0.0, math.sqrt(self.gain / fan_in), size=(fan_out, fan_in))


def _sample_weights(law, rng, fan_out: int, fan_in: int) -> np.ndarray:
    if isinstance(law, HeNormal):
        return law.sample_matrix(rng, fan_out, fan_in)
    if isinstance(law, Law):
        return np.asarray(law.sample(rng, (fan_out, fan_in)), dtype=np.float64)
    raise TypeError(f"weights must be HeNormal() or a Law (Normal, Uniform, Laplace), got {law!r}")


def _memory_bytes() -> int | None:
    """Physical memory of this machine, or None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} PB"  # pragma: no cover


def _check_size(sizes: tuple[int, ...]) -> None:
    """Refuse, before sampling anything, a network whose float64 parameters cannot fit in this
    machine's memory (the weights alone take 8 bytes per entry)."""
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))  # exact: Python integers
    need = 8 * n_params
    mem = _memory_bytes()
    limit = mem if mem else 2**46  # 64 TiB where the memory is unknown
    if need > limit:
        raise ValueError(
            f"random_mlp: a {'-'.join(map(str, sizes))} network has {n_params:,} parameters, which need "
            f"{_fmt_bytes(need)} in float64; this machine has {_fmt_bytes(limit) if mem else 'an unknown amount of'} memory"
            f"{'' if mem else ' (limit 64 TiB)'}: choose smaller widths"
        )


def random_mlp(
    n_in: int,
    widths: Sequence[int],
    n_out: int = 1,
    *,
    activation: PiecewiseLinear | Sequence[PiecewiseLinear] | None = None,
    weights: HeNormal | Law | None = None,
    biases: Law | None = None,
    output_biases: Law | None = None,
    seed: int | np.random.Generator | None = None,
) -> Network:
    """A fully connected network n_in -> widths -> n_out with independent random parameters.

    Weights default to He-normal (variance 2 / fan_in), hidden biases to ``Normal(std=0.1)``;
    ``biases=Normal(std=1e-3)`` is the paper's MNIST setting. Output biases default to the
    hidden bias law (they do not affect any region). ``activation`` is one activation for all
    hidden layers or one per layer (default ReLU).

    >>> net = random_mlp(2, [8, 8], seed=0)
    >>> net.widths
    (8, 8)
    """
    if any(not float(w).is_integer() for w in (n_in, n_out, *widths)):
        raise ValueError(f"random_mlp: n_in, widths and n_out must be integers, got {n_in}, {list(widths)}, {n_out}")
    widths = tuple(int(w) for w in widths)
    if int(n_in) < 1 or int(n_out) < 1 or any(w < 1 for w in widths):
        raise ValueError(f"random_mlp: n_in, widths and n_out must be positive integers, got {n_in}, {list(widths)}, {n_out}")
    if len(widths) == 0:
        raise ValueError("random_mlp: need at least one hidden layer")
    _check_size((int(n_in),) + widths + (int(n_out),))
    activation = relu() if activation is None else activation
    acts = [activation] * len(widths) if isinstance(activation, PiecewiseLinear) else list(activation)
    if len(acts) != len(widths):
        raise ValueError(f"random_mlp: got {len(acts)} activations for {len(widths)} hidden layers")
    weights = HeNormal() if weights is None else weights
    biases = Normal(std=0.1) if biases is None else biases
    output_biases = biases if output_biases is None else output_biases
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    sizes = (int(n_in),) + widths + (int(n_out),)
    Ws, bs = [], []
    for i in range(len(sizes) - 1):
        Ws.append(_sample_weights(weights, rng, sizes[i + 1], sizes[i]))
        law = biases if i < len(widths) else output_biases
        bs.append(np.asarray(law.sample(rng, (sizes[i + 1],)), dtype=np.float64))
    return Network(tuple(Ws), tuple(bs), tuple(acts))
