"""Cutting the complex by a chunk of a layer's lines (numba, ``cache=True``).

``slot_edges`` lists the edge of every ring slot; ``split_chunk`` splits every edge at every
crossing of the chunk's lines and lists the faces to cut; ``clip_chunk`` cuts them, one ancestor
face at a time.

Inside the loops: the set bits of a side word (``_side_bits``) are visited one step per set bit
(``_bit_index``), not one per bit position; buffers are grown only when full (``_grow1``,
``_grow2``: a call that hands arrays over costs reference counting even when it returns its
argument); ring positions wrap by a comparison, not an integer division.
"""
from __future__ import annotations

import numpy as np

from ._jit import njit

#: De Bruijn sequence for the index of a single set bit of a 64-bit word: (b * _DEBRUIJN) >> 58 is
#: distinct for the 64 words b = 1 << i, and ``_BIT_OF`` maps it back to i.
_DEBRUIJN = 0x03F79D71B4CB0A89
_BIT_OF = np.zeros(64, np.int64)
for _i in range(64):
    _BIT_OF[((_DEBRUIJN << _i) & 0xFFFFFFFFFFFFFFFF) >> 58] = _i
_DEBRUIJN_U = np.uint64(_DEBRUIJN)


@njit(cache=True, inline="always")
def _edge_point(P, U, v, a, b, t, ncol):  # pragma: no cover - compiled
    """Vertex v := the point at parameter t on the edge from vertex a to vertex b: its plane
    coordinates and its first ``ncol`` values by linear interpolation (the values are affine on
    the edge, so this is exact up to rounding)."""
    P[v, 0] = P[a, 0] + t * (P[b, 0] - P[a, 0])
    P[v, 1] = P[a, 1] + t * (P[b, 1] - P[a, 1])
    for k in range(ncol):
        ua = U[a, k]
        U[v, k] = ua + t * (U[b, k] - ua)


@njit(cache=True)
def _bit_index(b):
    """Index of the single set bit of the uint64 ``b`` (a De Bruijn multiply and a table lookup:
    iterating over set bits costs one step per set bit, not one per bit position)."""
    return _BIT_OF[(b * _DEBRUIJN_U) >> np.uint64(58)]


@njit(cache=True)
def _grow1(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty(max(need, a.shape[0] + a.shape[0] // 2 + 16), a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _grow2(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty((max(need, a.shape[0] + a.shape[0] // 2 + 16), a.shape[1]), a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def clip_chunk(P, nV, U, sv, sl, ns, fstart, flen, nF, anc, cptr, ccol, cxi, ctol, cgid, max_faces):
    """Cut every descendant of each ancestor face ``anc[i]`` by the lines of its cutters
    ``cptr[i]:cptr[i+1]`` (neuron column ``ccol``, breakpoint value ``cxi``, snapping tolerance
    ``ctol``, edge label ``cgid``), one cutter after the other.

    A vertex is on a cutter's line when ``|u - xi| <= tol`` (side 0). The ring of a face, with the
    crossing points of edges whose ends lie strictly on both sides inserted, is split between the
    last on-line point before the negative side and the first one after it (so a run of on-line
    vertices between two sides, which snapping can produce, stays on one face and every edge keeps
    exactly two faces). A crossing point of an edge is created once per (ancestor, cutter) and
    shared by the two faces of the edge; it gets u by exact interpolation along the edge and the
    cutter's value exactly ``xi``. Faces whose sides do not form one positive and one negative arc
    (possible only where snapping bent a face by less than the tolerance) are left uncut and
    counted.

    ``P`` (vertex coordinates) and the slot/face arrays grow as needed and are returned; ``U`` is
    preallocated (its rows are the memory budget). Returns ``(P, nV, sv, sl, ns, fstart, flen, nF,
    parents, n_parents, n_skipped, status)`` with status 0 (done), 1 (U full: over the memory
    budget) or 2 (more than ``max_faces`` faces).
    """
    n_skipped = 0
    npar = 0
    parents = np.empty(64, np.int64)
    desc = np.empty(64, np.int64)
    mlo = np.empty(16, np.int64)
    mhi = np.empty(16, np.int64)
    mv = np.empty(16, np.int64)
    sg = np.empty(16, np.int64)
    rv = np.empty(32, np.int64)
    rs = np.empty(32, np.int64)
    rl = np.empty(32, np.int64)
    ncol = U.shape[1]
    vcap = U.shape[0]
    for ai in range(anc.size):
        a0 = anc[ai]
        nd = 1
        desc[0] = a0
        for r in range(cptr[ai], cptr[ai + 1]):
            col = ccol[r]
            xi = cxi[r]
            tol = ctol[r]
            gid = cgid[r]
            nmap = 0
            ndc = nd
            for di in range(ndc):
                f = desc[di]
                st = fstart[f]
                L = flen[f]
                if sg.shape[0] < L:
                    sg = np.empty(2 * L, np.int64)
                haspos = False
                hasneg = False
                for i in range(L):
                    d = U[sv[st + i], col] - xi
                    if d > tol:
                        sg[i] = 1
                        haspos = True
                    elif d < -tol:
                        sg[i] = -1
                        hasneg = True
                    else:
                        sg[i] = 0
                if not (haspos and hasneg):
                    continue
                if rv.shape[0] < 2 * L:
                    rv = np.empty(4 * L, np.int64)
                    rs = np.empty(4 * L, np.int64)
                    rl = np.empty(4 * L, np.int64)
                # augmented ring: crossing points inserted
                m = 0
                for i in range(L):
                    v = sv[st + i]
                    lab = sl[st + i]
                    s = sg[i]
                    rv[m] = v
                    rs[m] = s
                    rl[m] = lab
                    m += 1
                    j = i + 1 if i + 1 < L else 0
                    if s * sg[j] < 0:
                        w = sv[st + j]
                        lo = min(v, w)
                        hi = max(v, w)
                        c = -1
                        for q in range(nmap):
                            if mlo[q] == lo and mhi[q] == hi:
                                c = mv[q]
                                break
                        if c < 0:
                            if nV >= vcap:
                                return P, nV, sv, sl, ns, fstart, flen, nF, parents, npar, n_skipped, 1
                            da = U[lo, col] - xi
                            db = U[hi, col] - xi
                            t = da / (da - db)
                            if nV + 1 > P.shape[0]:
                                P = _grow2(P, nV + 1)
                            _edge_point(P, U, nV, lo, hi, t, ncol)
                            U[nV, col] = xi
                            c = nV
                            nV += 1
                            if nmap == mlo.shape[0]:
                                mlo = _grow1(mlo, nmap + 1)
                                mhi = _grow1(mhi, nmap + 1)
                                mv = _grow1(mv, nmap + 1)
                            mlo[nmap] = lo
                            mhi[nmap] = hi
                            mv[nmap] = c
                            nmap += 1
                        rv[m] = c
                        rs[m] = 0
                        rl[m] = lab
                        m += 1
                # transitions + -> - (e1: last on-line point before the negatives) and - -> +
                # (e2: first on-line point after the negatives)
                i0 = 0
                while rs[i0] == 0:
                    i0 += 1
                last = i0
                e1 = -1
                e2 = -1
                n_pm = 0
                n_mp = 0
                for kk in range(1, m + 1):
                    idx = i0 + kk  # (i0 + kk) mod m: i0 < m, kk <= m
                    if idx >= m:
                        idx -= m
                    if rs[idx] != 0:
                        if rs[last] > 0 and rs[idx] < 0:
                            e1 = idx - 1 if idx > 0 else m - 1
                            n_pm += 1
                        elif rs[last] < 0 and rs[idx] > 0:
                            e2 = last + 1 if last + 1 < m else 0
                            n_mp += 1
                        last = idx
                if n_pm != 1 or n_mp != 1:
                    n_skipped += 1
                    continue
                lenA = (e1 - e2) % m + 1
                lenB = (e2 - e1) % m + 1
                if ns + lenA + lenB > sv.shape[0]:
                    sv = _grow1(sv, ns + lenA + lenB)
                if ns + lenA + lenB > sl.shape[0]:
                    sl = _grow1(sl, ns + lenA + lenB)
                for q in range(lenA):
                    idx = e2 + q if e2 + q < m else e2 + q - m
                    sv[ns + q] = rv[idx]
                    sl[ns + q] = rl[idx]
                sl[ns + lenA - 1] = gid
                for q in range(lenB):
                    idx = e1 + q if e1 + q < m else e1 + q - m
                    sv[ns + lenA + q] = rv[idx]
                    sl[ns + lenA + q] = rl[idx]
                sl[ns + lenA + lenB - 1] = gid
                if nF + 1 > fstart.shape[0]:
                    fstart = _grow1(fstart, nF + 1)
                if nF + 1 > flen.shape[0]:
                    flen = _grow1(flen, nF + 1)
                fstart[f] = ns
                flen[f] = lenA
                fstart[nF] = ns + lenA
                flen[nF] = lenB
                ns += lenA + lenB
                if npar + 1 > parents.shape[0]:
                    parents = _grow1(parents, npar + 1)
                parents[npar] = a0
                npar += 1
                if nd + 1 > desc.shape[0]:
                    desc = _grow1(desc, nd + 1)
                desc[nd] = nF
                nd += 1
                nF += 1
                if nF > max_faces:
                    return P, nV, sv, sl, ns, fstart, flen, nF, parents, npar, n_skipped, 2
    return P, nV, sv, sl, ns, fstart, flen, nF, parents, npar, n_skipped, 0


@njit(cache=True)
def _side_bits(U, v0, v1, cols, xis, tols, posb, negb):
    """Bit k of ``posb[v]`` / ``negb[v]``: vertex v strictly above / below line k (beyond its
    snapping tolerance), for vertices v0..v1-1."""
    c = cols.size
    nw = posb.shape[1]
    for v in range(v0, v1):
        for wd in range(nw):
            pw = np.uint64(0)
            nwd = np.uint64(0)
            k0 = wd * 64
            for bit in range(min(64, c - k0)):
                k = k0 + bit
                d = U[v, cols[k]] - xis[k]
                pw |= np.uint64(d > tols[k]) << np.uint64(bit)
                nwd |= np.uint64(d < -tols[k]) << np.uint64(bit)
            posb[v, wd] = pw
            negb[v, wd] = nwd


@njit(cache=True)
def slot_edges(sv, sl, fstart, flen, nF, V):
    """Every ring slot of the complex in face order: the key ``min * V + max`` of its edge (to the
    next slot), its vertex and its label."""
    ns = 0
    for f in range(nF):
        ns += flen[f]
    key = np.empty(ns, np.int64)
    osv = np.empty(ns, np.int64)
    osl = np.empty(ns, np.int64)
    p = 0
    for f in range(nF):
        st = fstart[f]
        L = flen[f]
        for i in range(L):
            v = sv[st + i]
            w = sv[st + (i + 1 if i + 1 < L else 0)]
            key[p] = min(v, w) * V + max(v, w)
            osv[p] = v
            osl[p] = sl[st + i]
            p += 1
    return key, osv, osl


@njit(cache=True)
def split_chunk(P, nV, U, key, order, osv, osl, fstart, flen, nF, cols, xis, tols, t_merge, close_factor):
    """Start of a chunk: split every edge of the complex at every crossing of the chunk's lines
    (neuron column ``cols[k]``, breakpoint ``xis[k]``, tolerance ``tols[k]``), then list the
    (face, line) pairs to cut.

    Sides are computed once per vertex and line (bit sets, ``_side_bits``); an edge crosses line
    k when its ends lie strictly on both sides, and only the set bits of a word are visited. Crossings of one edge closer than ``t_merge`` (in units of the
    edge) or within each other's snapping band (``tol / |du|`` along the edge) are one vertex,
    which gets every merged line's value exactly. A merge counts as close (``merged``) when the
    gap exceeds ``1 / close_factor`` of the snapping band (the rounding level used for snaps),
    and a crossing kept apart as close (``merged_kept``) when within ``close_factor`` of the
    threshold. Rings are rebuilt compactly (face f's ring at
    ``fstart[f]``) with the new vertices in order. A face is to be cut by line k when it has
    vertices strictly on both sides (a convex face; every crossing is now a vertex). Returns
    ``(P, nV, sv, sl, fstart, flen, anc, cptr, pk, merged, merged_kept, status)``: the faces
    ``anc`` with their lines ``pk[cptr[i]:cptr[i+1]]`` (chunk indices, in chunk order); status 1
    when the rows of ``U`` (the memory budget) ran out.
    """
    c = cols.size
    nw = (c + 63) // 64
    vcap = U.shape[0]
    ncol = U.shape[1]
    one = np.uint64(1)
    # edges of the slots (``slot_edges``; ``order`` sorts their keys)
    ns = key.size
    V = nV
    eid = np.empty(ns, np.int64)
    elo = np.empty(ns, np.int64)
    ehi = np.empty(ns, np.int64)
    E = 0
    for q in range(ns):
        s = order[q]
        if q == 0 or key[s] != key[order[q - 1]]:
            elo[E] = key[s] // V
            ehi[E] = key[s] % V
            E += 1
        eid[s] = E - 1
    # sides of every vertex (room for the vertices this chunk inserts: at most one per edge and line)
    cap = nV + 16
    posb = np.empty((cap, nw), np.uint64)
    negb = np.empty((cap, nw), np.uint64)
    _side_bits(U, 0, nV, cols, xis, tols, posb, negb)
    # crossings of every edge, merged, inserted as new vertices
    ins_ptr = np.zeros(E + 1, np.int64)
    ins = np.empty(16, np.int64)
    n_ins = 0
    merged = 0
    merged_kept = 0
    ck = np.empty(c, np.int64)
    ct = np.empty(c, np.float64)
    ctau = np.empty(c, np.float64)
    for e in range(E):
        a = elo[e]
        b = ehi[e]
        m = 0
        for wd in range(nw):
            x = (posb[a, wd] & negb[b, wd]) | (negb[a, wd] & posb[b, wd])
            while x != 0:  # set bits, lowest first
                low = x & (~x + one)
                x ^= low
                k = wd * 64 + _bit_index(low)
                col = cols[k]
                da = U[a, col] - xis[k]
                db = U[b, col] - xis[k]
                t = da / (da - db)
                tau = tols[k] / abs(da - db)
                j = m  # insertion sort by t
                while j > 0 and ct[j - 1] > t:
                    ck[j] = ck[j - 1]
                    ct[j] = ct[j - 1]
                    ctau[j] = ctau[j - 1]
                    j -= 1
                ck[j] = k
                ct[j] = t
                ctau[j] = tau
                m += 1
        i = 0
        while i < m:
            j = i + 1  # cluster i..j-1
            while j < m:
                gap = ct[j] - ct[j - 1]
                band = max(ctau[j], ctau[j - 1])
                thr = max(t_merge, band)
                if gap <= thr:
                    # more than rounding noise erased: the gap exceeds what rounding of u (a
                    # CLOSE_FACTOR below the snapping band, as for snaps) makes of t
                    if gap * close_factor > band:
                        merged += 1
                    j += 1
                else:
                    if gap < close_factor * thr:
                        merged_kept += 1
                    break
            if nV >= vcap:
                return P, nV, osv, osl, fstart, flen, ins_ptr, ins_ptr, ins_ptr, merged, merged_kept, 1
            t = ct[i]
            if nV + 1 > P.shape[0]:
                P = _grow2(P, nV + 1)
            _edge_point(P, U, nV, a, b, t, ncol)
            for q in range(i, j):
                U[nV, cols[ck[q]]] = xis[ck[q]]
            if n_ins + 1 > ins.shape[0]:
                ins = _grow1(ins, n_ins + 1)
            ins[n_ins] = nV
            n_ins += 1
            nV += 1
            i = j
        ins_ptr[e + 1] = n_ins
    if nV > cap:
        posb = _grow2(posb, nV)
        negb = _grow2(negb, nV)
    _side_bits(U, nV - n_ins, nV, cols, xis, tols, posb, negb)
    # rebuild the rings
    nsv = np.empty(ns + 2 * n_ins, np.int64)
    nsl = np.empty(ns + 2 * n_ins, np.int64)
    w = 0
    p = 0
    for f in range(nF):
        fstart[f] = w
        L = flen[f]
        for i in range(L):
            v = osv[p]
            lab = osl[p]
            e = eid[p]
            nsv[w] = v
            nsl[w] = lab
            w += 1
            i0 = ins_ptr[e]
            i1 = ins_ptr[e + 1]
            if v == elo[e]:
                for q in range(i0, i1):
                    nsv[w] = ins[q]
                    nsl[w] = lab
                    w += 1
            else:
                for q in range(i1 - 1, i0 - 1, -1):
                    nsv[w] = ins[q]
                    nsl[w] = lab
                    w += 1
            p += 1
        flen[f] = w - fstart[f]
    # faces with vertices strictly on both sides of a line
    accp = np.empty(nw, np.uint64)
    accn = np.empty(nw, np.uint64)
    anc = np.empty(16, np.int64)
    cptr = np.zeros(17, np.int64)
    pk = np.empty(16, np.int64)
    na = 0
    npk = 0
    for f in range(nF):
        st = fstart[f]
        L = flen[f]
        for wd in range(nw):
            accp[wd] = 0
            accn[wd] = 0
        for i in range(L):
            v = nsv[st + i]
            for wd in range(nw):
                accp[wd] |= posb[v, wd]
                accn[wd] |= negb[v, wd]
        first = npk
        for wd in range(nw):
            x = accp[wd] & accn[wd]
            while x != 0:  # set bits, lowest first
                low = x & (~x + one)
                x ^= low
                if npk + 1 > pk.shape[0]:
                    pk = _grow1(pk, npk + 1)
                pk[npk] = wd * 64 + _bit_index(low)
                npk += 1
        if npk > first:
            if na + 1 > anc.shape[0]:
                anc = _grow1(anc, na + 1)
            if na + 2 > cptr.shape[0]:
                cptr = _grow1(cptr, na + 2)
            anc[na] = f
            cptr[na] = first
            cptr[na + 1] = npk
            na += 1
    return P, nV, nsv, nsl, fstart, flen, anc[:na], cptr[: na + 1], pk[:npk], merged, merged_kept, 0
