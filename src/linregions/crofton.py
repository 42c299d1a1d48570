"""Integral geometry: boundary volumes in any dimension from exact 1D and 2D counts (docs/theory.md §6).

Crofton's formula. For a set M of dimension n - k in R^n and a uniformly random k-dimensional
linear direction E, the integral over the translates, ``∫_{E⊥} #((E + y) ∩ M) dy``, averaged over
E equals ``κ_{n,k} · vol_{n-k}(M)`` with

    κ_{n,k} = Π_{i=0}^{k-1} Γ((n-i)/2) Γ((k-i+1)/2) / (Γ((n-i+1)/2) Γ((k-i)/2)),

so κ_{n,1} = Γ(n/2) / (√π Γ((n+1)/2)) (2/π for n = 2) and κ_{n,2} = 1/(n - 1).

For x uniform in a convex body K and a random line (2-plane) through x, the section of K is a
chord (a convex polygon or disk) C, and

    vol_{n-1}(B ∩ K) / vol(K) = E[ #(crossings in C) / length(C) ] / κ_{n,1},
    vol_{n-2}(B_{N,2} ∩ K) / vol(K) = E[ #(vertices in C) / area(C) ] / κ_{n,2},

because x uniform in K and uniform on its section given the section weights each section by
its size. The crossings and vertices are exact (``linregions.line``, ``linregions.plane``), so the
estimates are unbiased in 784 dimensions too; their standard error comes from the i.i.d. sections.

Domains here: ``Box`` and ``Ball`` (convex bodies with exact chords and sections).

>>> round(kappa(2, 1), 6) == round(2 / np.pi, 6), kappa(5, 2) == 0.25
(True, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import special

from .line import lines
from .network import Network, _as_matrix, is_module as _is_module

__all__ = [
    "kappa",
    "Box",
    "Ball",
    "CroftonEstimate",
    "boundary_volume",
    "vertex_volume",
    "random_directions",
    "random_planes",
]

Kind = Literal["linear", "activation"]


def kappa(n: int, k: int) -> float:
    """The Crofton constant κ_{n,k} (docs/theory.md §6): mean over random k-directions E of
    ∫_{E⊥} #((E + y) ∩ M) dy, divided by vol_{n-k}(M), for M of dimension n - k in R^n.

    >>> round(kappa(3, 1), 12), round(kappa(10, 2), 12)
    (0.5, 0.111111111111)
    """
    n, k = int(n), int(k)
    if not (1 <= k <= n):
        raise ValueError(f"kappa: need 1 <= k <= n, got n={n}, k={k}")
    logv = 0.0
    for i in range(k):
        logv += (
            special.gammaln((n - i) / 2) + special.gammaln((k - i + 1) / 2)
            - special.gammaln((n - i + 1) / 2) - special.gammaln((k - i) / 2)
        )
    return float(math.exp(logv))


def _unit_ball_log_volume(n: int) -> float:
    return (n / 2) * math.log(math.pi) - math.lgamma(n / 2 + 1)


def _exp(x: float) -> float:
    """exp that saturates to inf instead of raising (ball volumes in high dimension)."""
    return math.exp(x) if x < 709.0 else math.inf


@dataclass(frozen=True, eq=False)
class Box:
    """The axis-parallel box [low, high] ⊂ R^n (``Box.cube(n, r)`` for [-r, r]^n)."""

    low: np.ndarray
    high: np.ndarray

    def __post_init__(self) -> None:
        lo = np.atleast_1d(_as_matrix(self.low, "low")).reshape(-1)
        hi = np.atleast_1d(_as_matrix(self.high, "high")).reshape(-1)
        if lo.shape != hi.shape or not np.all(np.isfinite(lo)) or not np.all(np.isfinite(hi)) or np.any(hi <= lo):
            raise ValueError(f"Box: low and high must be finite vectors of one length with low < high, got {lo} and {hi}")
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    @classmethod
    def cube(cls, n: int, r: float = 1.0) -> "Box":
        return cls(-r * np.ones(int(n)), r * np.ones(int(n)))

    @property
    def dim(self) -> int:
        return int(self.low.size)

    @property
    def volume(self) -> float:
        return float(np.prod(self.high - self.low))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.low + (self.high - self.low) * rng.random((int(n), self.dim))

    def contains(self, X: np.ndarray) -> np.ndarray:
        return np.all((X >= self.low) & (X <= self.high), axis=-1)

    def chord(self, X: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ends of the chords {x + t v} ∩ K for points x inside and directions v (row-wise)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (self.low - X) / V
            t2 = (self.high - X) / V
        tmin = np.where(V != 0, np.minimum(t1, t2), -np.inf).max(axis=1)
        tmax = np.where(V != 0, np.maximum(t1, t2), np.inf).min(axis=1)
        return X + tmin[:, None] * V, X + tmax[:, None] * V

    def section(self, x: np.ndarray, P: np.ndarray) -> np.ndarray:
        """The convex polygon {x + P s} ∩ K, as (m, 2) vertices in plane coordinates s (CCW)."""
        # box half-planes in s: low_i <= x_i + P_i s <= high_i; clip a big square
        R = 2.0 * float(np.linalg.norm(self.high - self.low)) + 1.0
        poly = np.array([[-R, -R], [R, -R], [R, R], [-R, R]], dtype=np.float64)
        for i in range(self.dim):
            a = P[i]
            if not np.any(a != 0):
                continue
            poly = _clip(poly, a, self.high[i] - x[i])
            poly = _clip(poly, -a, x[i] - self.low[i])
        return poly

    def __repr__(self) -> str:
        if np.all(self.low == self.low[0]) and np.all(self.high == self.high[0]):
            return f"Box([{self.low[0]:g}, {self.high[0]:g}]^{self.dim})"
        return f"Box(dim={self.dim}, volume={self.volume:.4g})"


@dataclass(frozen=True, eq=False)
class Ball:
    """The Euclidean ball of ``radius`` around ``center`` in R^n."""

    center: np.ndarray
    radius: float

    def __post_init__(self) -> None:
        c = np.atleast_1d(_as_matrix(self.center, "center")).reshape(-1)
        r = float(self.radius)
        if not np.all(np.isfinite(c)) or not (math.isfinite(r) and r > 0):
            raise ValueError(f"Ball: need a finite center and a positive radius, got radius {self.radius!r}")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "radius", r)

    @property
    def dim(self) -> int:
        return int(self.center.size)

    @property
    def volume(self) -> float:
        return _exp(self.log_volume)

    @property
    def log_volume(self) -> float:
        """log vol(K): the volume itself under/overflows float64 in high dimension (784-D)."""
        return _unit_ball_log_volume(self.dim) + self.dim * math.log(self.radius)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        g = rng.normal(size=(int(n), self.dim))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        r = self.radius * rng.random(int(n)) ** (1.0 / self.dim)
        return self.center + r[:, None] * g

    def contains(self, X: np.ndarray) -> np.ndarray:
        return np.linalg.norm(X - self.center, axis=-1) <= self.radius

    def chord(self, X: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = X - self.center
        a = np.einsum("ij,ij->i", V, V)
        b = np.einsum("ij,ij->i", d, V)
        c = np.einsum("ij,ij->i", d, d) - self.radius ** 2
        root = np.sqrt(np.maximum(b * b - a * c, 0.0))
        return X + ((-b - root) / a)[:, None] * V, X + ((-b + root) / a)[:, None] * V

    def section(self, x: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, float]:
        """The disk {x + P s} ∩ K (P orthonormal columns): its center in s and radius."""
        s0 = P.T @ (self.center - x)
        off = (self.center - x) - P @ s0
        r2 = self.radius ** 2 - float(off @ off)
        return s0, math.sqrt(max(r2, 0.0))

    def __repr__(self) -> str:
        return f"Ball(dim={self.dim}, radius={self.radius:g})"


def _clip(poly: np.ndarray, a: np.ndarray, c: float) -> np.ndarray:
    """Clip a convex polygon to the half-plane a·s <= c (Sutherland-Hodgman)."""
    if poly.shape[0] == 0:
        return poly
    v = poly @ a - c
    out = []
    m = poly.shape[0]
    for i in range(m):
        j = (i + 1) % m
        if v[i] <= 0:
            out.append(poly[i])
        if v[i] * v[j] < 0:
            lam = v[i] / (v[i] - v[j])
            out.append(poly[i] + lam * (poly[j] - poly[i]))
    return np.array(out).reshape(-1, 2)


def _polygon_area(poly: np.ndarray) -> float:
    if poly.shape[0] < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def random_directions(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """(n, dim) unit vectors, uniform on the sphere."""
    V = rng.normal(size=(int(n), int(dim)))
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def random_planes(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """(n, dim, 2) orthonormal pairs spanning uniformly random 2-planes (Haar measure)."""
    G = rng.normal(size=(int(n), int(dim), 2))
    Q, R = np.linalg.qr(G)
    return Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]


@dataclass(frozen=True)
class CroftonEstimate:
    """An unbiased Crofton estimate of a boundary volume inside a domain K.

    ``value`` estimates E-free vol_{n-k}(B ∩ K) for the given network (k = 1: ``kind`` boundary,
    k = 2: its (n-2)-dimensional vertex set), ``density`` the same divided by vol(K); ``se`` and
    ``density_se`` are standard errors over the ``n`` i.i.d. random sections.
    """

    value: float
    se: float
    density: float
    density_se: float
    k: int
    kind: str
    n: int
    samples: np.ndarray  # per-section unbiased estimates of vol_{n-k}(B ∩ K)

    def __repr__(self) -> str:
        return f"CroftonEstimate(k={self.k}, {self.kind}: {self.value:.5g} ± {self.se:.2g}, n={self.n})"


def _module_n_in(input_shape: Any, domain: Any) -> tuple[int, tuple[int, ...]]:
    """The flattened input dimension and the sample shape of a module's input (``input_shape``,
    default: the domain's dimension as a flat vector)."""
    if input_shape is None:
        return domain.dim, (domain.dim,)
    from .torch_io import input_shape_of

    shape = input_shape_of(input_shape)
    return int(np.prod(shape)), shape


def _check(net: Any, domain: Any, kind: str, n: int, input_shape: Any = None) -> None:
    module = _is_module(net)
    if not isinstance(net, Network) and not module:
        raise TypeError(f"net must be a linregions.Network or a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(domain, (Box, Ball)):
        raise TypeError(f"domain must be a crofton.Box or crofton.Ball, got {type(domain).__name__}")
    if module:
        n_in, shape = _module_n_in(input_shape, domain)
        if domain.dim != n_in:
            raise ValueError(f"domain has dimension {domain.dim} but the module's input shape {shape} has {n_in} "
                             "entries (the domain lives in the flattened input space)")
    else:
        if input_shape is not None:
            raise TypeError("input_shape applies to torch modules, not to a linregions.Network")
        if domain.dim != net.n_in:
            raise ValueError(f"domain has dimension {domain.dim} but the network has {net.n_in} inputs")
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")
    if int(n) < 2:
        raise ValueError(f"n (number of random sections) must be at least 2, got {n!r}")


def boundary_volume(net: Any, domain: Box | Ball, *, kind: Kind = "linear", n: int = 1000,
                    seed: int | np.random.Generator | None = 0, input_shape: Any = None, device: Any = None,
                    chunk_points: int | None = None, progress: bool | None = None) -> CroftonEstimate:
    """Unbiased estimate of vol_{n-1}(B ∩ K) from exact crossings of ``n`` random chords
    (Crofton's formula with k = 1, module docstring).

    B is the linear-region boundary B_N (``kind="linear"``) or the activation-region boundary
    (``"activation"``). Each chord is the section of K by the line through a uniform point of K
    in a uniform direction; its crossings come from ``linregions.line.lines`` (exact), and
    vol(K) · #crossings / length / κ_{n,1} is an unbiased estimate.

    ``net`` is a ``Network`` or a piecewise-linear ``torch.nn.Module`` (CNNs, ResNets): a module's
    chords run through the torch-native engine (``linregions.engine``, the module's own ops in
    float64 on ``device``, memory set by ``chunk_points``), and K lives in the module's flattened
    input space, of dimension prod(``input_shape``) (one sample's shape, e.g. (1, 28, 28); default:
    a flat vector of K's dimension). The random chords depend only on ``seed`` and K, so a module
    and its dense compilation (``Network.from_torch(m, input_shape=...)``) get the same chords.
    ``progress``: a progress bar over chords (default: more than 5,000 chords).

    >>> from linregions import random_mlp
    >>> est = boundary_volume(random_mlp(3, [8]), Ball(np.zeros(3), 1.0), n=200)
    >>> est.k
    1
    """
    _check(net, domain, kind, n, input_shape)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    X = domain.sample(rng, n)
    V = random_directions(rng, n, domain.dim)
    A, Bq = domain.chord(X, V)
    show = n > 5000 if progress is None else bool(progress)
    if _is_module(net):
        shape = _module_n_in(input_shape, domain)[1]
        batch = lines(net, A, Bq, progress=show, input_shape=shape, device=device, chunk_points=chunk_points)
    else:
        if device is not None or chunk_points is not None:
            raise TypeError("device and chunk_points apply to torch modules (the torch-native engine), not to a linregions.Network")
        batch = lines(net, A, Bq, progress=show)
    cnt = batch.num_regions(kind) - 1
    L = np.linalg.norm(Bq - A, axis=1)
    kap = kappa(domain.dim, 1)
    return _result(cnt / L / kap, domain.volume, 1, kind)


def _result(density_samples: np.ndarray, vol: float, k: int, kind: str) -> CroftonEstimate:
    """Mean and SE of the per-section density estimates; volumes are density × vol(K) (the
    density stays finite where vol(K) under/overflows, e.g. a ball in 784 dimensions)."""
    m = density_samples.size
    dens = float(density_samples.mean())
    dse = float(density_samples.std(ddof=1) / math.sqrt(m))
    return CroftonEstimate(dens * vol, dse * vol, dens, dse, k, kind, m, density_samples * vol)


def vertex_volume(net: Any, domain: Box | Ball, *, kind: Kind = "linear", n: int = 200,
                  seed: int | np.random.Generator | None = 0, max_regions: int | None = None,
                  input_shape: Any = None, device: Any = None, chunk_points: int | None = None) -> CroftonEstimate:
    """Unbiased estimate of vol_{n-2}(B_{N,2} ∩ K) from exact vertex counts in random 2-planes.

    Each section is the plane through a uniform point of K with a Haar-random 2-direction; its
    vertices (points where two boundary pieces of the given kind cross) come from
    ``linregions.plane.plane`` on the section itself (a box's section is a convex polygon) or on
    the square around a ball's disk section, keeping the vertices inside the disk; they are counted: vol(K) · #vertices / area / κ_{n,2} is unbiased. Needs n_in >= 2.

    A torch module's sections run through ``plane`` on the module (its own ops, ``device``,
    ``chunk_points``); K lives in the flattened input space of one sample of shape ``input_shape``,
    and the same seed gives the same sections as on the module's dense compilation.
    """
    _check(net, domain, kind, n, input_shape)
    if domain.dim < 2:
        raise ValueError("vertex_volume needs an input dimension of at least 2")
    from .plane import plane

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    X = domain.sample(rng, n)
    Ps = random_planes(rng, n, domain.dim)
    kap = kappa(domain.dim, 2)
    samples = np.empty(n)
    kw = {} if max_regions is None else {"max_regions": max_regions}
    if _is_module(net):  # planar sections through the module's own ops (plane on modules)
        kw.update(input_shape=_module_n_in(input_shape, domain)[1], device=device, chunk_points=chunk_points)
    elif device is not None or chunk_points is not None:
        raise TypeError("device and chunk_points apply to torch modules (the torch-native engine), not to a linregions.Network")
    for i in range(n):
        x, P = X[i], Ps[i]
        if isinstance(domain, Ball):
            c, r = domain.section(x, P)
            area = math.pi * r * r
            bounds = (c[0] - r, c[0] + r, c[1] - r, c[1] + r)
            part = plane(net, x, P, bounds, **kw)
            S = _vertex_coords(part, kind)
            inside = np.linalg.norm(S - c, axis=1) < r
            cnt = int(inside.sum())
        else:
            poly = domain.section(x, P)
            area = _polygon_area(poly)
            cnt = plane(net, x, P, domain=poly, **kw).num_vertices(kind) if area > 0 else 0
        samples[i] = cnt / area / kap if area > 0 else 0.0
    return _result(samples, domain.volume, 2, kind)


def _vertex_coords(part: Any, kind: str) -> np.ndarray:
    """Plane coordinates of the vertices where boundary edges (of the kind) of at least two
    distinct neurons meet: the points ``PlanePartition.num_vertices`` counts, but also those on
    the rectangle's sides (the caller keeps the ones strictly inside its own section)."""
    c = part.vertex_neuron_counts(kind)
    return part.vertices[c >= 2]
