"""Region tables: one row per region, in the spirit of scikit-image's ``regionprops``.

``region_table(part, kind)`` returns a ``pandas.DataFrame`` for a ``PlanePartition`` (faces or
linear regions of a planar slice), a ``LinePartition`` (intervals of a segment) or a
``PolyhedralComplex`` (cells of ``complex_in_box``). Every column is computed for all regions at
once (one numpy pass over the CSR rings); the costlier column groups are computed only when
asked for (``columns=``):

============  ===================================================================================
group         columns
============  ===================================================================================
``size``      ``area`` (plane) / ``length`` (line) / ``volume`` (complex), ``perimeter``
              (plane; ``surface`` for a complex), ``vertex_count`` (corners), ``edge_count``
``shape``     ``centroid_x``, ``centroid_y`` (area centroid; ``t_mid`` on a line), ``eccentricity``
              (of the ellipse with the same second moments)
``chebyshev`` ``chebyshev_x``, ``chebyshev_y``, ``inradius`` (largest inscribed disc, exact LP)
``map``       ``grad_norm`` (Frobenius norm of the output's Jacobian on the slice),
              ``lipschitz`` (its spectral norm), ``class`` (predicted class at the centroid),
              ``class_constant`` (the same class on the whole region)
``pattern``   ``pattern`` (activation pattern: piece indices, bits for one-breakpoint activations,
              packed as hex), ``layer`` (the last hidden layer that cut the region: the deepest
              layer among its sides; -1 for the whole domain)
``glue``      ``linear_region`` (activation kind) / ``n_faces`` and ``faces`` (linear kind: the
              activation regions it glues)
============  ===================================================================================

Linear regions of a plane are unions of faces and need not be convex: their area, perimeter,
centroid, eccentricity and corners are exact (moments add up); their Chebyshev columns are those
of the largest member face and ``chebyshev_exact`` says whether the region is that one face.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from . import _polygons as poly
from ._access import Kind, check_kind, class_of, labels, line_intervals, line_labels, ring_edges, which

__all__ = ["region_table", "COLUMN_GROUPS", "packed_patterns"]

COLUMN_GROUPS = ("size", "shape", "chebyshev", "map", "pattern", "glue")


def _groups(columns: Any) -> set[str]:
    if columns is None or columns == "all":
        return set(COLUMN_GROUPS)
    if isinstance(columns, str):
        columns = [columns]
    out = set(columns)
    bad = out - set(COLUMN_GROUPS)
    if bad:
        raise ValueError(f"columns must be 'all' or a list of groups from {COLUMN_GROUPS}, got {sorted(bad)}")
    return out


def _hex(packed: np.ndarray) -> np.ndarray:
    """(R, nb) uint8 -> (R,) hex strings, vectorised."""
    digits = np.array(list("0123456789abcdef"))
    R, nb = packed.shape
    if nb == 0:
        return np.full(R, "", dtype="<U1")
    ch = np.empty((R, 2 * nb), dtype="<U1")
    ch[:, 0::2] = digits[packed >> 4]
    ch[:, 1::2] = digits[packed & 15]
    return np.ascontiguousarray(ch).view(f"<U{2 * nb}").ravel()


def packed_patterns(codes: Iterable[np.ndarray], bits: bool | None = None) -> np.ndarray:
    """Pack per-layer state codes (2p inside piece p, 2j + 1 on breakpoint j) into bytes: the
    piece index of every unit (a unit on a breakpoint counts as the piece to its right), one bit
    per unit when every piece index is 0/1 (one-breakpoint activations such as ReLU), else one
    byte per unit. ``bits``: force one or the other (None: bits when the codes allow; pass
    ``all(a.T == 1 for a in net.activations)`` for an encoding that depends on the network only).
    Returns (R, nb) uint8."""
    codes = [np.asarray(c) for c in codes]
    if not codes:
        return np.zeros((0, 0), np.uint8)
    if bits is None:
        bits = all(c.size == 0 or int(c.max()) <= 2 for c in codes)
    if bits:  # one breakpoint: piece = [code >= 1]
        return np.packbits(np.concatenate([c >= 1 for c in codes], axis=1), axis=1)
    pieces = np.concatenate([c.astype(np.int64) // 2 + (c % 2) for c in codes], axis=1)
    return np.minimum(pieces, 255).astype(np.uint8)


def region_table(part, kind: Kind = "activation", *, columns: Any = "all", level: float | None = None):
    """The region table of a partition (module doc); one row per region of the kind.

    ``level``: for one output, the class is ``N > level`` (default 0). ``columns``: "all" or a
    list of column groups (``COLUMN_GROUPS``); costly groups are skipped when not asked for.

    >>> import numpy as np
    >>> from linregions import random_mlp, plane
    >>> part = plane(random_mlp(2, [8, 8], seed=0), [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    >>> df = region_table(part)
    >>> bool(abs(df["area"].sum() - 4.0) < 1e-12), len(df) == part.num_faces
    (True, True)
    """
    check_kind(kind)
    groups = _groups(columns)
    w = which(part)
    if w == "plane":
        return _plane_table(part, kind, groups, level)
    if w == "line":
        return _line_table(part, kind, groups, level)
    return _complex_table(part, kind, groups, level)


# ----------------------------------------------------------------------------------------------
# planes


def _lipschitz(J: np.ndarray) -> np.ndarray:
    """Spectral norms of (R, n_out, 2) Jacobians (closed form for 2x2 J^T J)."""
    a = np.einsum("roi,roi->r", J[..., 0:1], J[..., 0:1])
    c = np.einsum("roi,roi->r", J[..., 1:2], J[..., 1:2])
    b = np.einsum("ro,ro->r", J[..., 0], J[..., 1])
    return np.sqrt(0.5 * (a + c) + np.sqrt(0.25 * (a - c) ** 2 + b * b))


def _plane_table(part, kind: str, groups: set[str], level):
    import pandas as pd

    F = part.num_faces
    fv, ptr = part.face_vertices, part.face_ptr
    P = part.vertices[fv]
    lens = np.diff(ptr)
    face = np.repeat(np.arange(F), lens)
    cols: dict[str, Any] = {}
    corner = poly.corner_mask(P, ptr)
    need_moments = bool(groups & {"size", "shape", "map"}) or kind == "linear"
    if need_moments:
        shift = part.domain.mean(axis=0) if kind == "linear" else None
        A, Sx, Sy, Sxx, Syy, Sxy, origin = poly.moments(P, ptr, shift)
    if kind == "activation":
        lab = np.arange(F)
        R = F
        cols["region"] = lab
        if need_moments:
            cen, _, ecc = poly.shape_from_moments(A, Sx, Sy, Sxx, Syy, Sxy, origin)
        if "size" in groups:
            cols["area"] = A
            cols["perimeter"] = poly.perimeters(P, ptr)
            cols["vertex_count"] = np.bincount(face[corner], minlength=F)
            cols["edge_count"] = lens
    else:
        lab = np.asarray(part.region_labels)
        R = int(lab.max()) + 1 if F else 0
        cols["region"] = np.arange(R)
        sums = [np.bincount(lab, weights=x, minlength=R) for x in (A, Sx, Sy, Sxx, Syy, Sxy)]
        cen, _, ecc = poly.shape_from_moments(*sums, np.broadcast_to(origin[:1], (R, 2)))
        A_r = sums[0]
        # boundary sides of each linear region: domain sides and sides between different regions
        ef = part.edge_faces
        L = part.edge_lengths if hasattr(part, "edge_lengths") else np.hypot(*(part.vertices[part.edges[:, 1]] - part.vertices[part.edges[:, 0]]).T)
        la = np.where(ef[:, 0] >= 0, lab[np.maximum(ef[:, 0], 0)], -1)
        lb = np.where(ef[:, 1] >= 0, lab[np.maximum(ef[:, 1], 0)], -1)
        bnd = la != lb
        e_id = np.concatenate([np.nonzero(bnd & (la >= 0))[0], np.nonzero(bnd & (lb >= 0))[0]])
        e_reg = np.concatenate([la[bnd & (la >= 0)], lb[bnd & (lb >= 0)]])
        if "size" in groups:
            cols["area"] = A_r
            cols["perimeter"] = np.bincount(e_reg, weights=L[e_id], minlength=R)
            cols["vertex_count"] = _region_corners(part, e_id, e_reg, R)
            cols["edge_count"] = np.bincount(e_reg, minlength=R)
    if "shape" in groups:
        cols["centroid_x"], cols["centroid_y"] = cen[:, 0], cen[:, 1]
        cols["eccentricity"] = ecc
    if "chebyshev" in groups:
        c, r = poly.chebyshev(P, ptr, corner)
        if kind == "activation":
            cols["chebyshev_x"], cols["chebyshev_y"], cols["inradius"] = c[:, 0], c[:, 1], r
        else:
            best = _argmax_by(lab, r, R)
            nf = np.bincount(lab, minlength=R)
            cols["chebyshev_x"], cols["chebyshev_y"], cols["inradius"] = c[best, 0], c[best, 1], r[best]
            cols["chebyshev_exact"] = nf == 1
    if "map" in groups:
        grad, off = part.affine_maps()
        if kind == "activation":
            J, o, pts = grad, off, cen
        else:
            big = _argmax_by(lab, part.face_areas, R)
            J, o = grad[big], off[big]
            pts = part.interior_points[big] if hasattr(part, "interior_points") else cen
        cols["grad_norm"] = np.sqrt(np.einsum("roi,roi->r", J, J))
        cols["lipschitz"] = _lipschitz(J)
        vals = o + np.einsum("roi,ri->ro", J, pts)
        cls = class_of(vals, level)
        cols["class"] = cls
        # the same class at every vertex of the region <=> on the whole region (affine, convex faces)
        vv = off[face] + np.einsum("soi,si->so", grad[face], P)
        vc = class_of(vv, level)
        ok_face = np.minimum.reduceat(vc, ptr[:-1]) == np.maximum.reduceat(vc, ptr[:-1])
        face_cls = vc[ptr[:-1]]
        if kind == "activation":
            cols["class_constant"] = ok_face
        else:
            same = ok_face & (face_cls == cls[lab])
            cols["class_constant"] = np.bincount(lab, weights=~same, minlength=R) == 0
        if vals.shape[1] == 1:
            cols["output"] = vals[:, 0]
    if "pattern" in groups:
        e_of_slot = ring_edges(part)
        el = np.asarray(part.edge_layer)[e_of_slot]
        layer_face = np.maximum.reduceat(el, ptr[:-1]) if el.size else np.full(F, -1)
        if kind == "activation":
            cols["layer"] = layer_face
            codes = part.activation_codes()
            cols["pattern"] = _hex(packed_patterns(codes, all(a.T == 1 for a in part.net.activations)))
        else:
            lin = np.asarray(part.linear_edges) if hasattr(part, "linear_edges") else np.zeros(part.edges.shape[0], bool)
            ly = np.where(lin | (np.asarray(part.edge_layer) < 0), np.asarray(part.edge_layer), -1)
            lay = np.full(R, -1, np.int64)
            np.maximum.at(lay, e_reg, ly[e_id])
            cols["layer"] = lay
    if "glue" in groups:
        if kind == "activation":
            cols["linear_region"] = np.asarray(part.region_labels)
        else:
            order = np.argsort(lab, kind="stable")
            nf = np.bincount(lab, minlength=R)
            cols["n_faces"] = nf
            cols["faces"] = np.split(order, np.cumsum(nf)[:-1]) if R else []
    df = pd.DataFrame(cols)
    df.attrs.update(kind=kind, partition="plane")
    return df


def _argmax_by(lab: np.ndarray, x: np.ndarray, R: int) -> np.ndarray:
    """For every label, the index of its element with the largest x."""
    order = np.lexsort((-x, lab))
    first = np.ones(order.size, bool)
    first[1:] = lab[order[1:]] != lab[order[:-1]]
    out = np.zeros(R, np.int64)
    out[lab[order[first]]] = order[first]
    return out


def _region_corners(part, e_id: np.ndarray, e_reg: np.ndarray, R: int) -> np.ndarray:
    """Corners of the boundary of each (possibly non-convex) region: vertices of its boundary
    sides where the boundary turns, or where more or fewer than two of its sides meet."""
    E = part.edges[e_id]
    V = part.vertices.shape[0]
    vert = np.concatenate([E[:, 0], E[:, 1]])
    other = np.concatenate([E[:, 1], E[:, 0]])
    reg = np.concatenate([e_reg, e_reg])
    d = part.vertices[other] - part.vertices[vert]
    d = d / np.hypot(d[:, 0], d[:, 1])[:, None]
    key = reg * V + vert
    order = np.argsort(key, kind="stable")
    key, d = key[order], d[order]
    uk, start, cnt = np.unique(key, return_index=True, return_counts=True)
    two = cnt == 2
    s = start[two]
    cr = d[s, 0] * d[s + 1, 1] - d[s, 1] * d[s + 1, 0]
    dot = (d[s] * d[s + 1]).sum(axis=1)
    straight = (np.abs(cr) <= poly.CORNER_RTOL) & (dot < 0)
    corner = np.ones(uk.size, bool)
    corner[np.nonzero(two)[0][straight]] = False
    return np.bincount(uk[corner] // V, minlength=R)


# ----------------------------------------------------------------------------------------------
# segments


def _line_table(part, kind: str, groups: set[str], level):
    import pandas as pd

    lo, hi = line_intervals(part)
    n = lo.size
    seg_len = float(np.linalg.norm(np.asarray(part.x1) - np.asarray(part.x0)))
    # the deepest layer among the crossings at each point
    m = np.asarray(part.t).size
    cp, ly = np.asarray(part.crossing_point), np.asarray(part.layer)
    pt_layer = np.full(m, -1, np.int64)
    np.maximum.at(pt_layer, cp, ly)
    if kind == "activation":
        lab = np.arange(n)
        R = n
        r_lo, r_hi = lo, hi
        left_pt, right_pt = np.arange(n) - 1, np.arange(n)
    else:
        lab = line_labels(part)
        R = int(lab[-1]) + 1
        first = np.searchsorted(lab, np.arange(R))
        last = np.searchsorted(lab, np.arange(R), side="right") - 1
        r_lo, r_hi = lo[first], hi[last]
        lin_pts = np.nonzero(np.asarray(part.linear, bool))[0]
        left_pt = np.concatenate([[-1], lin_pts])
        right_pt = np.concatenate([lin_pts, [m]])
    cols: dict[str, Any] = {"region": np.arange(R), "t_lo": r_lo, "t_hi": r_hi}
    if "size" in groups:
        cols["length"] = (r_hi - r_lo) * seg_len
        cols["edge_count"] = np.bincount(lab, minlength=R)
    if "shape" in groups:
        cols["t_mid"] = 0.5 * (r_lo + r_hi)
    S, O = np.asarray(part.slopes, float), np.asarray(part.intercepts, float)
    rep = np.searchsorted(lab, np.arange(R))  # first interval of each region (one affine map)
    if "map" in groups:
        s = S[rep] / seg_len  # derivative along the unit direction
        cols["grad_norm"] = np.linalg.norm(s, axis=1)
        cols["lipschitz"] = cols["grad_norm"]
        mid = 0.5 * (r_lo + r_hi)
        iv_mid = np.clip(np.searchsorted(hi, mid), 0, n - 1)
        vals = O[iv_mid] + S[iv_mid] * mid[:, None]
        cls = class_of(vals, level)
        cols["class"] = cls
        cl_lo, cl_hi = class_of(O + S * lo[:, None], level), class_of(O + S * hi[:, None], level)
        ok = (cl_lo == cl_hi) & (cl_lo == cls[lab])
        cols["class_constant"] = np.bincount(lab, weights=~ok, minlength=R) == 0
        if vals.shape[1] == 1:
            cols["output"] = vals[:, 0]
    if "pattern" in groups:
        def at(p):
            return np.where((p >= 0) & (p < m), pt_layer[np.clip(p, 0, max(m - 1, 0))] if m else -1, -1)

        cols["layer"] = np.maximum(at(left_pt), at(right_pt))
    if "glue" in groups:
        if kind == "activation":
            cols["linear_region"] = line_labels(part)
        else:
            nf = np.bincount(lab, minlength=R)
            cols["n_faces"] = nf
            cols["faces"] = np.split(np.arange(n), np.cumsum(nf)[:-1])
    df = pd.DataFrame(cols)
    df.attrs.update(kind=kind, partition="line")
    return df


# ----------------------------------------------------------------------------------------------
# complexes (complex_in_box)


def _complex_table(part, kind: str, groups: set[str], level):
    import pandas as pd
    from scipy.spatial import ConvexHull

    Rn = part.region_volume.size
    n = part.dim
    lab = labels(part, kind)
    R = int(lab.max()) + 1 if Rn else 0
    offs = part.region_offsets
    cols: dict[str, Any] = {"region": np.arange(R)}
    vol = np.bincount(lab, weights=part.region_volume, minlength=R)
    nv = np.diff(offs)
    # exact centroid, surface and H-representation per cell from its hull (qhull, per cell:
    # complex_in_box itself builds cells one by one)
    need_hull = bool(groups & {"size", "shape", "chebyshev"})
    cen = np.asarray(part.region_centroid, float)
    surf = np.zeros(Rn)
    cheb_c, cheb_r = np.full((Rn, n), np.nan), np.zeros(Rn)
    if need_hull and n >= 2:
        cen = cen.copy()
        for i in range(Rn):
            X = part.vertices[part.region_vertices[offs[i] : offs[i + 1]]]
            h = ConvexHull(X)
            surf[i] = h.area
            simp = X[h.simplices]  # (s, n, n): fan from the first vertex of the hull
            base = X[h.vertices[0]]
            vols = np.abs(np.linalg.det(simp - base)) / np.prod(np.arange(1, n + 1))
            if vols.sum() > 0:
                cents = (simp.sum(axis=1) + base) / (n + 1)
                cen[i] = (vols[:, None] * cents).sum(axis=0) / vols.sum()
            if "chebyshev" in groups:
                eq = np.unique(np.round(h.equations, 12), axis=0)
                cheb_c[i], cheb_r[i] = _cheb_lp(eq[:, :n], -eq[:, n])
    if kind == "activation":
        if "size" in groups:
            cols["volume"] = vol
            cols["surface"] = surf
            cols["vertex_count"] = nv
        if "shape" in groups:
            for j in range(n):
                cols[f"centroid_{j}"] = cen[:, j]
        if "chebyshev" in groups:
            for j in range(n):
                cols[f"chebyshev_{j}"] = cheb_c[:, j]
            cols["inradius"] = cheb_r
    else:
        if "size" in groups:
            cols["volume"] = vol
            cols["n_faces"] = np.bincount(lab, minlength=R)
        if "shape" in groups:
            for j in range(n):
                cols[f"centroid_{j}"] = np.bincount(lab, weights=cen[:, j] * part.region_volume, minlength=R) / vol
        if "chebyshev" in groups:
            best = _argmax_by(lab, cheb_r, R)
            for j in range(n):
                cols[f"chebyshev_{j}"] = cheb_c[best, j]
            cols["inradius"] = cheb_r[best]
            cols["chebyshev_exact"] = np.bincount(lab, minlength=R) == 1
    rep = _argmax_by(lab, part.region_volume, R)
    if "map" in groups:
        J = np.asarray(part.region_slopes)[rep]
        cols["grad_norm"] = np.sqrt(np.einsum("roi,roi->r", J, J))
        cols["lipschitz"] = np.linalg.norm(J, ord=2, axis=(1, 2)) if J.size else np.zeros(R)
        vals = np.asarray(part.region_intercepts)[rep] + np.einsum("roi,ri->ro", J, cen[rep])
        cols["class"] = class_of(vals, level)
        if vals.shape[1] == 1:
            cols["output"] = vals[:, 0]
    if "pattern" in groups and kind == "activation":
        cols["pattern"] = _hex(packed_patterns(part.region_states))
    if "glue" in groups:
        if kind == "activation":
            cols["linear_region"] = labels(part, "linear")
        else:
            order = np.argsort(lab, kind="stable")
            cols["faces"] = np.split(order, np.cumsum(np.bincount(lab, minlength=R))[:-1])
    df = pd.DataFrame(cols)
    df.attrs.update(kind=kind, partition="complex")
    return df


def _cheb_lp(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """Chebyshev centre of {A x <= b} (rows of A unit normals) by linear programming."""
    from scipy.optimize import linprog

    n = A.shape[1]
    nrm = np.linalg.norm(A, axis=1)
    res = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.c_[A, nrm], b_ub=b, bounds=[(None, None)] * n + [(0, None)],
                  method="highs")
    if not res.success:
        return np.full(n, np.nan), 0.0
    return res.x[:n], float(res.x[n])
