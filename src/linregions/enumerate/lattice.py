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
def _sub_rows(A, i, B, j, MW):
    """Bit mask A[i] ⊆ B[j] (first MW words of rows of multi-word masks; no views made in the
    inner loops)."""
    for w in range(MW):
        if (A[i, w] & B[j, w]) != A[i, w]:
            return False
    return True


@njit(cache=True, inline="always")
def _eq_rows(A, i, B, j, MW):
    for w in range(MW):
        if A[i, w] != B[j, w]:
            return False
    return True


@njit(cache=True)
def _face_slot(tab, h, cnt, ids, f_vids):
    """Slot of the face with sorted vertex ids ``ids[:cnt]`` and hash h in the open-addressing
    table ``tab`` (rows ``(face, count, a, b)``: a face of <= 2 vertices keeps its ids in a, b;
    a larger one its offset into ``f_vids`` in a and its hash in b): where it is stored, or the
    empty slot where it goes (``tab[slot, 0] < 0``). Faces are compared in full, never by hash."""
    mask = tab.shape[0] - 1
    h63 = np.int64(h >> np.uint64(1))
    pos = np.int64(h & np.uint64(mask))
    while tab[pos, 0] >= 0:
        if tab[pos, 1] == cnt:
            if cnt <= 2:
                if tab[pos, 2] == ids[0] and tab[pos, 3] == (ids[1] if cnt == 2 else -1):
                    return pos
            elif tab[pos, 3] == h63:
                a = tab[pos, 2]
                same = True
                for i in range(cnt):
                    if f_vids[a + i] != ids[i]:
                        same = False
                        break
                if same:
                    return pos
        pos = (pos + 1) & mask
    return pos


@njit(cache=True)
def _face_rehash(tab, f_hash):
    """The table with twice the slots (faces placed by their stored hashes)."""
    new = np.full((2 * tab.shape[0], 4), -1, np.int64)
    mask = new.shape[0] - 1
    for i in range(tab.shape[0]):
        k = tab[i, 0]
        if k >= 0:
            pos = np.int64(f_hash[k] & np.uint64(mask))
            while new[pos, 0] >= 0:
                pos = (pos + 1) & mask
            for w in range(4):
                new[pos, w] = tab[i, w]
    return new


@njit(cache=True)
def face_lattice(ptr, vids, inc, n, nV):
    """Every face of dimension 1..n-1 of every cell, once.

    Returns ``(f_dim, f_ptr, f_vids, f_onbox, par, kid, reg, fac)``: per face its dimension, its
    sorted vertex ids (``f_vids[f_ptr[f]:f_ptr[f + 1]]``), whether it lies in a box facet; the
    (face, facet) pairs ``par``/``kid`` of faces of dimension >= 2, the facets of each face
    contiguous; the (cell, facet) pairs ``reg``/``fac`` of the cells' facets (dimension n - 1).
    Faces are numbered in the order they are first met (cells in order, then level by level);
    the facets of a face met before are not visited again. Scratch space is kept across cells.
    """
    R = ptr.size - 1
    KW = inc.shape[1]
    mmax = 1
    for r in range(R):
        mmax = max(mmax, ptr[r + 1] - ptr[r])
    MX = (mmax + 63) // 64  # words of a vertex mask
    tab = np.full((1 << 12, 4), -1, np.int64)  # faces by vertex set (open addressing, load <= 1/2)
    f_hash = np.empty(1024, np.uint64)
    f_dim = np.empty(1024, np.int64)
    f_onbox = np.empty(1024, np.bool_)
    f_ptr = np.empty(1024, np.int64)
    f_ptr[0] = 0
    f_vids = np.empty(4096, np.int64)
    nf = 0
    par = np.empty(1024, np.int64)
    kid = np.empty(1024, np.int64)
    npk = 0
    reg = np.empty(1024, np.int64)
    fac = np.empty(1024, np.int64)
    nrf = 0
    gl = np.empty(mmax, np.int64)
    order = np.empty(mmax, np.int64)
    ids = np.empty(mmax, np.int64)
    used = np.empty(KW, np.uint64)
    cols = np.empty((64, MX), np.uint64)
    isbox = np.empty(64, np.bool_)
    cand = np.empty((64, MX), np.uint64)
    keep = np.empty(64, np.bool_)
    lev = np.empty((16, MX), np.uint64)
    lev_id = np.empty(16, np.int64)
    nxt = np.empty((16, MX), np.uint64)
    nxt_id = np.empty(16, np.int64)
    one = np.uint64(1)
    for r in range(R):
        s, e = ptr[r], ptr[r + 1]
        m = e - s
        MW = (m + 63) // 64
        # the cell's vertices in increasing id (insertion sort: ids are distinct, cells small)
        for i in range(m):
            v = vids[s + i]
            j = i
            while j > 0 and gl[j - 1] > v:
                gl[j] = gl[j - 1]
                order[j] = order[j - 1]
                j -= 1
            gl[j] = v
            order[j] = s + i
        # constraint columns present in the cell, as vertex masks
        for w in range(KW):
            used[w] = 0
        for k in range(s, e):
            for w in range(KW):
                used[w] |= inc[k, w]
        C = 0
        for w in range(KW):
            C += _popcount(used[w])
        if C > cols.shape[0]:
            cols = _grow_rows(cols, C)
        if C > isbox.shape[0]:
            isbox = _grow(isbox, C)
        if C > cand.shape[0]:
            cand = _grow_rows(cand, C)
        if C > keep.shape[0]:
            keep = _grow(keep, C)
        ci = 0
        for w in range(KW):
            x = used[w]
            while x:
                low = x & (~x + one)
                cid = w * 64 + _popcount(low - one)
                isbox[ci] = cid < 2 * n
                for ww in range(MW):
                    cols[ci, ww] = 0
                for i in range(m):
                    if inc[order[i], w] & low:
                        cols[ci, i // 64] |= one << np.uint64(i % 64)
                ci += 1
                x ^= low
        # level by level: faces of dimension d + 1 -> their facets (dimension d)
        for w in range(MW):
            lev[0, w] = 0
        for i in range(m):
            lev[0, i // 64] |= one << np.uint64(i % 64)
        lev_id[0] = -1
        nl = 1
        for d in range(n - 1, 0, -1):
            # room for all this level can add (at most C facets per face of the level), so that
            # no array is replaced inside the loops below (that costs reference counting)
            add = nl * C
            if nf + add + 1 > f_ptr.shape[0]:  # the four grow together (same capacity)
                cap = 2 * (nf + add + 1)
                f_hash = _grow(f_hash, cap)
                f_dim = _grow(f_dim, cap)
                f_onbox = _grow(f_onbox, cap)
                f_ptr = _grow(f_ptr, cap)
            if f_ptr[nf] + add * m > f_vids.shape[0]:
                f_vids = _grow(f_vids, f_ptr[nf] + add * m)
            while 2 * (nf + add) > tab.shape[0]:
                tab = _face_rehash(tab, f_hash[:nf])
            if add > nxt.shape[0]:
                nxt = _grow_rows(nxt, add)
                nxt_id = _grow(nxt_id, add)
            if nrf + add > reg.shape[0]:
                reg = _grow(reg, nrf + add)
                fac = _grow(fac, nrf + add)
            if npk + add > par.shape[0]:
                par = _grow(par, npk + add)
                kid = _grow(kid, npk + add)
            nn = 0
            for li in range(nl):
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
                        if _eq_rows(cand, q, cand, nc, MW):
                            dup = True
                            break
                    if not dup:
                        nc += 1
                for q in range(nc):
                    keep[q] = True
                    for q2 in range(nc):
                        if q2 != q and _sub_rows(cand, q, cand, q2, MW):
                            keep[q] = False
                            break
                for q in range(nc):
                    if not keep[q]:
                        continue
                    # the face's vertex ids (increasing) and their hash
                    cnt = 0
                    h1 = np.uint64(1469598103934665603)
                    for w in range(MW):
                        x = cand[q, w]
                        while x:
                            low = x & (~x + one)
                            v = gl[w * 64 + _popcount(low - one)]
                            ids[cnt] = v
                            cnt += 1
                            h1 = (h1 ^ np.uint64(v)) * np.uint64(1099511628211)
                            x ^= low
                    h1 ^= h1 >> np.uint64(33)  # finaliser (murmur3's fmix64): every bit reaches the low ones
                    h1 *= np.uint64(0xFF51AFD7ED558CCD)
                    h1 ^= h1 >> np.uint64(33)
                    pos = _face_slot(tab, h1, cnt, ids, f_vids)
                    k = tab[pos, 0]
                    if k < 0:
                        k = nf
                        a = f_ptr[nf]
                        f_hash[nf] = h1
                        f_dim[nf] = d
                        on = False
                        for c in range(C):
                            if isbox[c] and _sub_rows(cand, q, cols, c, MW):
                                on = True
                                break
                        f_onbox[nf] = on
                        for i in range(cnt):
                            f_vids[a + i] = ids[i]
                        f_ptr[nf + 1] = a + cnt
                        tab[pos, 0] = k
                        tab[pos, 1] = cnt
                        if cnt <= 2:
                            tab[pos, 2] = ids[0]
                            tab[pos, 3] = ids[1] if cnt == 2 else -1
                        else:
                            tab[pos, 2] = a
                            tab[pos, 3] = np.int64(h1 >> np.uint64(1))
                        nf += 1
                        for w in range(MW):
                            nxt[nn, w] = cand[q, w]
                        nxt_id[nn] = k
                        nn += 1
                    if fid < 0:
                        reg[nrf] = r
                        fac[nrf] = k
                        nrf += 1
                    else:
                        par[npk] = fid
                        kid[npk] = k
                        npk += 1
            lev, nxt = nxt, lev
            lev_id, nxt_id = nxt_id, lev_id
            nl = nn
    return (f_dim[:nf], f_ptr[: nf + 1], f_vids[: f_ptr[nf]], f_onbox[:nf], par[:npk], kid[:npk], reg[:nrf], fac[:nrf])


@njit(cache=True)
def _span_basis(V, ids, a0, a1, cen, f, d, basis, Rr):
    """Orthonormal basis (rows of ``basis[f, :d]``) of the directions of the affine span
    (dimension d) of the points ``V[ids[a0:a1]]`` around their mean ``cen[f]``: Gram-Schmidt with
    pivoting (at each step the point with the largest residual), i.e. a rank-revealing QR of the
    centred points. ``Rr`` is scratch space (>= a1 - a0, n). Arrays and row indices are passed
    rather than row views (a view costs reference counting in the loops of ``volumes``)."""
    m, n = a1 - a0, V.shape[1]
    for i in range(m):
        for k in range(n):
            Rr[i, k] = V[ids[a0 + i], k] - cen[f, k]
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
            basis[f, s, k] = Rr[bi, k] / nrm if nrm > 0 else 0.0
        for i in range(m):
            dot = 0.0
            for k in range(n):
                dot += Rr[i, k] * basis[f, s, k]
            for k in range(n):
                Rr[i, k] -= dot * basis[f, s, k]


@njit(cache=True)
def _dist_to_span(X, i, C, g, B, d):
    """Distance from ``X[i]`` to the affine span through ``C[g]`` with orthonormal direction rows
    ``B[g, :d]`` (row indices rather than row views, see ``_span_basis``)."""
    n = X.shape[1]
    r0 = X[i, 0] - C[g, 0]
    r1 = X[i, 1] - C[g, 1] if n > 1 else 0.0
    r2 = X[i, 2] - C[g, 2] if n > 2 else 0.0
    r3 = X[i, 3] - C[g, 3] if n > 3 else 0.0
    for s in range(d):
        dot = r0 * B[g, s, 0]
        if n > 1:
            dot += r1 * B[g, s, 1]
        if n > 2:
            dot += r2 * B[g, s, 2]
        if n > 3:
            dot += r3 * B[g, s, 3]
        r0 -= dot * B[g, s, 0]
        if n > 1:
            r1 -= dot * B[g, s, 1]
        if n > 2:
            r2 -= dot * B[g, s, 2]
        if n > 3:
            r3 -= dot * B[g, s, 3]
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
                acc += _dist_to_span(cen, f, cen, g, basis, d - 1) * vol[g]
            vol[f] = acc / d
            _span_basis(V, f_vids, f_ptr[f], f_ptr[f + 1], cen, f, d, basis, Rr)
    rvol = np.zeros(R)
    for t in range(reg.size):
        r, g = reg[t], fac[t]
        rvol[r] += _dist_to_span(region_centroid, r, cen, g, basis, n - 1) * vol[g]
    for r in range(R):  # a loop: less to compile than an in-place array operation
        rvol[r] /= n
    return cen, vol, rvol, bad


@njit(cache=True)
def cell_centroids(V, ptr, vids):
    """Mean of the vertices of every cell (summed in vertex order, then divided by the count)."""
    R, n = ptr.size - 1, V.shape[1]
    cen = np.zeros((R, n))
    for r in range(R):
        for t in range(ptr[r], ptr[r + 1]):
            for k in range(n):
                cen[r, k] += V[vids[t], k]
        for k in range(n):
            cen[r, k] /= ptr[r + 1] - ptr[r]
    return cen
