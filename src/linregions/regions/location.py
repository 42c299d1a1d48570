"""Point location and local affine maps.

``locate(part, points)`` gives the region of each point: on a segment, points are parameters t
in [0, 1] (or input points on the segment); on a plane, plane coordinates (m, 2); in a complex,
box coordinates (m, n). Plane location is geometric (a uniform grid of buckets over the faces'
bounding boxes, then exact half-plane tests against the candidate faces' sides), independent of
the network's forward pass. ``local_maps(part, kind)`` gives every region's affine map
N = offset + J s, its Jacobian J and Lipschitz constant (spectral norm of J).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._access import Kind, check_kind, labels, line_intervals, which

__all__ = ["locate", "LocalMaps", "local_maps", "LOCATE_RTOL"]

#: A point counts as inside a face when it is at most ``LOCATE_RTOL`` times the domain's size
#: outside every side (points on a shared side belong to the lowest-numbered face).
LOCATE_RTOL = 1e-12


def locate(part, points: Any, kind: Kind = "activation") -> np.ndarray:
    """Region id (of the kind) of every point; -1 outside the domain.

    >>> import numpy as np
    >>> from linregions import random_mlp, plane
    >>> part = plane(random_mlp(2, [6], seed=0), [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    >>> locate(part, [[0.0, 0.0], [5.0, 5.0]])[1]
    np.int64(-1)
    """
    check_kind(kind)
    w = which(part)
    X = np.asarray(points, dtype=np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError("points contain NaN or inf")
    lab = labels(part, kind)
    if w == "line":
        x0, x1 = np.asarray(part.x0, float), np.asarray(part.x1, float)
        if X.ndim == 2 and X.shape[1] == x0.size and not (x0.size == 1 and X.shape[1] == 1 and False):
            d = x1 - x0
            t = (X - x0) @ d / (d @ d)
            off = np.linalg.norm(X - (x0 + t[:, None] * d), axis=1)
            bad = off > 1e-9 * (np.linalg.norm(d) + np.abs(x0).max())
        elif X.ndim <= 1:
            t = np.atleast_1d(X)
            bad = np.zeros(t.size, bool)
        else:
            raise ValueError(f"points on a segment are parameters t (m,) or inputs (m, {x0.size}); got shape {X.shape}")
        lo, hi = line_intervals(part)
        iv = np.searchsorted(np.asarray(part.t, float), t, side="right")
        out = lab[np.clip(iv, 0, lo.size - 1)]
        return np.where(bad | (t < 0) | (t > 1), -1, out)
    if w == "plane":
        X = X[None] if X.ndim == 1 else X
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"points on a plane are plane coordinates (m, 2), got shape {X.shape}")
        f = _locate_faces(part, X)
        return np.where(f >= 0, lab[np.maximum(f, 0)], -1)
    X = X[None] if X.ndim == 1 else X
    if X.ndim != 2 or X.shape[1] != part.dim:
        raise ValueError(f"points in a box complex are box coordinates (m, {part.dim}), got shape {X.shape}")
    f = _locate_cells(part, X)
    return np.where(f >= 0, lab[np.maximum(f, 0)], -1)


def _locate_faces(part, X: np.ndarray) -> np.ndarray:
    F = part.num_faces
    fv, ptr = part.face_vertices, part.face_ptr
    P = part.vertices
    lens = np.diff(ptr)
    Q = P[fv]
    lo = np.minimum.reduceat(Q, ptr[:-1], axis=0)
    hi = np.maximum.reduceat(Q, ptr[:-1], axis=0)
    dlo, dhi = part.domain.min(axis=0), part.domain.max(axis=0)
    size = float(np.max(dhi - dlo))
    tol = LOCATE_RTOL * max(size, np.abs(part.domain).max())
    G = int(np.clip(2 * np.sqrt(F), 1, 4096))  # ~2 candidate faces per point
    cell = (dhi - dlo) / G
    cell = np.where(cell > 0, cell, 1.0)
    i0 = np.clip(np.floor((lo - tol - dlo) / cell).astype(np.int64), 0, G - 1)
    i1 = np.clip(np.floor((hi + tol - dlo) / cell).astype(np.int64), 0, G - 1)
    nx, ny = i1[:, 0] - i0[:, 0] + 1, i1[:, 1] - i0[:, 1] + 1
    cnt = nx * ny
    rep = np.repeat(np.arange(F), cnt)
    k = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    cx = i0[rep, 0] + k % nx[rep]
    cy = i0[rep, 1] + k // nx[rep]
    bucket = cy * G + cx
    order = np.lexsort((rep, bucket))
    bucket, rep = bucket[order], rep[order]
    bptr = np.searchsorted(bucket, np.arange(G * G + 1))
    m = X.shape[0]
    pb = np.clip(np.floor((X - dlo) / cell).astype(np.int64), 0, G - 1)
    pbk = pb[:, 1] * G + pb[:, 0]
    nc = bptr[pbk + 1] - bptr[pbk]
    prow = np.repeat(np.arange(m), nc)
    cand = rep[np.arange(nc.sum()) - np.repeat(np.cumsum(nc) - nc, nc) + np.repeat(bptr[pbk], nc)]
    # exact side tests of each (point, candidate face): left of (or on) every side
    nxt = np.arange(fv.size) + 1
    nxt[ptr[1:] - 1] = ptr[:-1]
    sl = lens[cand]
    srow = np.repeat(np.arange(cand.size), sl)
    slot = np.arange(sl.sum()) - np.repeat(np.cumsum(sl) - sl, sl) + np.repeat(ptr[cand], sl)
    v, wv = P[fv[slot]], P[fv[nxt[slot]]]
    e = wv - v
    q = X[prow[srow]] - v
    cr = e[:, 0] * q[:, 1] - e[:, 1] * q[:, 0]
    inside_side = cr >= -tol * np.hypot(e[:, 0], e[:, 1])
    starts = np.cumsum(sl) - sl
    inside = np.logical_and.reduceat(inside_side, starts) if inside_side.size else np.zeros(0, bool)
    out = np.full(m, -1, np.int64)
    hit = np.nonzero(inside)[0]
    # lowest face id per point
    best = np.full(m, np.iinfo(np.int64).max)
    np.minimum.at(best, prow[hit], cand[hit])
    found = best < np.iinfo(np.int64).max
    out[found] = best[found]
    return out


def _locate_cells(part, X: np.ndarray) -> np.ndarray:
    """Cells of a box complex by their hulls' half-spaces (qhull per cell, all points at once)."""
    from scipy.spatial import ConvexHull

    R = part.region_volume.size
    out = np.full(X.shape[0], -1, np.int64)
    offs = part.region_offsets
    tol = LOCATE_RTOL * max(1.0, float(np.abs(part.high - part.low).max()))
    for i in range(R):
        V = part.vertices[part.region_vertices[offs[i] : offs[i + 1]]]
        h = ConvexHull(V)
        todo = out < 0
        ok = (X[todo] @ h.equations[:, :-1].T + h.equations[:, -1] <= tol).all(axis=1)
        idx = np.nonzero(todo)[0][ok]
        out[idx] = i
    return out


@dataclass(frozen=True, repr=False, eq=False)
class LocalMaps:
    """Per region: N(s) = ``offset`` + ``jacobian`` @ s in the partition's coordinates (plane
    coordinates, box coordinates, or the segment parameter t), and ``lipschitz`` (the spectral
    norm of the Jacobian; on a segment, per unit length of input space)."""

    jacobian: np.ndarray
    offset: np.ndarray
    lipschitz: np.ndarray
    kind: str

    def __call__(self, region: Any, s: Any) -> np.ndarray:
        """Evaluate region ``region``'s affine map at coordinates s (..., d)."""
        r = np.asarray(region)
        s = np.asarray(s, float)
        return self.offset[r] + np.einsum("...oi,...i->...o", self.jacobian[r], s)

    def to_frame(self):
        import pandas as pd

        R, n_out, d = self.jacobian.shape
        cols = {"region": np.arange(R), "lipschitz": self.lipschitz}
        for o in range(n_out):
            cols[f"offset_{o}"] = self.offset[:, o]
            for i in range(d):
                cols[f"J_{o}_{i}"] = self.jacobian[:, o, i]
        return pd.DataFrame(cols)

    def _repr_html_(self) -> str:
        from ..notebook import repr_html

        return repr_html(self)

    def __repr__(self) -> str:
        R, n_out, d = self.jacobian.shape
        return f"LocalMaps(kind={self.kind!r}, regions={R}, n_out={n_out}, dim={d})"


def local_maps(part, kind: Kind = "activation") -> LocalMaps:
    """Every region's affine map, Jacobian and Lipschitz constant (on the slice)."""
    check_kind(kind)
    w = which(part)
    lab = labels(part, kind)
    R = int(lab.max()) + 1 if lab.size else 0
    first = np.full(R, -1, np.int64)
    first[lab[::-1]] = np.arange(lab.size)[::-1]
    if w == "plane":
        g, o = part.affine_maps()
        J, off = np.asarray(g)[first], np.asarray(o)[first]
    elif w == "line":
        J = np.asarray(part.slopes, float)[first][:, :, None]
        off = np.asarray(part.intercepts, float)[first]
        seg = float(np.linalg.norm(np.asarray(part.x1) - np.asarray(part.x0)))
        return LocalMaps(J, off, np.linalg.norm(J[:, :, 0], axis=1) / seg, kind)
    else:
        J, off = np.asarray(part.region_slopes)[first], np.asarray(part.region_intercepts)[first]
    lip = np.linalg.norm(J, ord=2, axis=(1, 2)) if J.size else np.zeros(R)
    return LocalMaps(J, off, lip, kind)
