"""The plane and its domain: validation of origin, basis, bounds and polygons (plane coordinates)."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..network import Network, _as_matrix


#: A basis is accepted as orthonormal when ``max |B^T B - I| <= ORTHO_RTOL``. Rounding in a
#: Gram-Schmidt step leaves ~1e-16; anything above 1e-9 was not meant to be orthonormal, and then
#: lengths and areas in plane coordinates would not be those of input space.
ORTHO_RTOL = 1e-9

#: Three points (or two basis columns) are collinear when the component of the second direction
#: orthogonal to the first is below ``COLLINEAR_RTOL`` times its length: the plane is then not
#: determined (rounding of distinct generic points gives ~1e-16).
COLLINEAR_RTOL = 1e-9


def _plane_coords_polygon(bounds: Any, domain: Any) -> np.ndarray:
    if domain is not None:
        if bounds is not None:
            raise ValueError("give either bounds or domain, not both")
        poly = _as_matrix(domain, "domain")
        if poly.ndim != 2 or poly.shape[1] != 2 or poly.shape[0] < 3:
            raise ValueError(f"domain must be a (k, 2) array of polygon vertices with k >= 3, got shape {poly.shape}")
        if not np.all(np.isfinite(poly)):
            raise ValueError("domain contains NaN or inf")
        area2 = np.sum(poly[:, 0] * np.roll(poly, -1, 0)[:, 1] - np.roll(poly, -1, 0)[:, 0] * poly[:, 1])
        if area2 < 0:
            poly = poly[::-1].copy()
        scale = float(np.max(np.abs(poly - poly.mean(axis=0)))) or 1.0
        # drop repeated and collinear consecutive vertices (sections of boxes produce them)
        while poly.shape[0] >= 3:
            e = np.roll(poly, -1, axis=0) - poly
            ep = np.roll(e, 1, axis=0)  # edge arriving at each vertex
            cr = ep[:, 0] * e[:, 1] - ep[:, 1] * e[:, 0]
            flat = (np.abs(cr) <= COLLINEAR_RTOL * scale**2) | (np.abs(e).max(axis=1) <= COLLINEAR_RTOL * scale)
            if not flat.any():
                break
            poly = np.delete(poly, int(np.nonzero(flat)[0][0]), axis=0)
        if poly.shape[0] < 3 or abs(area2) <= COLLINEAR_RTOL * scale**2 or np.any(cr < 0):
            raise ValueError("domain must be a convex polygon with non-zero area")
        return np.ascontiguousarray(poly, dtype=np.float64)
    if bounds is None:
        raise ValueError("give bounds = (u_min, u_max, v_min, v_max) or a polygonal domain")
    try:
        bd = np.asarray(bounds, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"bounds must be four numbers (u_min, u_max, v_min, v_max), got {bounds!r}") from None
    if bd.size != 4:
        raise ValueError(f"bounds must be four numbers (u_min, u_max, v_min, v_max), got {bd.size}")
    if not np.all(np.isfinite(bd)):
        raise ValueError("bounds contain NaN or inf")
    u0, u1, v0, v1 = bd
    if not (u0 < u1 and v0 < v1):
        raise ValueError(f"bounds must satisfy u_min < u_max and v_min < v_max (empty or inverted rectangle), got {bd.tolist()}")
    with np.errstate(over="ignore"):
        area = (bd[1] - bd[0]) * (bd[3] - bd[2])
    if not np.isfinite(area):
        raise ValueError(f"bounds {bd.tolist()} are too large: the rectangle's area overflows float64")
    return np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])


def _check_basis(net: Network, origin: Any, basis: Any) -> tuple[np.ndarray, np.ndarray]:
    x0 = _as_matrix(origin, "origin")
    x0 = x0.reshape(-1) if x0.ndim <= 1 else None
    if x0 is None or x0.shape != (net.n_in,):
        raise ValueError(f"origin must have shape ({net.n_in},), got {np.shape(origin)}")
    B = _as_matrix(basis, "basis")
    if B.shape != (net.n_in, 2):
        raise ValueError(f"basis must have shape ({net.n_in}, 2) (two columns spanning the plane), got {B.shape}")
    if not (np.all(np.isfinite(x0)) and np.all(np.isfinite(B))):
        raise ValueError("origin or basis contain NaN or inf")
    G = B.T @ B
    if np.max(np.abs(G - np.eye(2))) > ORTHO_RTOL:
        n0 = np.linalg.norm(B[:, 0])
        if n0 == 0:
            raise ValueError("basis: the first column is zero; the plane is not determined")
        q0 = B[:, 0] / n0
        r = B[:, 1] - (q0 @ B[:, 1]) * q0
        if np.linalg.norm(r) <= COLLINEAR_RTOL * max(np.linalg.norm(B[:, 1]), 1e-300):
            raise ValueError("basis: the two columns are parallel (or the second is zero); the plane is not determined")
        warnings.warn("plane: basis columns were not orthonormal; orthonormalised them (Gram-Schmidt), "
                      "bounds are read in the new coordinates", stacklevel=3)
        B = np.stack([q0, r / np.linalg.norm(r)], axis=1)
    return x0, B

