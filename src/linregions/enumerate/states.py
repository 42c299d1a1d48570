"""Compiled state codes of one layer at many points (the per-point bookkeeping of
``complex_in_box``; numba, ``cache=True``).

The pre-activations ``u`` and the activations stay numpy (the same products as everywhere else);
this pass replaces the dozen whole-array numpy passes that turned them into state codes (2p inside
piece p, 2j + 1 on breakpoint j within its snap tolerance, the encoding of ``line._states``), the
tight mask (a switching neuron on a breakpoint) and the open mask of ``line._open`` (on a
breakpoint, or on a piece of non-zero slope) by one loop over the points, with the same
comparisons in the same order, so the codes are identical.
"""
from __future__ import annotations

import numpy as np
from numba import njit


def slope_nonzero(net, l: int) -> np.ndarray:
    """(n_l, T + 1) table: is the slope of piece p of unit z of layer l non-zero (``net.slope``,
    passthrough and per-unit slopes included)."""
    T = net.activations[l].breakpoints.size
    pieces = np.broadcast_to(np.arange(T + 1)[:, None], (T + 1, net.widths[l]))
    return np.ascontiguousarray(np.asarray(net.slope(l, pieces)).T != 0)


@njit(cache=True, inline="always")
def _code(x, xi, x0, T, tol, z):
    """State code of one switching unit at pre-activation x (breakpoints ``xi[x0 : x0 + T]``,
    tolerances ``tol[z]``): the piece is the number of breakpoints <= x
    (``searchsorted(xi, x, "right")``, NaN last; one comparison ``x >= xi_0`` when T = 1, as
    numpy does it), code 2p; then ``|x - xi_j| <= tol[z, j]`` gives code 2j + 1 (the last such
    j wins)."""
    if T == 1:  # the common case (ReLU-like): no loops, no branches
        c = 2 * np.int64(x >= xi[x0])
        return 1 if abs(x - xi[x0]) <= tol[z, 0] else c
    p = 0
    for j in range(T):
        if not x < xi[x0 + j]:
            p += 1
    c = 2 * p
    for j in range(T):
        if abs(x - xi[x0 + j]) <= tol[z, j]:
            c = 2 * j + 1
    return c


@njit(cache=True)
def layer_states(u, xi, tol, sw, qnz):
    """State codes, tight and open masks of one layer at k points.

    ``u`` (k, n_l) pre-activations, ``xi`` (T,) breakpoints, ``tol`` (n_l, T) snap tolerances,
    ``sw`` (n_l,) switching units, ``qnz`` (n_l, T + 1) non-zero slopes (``slope_nonzero``).
    Codes as in ``_code``; non-switching units get code 0.
    Returns ``(s, tight, open)``: (k, n_l) int16 codes, and two (k, n_l) boolean masks.
    """
    k, nl = u.shape
    T = xi.size
    s = np.empty((k, nl), np.int16)
    tight = np.empty((k, nl), np.bool_)
    opn = np.empty((k, nl), np.bool_)
    for i in range(k):
        for z in range(nl):
            if not sw[z]:
                s[i, z] = 0
                tight[i, z] = False
                opn[i, z] = qnz[z, 0]
                continue
            c = _code(u[i, z], xi, 0, T, tol, z)
            s[i, z] = c
            on = c % 2 == 1
            tight[i, z] = on
            opn[i, z] = on or qnz[z, c // 2]
    return s, tight, opn


def layer_tables(net, scales):
    """The per-unit tables of ``tight_and_good``, all hidden layers side by side: unit offsets
    ``off`` (depth + 1,), breakpoints ``xi`` with offsets ``xoff``, snap tolerances ``tol``
    (units, T_max) (``SNAP_RTOL`` times ``tolerances.snap_scale`` with the box's ``scales``, as
    in the cuts), switching units ``sw``, non-zero slopes ``qnz`` (units, T_max + 1), and for
    the reachability of ``line._reachability``: ``nz`` the non-zero pattern of each W_l, l >= 1
    (flattened (n_l, n_{l-1}) blocks at ``nzoff``), ``dense`` (all of W_l non-zero) and
    ``outnz`` (units of the last layer with a non-zero output weight)."""
    from ..tolerances import SNAP_RTOL, snap_scale

    d = net.depth
    widths = [W.shape[0] for W in net.weights[:d]]
    off = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    xis = [np.asarray(a.breakpoints, dtype=np.float64) for a in net.activations]
    xoff = np.concatenate([[0], np.cumsum([x.size for x in xis])]).astype(np.int64)
    Tm = max(x.size for x in xis)
    tol = np.zeros((off[-1], Tm))
    qnz = np.zeros((off[-1], Tm + 1), np.bool_)
    for l in range(d):
        W, b = net.weights[l], net.biases[l]
        tol[off[l] : off[l + 1], : xis[l].size] = SNAP_RTOL * snap_scale(W, b, scales[l], xis[l])
        qnz[off[l] : off[l + 1], : xis[l].size + 1] = slope_nonzero(net, l)
    sw = np.concatenate([net.switching(l) for l in range(d)])
    nzs = [np.ascontiguousarray(net.weights[l] != 0).ravel() for l in range(1, d)]
    nzoff = np.concatenate([[0], np.cumsum([z.size for z in nzs])]).astype(np.int64)
    nz = np.concatenate(nzs) if nzs else np.zeros(0, np.bool_)
    dense = np.array([True] + [bool(z.all()) for z in nzs])
    outnz = np.any(net.weights[d] != 0, axis=0)
    return off, np.concatenate(xis), xoff, tol, sw, qnz, nz, nzoff, dense, outnz


@njit(cache=True)
def tight_and_good(U, off, xi, xoff, tol, sw, qnz, nz, nzoff, dense, outnz):
    """Per point, the number of tight neurons and how many of them are good.

    ``U`` (k, units): the pre-activations of all hidden layers side by side (``layer_tables``
    gives the other arguments). State codes as in ``layer_states``; tight: a switching unit on
    a breakpoint; good: a path of open neurons (on a breakpoint, or a piece of non-zero slope)
    with non-zero weights from the unit's successors to an output, ``line._reachability``
    (z's own state does not matter). Returns two (k,) int64 arrays.
    """
    k = U.shape[0]
    d = off.size - 1
    nu = off[d]
    n_tight = np.zeros(k, np.int64)
    n_good = np.zeros(k, np.int64)
    tight = np.empty(nu, np.bool_)
    opn = np.empty(nu, np.bool_)
    reach = np.empty(nu, np.bool_)
    for i in range(k):
        for l in range(d):
            x0 = xoff[l]
            T = xoff[l + 1] - x0
            for z in range(off[l], off[l + 1]):
                if not sw[z]:
                    tight[z] = False
                    opn[z] = qnz[z, 0]
                    continue
                c = _code(U[i, z], xi, x0, T, tol, z)
                on = c % 2 == 1
                tight[z] = on
                opn[z] = on or qnz[z, c // 2]
        # reachability, from the last layer back
        for z in range(off[d - 1], off[d]):
            reach[z] = outnz[z - off[d - 1]]
        for l in range(d - 1, 0, -1):
            p0, p1 = off[l - 1], off[l]
            for y in range(p0, p1):
                reach[y] = False
            if dense[l]:
                g = False
                for z in range(off[l], off[l + 1]):
                    if opn[z] and reach[z]:
                        g = True
                        break
                for y in range(p0, p1):
                    reach[y] = g
            else:
                w = p1 - p0
                for z in range(off[l], off[l + 1]):
                    if opn[z] and reach[z]:
                        row = nzoff[l - 1] + (z - off[l]) * w
                        for y in range(w):
                            if nz[row + y]:
                                reach[p0 + y] = True
        nt = 0
        ng = 0
        for z in range(nu):
            if tight[z]:
                nt += 1
                if reach[z]:
                    ng += 1
        n_tight[i] = nt
        n_good[i] = ng
    return n_tight, n_good
