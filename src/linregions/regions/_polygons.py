"""Vectorised geometry of many convex polygons stored as CSR rings (pure numpy).

A ring set is ``(P, ptr)``: ``P`` (n, 2) the ring vertices of all polygons one after the other
(counter-clockwise), ``ptr`` (m + 1,) the offsets. Every function makes one pass over all rings
(``np.add.reduceat`` and friends) instead of a loop over polygons; only the Chebyshev centres
loop over the *number of corners* (a handful of distinct values).
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

#: A ring vertex is a corner (not a vertex inserted on a straight side) when the cross product
#: of its two sides exceeds ``CORNER_RTOL`` times the product of their lengths, i.e. the turn
#: angle exceeds ~1e-9 rad. Vertices inserted on a side by a neighbour's cut are exactly on the
#: side up to rounding (~1e-16 relative).
CORNER_RTOL = 1e-9

#: A candidate Chebyshev centre is feasible when every side's distance is at least r minus
#: ``CHEB_RTOL`` times the polygon's size (rounding of the 3x3 solves is ~1e-15 of it).
CHEB_RTOL = 1e-9


def ring_next(ptr: np.ndarray) -> np.ndarray:
    nxt = np.arange(ptr[-1]) + 1
    nxt[ptr[1:] - 1] = ptr[:-1]
    return nxt


def ring_prev(ptr: np.ndarray) -> np.ndarray:
    prv = np.arange(ptr[-1]) - 1
    prv[ptr[:-1]] = ptr[1:] - 1
    return prv


def moments(P: np.ndarray, ptr: np.ndarray, shift: np.ndarray | None = None):
    """Raw moments of every polygon about ``shift`` (default: each ring's first vertex, for
    accuracy): area, (int x, int y), (int x^2, int y^2, int x y) (shoelace/Green formulas).
    Returns ``(A, Sx, Sy, Sxx, Syy, Sxy, origin)`` with ``origin`` (m, 2) the point used."""
    starts = ptr[:-1]
    lens = np.diff(ptr)
    face = np.repeat(np.arange(lens.size), lens)
    origin = P[starts] if shift is None else np.broadcast_to(shift, (lens.size, 2))
    Q = P - origin[face]
    nxt = ring_next(ptr)
    x0, y0, x1, y1 = Q[:, 0], Q[:, 1], Q[nxt, 0], Q[nxt, 1]
    cr = x0 * y1 - x1 * y0
    red = lambda a: np.add.reduceat(a, starts) if a.size else np.zeros(lens.size)  # noqa: E731
    A = 0.5 * red(cr)
    Sx = red((x0 + x1) * cr) / 6.0
    Sy = red((y0 + y1) * cr) / 6.0
    Sxx = red((x0 * x0 + x0 * x1 + x1 * x1) * cr) / 12.0
    Syy = red((y0 * y0 + y0 * y1 + y1 * y1) * cr) / 12.0
    Sxy = red((x0 * y1 + 2 * x0 * y0 + 2 * x1 * y1 + x1 * y0) * cr) / 24.0
    return A, Sx, Sy, Sxx, Syy, Sxy, np.asarray(origin)


def shape_from_moments(A, Sx, Sy, Sxx, Syy, Sxy, origin):
    """Centroid (m, 2), covariance eigenvalues (m, 2) (major first) and eccentricity
    sqrt(1 - lambda_min / lambda_max) (that of the ellipse with the same second moments, as in
    scikit-image's regionprops)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cx, cy = Sx / A, Sy / A
        cxx = Sxx / A - cx * cx
        cyy = Syy / A - cy * cy
        cxy = Sxy / A - cx * cy
        tr = 0.5 * (cxx + cyy)
        disc = np.sqrt(np.maximum(0.25 * (cxx - cyy) ** 2 + cxy * cxy, 0.0))
        l1, l2 = tr + disc, np.maximum(tr - disc, 0.0)
        ecc = np.sqrt(np.clip(1.0 - l2 / l1, 0.0, 1.0))
    cen = np.stack([cx, cy], axis=1) + origin
    return cen, np.stack([l1, l2], axis=1), ecc


def perimeters(P: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    d = P[ring_next(ptr)] - P
    return np.add.reduceat(np.hypot(d[:, 0], d[:, 1]), ptr[:-1]) if d.size else np.zeros(ptr.size - 1)


def corner_mask(P: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """(n,) True at ring vertices where the ring turns (corners)."""
    e_in = P - P[ring_prev(ptr)]
    e_out = P[ring_next(ptr)] - P
    cr = e_in[:, 0] * e_out[:, 1] - e_in[:, 1] * e_out[:, 0]
    return np.abs(cr) > CORNER_RTOL * np.hypot(*e_in.T) * np.hypot(*e_out.T)


def chebyshev(P: np.ndarray, ptr: np.ndarray, corner: np.ndarray | None = None):
    """Chebyshev centre (m, 2) and inradius (m,) of every convex polygon: the largest disc
    inside, max r s.t. n_i . x + r <= b_i for every side i (unit outward normals n_i).

    The LP's optimum sits at a vertex of the (x, r) feasible set, determined by three sides
    (or two parallel sides and any third): every triple of sides is solved in closed form (3x3,
    Cramer's rule) and the best feasible one is kept, vectorised over all polygons with the same
    number of corners (sum over faces of C(m, 3) small solves).
    """
    m_faces = ptr.size - 1
    if corner is None:
        corner = corner_mask(P, ptr)
    lens = np.diff(ptr)
    face = np.repeat(np.arange(m_faces), lens)
    kc = np.bincount(face[corner], minlength=m_faces)
    centre = np.full((m_faces, 2), np.nan)
    radius = np.zeros(m_faces)
    C = P[corner]
    cstart = np.zeros(m_faces + 1, np.int64)
    np.cumsum(kc, out=cstart[1:])
    for m in np.unique(kc):
        if m < 3:
            continue
        fs = np.nonzero(kc == m)[0]
        V = C[cstart[fs][:, None] + np.arange(m)]  # (B, m, 2)
        E = np.roll(V, -1, axis=1) - V
        L = np.hypot(E[..., 0], E[..., 1])
        Nrm = np.stack([E[..., 1], -E[..., 0]], axis=-1) / L[..., None]  # outward for CCW
        b = np.einsum("bmj,bmj->bm", Nrm, V)
        size = L.sum(axis=1)
        tri = np.array(list(combinations(range(m), 3)), np.int64)  # (T, 3)
        step = max(1, int(4e6 // (tri.shape[0] * m)))
        for s0 in range(0, fs.size, step):
            sl = slice(s0, s0 + step)
            n_ = Nrm[sl][:, tri]  # (B, T, 3, 2)
            bb = b[sl][:, tri]  # (B, T, 3)
            a11, a12 = n_[..., 0, 0], n_[..., 0, 1]
            a21, a22 = n_[..., 1, 0], n_[..., 1, 1]
            a31, a32 = n_[..., 2, 0], n_[..., 2, 1]
            b1, b2, b3 = bb[..., 0], bb[..., 1], bb[..., 2]
            # rows (n_x, n_y, 1) . (x, y, r) = b
            det = a11 * (a22 - a32) - a12 * (a21 - a31) + (a21 * a32 - a22 * a31)
            dx = b1 * (a22 - a32) - a12 * (b2 - b3) + (b2 * a32 - a22 * b3)
            dy = a11 * (b2 - b3) - b1 * (a21 - a31) + (a21 * b3 - b2 * a31)
            dr = a11 * (a22 * b3 - b2 * a32) - a12 * (a21 * b3 - b2 * a31) + b1 * (a21 * a32 - a22 * a31)
            ok = np.abs(det) > 1e-12
            with np.errstate(divide="ignore", invalid="ignore"):
                x, y, r = dx / det, dy / det, dr / det
            slack = b[sl][:, None, :] - (Nrm[sl][:, None, :, 0] * x[..., None] + Nrm[sl][:, None, :, 1] * y[..., None]) - r[..., None]
            ok &= (slack >= -CHEB_RTOL * size[sl][:, None, None]).all(axis=2) & (r >= 0)
            r = np.where(ok, r, -np.inf)
            best = np.argmax(r, axis=1)
            rows = np.arange(best.size)
            radius[fs[sl]] = np.maximum(r[rows, best], 0.0)
            centre[fs[sl]] = np.stack([x[rows, best], y[rows, best]], axis=1)
    return centre, radius
