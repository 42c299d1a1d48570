"""Activation states of the faces at the end of a layer (numba, ``cache=True``).

``face_codes`` reads the state code of every face and unit, ``snap_decisions`` counts the close
snapping decisions (without branches) and ``any_open`` reduces state codes to goodness.
"""
from __future__ import annotations

import numpy as np

from ._jit import njit

@njit(cache=True)
def face_codes(U, sv, fstart, flen, xi, tol, switching, out):
    """State code of every face and unit (2p inside piece p, 2j + 1 on breakpoint j) into ``out``
    (F, n): read at the face's first vertex, and at the mean of its vertices where the first vertex
    is on a breakpoint (within ``tol`` (n, T))."""
    F, n = out.shape
    T = xi.size
    hi = np.empty((T, n))
    lo = np.empty((T, n))
    for j in range(T):
        for k in range(n):
            hi[j, k] = xi[j] + tol[k, j]
            lo[j, k] = xi[j] - tol[k, j]
    c = np.empty(n, np.int64)
    for f in range(F):
        st = fstart[f]
        L = flen[f]
        v0 = sv[st]
        for k in range(n):
            c[k] = 0
        for j in range(T):
            for k in range(n):
                u = U[v0, k]
                c[k] += (u > hi[j, k]) + (u >= lo[j, k])
        for k in range(n):
            if not switching[k]:
                c[k] = 0
            elif c[k] & 1:
                m = 0.0
                for i in range(L):
                    m += U[sv[st + i], k]
                m /= L
                cm = 0
                for j in range(T):
                    cm += (m > hi[j, k]) + (m >= lo[j, k])
                c[k] = cm
            out[f, k] = c[k]


@njit(cache=True)
def snap_decisions(U, nV, xi, tol, switching, close_factor):
    """Count (vertex, neuron, breakpoint) snapping decisions that were close: ``erased``, values
    snapped onto a breakpoint with ``tol / close_factor < |u - xi| <= tol`` (more than rounding
    noise was erased), and ``kept``, values left off it with ``tol < |u - xi| < close_factor tol``.
    Counted without branches over contiguous rows (non-switching units weigh 0)."""
    n = U.shape[1]
    T = xi.size
    tt = np.empty((T, n))
    ct = np.empty((T, n))
    for j in range(T):
        for k in range(n):
            tt[j, k] = tol[k, j]
            ct[j, k] = close_factor * tol[k, j]
    sw = np.empty(n, np.int64)
    for k in range(n):
        sw[k] = 1 if switching[k] else 0
    erased = 0
    kept = 0
    for v in range(nV):
        for j in range(T):
            x = xi[j]
            for k in range(n):
                d = abs(U[v, k] - x)
                t = tt[j, k]
                erased += sw[k] * np.int64((d <= t) & (d * close_factor > t))
                kept += sw[k] * np.int64((d > t) & (d < ct[j, k]))
    return erased, kept


@njit(cache=True)
def any_open(codes, tab):
    """Per row of ``codes`` (F, n): is some unit open (``tab[k, code]``)? A reduction, without a
    faces x width temporary."""
    F, n = codes.shape
    out = np.zeros(F, np.bool_)
    for f in range(F):
        for k in range(n):
            if tab[k, codes[f, k]]:
                out[f] = True
                break
    return out
