"""The front door: ``plane`` (a slice given by origin, basis and domain) and ``plane_through``
(the slice through three inputs, as in the paper's Figure 1)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..network import Network, _as_matrix
from .builder import build
from .domain import COLLINEAR_RTOL, _check_basis, _plane_coords_polygon
from .partition import PlanePartition, assemble
from .values import DenseVertexValues


def plane(
    net: Network,
    origin: Any,
    basis: Any,
    bounds: Any = None,
    *,
    domain: Any = None,
    max_regions: int = 2_000_000,
    device: Any = None,
    progress: bool = False,
    marks: Any = None,
) -> "PlanePartition":
    """The exact partition of a planar slice into activation and linear regions.

    Parameters
    ----------
    net : the network.
    origin : (n_in,) the point at plane coordinates (0, 0).
    basis : (n_in, 2) orthonormal columns (others are orthonormalised with a warning; parallel
        columns raise ``ValueError``).
    bounds : (u_min, u_max, v_min, v_max), the rectangle in plane coordinates.
    domain : instead of bounds, a convex polygon (k, 2) in plane coordinates.
    max_regions : budget; a domain that needs more activation regions raises ``ValueError``
        before memory runs out.
    device : None (numpy) or a torch device for the dense matmuls (e.g. ``"cuda"``).
    marks : optional (m, n_in) inputs to mark in pictures (projected onto the plane).

    Every result is checked for watertightness, and a ``RuntimeWarning`` says when the check
    failed or when close tolerance decisions (``PlanePartition.close_decisions``) erased more than
    rounding noise; ``part.certified`` is True when neither happened.

    >>> from linregions import random_mlp
    >>> net = random_mlp(2, [16, 16], seed=0)
    >>> part = plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    >>> bool(abs(part.areas("activation").sum() - 4.0) < 1e-9)
    True
    >>> part.num_regions("linear") <= part.num_regions("activation")
    True
    >>> part.euler_characteristic(), part.certified
    (1, True)
    """
    if not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network (use Network.from_torch for torch modules), got {type(net).__name__}")
    x0, B = _check_basis(net, origin, basis)
    poly = _plane_coords_polygon(bounds, domain)
    if not isinstance(max_regions, (int, np.integer)) or max_regions < 1:
        raise ValueError(f"max_regions must be a positive integer, got {max_regions!r}")
    if device is not None:
        try:
            import torch

            torch.zeros(1, dtype=torch.float64, device=device)
        except (ImportError, RuntimeError, TypeError, AssertionError) as e:
            raise ValueError(f"device {device!r} is not usable with torch here ({e}); use device=None for numpy") from None
    if marks is not None:
        M = _as_matrix(marks, "marks")
        M = M[None] if M.ndim == 1 else M
        if M.ndim != 2 or M.shape[1] != net.n_in:
            raise ValueError(f"marks must have shape (m, {net.n_in}), got {M.shape}")
        marks = (M - x0) @ B
    rnet = net.restrict(x0, B)
    try:
        bld = build(rnet, poly, max_regions, DenseVertexValues(rnet, device), progress)
        return assemble(net, rnet, x0, B, poly, bld, marks)
    except MemoryError:
        raise ValueError(
            f"plane: out of memory while partitioning the domain (max_regions={max_regions}); "
            "shrink the domain or partition it in pieces"
        ) from None


def plane_through(net: Network, p0: Any, p1: Any, p2: Any, margin: float = 0.1, **kw) -> "PlanePartition":
    """The partition of the plane through three inputs (the paper's Figure 1 slices through three
    MNIST digits): origin at their centroid, orthonormal basis from Gram-Schmidt of p1 - p0,
    p2 - p0, and the bounding rectangle of the three points widened by ``margin`` times its size.

    >>> from linregions import random_mlp
    >>> net = random_mlp(5, [8, 8], seed=0)
    >>> part = plane_through(net, np.zeros(5), np.eye(5)[0], np.eye(5)[1])
    >>> part.marks.shape
    (3, 2)
    """
    if not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network, got {type(net).__name__}")
    pts = []
    for name, p in (("p0", p0), ("p1", p1), ("p2", p2)):
        a = _as_matrix(p, name).reshape(-1)
        if a.shape != (net.n_in,):
            raise ValueError(f"{name} must have shape ({net.n_in},), got {np.shape(p)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or inf")
        pts.append(a)
    try:
        margin = float(margin)
    except (TypeError, ValueError):
        raise TypeError(f"margin must be a number, got {margin!r}") from None
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")
    d1, d2 = pts[1] - pts[0], pts[2] - pts[0]
    n1 = np.linalg.norm(d1)
    if n1 == 0:
        raise ValueError("p0 and p1 coincide: three distinct, non-collinear points are needed")
    q0 = d1 / n1
    r = d2 - (q0 @ d2) * q0
    if np.linalg.norm(r) <= COLLINEAR_RTOL * max(np.linalg.norm(d2), n1):
        raise ValueError("p0, p1, p2 are collinear (or two coincide): they do not determine a plane")
    B = np.stack([q0, r / np.linalg.norm(r)], axis=1)
    origin = (pts[0] + pts[1] + pts[2]) / 3
    S = (np.stack(pts) - origin) @ B
    lo, hi = S.min(axis=0), S.max(axis=0)
    ext = float(np.max(hi - lo))
    pad = margin * ext
    bounds = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    if bounds[1] - bounds[0] <= 0 or bounds[3] - bounds[2] <= 0:
        # the three points are spread along one plane axis only; use a square around them
        c = (lo + hi) / 2
        h = ext * (0.5 + margin)
        bounds = (c[0] - h, c[0] + h, c[1] - h, c[1] + h)
    kw.setdefault("marks", np.stack(pts))
    return plane(net, origin, B, bounds, **kw)

