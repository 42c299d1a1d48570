"""Compiled cuts of convex polytopes by the hyperplanes of one layer (the splitting loop of
``complex_in_box``; numba, ``cache=True``).

A cell is a convex polytope given by its vertex ids (into a global vertex table) and, for each of
its vertices, the set of constraints the vertex lies on, as a bitset over *global* constraint ids
(box facets ``0 .. 2n-1``, then one id per neuron and breakpoint, ``base_l + z T + j``). Only
constraints that cut the cell (or bound the box) are recorded for it, so a cell's constraint set
holds every facet-defining constraint; the edge test and the face lattice need no more.

Cells of all regions are stored flat: ``ptr`` (R + 1,) offsets into ``vids`` (vertex ids) and
``inc`` (one bitset row of ``KW`` uint64 words per cell vertex).
"""
from __future__ import annotations

import numpy as np
from numba import njit

# status codes of split_layer
OK = 0
TOO_MANY_REGIONS = 1


@njit(cache=True)
def _grow_rows(a, need):
    """``a`` with at least ``need`` rows (contents kept), doubling."""
    if need <= a.shape[0]:
        return a
    cap = max(need, 2 * a.shape[0])
    b = np.empty((cap, a.shape[1]), a.dtype)
    for i in range(a.shape[0]):  # plain loops: less to compile than a slice assignment
        for j in range(a.shape[1]):
            b[i, j] = a[i, j]
    return b


@njit(cache=True)
def _grow(a, need):
    if need <= a.shape[0]:
        return a
    cap = max(need, 2 * a.shape[0])
    b = np.empty(cap, a.dtype)
    for i in range(a.shape[0]):
        b[i] = a[i]
    return b


@njit(cache=True)
def _copy(dst, d0, src, s0, m):
    """``dst[d0 : d0 + m] = src[s0 : s0 + m]`` (1D) as a plain loop (less to compile)."""
    for i in range(m):
        dst[d0 + i] = src[s0 + i]


@njit(cache=True)
def _copy_rows(dst, d0, src, s0, m):
    """``dst[d0 : d0 + m] = src[s0 : s0 + m]`` (rows of 2D arrays) as plain loops."""
    for i in range(m):
        for w in range(src.shape[1]):
            dst[d0 + i, w] = src[s0 + i, w]


@njit(cache=True)
def _edge_hash(a, b, c):
    h = np.uint64(a) * np.uint64(0x9E3779B97F4A7C15)
    h ^= np.uint64(b) * np.uint64(0xC2B2AE3D27D4EB4F) + (h >> np.uint64(31))
    h ^= np.uint64(c) * np.uint64(0x165667B19E3779F9) + (h >> np.uint64(29))
    return h ^ (h >> np.uint64(32))


@njit(cache=True)
def _edge_slot(keys, vals, a, b, c):
    """Slot of the key (a, b, c) in the open-addressing table (keys, vals): where it is stored,
    or the empty slot where it goes (``vals[slot] < 0``)."""
    mask = vals.size - 1
    pos = np.int64(_edge_hash(a, b, c) & np.uint64(mask))
    while vals[pos] >= 0 and not (keys[pos, 0] == a and keys[pos, 1] == b and keys[pos, 2] == c):
        pos = (pos + 1) & mask
    return pos


@njit(cache=True)
def _edge_rehash(keys, vals):
    """The table with twice the slots."""
    nk = np.empty((2 * vals.size, 3), np.int64)
    nv = np.full(2 * vals.size, -1, np.int64)
    for i in range(vals.size):
        if vals[i] >= 0:
            pos = _edge_slot(nk, nv, keys[i, 0], keys[i, 1], keys[i, 2])
            nk[pos, 0], nk[pos, 1], nk[pos, 2] = keys[i, 0], keys[i, 1], keys[i, 2]
            nv[pos] = vals[i]
    return nk, nv


@njit(cache=True)
def split_layer(V, U, nV, ptr, vids, inc, xi, tol, noise_fraction, sw, base, max_regions):
    """Cut every cell by every hyperplane ``u_z = xi_j`` of one layer that crosses it.

    ``V`` (capV, n), ``U`` (capV, n_l): coordinates and pre-activations of the layer at the first
    ``nV`` vertices (u_z is affine on every cell, so exact at its vertices); ``xi`` (T,)
    breakpoints, ``tol`` (n_l, T) snap tolerances (``|u_z - xi_j| <= tol[z, j]``: on the
    hyperplane), ``sw`` (n_l,) switching units, ``base`` the constraint id of (z=0, j=0).

    For each cell, the pairs (z, j) with vertices strictly on both sides are taken in order
    (z-major); each cuts every piece made so far: vertices on the hyperplane get its bit, the
    edges joining a positive and a negative vertex (two vertices span an edge when no third vertex
    lies on every constraint they share) get a new vertex by exact linear interpolation of V and
    U, named by (edge, constraint) so that neighbouring cells share it. Returns
    ``(V, U, nV, ptr, vids, inc, R, near, status)``: the grown vertex tables, the new cells,
    whether some snap erased more than ``noise_fraction`` of its tolerance, and a status code
    (``TOO_MANY_REGIONS`` once more than ``max_regions`` cells were made).
    """
    nl = U.shape[1]
    T = xi.size
    KW = inc.shape[1]
    ncells = ptr.size - 1
    # vertices made in this layer, by (edge, constraint): an open-addressing table (load <= 1/2)
    t_keys = np.empty((1 << 12, 3), np.int64)
    t_vals = np.full(1 << 12, -1, np.int64)
    n_keys = 0
    optr = np.empty(2 * ncells + 2, np.int64)
    optr[0] = 0
    nout = 0
    ovids = np.empty(2 * vids.size + 16, np.int64)
    oinc = np.empty((ovids.size, KW), np.uint64)
    # two pools of pieces (ping-pong), scratch per piece
    a_ptr = np.empty(64, np.int64)
    a_v = np.empty(256, np.int64)
    a_inc = np.empty((256, KW), np.uint64)
    b_ptr = np.empty(64, np.int64)
    b_v = np.empty(256, np.int64)
    b_inc = np.empty((256, KW), np.uint64)
    hbuf = np.empty(64)
    cls = np.empty(64, np.int8)
    e_a = np.empty(64, np.int64)
    e_b = np.empty(64, np.int64)
    e_id = np.empty(64, np.int64)
    cw = np.empty(KW, np.uint64)
    cz = np.empty(nl * T, np.int64)
    cj = np.empty(nl * T, np.int64)
    near = False
    one = np.uint64(1)
    for c in range(ncells):
        s, e = ptr[c], ptr[c + 1]
        m = e - s
        # which hyperplanes of the layer cross the cell (strictly on both sides)
        nx = 0
        for z in range(nl):
            if not sw[z]:
                continue
            for j in range(T):
                t = tol[z, j]
                x = xi[j]
                hp = False
                hn = False
                for k in range(s, e):
                    d = U[vids[k], z] - x
                    ad = abs(d)
                    if ad <= t:
                        if ad > noise_fraction * t:
                            near = True
                    elif d > 0:
                        hp = True
                    else:
                        hn = True
                if hp and hn:
                    cz[nx] = z
                    cj[nx] = j
                    nx += 1
        if nx == 0:
            if nout + 2 > optr.shape[0]:
                optr = _grow(optr, nout + 2)
            if optr[nout] + m > ovids.shape[0]:
                ovids = _grow(ovids, optr[nout] + m)
            if optr[nout] + m > oinc.shape[0]:
                oinc = _grow_rows(oinc, optr[nout] + m)
            o = optr[nout]
            _copy(ovids, o, vids, s, m)
            _copy_rows(oinc, o, inc, s, m)
            optr[nout + 1] = o + m
            nout += 1
            if nout > max_regions:
                return V, U, nV, optr[: nout + 1], ovids[: optr[nout]], oinc[: optr[nout]], nout, near, TOO_MANY_REGIONS
            continue
        # pool a <- the cell
        a_n = 1
        a_ptr[0] = 0
        a_ptr[1] = m
        if m > a_v.shape[0]:
            a_v = _grow(a_v, m)
        if m > a_inc.shape[0]:
            a_inc = _grow_rows(a_inc, m)
        _copy(a_v, 0, vids, s, m)
        _copy_rows(a_inc, 0, inc, s, m)
        for ix in range(nx):
            z = cz[ix]
            j = cj[ix]
            x = xi[j]
            t = tol[z, j]
            cid = base + z * T + j
            word = cid // 64
            bit = one << np.uint64(cid % 64)
            # room for all this cut can make, so that no array is replaced inside the loops
            # below (that costs reference counting): a piece of pm vertices has at most
            # pm^2 / 4 edges with ends on both sides, and each side keeps at most pm + that many
            pmax = 0
            esum = 0
            for p in range(a_n):
                pm = a_ptr[p + 1] - a_ptr[p]
                pmax = max(pmax, pm)
                esum += (pm * pm) // 4
            emax = (pmax * pmax) // 4 + 1
            if pmax > hbuf.shape[0]:
                hbuf = _grow(hbuf, pmax)
                cls = _grow(cls, pmax)
            if emax > e_a.shape[0]:
                e_a = _grow(e_a, emax)
                e_b = _grow(e_b, emax)
                e_id = _grow(e_id, emax)
            if 2 * a_n + 1 > b_ptr.shape[0]:
                b_ptr = _grow(b_ptr, 2 * a_n + 1)
            need = 2 * (a_ptr[a_n] + esum)
            if need > b_v.shape[0]:
                b_v = _grow(b_v, need)
            if need > b_inc.shape[0]:
                b_inc = _grow_rows(b_inc, need)
            if nV + esum > V.shape[0]:
                V = _grow_rows(V, nV + esum)
                U = _grow_rows(U, nV + esum)
            while 2 * (n_keys + esum) > t_vals.size:
                t_keys, t_vals = _edge_rehash(t_keys, t_vals)
            b_n = 0
            b_ptr[0] = 0
            for p in range(a_n):
                ps, pe = a_ptr[p], a_ptr[p + 1]
                pm = pe - ps
                npos = 0
                nneg = 0
                for k in range(pm):
                    d = U[a_v[ps + k], z] - x
                    hbuf[k] = d
                    ad = abs(d)
                    if ad <= t:
                        cls[k] = 0
                        if ad > noise_fraction * t:
                            near = True
                    elif d > 0:
                        cls[k] = 1
                        npos += 1
                    else:
                        cls[k] = -1
                        nneg += 1
                if npos == 0 or nneg == 0:  # not cut: the piece goes on unchanged
                    o = b_ptr[b_n]
                    _copy(b_v, o, a_v, ps, pm)
                    _copy_rows(b_inc, o, a_inc, ps, pm)
                    b_ptr[b_n + 1] = o + pm
                    b_n += 1
                    continue
                # edges joining a positive and a negative vertex
                ne = 0
                for ia in range(pm):
                    if cls[ia] != 1:
                        continue
                    for ib in range(pm):
                        if cls[ib] != -1:
                            continue
                        for w in range(KW):
                            cw[w] = a_inc[ps + ia, w] & a_inc[ps + ib, w]
                        cnt = 0
                        for k in range(pm):
                            ok = True
                            for w in range(KW):
                                if (a_inc[ps + k, w] & cw[w]) != cw[w]:
                                    ok = False
                                    break
                            if ok:
                                cnt += 1
                                if cnt > 2:
                                    break
                        if cnt == 2:
                            e_a[ne] = ia
                            e_b[ne] = ib
                            ne += 1
                # the new vertices (shared with the neighbours that cut the same edge)
                for q in range(ne):
                    ga = a_v[ps + e_a[q]]
                    gb = a_v[ps + e_b[q]]
                    pos = _edge_slot(t_keys, t_vals, min(ga, gb), max(ga, gb), cid)
                    v = t_vals[pos]
                    if v < 0:
                        lam = hbuf[e_a[q]] / (hbuf[e_a[q]] - hbuf[e_b[q]])
                        for i in range(V.shape[1]):
                            V[nV, i] = V[ga, i] + lam * (V[gb, i] - V[ga, i])
                        for i in range(nl):
                            U[nV, i] = U[ga, i] + lam * (U[gb, i] - U[ga, i])
                        v = nV
                        t_keys[pos, 0], t_keys[pos, 1], t_keys[pos, 2] = min(ga, gb), max(ga, gb), cid
                        t_vals[pos] = v
                        nV += 1
                        n_keys += 1
                    e_id[q] = v
                # the two sides: kept vertices (the ones on the hyperplane get its bit), then
                # the new vertices (constraints shared by the edge's ends, and this one)
                for side in (1, -1):
                    o = b_ptr[b_n]
                    for k in range(pm):
                        if cls[k] == side or cls[k] == 0:
                            b_v[o] = a_v[ps + k]
                            for w in range(KW):
                                b_inc[o, w] = a_inc[ps + k, w]
                            if cls[k] == 0:
                                b_inc[o, word] |= bit
                            o += 1
                    for q in range(ne):
                        b_v[o] = e_id[q]
                        for w in range(KW):
                            b_inc[o, w] = a_inc[ps + e_a[q], w] & a_inc[ps + e_b[q], w]
                        b_inc[o, word] |= bit
                        o += 1
                    b_ptr[b_n + 1] = o
                    b_n += 1
            # swap pools
            a_ptr, b_ptr = b_ptr, a_ptr
            a_v, b_v = b_v, a_v
            a_inc, b_inc = b_inc, a_inc
            a_n = b_n
        # output the pieces
        tot = a_ptr[a_n]
        if nout + a_n + 1 > optr.shape[0]:
            optr = _grow(optr, nout + a_n + 1)
        o = optr[nout]
        if o + tot > ovids.shape[0]:
            ovids = _grow(ovids, o + tot)
        if o + tot > oinc.shape[0]:
            oinc = _grow_rows(oinc, o + tot)
        _copy(ovids, o, a_v, 0, tot)
        _copy_rows(oinc, o, a_inc, 0, tot)
        for p in range(a_n):
            optr[nout + 1 + p] = o + a_ptr[p + 1]
        nout += a_n
        if nout > max_regions:
            return V, U, nV, optr[: nout + 1], ovids[: optr[nout]], oinc[: optr[nout]], nout, near, TOO_MANY_REGIONS
    return V, U, nV, optr[: nout + 1], ovids[: optr[nout]], oinc[: optr[nout]], nout, near, OK
