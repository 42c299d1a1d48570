"""Domains K of Theorem 6: ``Segment``, planar ``Rectangle``, ``WholeSpace`` (and ``Box``/``Ball`` from
``linregions.crofton``), with their sampling and parametrisation helpers."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from ..crofton import Ball, Box
from ..network import _as_matrix



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


