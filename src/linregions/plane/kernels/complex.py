"""The final complex from the builder's rings (numba, ``cache=True``): ``complex_arrays``
(vertices, CSR rings, slot keys, areas with rounding bounds) and ``complex_edges`` (unique edges,
their faces and orientations).
"""
from __future__ import annotations

import numpy as np

from ._jit import njit

@njit(cache=True)
def complex_arrays(P, sv, sl, fstart, flen, nF, unit_roundoff):
    """The final complex from the builder's rings: vertices compacted to those used, faces as CSR
    rings (``ptr``, ``fv``, labels ``fl``), every slot's edge key, direction (lo -> hi) and face,
    and every face's area (shoelace formula relative to its first vertex) with a bound on its
    rounding error. ``complex_edges`` then gives the unique edges (lo, hi) with the label of their
    first slot, the faces left / right of lo -> hi (-1 outside), and how often each edge runs
    lo -> hi and hi -> lo (1 and 1 inside, 1 in total on the domain boundary, when watertight)."""
    ptr = np.zeros(nF + 1, np.int64)
    for f in range(nF):
        ptr[f + 1] = ptr[f] + flen[f]
    ns = ptr[nF]
    nV0 = P.shape[0]
    remap = np.full(nV0, -1, np.int64)
    fv = np.empty(ns, np.int64)
    fl = np.empty(ns, np.int64)
    for f in range(nF):
        st = fstart[f]
        for i in range(flen[f]):
            remap[sv[st + i]] = 0
    V = 0
    for v in range(nV0):  # used vertices keep their order
        if remap[v] == 0:
            remap[v] = V
            V += 1
    for f in range(nF):
        st = fstart[f]
        for i in range(flen[f]):
            fv[ptr[f] + i] = remap[sv[st + i]]
            fl[ptr[f] + i] = sl[st + i]
    Pc = np.empty((V, 2))
    for v in range(nV0):
        if remap[v] >= 0:
            Pc[remap[v]] = P[v]
    key = np.empty(ns, np.int64)
    fwd = np.empty(ns, np.bool_)
    seg = np.empty(ns, np.int64)
    area = np.zeros(nF)
    err = np.zeros(nF)
    for f in range(nF):
        L = ptr[f + 1] - ptr[f]
        x0 = Pc[fv[ptr[f]], 0]
        y0 = Pc[fv[ptr[f]], 1]
        s = 0.0
        sa = 0.0
        for i in range(L):
            a = fv[ptr[f] + i]
            b = fv[ptr[f] + (i + 1 if i + 1 < L else 0)]
            key[ptr[f] + i] = min(a, b) * V + max(a, b)
            fwd[ptr[f] + i] = a < b
            seg[ptr[f] + i] = f
            t1 = (Pc[a, 0] - x0) * (Pc[b, 1] - y0)
            t2 = (Pc[b, 0] - x0) * (Pc[a, 1] - y0)
            s += t1 - t2
            sa += abs(t1) + abs(t2)
        area[f] = 0.5 * s
        err[f] = 8.0 * L * unit_roundoff * sa
    return Pc, ptr, fv, fl, key, fwd, seg, area, err


@njit(cache=True)
def complex_edges(key, order, fwd, seg, fl, V):
    """Unique edges of the rings from their slot keys sorted by ``order`` (see ``complex_arrays``)."""
    ns = key.size
    edges = np.empty((ns, 2), np.int64)
    elab = np.empty(ns, np.int64)
    efaces = np.full((ns, 2), -1, np.int64)
    occ = np.zeros((ns, 2), np.int64)
    E = 0
    for q in range(ns):
        s = order[q]
        if q == 0 or key[s] != key[order[q - 1]]:
            edges[E, 0] = key[s] // V
            edges[E, 1] = key[s] % V
            elab[E] = fl[s]
            E += 1
        side = 0 if fwd[s] else 1
        efaces[E - 1, side] = seg[s]
        occ[E - 1, side] += 1
    return edges[:E].copy(), elab[:E].copy(), efaces[:E].copy(), occ[:E].copy()
