"""Compiled face lattice and volumes of the cells made by ``cuts.split_layer`` (numba,
``cache=True``).

Faces of a cell come from the vertex-constraint incidence alone: every face is the set of the
cell's vertices on some of its constraints, and the facets of a face F (dimension d + 1) are the
maximal proper subsets ``F ∩ c`` (c a constraint) with more than d vertices (a d-face has at
least d + 1 vertices). Faces shared by several cells are identified by their sorted global
vertex ids (hashed, then compared in full: no hash collision can merge two faces). Volumes
follow the pyramid formula ``vol_d(F) = (1/d) sum_{facets G} dist(c_F, aff G) vol_{d-1}(G)``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .cuts import _grow, _grow_rows


_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(cache=True)
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@njit(cache=True, inline="always")
def _sub_rows(A, i, B, j):
    """Bit mask A[i] ⊆ B[j] (rows of multi-word masks; no views made in the inner loops)."""
    for w in range(A.shape[1]):
        if (A[i, w] & B[j, w]) != A[i, w]:
            return False
    return True


@njit(cache=True, inline="always")
def _eq_rows(A, i, B, j):
    for w in range(A.shape[1]):
        if A[i, w] != B[j, w]:
            return False
    return True


@njit(cache=True)
def _rehash(tab, f_hash, nf):
    """A table twice as large holding faces 0..nf-1 (by their hashes)."""
    new = np.full(2 * tab.size, -1, np.int64)
    mask = new.size - 1
    for k in range(nf):
        pos = np.int64(f_hash[k] & np.uint64(mask))
        while new[pos] >= 0:
            pos = (pos + 1) & mask
        new[pos] = k
    return new


@njit(cache=True)
def face_lattice(ptr, vids, inc, n, nV):
    """Every face of dimension 1..n-1 of every cell, once.

    Returns ``(f_dim, f_ptr, f_vids, f_onbox, par, kid, reg, fac)``: per face its dimension, its
    sorted vertex ids (``f_vids[f_ptr[f]:f_ptr[f + 1]]``), whether it lies in a box facet; the
    (face, facet) pairs ``par``/``kid`` of faces of dimension >= 2, the facets of each face
    contiguous; the (cell, facet) pairs ``reg``/``fac`` of the cells' facets (dimension n - 1).
    """
    R = ptr.size - 1
    KW = inc.shape[1]
    tab = np.full(1 << 12, -1, np.int64)  # hash table of faces (open addressing, load <= 1/2)
    f_hash = np.empty(1024, np.uint64)
    f_dim = np.empty(1024, np.int64)
    f_onbox = np.empty(1024, np.bool_)
    f_ptr = np.empty(1025, np.int64)
    f_ptr[0] = 0
    f_vids = np.empty(4096, np.int64)
    nf = 0
    par = np.empty(1024, np.int64)
    kid = np.empty(1024, np.int64)
    npk = 0
    reg = np.empty(1024, np.int64)
    fac = np.empty(1024, np.int64)
    nrf = 0
    gl = np.empty(64, np.int64)
    for r in range(R):
        s, e = ptr[r], ptr[r + 1]
        m = e - s
        MW = (m + 63) // 64
        order = np.argsort(vids[s:e])
        gl = _grow(gl, m)
        for i in range(m):
            gl[i] = vids[s + order[i]]
        # constraint columns present in the cell, as vertex masks
        used = np.zeros(KW, np.uint64)
        for k in range(s, e):
            for w in range(KW):
                used[w] |= inc[k, w]
        C = 0
        for w in range(KW):
            C += _popcount(used[w])
        cols = np.zeros((C, MW), np.uint64)
        isbox = np.zeros(C, np.bool_)
        ci = 0
        for w in range(KW):
            for bb in range(64):
                if (used[w] >> np.uint64(bb)) & np.uint64(1):
                    cid = w * 64 + bb
                    isbox[ci] = cid < 2 * n
                    for i in range(m):
                        if (inc[s + order[i], w] >> np.uint64(bb)) & np.uint64(1):
                            cols[ci, i // 64] |= np.uint64(1) << np.uint64(i % 64)
                    ci += 1
        # level by level: faces of dimension d + 1 -> their facets (dimension d)
        lev = np.zeros((1, MW), np.uint64)
        for i in range(m):
            lev[0, i // 64] |= np.uint64(1) << np.uint64(i % 64)
        lev_id = np.full(1, -1, np.int64)
        for d in range(n - 1, 0, -1):
            nxt = np.empty((8, MW), np.uint64)
            nxt_id = np.empty(8, np.int64)
            nn = 0
            cand = np.empty((C, MW), np.uint64)
            keep = np.empty(C, np.bool_)
            for li in range(lev.shape[0]):
                fid = lev_id[li]
                nc = 0
                for c in range(C):
                    same_as_F = True
                    cnt = 0
                    for w in range(MW):
                        x = lev[li, w] & cols[c, w]
                        cand[nc, w] = x
                        if x != lev[li, w]:
                            same_as_F = False
                        cnt += _popcount(x)
                    if same_as_F or cnt <= d:
                        continue
                    dup = False
                    for q in range(nc):
                        if _eq_rows(cand, q, cand, nc):
                            dup = True
                            break
                    if not dup:
                        nc += 1
                for q in range(nc):
                    keep[q] = True
                    for q2 in range(nc):
                        if q2 != q and _sub_rows(cand, q, cand, q2):
                            keep[q] = False
                            break
                for q in range(nc):
                    if not keep[q]:
                        continue
                    cnt = 0
                    for w in range(MW):
                        cnt += _popcount(cand[q, w])
                    h1 = np.uint64(1469598103934665603)
                    for w in range(MW):
                        x = cand[q, w]
                        while x:
                            low = x & (~x + np.uint64(1))
                            i = w * 64 + _popcount(low - np.uint64(1))
                            h1 = (h1 ^ np.uint64(gl[i])) * np.uint64(1099511628211)
                            x ^= low
                    h1 ^= h1 >> np.uint64(29)
                    # open addressing: probe until an empty slot or the stored face with these vertices
                    pos = np.int64(h1 & np.uint64(tab.size - 1))
                    while True:
                        k = tab[pos]
                        if k < 0:
                            break
                        a0, a1 = f_ptr[k], f_ptr[k + 1]
                        same = f_hash[k] == h1 and a1 - a0 == cnt
                        if same:
                            t = a0
                            for w in range(MW):
                                x = cand[q, w]
                                while x:
                                    low = x & (~x + np.uint64(1))
                                    i = w * 64 + _popcount(low - np.uint64(1))
                                    if f_vids[t] != gl[i]:
                                        same = False
                                    t += 1
                                    x ^= low
                        if same:
                            break
                        pos = (pos + 1) & (tab.size - 1)
                    if k < 0:
                        k = nf
                        tab[pos] = k
                        f_hash = _grow(f_hash, nf + 1)
                        f_hash[nf] = h1
                        f_dim = _grow(f_dim, nf + 1)
                        f_onbox = _grow(f_onbox, nf + 1)
                        f_ptr = _grow(f_ptr, nf + 2)
                        f_vids = _grow(f_vids, f_ptr[nf] + cnt)
                        f_dim[nf] = d
                        on = False
                        for c in range(C):
                            if isbox[c] and _sub_rows(cand, q, cols, c):
                                on = True
                                break
                        f_onbox[nf] = on
                        t = f_ptr[nf]
                        for w in range(MW):
                            x = cand[q, w]
                            while x:
                                low = x & (~x + np.uint64(1))
                                i = w * 64 + _popcount(low - np.uint64(1))
                                f_vids[t] = gl[i]
                                t += 1
                                x ^= low
                        f_ptr[nf + 1] = t
                        nf += 1
                        if 2 * nf > tab.size:
                            tab = _rehash(tab, f_hash, nf)
                        nxt = _grow_rows(nxt, nn + 1)
                        nxt_id = _grow(nxt_id, nn + 1)
                        for w in range(MW):
                            nxt[nn, w] = cand[q, w]
                        nxt_id[nn] = k
                        nn += 1
                    if fid < 0:
                        reg = _grow(reg, nrf + 1)
                        fac = _grow(fac, nrf + 1)
                        reg[nrf] = r
                        fac[nrf] = k
                        nrf += 1
                    else:
                        par = _grow(par, npk + 1)
                        kid = _grow(kid, npk + 1)
                        par[npk] = fid
                        kid[npk] = k
                        npk += 1
            lev = nxt[:nn]
            lev_id = nxt_id[:nn]
    return (f_dim[:nf], f_ptr[: nf + 1], f_vids[: f_ptr[nf]], f_onbox[:nf], par[:npk], kid[:npk], reg[:nrf], fac[:nrf])


@njit(cache=True)
def _span_basis(V, ids, c, d, out, Rr):
    """Orthonormal basis (rows of ``out[:d]``) of the directions of the affine span (dimension d)
    of the points ``V[ids]`` around their mean c: Gram-Schmidt with pivoting (at each step the
    point with the largest residual), i.e. a rank-revealing QR of the centred points. ``Rr`` is
    scratch space (>= len(ids), n)."""
    m, n = ids.size, c.size
    for i in range(m):
        for k in range(n):
            Rr[i, k] = V[ids[i], k] - c[k]
    for s in range(d):
        best, bi = -1.0, 0
        for i in range(m):
            nrm = 0.0
            for k in range(n):
                nrm += Rr[i, k] * Rr[i, k]
            if nrm > best:
                best, bi = nrm, i
        nrm = np.sqrt(best)
        for k in range(n):
            out[s, k] = Rr[bi, k] / nrm if nrm > 0 else 0.0
        for i in range(m):
            dot = 0.0
            for k in range(n):
                dot += Rr[i, k] * out[s, k]
            for k in range(n):
                Rr[i, k] -= dot * out[s, k]


@njit(cache=True)
def _dist_to_span(x, c, B, d):
    """Distance from x to the affine span through c with orthonormal direction rows B[:d]."""
    n = x.size
    r0 = x[0] - c[0]
    r1 = x[1] - c[1] if n > 1 else 0.0
    r2 = x[2] - c[2] if n > 2 else 0.0
    r3 = x[3] - c[3] if n > 3 else 0.0
    for s in range(d):
        dot = r0 * B[s, 0]
        if n > 1:
            dot += r1 * B[s, 1]
        if n > 2:
            dot += r2 * B[s, 2]
        if n > 3:
            dot += r3 * B[s, 3]
        r0 -= dot * B[s, 0]
        if n > 1:
            r1 -= dot * B[s, 1]
        if n > 2:
            r2 -= dot * B[s, 2]
        if n > 3:
            r3 -= dot * B[s, 3]
    return np.sqrt(r0 * r0 + r1 * r1 + r2 * r2 + r3 * r3)


@njit(cache=True)
def volumes(V, f_dim, f_ptr, f_vids, par, kid, R, reg, fac, region_centroid, n):
    """Face centroids and d-volumes of all faces (edges: length; d >= 2: pyramid formula over
    their facets), then region volumes (pyramid formula over the cells' facets); n <= 4.

    Returns ``(face_centroid, face_volume, region_volume, bad_edge)`` with ``bad_edge`` the
    number of edges that do not have exactly two vertices (a contradictory incidence)."""
    F = f_dim.size
    cen = np.zeros((F, n))
    mmax = 0
    for f in range(F):
        a0, a1 = f_ptr[f], f_ptr[f + 1]
        mmax = max(mmax, a1 - a0)
        for t in range(a0, a1):
            for k in range(n):
                cen[f, k] += V[f_vids[t], k]
        for k in range(n):
            cen[f, k] /= a1 - a0
    vol = np.zeros(F)
    basis = np.zeros((F, n, n))
    Rr = np.empty((mmax, n))
    bad = 0
    for f in range(F):
        if f_dim[f] == 1:
            a0, a1 = f_ptr[f], f_ptr[f + 1]
            if a1 - a0 != 2:
                bad += 1
                continue
            ln = 0.0
            for k in range(n):
                dv = V[f_vids[a0 + 1], k] - V[f_vids[a0], k]
                ln += dv * dv
            ln = np.sqrt(ln)
            vol[f] = ln
            if ln > 0:
                for k in range(n):
                    basis[f, 0, k] = (V[f_vids[a0 + 1], k] - V[f_vids[a0], k]) / ln
    # the facets of a face are contiguous in (par, kid) (face_lattice writes them in one go)
    k0 = np.zeros(F, np.int64)
    k1 = np.zeros(F, np.int64)
    for t in range(par.size):
        if t == 0 or par[t] != par[t - 1]:
            k0[par[t]] = t
        k1[par[t]] = t + 1
    for d in range(2, n):
        for f in range(F):
            if f_dim[f] != d:
                continue
            acc = 0.0
            for t in range(k0[f], k1[f]):
                g = kid[t]
                acc += _dist_to_span(cen[f], cen[g], basis[g], d - 1) * vol[g]
            vol[f] = acc / d
            _span_basis(V, f_vids[f_ptr[f] : f_ptr[f + 1]], cen[f], d, basis[f], Rr)
    rvol = np.zeros(R)
    for t in range(reg.size):
        r, g = reg[t], fac[t]
        rvol[r] += _dist_to_span(region_centroid[r], cen[g], basis[g], n - 1) * vol[g]
    rvol /= n
    return cen, vol, rvol, bad
