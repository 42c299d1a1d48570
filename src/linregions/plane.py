"""Exact partitions of planar slices of input space (2D activation and linear regions).

A plane x(s) = origin + basis @ s (``basis`` (n_in, 2) with orthonormal columns, s in plane
coordinates) restricts the network to a network with two inputs (``Network.restrict``; THEORY.md
§2, restrictions). ``plane`` returns the exact planar complex that this restricted network cuts a
convex domain (a rectangle ``bounds = (u_min, u_max, v_min, v_max)`` or a convex polygon) into:
faces are the activation regions (convex polygons), edges carry the neuron and breakpoint that made
them and whether that neuron is good there, and linear regions are unions of faces glued across
edges where the output's gradient does not jump (pieces of N; generically the edges of neurons
that are not good, B_N = union of the good S_z, Prop. 9).

Algorithm (the paper's layer-by-layer splitting, in two dimensions). Per hidden layer l, the
pre-activations u_l are affine on every current face (the layers before l are), so their values at
the vertices decide everything: u_l at all current vertices is one matmul; a neuron's zero set cuts
a face iff the face has vertices strictly on both sides of a breakpoint. The neurons of the layer
are handled in chunks; at the start of a chunk every current edge is split at every crossing of the
chunk's neurons at once (vectorised over edges), so that faces that are cut afterwards never split
a shared edge; then each face that is straddled by some of the chunk's neurons (an *ancestor*) is
cut by them one after the other, in *rounds*: round r cuts every current descendant of every
ancestor by that ancestor's r-th neuron at once (a vectorised half-plane clip over all faces and
slots). New vertices get u_l by exact linear interpolation along their edge (u_l is affine along
it), and the crossing neuron's value is set to its breakpoint exactly. A value within
``SNAP_RTOL * scale`` of a breakpoint counts as on it (side 0), everywhere, so degenerate
arrangements stay exact (zero biases: later lines pass exactly through existing vertices instead
of creating near-copies). The cost is dominated by one matmul per layer over the vertices that
exist at the layer's start, plus interpolating u_l at the new vertices.

Per face the activation state of each layer is read at the end of that layer from one vertex
(and the vertex mean where that vertex is on a breakpoint); edge goodness, activation counts,
lengths and vertex counts follow without another forward pass. ``affine_maps`` (and with it the
linear kind) runs one forward pass with tangents over face interior points, lazily.

Results are numpy float64. ``device`` (a torch device, e.g. ``"cuda"``) runs the per-layer
matmuls with torch there; the combinatorial cutting runs in numpy on the CPU.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from .line import _forward_tangent, _reachability, _snap_scale
from .network import ARGMAX, Network, _as_matrix
from .tolerances import SNAP_RTOL, T_MERGE

__all__ = ["PlanePartition", "plane", "plane_through", "ORTHO_RTOL", "COLLINEAR_RTOL"]

Kind = Literal["linear", "activation"]

#: A basis is accepted as orthonormal when ``max |B^T B - I| <= ORTHO_RTOL``. Rounding in a
#: Gram-Schmidt step leaves ~1e-16; anything above 1e-9 was not meant to be orthonormal, and then
#: lengths and areas in plane coordinates would not be those of input space.
ORTHO_RTOL = 1e-9

#: Three points (or two basis columns) are collinear when the component of the second direction
#: orthogonal to the first is below ``COLLINEAR_RTOL`` times its length: the plane is then not
#: determined (rounding of distinct generic points gives ~1e-16).
COLLINEAR_RTOL = 1e-9

#: Smallest number of (neuron, breakpoint) pairs handled in one chunk of a layer. A chunk's first
#: pass is dense over all current edges; the rounds after it cost about k^3 face visits for an
#: ancestor face cut by k of the chunk's lines, so few large faces (the first layer) get small
#: chunks and many small faces get the whole layer at once.
_MIN_CHUNK = 16

#: Memory budget (bytes) of the per-vertex pre-activations of the layer being cut (vertices x
#: width x 8). A domain that needs more raises ``ValueError`` instead of exhausting memory.
MAX_VERTEX_BYTES = 4 * 2**30

#: Faces per block in the passes over final faces (patterns, affine maps, goodness).
_BLOCK = 1 << 15


def _check_kind(kind: str) -> None:
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")


# ----------------------------------------------------------------------------------------------
# growable arrays


class _Grow:
    """A numpy array with amortised O(1) appends along axis 0."""

    def __init__(self, arr: np.ndarray):
        self.n = arr.shape[0]
        self.buf = np.empty((max(16, 2 * self.n),) + arr.shape[1:], arr.dtype)
        self.buf[: self.n] = arr

    @property
    def a(self) -> np.ndarray:
        return self.buf[: self.n]

    @classmethod
    def empty(cls, n: int, tail: tuple, dtype, capacity: int) -> "_Grow":
        g = cls.__new__(cls)
        g.n = n
        g.buf = np.empty((max(capacity, n, 16),) + tail, dtype)
        return g

    def reserve(self, k: int) -> int:
        """Make room for k more rows (uninitialised); return the index of the first."""
        start = self.n
        if start + k > self.buf.shape[0]:
            new = np.empty((max(self.buf.shape[0] + self.buf.shape[0] // 2, start + k),) + self.buf.shape[1:], self.buf.dtype)
            new[:start] = self.buf[:start]
            self.buf = new
        self.n += k
        return start

    def append(self, rows: np.ndarray) -> int:
        start = self.reserve(rows.shape[0])
        self.buf[start : self.n] = rows
        return start


def _row_blocks(n_rows: int, width: int):
    """Row slices of about 2 MB of float64 each: large temporaries are slow to allocate (page
    faults), so the dense passes work block by block."""
    step = max(256, (1 << 18) // max(width, 1))
    for s in range(0, n_rows, step):
        yield slice(s, min(n_rows, s + step))


def _ranges(starts: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened index ranges: (indices, segment id of each, offsets of segments in the output)."""
    offs = np.zeros(lens.size + 1, np.int64)
    np.cumsum(lens, out=offs[1:])
    seg = np.repeat(np.arange(lens.size), lens)
    idx = np.arange(offs[-1]) - offs[seg] + starts[seg]
    return idx, seg, offs


# ----------------------------------------------------------------------------------------------
# the construction


class _Builder:
    """Mutable planar complex used while cutting (vertices, face rings, per-vertex u_l)."""

    def __init__(self, rnet: Network, polygon: np.ndarray, max_regions: int, device: Any, progress: bool):
        self.net = rnet
        self.max_regions = int(max_regions)
        self.device = device
        self.progress = progress
        k = polygon.shape[0]
        self.P = _Grow(polygon.copy())
        self.face_start = _Grow(np.zeros(1, np.int64))
        self.face_len = _Grow(np.array([k], np.int64))
        self.roots = _Grow(np.zeros((1, rnet.depth), np.int64))
        self.slot_vert = _Grow(np.arange(k, dtype=np.int64))
        self.slot_lab = _Grow(-1 - np.arange(k, dtype=np.int64))  # domain side i: label -1 - i
        # cutters: (layer, unit, breakpoint) with a global id per layer
        self.cut_layer, self.cut_unit, self.cut_bp = [], [], []
        self.cut_offset = []
        off = 0
        for l in range(rnet.depth):
            T = rnet.activations[l].T
            units = np.nonzero(rnet.switching(l))[0]
            self.cut_offset.append(off)
            u = np.repeat(units, T)
            bp = np.tile(np.arange(T), units.size)
            self.cut_layer.append(np.full(u.size, l))
            self.cut_unit.append(u)
            self.cut_bp.append(bp)
            off += u.size
        self.states: list[np.ndarray] = []  # per layer: (F_l, n_l) int8 state codes
        self.U: _Grow | None = None

    # -- dense per-layer values ---------------------------------------------------------------------
    def _matmul(self, A: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.device is None:
            return A @ W.T + b
        import torch

        At, Wt, bt = (torch.tensor(np.asarray(x, dtype=np.float64), device=self.device) for x in (A, W, b))
        return torch.addmm(bt, At, Wt.T).cpu().numpy()

    def _activate(self, l: int, U: np.ndarray) -> np.ndarray:
        """phi_l(U) through ``Network.activate`` (plain ReLU layers by ``np.maximum``)."""
        act = self.net.activations[l]
        if not self.net.has_special_units and not act.per_unit and act.T == 1 and act.breakpoints[0] == 0 \
                and act.slopes[0] == 0 and act.slopes[1] == 1 and float(act.value) == 0:
            return np.maximum(U, 0.0)
        return self.net.activate(l, U)

    def _interp(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> int:
        """Append rows U[a] + t (U[b] - U[a]) (exact along an edge where u is affine), block by
        block; return the index of the first new row."""
        U = self.U
        if (U.n + a.size) * U.buf.shape[1] * 8 > MAX_VERTEX_BYTES:
            raise ValueError(
                f"plane: layer {self.layer} needs pre-activations at more than {U.n + a.size} vertices x "
                f"{U.buf.shape[1]} units, over the memory budget MAX_VERTEX_BYTES={MAX_VERTEX_BYTES / 2**30:.3g} GiB; "
                "shrink the domain, or partition it in pieces"
            )
        start = U.reserve(a.size)
        buf = U.buf
        for blk in _row_blocks(a.size, buf.shape[1]):
            ua = buf[a[blk]]
            ub = buf[b[blk]]
            ub -= ua
            ub *= t[blk, None]
            ub += ua
            buf[start + blk.start : start + blk.stop] = ub
        return start

    def _side(self, D: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Side of a breakpoint: +1 / -1, or 0 within the snapping tolerance (``SNAP_RTOL``)."""
        t = self.tol[col]
        return (D > t).astype(np.int8) - (D < -t).astype(np.int8)

    def start_layer(self, l: int) -> None:
        net = self.net
        W, b = net.weights[l], net.biases[l]
        act = net.activations[l]
        V = self.P.n
        Uprev = self.P.a if l == 0 else self.U.a
        # reserve the whole budget at once: rows never written cost no memory, and growing a
        # buffer of this size by copying would be slow
        if V * W.shape[0] * 8 > MAX_VERTEX_BYTES:
            raise ValueError(
                f"plane: layer {l} needs pre-activations at {V} vertices x {W.shape[0]} units, over the memory "
                f"budget MAX_VERTEX_BYTES={MAX_VERTEX_BYTES / 2**30:.3g} GiB; shrink the domain, or partition it in pieces"
            )
        cap = max(V + 1, MAX_VERTEX_BYTES // (8 * W.shape[0]))
        U = _Grow.empty(V, (W.shape[0],), np.float64, cap)
        a_absmax = np.zeros(W.shape[1])
        if self.device is not None:
            A = Uprev if l == 0 else self._activate(l - 1, Uprev)
            a_absmax = np.abs(A).max(axis=0)
            U.buf[:V] = self._matmul(A, W, b)
        else:
            WT = np.ascontiguousarray(W.T)
            for blk in _row_blocks(V, max(W.shape)):
                A = Uprev[blk] if l == 0 else self._activate(l - 1, Uprev[blk])
                np.maximum(a_absmax, np.abs(A).max(axis=0), out=a_absmax)
                np.matmul(A, WT, out=U.buf[blk])
                U.buf[blk] += b
        self.xi = act.breakpoints
        self.tol = SNAP_RTOL * _snap_scale(W, b, a_absmax, self.xi)
        self.U = U

    # -- chunk start: split every edge at every crossing of the chunk's cutters --------------------
    def split_edges(self, cols: np.ndarray, xis: np.ndarray, gids: np.ndarray):
        F = self.face_len.n
        idx, seg, offs = _ranges(self.face_start.a, self.face_len.a)
        sv = self.slot_vert.a[idx]
        sl = self.slot_lab.a[idx]
        pos = np.arange(sv.size)
        nxt = pos + 1
        last = offs[1:] - 1
        nxt[last] = offs[:-1]
        tv = sv[nxt]
        lo, hi = np.minimum(sv, tv), np.maximum(sv, tv)
        V = self.P.n
        key = lo * V + hi
        ukey, einv = np.unique(key, return_inverse=True)
        elo, ehi = ukey // V, ukey % V
        U = self.U.a
        c = cols.size
        full = c == U.shape[1] and np.array_equal(cols, np.arange(c))
        hi_thr, lo_thr = xis + self.tol[cols], xis - self.tol[cols]
        nb = (c + 7) // 8
        pos = np.empty((V, nb), np.uint8)
        neg = np.empty((V, nb), np.uint8)
        for blk in _row_blocks(V, c):
            Ub = U[blk] if full else U[blk][:, cols]
            pos[blk] = np.packbits(Ub > hi_thr, axis=1)
            neg[blk] = np.packbits(Ub < lo_thr, axis=1)
        X = (pos[elo] & neg[ehi]) | (neg[elo] & pos[ehi])
        rows = np.nonzero(X.any(axis=1))[0]
        e, k = np.nonzero(np.unpackbits(X[rows], axis=1, count=c))
        e = rows[e]
        Z8 = ~(pos | neg)
        if c % 8:
            Z8[:, -1] &= np.uint8((0xFF << (8 - c % 8)) & 0xFF)  # padding bits are not cutters
        zrows = np.nonzero(Z8.any(axis=1))[0]
        zr, zk = np.nonzero(np.unpackbits(Z8[zrows], axis=1, count=c))
        zv = zrows[zr]
        del X, pos, neg, Z8
        if e.size:
            da, db = U[elo[e], cols[k]] - xis[k], U[ehi[e], cols[k]] - xis[k]
            t = da / (da - db)
            order = np.lexsort((t, e))
            e, k, t = e[order], k[order], t[order]
            first = np.ones(e.size, bool)
            first[1:] = (e[1:] != e[:-1]) | (np.diff(t) > T_MERGE)
            cluster = np.cumsum(first) - 1
            fe, ft = e[first], t[first]
            nv = fe.size
            a, bb = elo[fe], ehi[fe]
            newP = self.P.a[a] + ft[:, None] * (self.P.a[bb] - self.P.a[a])
            v0 = self.P.append(newP)
            u0 = self._interp(a, bb, ft)
            self.U.buf[u0 + cluster, cols[k]] = xis[k]
            new_ids = v0 + np.arange(nv)
            n_ins = np.bincount(fe, minlength=ukey.size)
            ins_ptr = np.zeros(ukey.size + 1, np.int64)
            np.cumsum(n_ins, out=ins_ptr[1:])
            # rebuild the rings with the inserted vertices (in t order from lo to hi)
            m = n_ins[einv]
            cnt = 1 + m
            out_off = np.zeros(cnt.size + 1, np.int64)
            np.cumsum(cnt, out=out_off[1:])
            new_sv = np.empty(out_off[-1], np.int64)
            new_sl = np.repeat(sl, cnt)
            new_sv[out_off[:-1]] = sv
            ridx, rseg, _ = _ranges(np.zeros(m.size, np.int64), m)
            fwd = sv[rseg] == elo[einv[rseg]]
            j = np.where(fwd, ridx, m[rseg] - 1 - ridx)
            new_sv[out_off[:-1][rseg] + 1 + ridx] = new_ids[ins_ptr[einv[rseg]] + j]
            face_cnt = np.add.reduceat(cnt, offs[:-1])
            fstart = np.zeros(F, np.int64)
            np.cumsum(face_cnt[:-1], out=fstart[1:])
            sv, sl = new_sv, new_sl
            flen = face_cnt
        else:
            fstart, flen = offs[:-1].copy(), np.diff(offs)
            nv = 0
        self.slot_vert = _Grow(sv)
        self.slot_lab = _Grow(sl)
        self.face_start = _Grow(fstart)
        self.face_len = _Grow(flen.astype(np.int64))
        # straddle pairs (face, cutter): a face vertex on the cutter's breakpoint and both signs
        U = self.U.a
        if nv:
            zl = [zv]
            kl = [zk]
            tolc = self.tol[cols]
            for blk in _row_blocks(nv, c):
                Ub = U[V + blk.start : V + blk.stop]
                Ub = Ub if full else Ub[:, cols]
                zr, zk2 = np.nonzero(np.abs(Ub - xis) <= tolc)
                zl.append(V + blk.start + zr)
                kl.append(zk2)
            zv, zk = np.concatenate(zl), np.concatenate(kl)
            o = np.lexsort((zk, zv))
            zv, zk = zv[o], zk[o]
        if zv.size == 0:
            return None
        zcount = np.bincount(zv, minlength=U.shape[0])
        zptr = np.zeros(U.shape[0] + 1, np.int64)
        np.cumsum(zcount, out=zptr[1:])
        idx, seg, offs = _ranges(self.face_start.a, self.face_len.a)
        svv = self.slot_vert.a[idx]
        c = zcount[svv]
        pidx, pseg, _ = _ranges(zptr[svv], c)
        pf = seg[pseg]
        pk = zk[pidx]
        pair = np.unique(pf * cols.size + pk)
        pf, pk = pair // cols.size, pair % cols.size
        ridx, rseg, roffs = _ranges(self.face_start.a[pf], self.face_len.a[pf])
        kk = pk[rseg]
        vals = self._side(U[self.slot_vert.a[ridx], cols[kk]] - xis[kk], cols[kk])
        has_pos = np.logical_or.reduceat(vals > 0, roffs[:-1])
        has_neg = np.logical_or.reduceat(vals < 0, roffs[:-1])
        ok = has_pos & has_neg
        return pf[ok], pk[ok]

    # -- rounds: cut descendants of each ancestor by its r-th cutter ----------------------------
    def cut_chunk(self, cols: np.ndarray, xis: np.ndarray, gids: np.ndarray) -> None:
        res = self.split_edges(cols, xis, gids)
        if res is None or res[0].size == 0:
            return
        pf, pk = res  # sorted by face, then cutter
        anc, cnt = np.unique(pf, return_counts=True)
        order = np.argsort(-cnt, kind="stable")
        anc, cnt = anc[order], cnt[order]
        start_of = np.searchsorted(pf, anc)  # pf sorted by face: each ancestor's cutters are contiguous
        lists = pk
        n_active = np.array([(cnt > r).sum() for r in range(int(cnt[0]))])
        cand = anc.copy()
        cand_a = np.arange(anc.size)
        for r in range(int(cnt[0])):
            na = n_active[r]
            keep = cand_a < na
            cand, cand_a = cand[keep], cand_a[keep]
            k = lists[start_of[cand_a] + r]
            newf, newa = self._clip(cand, cols[k], xis[k], gids[k])
            if newf.size:
                cand = np.concatenate([cand, newf])
                cand_a = np.concatenate([cand_a, cand_a[newa]])
            if self.face_len.n > self.max_regions:
                raise ValueError(
                    f"plane: the domain holds more than max_regions={self.max_regions} activation regions "
                    f"(reached while cutting layer {self.layer}); shrink the domain or raise max_regions"
                )

    def _clip(self, faces: np.ndarray, col: np.ndarray, xi: np.ndarray, gid: np.ndarray):
        """Cut each face by the line u[col] = xi (one cutter per face); return the new face ids and,
        for each, the index into ``faces`` of the face it was split from."""
        starts, lens = self.face_start.a[faces], self.face_len.a[faces]
        idx, seg, offs = _ranges(starts, lens)
        v = self.slot_vert.a[idx]
        U = self.U.a
        s = self._side(U[v, col[seg]] - xi[seg], col[seg])
        pos = np.logical_or.reduceat(s > 0, offs[:-1])
        neg = np.logical_or.reduceat(s < 0, offs[:-1])
        is_cut = pos & neg
        cut = np.nonzero(is_cut)[0]
        empty = np.zeros(0, np.int64)
        if cut.size == 0:
            return empty, empty
        if cut.size < faces.size:  # keep the slots of the faces that are cut
            m = is_cut[seg]
            idx, v, s = idx[m], v[m], s[m]
            faces, col, xi, gid, lens = faces[cut], col[cut], xi[cut], gid[cut], lens[cut]
            offs = np.zeros(cut.size + 1, np.int64)
            np.cumsum(lens, out=offs[1:])
            seg = np.repeat(np.arange(cut.size), lens)
        L = self.slot_lab.a[idx]
        nxt = np.arange(v.size) + 1
        nxt[offs[1:] - 1] = offs[:-1]
        vn, sn = v[nxt], s[nxt]
        cross = (s * sn) < 0
        ci = np.nonzero(cross)[0]
        lo, hi = np.minimum(v[ci], vn[ci]), np.maximum(v[ci], vn[ci])
        V = self.P.n
        ukey, inv = np.unique(lo * V + hi, return_inverse=True)
        a, b = ukey // V, ukey % V
        # the cutter of an edge is the same from both faces (same ancestor, same round)
        first_occ = np.zeros(ukey.size, np.int64)
        first_occ[inv] = ci
        cc, cx = col[seg[first_occ]], xi[seg[first_occ]]
        da, db = U[a, cc] - cx, U[b, cc] - cx
        t = da / (da - db)
        Pa = self.P.a
        newP = Pa[a] + t[:, None] * (Pa[b] - Pa[a])
        v0 = self.P.append(newP)
        u0 = self._interp(a, b, t)
        self.U.buf[u0 + np.arange(ukey.size), cc] = cx
        cvert = np.full(v.size, -1, np.int64)
        cvert[ci] = v0 + inv
        chord = gid[seg]
        # ring A (D >= 0) and ring B (D <= 0), in the original (counter-clockwise) order
        inA, inB = s >= 0, s <= 0
        labAv = np.where((s == 0) & (sn < 0), chord, L)
        labBv = np.where((s == 0) & (sn > 0), chord, L)
        labAc = np.where(s > 0, chord, L)  # crossing: exit from A when s > 0 > sn
        labBc = np.where(s < 0, chord, L)
        nf = faces.size
        out = []
        for inX, labv, labc in ((inA, labAv, labAc), (inB, labBv, labBc)):
            cnt = inX.astype(np.int64) + cross
            o = np.zeros(cnt.size + 1, np.int64)
            np.cumsum(cnt, out=o[1:])
            rv = np.empty(o[-1], np.int64)
            rl = np.empty(o[-1], np.int64)
            w = np.nonzero(inX)[0]
            rv[o[w]], rl[o[w]] = v[w], labv[w]
            p = o[ci] + inX[ci]
            rv[p], rl[p] = cvert[ci], labc[ci]
            flen = np.add.reduceat(cnt, offs[:-1])
            base = self.slot_vert.append(rv)
            self.slot_lab.append(rl)
            fst = np.zeros(nf, np.int64)
            np.cumsum(flen[:-1], out=fst[1:])
            out.append((base + fst, flen))
        (sA, lA), (sB, lB) = out
        self.face_start.a[faces] = sA
        self.face_len.a[faces] = lA
        f0 = self.face_start.append(sB)
        self.face_len.append(lB)
        self.roots.append(self.roots.a[faces])
        return f0 + np.arange(nf), cut

    # -- end of a layer: activation state of every face for this layer ---------------------------
    def end_layer(self, l: int) -> None:
        net = self.net
        F = self.face_len.n
        self.roots.a[:, l] = np.arange(F)
        U = self.U.a
        xi = self.xi
        sw = net.switching(l)
        codes = np.empty((F, U.shape[1]), np.int8)
        fs, fl = self.face_start.a, self.face_len.a
        for blk in _row_blocks(F, U.shape[1]):
            f = np.arange(blk.start, blk.stop)
            v0 = self.slot_vert.a[fs[f]]
            Uv = U[v0]
            # code = sum over breakpoints of [u > xi + tol] + [u >= xi - tol]: 2p inside piece
            # p, 2j + 1 within the tolerance of breakpoint j
            c = np.zeros(Uv.shape, np.int8)
            for x in xi:
                c += Uv > x + self.tol
                c += Uv >= x - self.tol
            if self.net.has_special_units:
                c[:, ~sw] = 0
            r, z = np.nonzero(c & 1)
            if r.size:  # the first vertex sits on a breakpoint: use the face's vertex mean
                idx, seg, offs = _ranges(fs[f[r]], fl[f[r]])
                m = np.add.reduceat(U[self.slot_vert.a[idx], z[seg]], offs[:-1]) / fl[f[r]]
                cm = np.zeros(r.size, np.int8)
                for x in xi:
                    cm += m > x + self.tol[z]
                    cm += m >= x - self.tol[z]
                c[r, z] = cm
            codes[f] = c
        self.states.append(codes)


def _plane_coords_polygon(bounds: Any, domain: Any) -> np.ndarray:
    if domain is not None:
        if bounds is not None:
            raise ValueError("give either bounds or domain, not both")
        poly = _as_matrix(domain, "domain")
        if poly.ndim != 2 or poly.shape[1] != 2 or poly.shape[0] < 3:
            raise ValueError(f"domain must be a (k, 2) array of polygon vertices with k >= 3, got shape {poly.shape}")
        if not np.all(np.isfinite(poly)):
            raise ValueError("domain contains NaN or inf")
        area2 = np.sum(poly[:, 0] * np.roll(poly, -1, 0)[:, 1] - np.roll(poly, -1, 0)[:, 0] * poly[:, 1])
        if area2 < 0:
            poly = poly[::-1].copy()
        scale = float(np.max(np.abs(poly - poly.mean(axis=0)))) or 1.0
        # drop repeated and collinear consecutive vertices (sections of boxes produce them)
        while poly.shape[0] >= 3:
            e = np.roll(poly, -1, axis=0) - poly
            ep = np.roll(e, 1, axis=0)  # edge arriving at each vertex
            cr = ep[:, 0] * e[:, 1] - ep[:, 1] * e[:, 0]
            flat = (np.abs(cr) <= COLLINEAR_RTOL * scale**2) | (np.abs(e).max(axis=1) <= COLLINEAR_RTOL * scale)
            if not flat.any():
                break
            poly = np.delete(poly, int(np.nonzero(flat)[0][0]), axis=0)
        if poly.shape[0] < 3 or abs(area2) <= COLLINEAR_RTOL * scale**2 or np.any(cr < 0):
            raise ValueError("domain must be a convex polygon with non-zero area")
        return np.ascontiguousarray(poly, dtype=np.float64)
    if bounds is None:
        raise ValueError("give bounds = (u_min, u_max, v_min, v_max) or a polygonal domain")
    try:
        bd = np.asarray(bounds, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"bounds must be four numbers (u_min, u_max, v_min, v_max), got {bounds!r}") from None
    if bd.size != 4:
        raise ValueError(f"bounds must be four numbers (u_min, u_max, v_min, v_max), got {bd.size}")
    if not np.all(np.isfinite(bd)):
        raise ValueError("bounds contain NaN or inf")
    u0, u1, v0, v1 = bd
    if not (u0 < u1 and v0 < v1):
        raise ValueError(f"bounds must satisfy u_min < u_max and v_min < v_max (empty or inverted rectangle), got {bd.tolist()}")
    with np.errstate(over="ignore"):
        area = (bd[1] - bd[0]) * (bd[3] - bd[2])
    if not np.isfinite(area):
        raise ValueError(f"bounds {bd.tolist()} are too large: the rectangle's area overflows float64")
    return np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])


def _check_basis(net: Network, origin: Any, basis: Any) -> tuple[np.ndarray, np.ndarray]:
    x0 = _as_matrix(origin, "origin")
    x0 = x0.reshape(-1) if x0.ndim <= 1 else None
    if x0 is None or x0.shape != (net.n_in,):
        raise ValueError(f"origin must have shape ({net.n_in},), got {np.shape(origin)}")
    B = _as_matrix(basis, "basis")
    if B.shape != (net.n_in, 2):
        raise ValueError(f"basis must have shape ({net.n_in}, 2) (two columns spanning the plane), got {B.shape}")
    if not (np.all(np.isfinite(x0)) and np.all(np.isfinite(B))):
        raise ValueError("origin or basis contain NaN or inf")
    G = B.T @ B
    if np.max(np.abs(G - np.eye(2))) > ORTHO_RTOL:
        n0 = np.linalg.norm(B[:, 0])
        if n0 == 0:
            raise ValueError("basis: the first column is zero; the plane is not determined")
        q0 = B[:, 0] / n0
        r = B[:, 1] - (q0 @ B[:, 1]) * q0
        if np.linalg.norm(r) <= COLLINEAR_RTOL * max(np.linalg.norm(B[:, 1]), 1e-300):
            raise ValueError("basis: the two columns are parallel (or the second is zero); the plane is not determined")
        warnings.warn("plane: basis columns were not orthonormal; orthonormalised them (Gram-Schmidt), "
                      "bounds are read in the new coordinates", stacklevel=3)
        B = np.stack([q0, r / np.linalg.norm(r)], axis=1)
    return x0, B


def plane(
    net: Network,
    origin: Any,
    basis: Any,
    bounds: Any = None,
    *,
    domain: Any = None,
    max_regions: int = 2_000_000,
    device: Any = None,
    progress: bool = False,
    marks: Any = None,
) -> "PlanePartition":
    """The exact partition of a planar slice into activation and linear regions.

    Parameters
    ----------
    net : the network.
    origin : (n_in,) the point at plane coordinates (0, 0).
    basis : (n_in, 2) orthonormal columns (others are orthonormalised with a warning; parallel
        columns raise ``ValueError``).
    bounds : (u_min, u_max, v_min, v_max), the rectangle in plane coordinates.
    domain : instead of bounds, a convex polygon (k, 2) in plane coordinates.
    max_regions : budget; a domain that needs more activation regions raises ``ValueError``
        before memory runs out.
    device : None (numpy) or a torch device for the dense matmuls (e.g. ``"cuda"``).
    marks : optional (m, n_in) inputs to mark in pictures (projected onto the plane).

    >>> from linregions import random_mlp
    >>> net = random_mlp(2, [16, 16], seed=0)
    >>> part = plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    >>> bool(abs(part.areas("activation").sum() - 4.0) < 1e-9)
    True
    >>> part.num_regions("linear") <= part.num_regions("activation")
    True
    >>> part.euler_characteristic()
    1
    """
    if not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network (use Network.from_torch for torch modules), got {type(net).__name__}")
    x0, B = _check_basis(net, origin, basis)
    poly = _plane_coords_polygon(bounds, domain)
    if not isinstance(max_regions, (int, np.integer)) or max_regions < 1:
        raise ValueError(f"max_regions must be a positive integer, got {max_regions!r}")
    if device is not None:
        try:
            import torch

            torch.zeros(1, dtype=torch.float64, device=device)
        except (ImportError, RuntimeError, TypeError, AssertionError) as e:
            raise ValueError(f"device {device!r} is not usable with torch here ({e}); use device=None for numpy") from None
    if marks is not None:
        M = _as_matrix(marks, "marks")
        M = M[None] if M.ndim == 1 else M
        if M.ndim != 2 or M.shape[1] != net.n_in:
            raise ValueError(f"marks must have shape (m, {net.n_in}), got {M.shape}")
        marks = (M - x0) @ B
    rnet = net.restrict(x0, B)
    try:
        return _build(net, rnet, x0, B, poly, max_regions, device, progress, marks)
    except MemoryError:
        raise ValueError(
            f"plane: out of memory while partitioning the domain (max_regions={max_regions}); "
            "shrink the domain or partition it in pieces"
        ) from None


def _build(net, rnet, x0, B, poly, max_regions, device, progress, marks) -> "PlanePartition":
    bld = _Builder(rnet, poly, max_regions, device, progress)
    layers = range(rnet.depth)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(sum(c.size for c in bld.cut_unit)), desc="plane", unit="neuron")
    for l in layers:
        bld.layer = l
        bld.start_layer(l)
        units, bps = bld.cut_unit[l], bld.cut_bp[l]
        gids = bld.cut_offset[l] + np.arange(units.size)
        xis = rnet.activations[l].breakpoints[bps]
        i = 0
        while i < units.size:
            c = max(_MIN_CHUNK, bld.face_len.n)
            sl = slice(i, i + c)
            bld.cut_chunk(units[sl], xis[sl], gids[sl])
            if bar is not None:
                bar.update(min(c, units.size - i))
            i += c
        bld.end_layer(l)
    if bar is not None:
        bar.close()
    return _assemble(net, rnet, x0, B, poly, bld, marks)


def plane_through(net: Network, p0: Any, p1: Any, p2: Any, margin: float = 0.1, **kw) -> "PlanePartition":
    """The partition of the plane through three inputs (the paper's Figure 1 slices through three
    MNIST digits): origin at their centroid, orthonormal basis from Gram-Schmidt of p1 - p0,
    p2 - p0, and the bounding rectangle of the three points widened by ``margin`` times its size.

    >>> from linregions import random_mlp
    >>> net = random_mlp(5, [8, 8], seed=0)
    >>> part = plane_through(net, np.zeros(5), np.eye(5)[0], np.eye(5)[1])
    >>> part.marks.shape
    (3, 2)
    """
    if not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network, got {type(net).__name__}")
    pts = []
    for name, p in (("p0", p0), ("p1", p1), ("p2", p2)):
        a = _as_matrix(p, name).reshape(-1)
        if a.shape != (net.n_in,):
            raise ValueError(f"{name} must have shape ({net.n_in},), got {np.shape(p)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or inf")
        pts.append(a)
    try:
        margin = float(margin)
    except (TypeError, ValueError):
        raise TypeError(f"margin must be a number, got {margin!r}") from None
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")
    d1, d2 = pts[1] - pts[0], pts[2] - pts[0]
    n1 = np.linalg.norm(d1)
    if n1 == 0:
        raise ValueError("p0 and p1 coincide: three distinct, non-collinear points are needed")
    q0 = d1 / n1
    r = d2 - (q0 @ d2) * q0
    if np.linalg.norm(r) <= COLLINEAR_RTOL * max(np.linalg.norm(d2), n1):
        raise ValueError("p0, p1, p2 are collinear (or two coincide): they do not determine a plane")
    B = np.stack([q0, r / np.linalg.norm(r)], axis=1)
    origin = (pts[0] + pts[1] + pts[2]) / 3
    S = (np.stack(pts) - origin) @ B
    lo, hi = S.min(axis=0), S.max(axis=0)
    ext = float(np.max(hi - lo))
    pad = margin * ext
    bounds = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    if bounds[1] - bounds[0] <= 0 or bounds[3] - bounds[2] <= 0:
        # the three points are spread along one plane axis only; use a square around them
        c = (lo + hi) / 2
        h = ext * (0.5 + margin)
        bounds = (c[0] - h, c[0] + h, c[1] - h, c[1] + h)
    kw.setdefault("marks", np.stack(pts))
    return plane(net, origin, B, bounds, **kw)


# ----------------------------------------------------------------------------------------------
# the result


def _assemble(net, rnet, x0, B, poly, bld: _Builder, marks) -> "PlanePartition":
    F = bld.face_len.n
    idx, seg, offs = _ranges(bld.face_start.a, bld.face_len.a)
    fv = bld.slot_vert.a[idx]
    fl = bld.slot_lab.a[idx]
    # compact vertex ids to those used
    used = np.zeros(bld.P.n, bool)
    used[fv] = True
    remap = np.cumsum(used) - 1
    P = bld.P.a[used]
    fv = remap[fv]
    V = P.shape[0]
    nxt = np.arange(fv.size) + 1
    nxt[offs[1:] - 1] = offs[:-1]
    a, b = fv, fv[nxt]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    ukey, first, inv = np.unique(lo * V + hi, return_index=True, return_inverse=True)
    E = ukey.size
    edges = np.stack([ukey // V, ukey % V], axis=1)
    lab = fl[first]
    # faces on each side: the face whose ring runs lo -> hi is on the left
    edge_faces = np.full((E, 2), -1, np.int64)
    fwd = a == lo
    edge_faces[inv[fwd], 0] = seg[fwd]
    edge_faces[inv[~fwd], 1] = seg[~fwd]
    cut_layer = np.concatenate(bld.cut_layer) if bld.cut_layer else np.zeros(0, np.int64)
    cut_unit = np.concatenate(bld.cut_unit)
    cut_bp = np.concatenate(bld.cut_bp)
    is_n = lab >= 0
    g = np.where(is_n, lab, 0)
    e_layer = np.where(is_n, cut_layer[g] if cut_layer.size else 0, -1)
    e_unit = np.where(is_n, cut_unit[g] if cut_unit.size else 0, -1)
    e_bp = np.where(is_n, cut_bp[g] if cut_bp.size else 0, -1)
    e_kind = np.full(E, -1, np.int64)
    for l in range(rnet.depth):
        m = e_layer == l
        e_kind[m] = rnet.kinds(l)[e_unit[m]]
    boundary_side = np.where(is_n, -1, -1 - lab)
    roots = bld.roots.a.copy()
    good = _edge_goodness(rnet, bld.states, roots, edge_faces, e_layer, e_unit)
    return PlanePartition(
        net=net, origin=x0, basis=B, domain=poly, vertices=P, edges=edges, edge_layer=e_layer,
        edge_unit=e_unit, edge_breakpoint=e_bp, edge_good=good, edge_kind=e_kind,
        edge_faces=edge_faces, edge_boundary_side=boundary_side, face_ptr=offs, face_vertices=fv,
        marks=marks, _states=tuple(bld.states), _roots=roots, _rnet=rnet,
    )


def _open_codes(rnet: Network, l: int, codes: np.ndarray) -> np.ndarray:
    """Open (non-zero slope, or on a breakpoint) for state codes of layer l, by table lookup
    (the same rule as ``line._open``)."""
    act = rnet.activations[l]
    T = act.T
    q = act.slopes
    if act.per_unit:
        tab = np.ones((q.shape[0], 2 * T + 1), bool)
        tab[:, 0::2] = q != 0
        out = tab[np.arange(q.shape[0]), codes]
    else:
        tab = np.ones(2 * T + 1, bool)
        tab[0::2] = q != 0
        out = tab[codes]
    if rnet.has_special_units:
        out = out | ~rnet.switching(l)
    return out


def _edge_goodness(rnet, states, roots, edge_faces, e_layer, e_unit) -> np.ndarray:
    """Good flag of every neuron edge: a path of open neurons (non-zero weights) from the edge's
    neuron to an output, with open = open on either adjacent face (``line._reachability``).
    With all weights after the first layer non-zero this is "every later layer has an open
    neuron", evaluated per face and layer without forming per-edge patterns."""
    E = e_layer.size
    good = np.zeros(E, bool)
    ei = np.nonzero(e_layer >= 0)[0]
    d = rnet.depth
    fl, fr = edge_faces[ei, 0], edge_faces[ei, 1]
    fr = np.where(fr < 0, fl, fr)
    fl = np.where(fl < 0, fr, fl)
    if all(np.all(W != 0) for W in rnet.weights[1:]):
        any_open = np.ones((roots.shape[0], d + 1), bool)
        for l in range(d):
            per_root = _open_codes(rnet, l, states[l]).any(axis=1)
            any_open[:, l] = per_root[roots[:, l]]
        both = any_open[fl] | any_open[fr]
        suffix = np.logical_and.accumulate(both[:, ::-1], axis=1)[:, ::-1]  # suffix[:, m] = all layers >= m open
        good[ei] = suffix[np.arange(ei.size), e_layer[ei] + 1]
        return good
    for s0 in range(0, ei.size, _BLOCK):
        e = ei[s0 : s0 + _BLOCK]
        fl, fr = edge_faces[e, 0], edge_faces[e, 1]
        fr = np.where(fr < 0, fl, fr)
        fl = np.where(fl < 0, fr, fl)
        opens = [
            _open_codes(rnet, l, states[l][roots[fl, l]]) | _open_codes(rnet, l, states[l][roots[fr, l]])
            for l in range(rnet.depth)
        ]
        R = _reachability(rnet, opens)
        for l in range(rnet.depth):
            m = np.nonzero(e_layer[e] == l)[0]
            good[e[m]] = R[l][m, e_unit[e[m]]]
    return good


@dataclass(frozen=True, repr=False, eq=False)
class PlanePartition:
    """The exact planar complex of a slice x(s) = origin + basis @ s over a convex domain.

    Attributes
    ----------
    origin, basis : the plane (basis orthonormal, (n_in, 2)).
    domain : (k, 2) the domain polygon in plane coordinates (counter-clockwise).
    vertices : (V, 2) vertex coordinates in plane coordinates.
    edges : (E, 2) vertex ids (lo, hi) of each edge.
    edge_layer, edge_unit, edge_breakpoint : the neuron (0-based hidden layer, unit) and the
        0-based breakpoint whose level set made the edge; -1 for edges on the domain boundary.
    edge_good : whether that neuron is good along the edge (a path of open neurons to an output).
    edge_kind : the unit kind (NEURON or ARGMAX) of the edge's neuron; -1 on the domain boundary.
    edge_faces : (E, 2) the faces left and right of lo -> hi (-1: outside the domain).
    edge_boundary_side : index of the domain side a boundary edge lies on (-1 for interior edges).
    face_ptr, face_vertices : faces (activation regions) as counter-clockwise vertex rings (CSR).
    marks : plane coordinates of marked inputs (``plane_through``'s three points) or None.

    Linear regions are faces glued across interior edges where the output's gradient does not
    jump (``linear_edges``, pieces of the function N); for generic networks these are exactly the
    edges of neurons that are not good (``edge_good``, Prop. 9). Where two neurons' level
    sets coincide along an edge (duplicated neurons), the edge names the one that cut first.
    """

    net: Network
    origin: np.ndarray
    basis: np.ndarray
    domain: np.ndarray
    vertices: np.ndarray
    edges: np.ndarray
    edge_layer: np.ndarray
    edge_unit: np.ndarray
    edge_breakpoint: np.ndarray
    edge_good: np.ndarray
    edge_kind: np.ndarray
    edge_faces: np.ndarray
    edge_boundary_side: np.ndarray
    face_ptr: np.ndarray
    face_vertices: np.ndarray
    marks: np.ndarray | None = None
    _states: tuple = field(default=(), repr=False)
    _roots: np.ndarray | None = field(default=None, repr=False)
    _rnet: Network | None = field(default=None, repr=False)

    # -- sizes ----------------------------------------------------------------------------------
    @property
    def num_faces(self) -> int:
        return int(self.face_ptr.size - 1)

    @property
    def interior(self) -> np.ndarray:
        """(E,) True for edges inside the domain (made by a neuron)."""
        return self.edge_layer >= 0

    @cached_property
    def linear_edges(self) -> np.ndarray:
        """(E,) interior edges that bound linear regions (lie in B_N): the output's gradient jumps
        across them (``slope_jump``), the same criterion as ``line`` uses.

        For generic networks this equals the structural ``edge_good`` flag (Prop. 9); it differs
        where contributions cancel exactly, e.g. max-pooling written with ReLUs or compiled
        ARGMAX units, where a carried input always has an open path.
        """
        return self.slope_jump()

    def _boundary_edges(self, kind: Kind) -> np.ndarray:
        _check_kind(kind)
        return self.linear_edges if kind == "linear" else self.interior

    @cached_property
    def region_labels(self) -> np.ndarray:
        """(F,) linear-region id of every face: faces glued across edges that are not good."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        F = self.num_faces
        glue = self.interior & ~self.linear_edges
        a, b = self.edge_faces[glue, 0], self.edge_faces[glue, 1]
        g = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(F, F))
        _, lab = connected_components(g, directed=False)
        return lab.astype(np.int64)

    def num_regions(self, kind: Kind = "linear") -> int:
        """Number of linear regions (pieces of N) or activation regions (faces) in the domain."""
        _check_kind(kind)
        if kind == "activation":
            return self.num_faces
        return int(self.region_labels.max()) + 1 if self.num_faces else 0

    @cached_property
    def face_areas(self) -> np.ndarray:
        """(F,) area of every face (shoelace formula)."""
        P = self.vertices[self.face_vertices]
        nxt = np.arange(P.shape[0]) + 1
        nxt[self.face_ptr[1:] - 1] = self.face_ptr[:-1]
        cr = P[:, 0] * P[nxt, 1] - P[nxt, 0] * P[:, 1]
        return 0.5 * np.add.reduceat(cr, self.face_ptr[:-1])

    def areas(self, kind: Kind = "linear") -> np.ndarray:
        """Area of every region of the given kind (ordered by face, or by ``region_labels``)."""
        _check_kind(kind)
        if kind == "activation":
            return self.face_areas
        return np.bincount(self.region_labels, weights=self.face_areas)

    @cached_property
    def edge_lengths(self) -> np.ndarray:
        d = self.vertices[self.edges[:, 1]] - self.vertices[self.edges[:, 0]]
        return np.hypot(d[:, 0], d[:, 1])

    def boundary_length(self, kind: Kind = "linear", by: str | None = None):
        """1-volume of the boundary inside the domain: of B_N (``kind="linear"``: edges of good
        neurons, Prop. 9) or of the activation-region boundary; interior edges only.

        ``by=None`` gives a float, ``by="layer"`` a (depth,) array, ``by="neuron"`` an array in
        the order of ``net.neuron_ids``. Lengths are those of input space (orthonormal basis).
        """
        m = self._boundary_edges(kind)
        L = self.edge_lengths[m]
        if by is None:
            return float(L.sum())
        if by == "layer":
            return np.bincount(self.edge_layer[m], weights=L, minlength=self.net.depth)
        if by == "neuron":
            ids = self.net.neuron_ids
            flat = np.full((self.net.depth, max(self.net.widths)), -1, np.int64)
            flat[ids[:, 0], ids[:, 1]] = np.arange(ids.shape[0])
            return np.bincount(flat[self.edge_layer[m], self.edge_unit[m]], weights=L, minlength=ids.shape[0])
        raise ValueError(f"by must be None, 'layer' or 'neuron', got {by!r}")

    def vertex_neuron_counts(self, kind: Kind = "activation") -> np.ndarray:
        """(V,) number of distinct neurons whose boundary edges (of the kind) meet at each vertex."""
        m = self._boundary_edges(kind)
        e = np.nonzero(m)[0]
        flat = self.edge_layer[e] * (max(self.net.widths) + 1) + self.edge_unit[e]
        v = np.concatenate([self.edges[e, 0], self.edges[e, 1]])
        z = np.concatenate([flat, flat])
        pairs = np.unique(v * (self.net.depth * (max(self.net.widths) + 1)) + z)
        return np.bincount(pairs // (self.net.depth * (max(self.net.widths) + 1)), minlength=self.vertices.shape[0])

    def num_vertices(self, kind: Kind = "linear") -> int:
        """Interior points where two boundary pieces cross (B_{N,2} for the linear kind, the
        0-dimensional part of the activation-region boundary otherwise): vertices inside the
        domain where edges of at least two distinct (good, for ``linear``) neurons meet."""
        c = self.vertex_neuron_counts(kind)
        on_boundary = np.zeros(self.vertices.shape[0], bool)
        be = self.edges[~self.interior]
        on_boundary[be.ravel()] = True
        return int(np.sum((c >= 2) & ~on_boundary))

    # -- faces ----------------------------------------------------------------------------------
    @cached_property
    def interior_points(self) -> np.ndarray:
        """(F, 2) a point inside every face (its vertex centroid), plane coordinates."""
        lens = np.diff(self.face_ptr)
        P = self.vertices[self.face_vertices]
        return np.add.reduceat(P, self.face_ptr[:-1], axis=0) / lens[:, None]

    def to_input(self, s: Any) -> np.ndarray:
        """Input-space points origin + basis @ s for plane coordinates s (..., 2)."""
        return self.origin + np.asarray(s, dtype=np.float64) @ self.basis.T

    def affine_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """Per face: ``grad`` (F, n_out, 2) and ``offset`` (F, n_out) with
        N(origin + basis @ s) = offset + grad @ s on the face (exact, from the face's pattern)."""
        return self._affine

    @cached_property
    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        rnet = self._rnet
        X = self.interior_points
        F = X.shape[0]
        grad = np.empty((F, rnet.n_out, 2))
        off = np.empty((F, rnet.n_out))
        for s0 in range(0, F, _BLOCK):
            x = X[s0 : s0 + _BLOCK]
            for j in range(2):
                d = np.zeros_like(x)
                d[:, j] = 1.0
                _, N, dN = _forward_tangent(rnet, x, d)
                grad[s0 : s0 + _BLOCK, :, j] = dN
            off[s0 : s0 + _BLOCK] = N - np.einsum("fij,fj->fi", grad[s0 : s0 + _BLOCK], x)
        return grad, off

    def slope_jump(self) -> np.ndarray:
        """(E,) True on interior edges where the output's gradient jumps between the two faces
        (relative threshold ``SLOPE_RTOL``); equals ``edge_good`` for generic networks."""
        from .tolerances import SLOPE_RTOL

        g, _ = self.affine_maps()
        e = self.interior
        out = np.zeros(self.edges.shape[0], bool)
        gl = g[self.edge_faces[e, 0]].reshape(int(e.sum()), g[0].size if g.shape[0] else 0)
        gr = g[self.edge_faces[e, 1]].reshape(int(e.sum()), g[0].size if g.shape[0] else 0)
        jump = np.linalg.norm(gl - gr, axis=1)
        out[e] = jump > SLOPE_RTOL * (np.linalg.norm(gl, axis=1) + np.linalg.norm(gr, axis=1))
        return out

    def activation_codes(self, faces: Any = None) -> list[np.ndarray]:
        """State codes per hidden layer for the faces (2p inside piece p, 2j+1 on breakpoint j)."""
        f = np.arange(self.num_faces) if faces is None else np.asarray(faces)
        return [self._states[l][self._roots[f, l]] for l in range(len(self._states))]

    def euler_characteristic(self) -> int:
        """V - E + F over the bounded faces (1 for a watertight complex of a disc)."""
        return int(self.vertices.shape[0] - self.edges.shape[0] + self.num_faces)

    # -- pictures -------------------------------------------------------------------------------
    def plot(self, ax=None, **kw):
        """Figure-1-style picture (see ``linregions.plot.plot_plane``)."""
        from .plot import plot_plane

        return plot_plane(self, ax=ax, **kw)

    def save(self, path, **kw) -> None:
        """Write the picture to ``path`` (PNG, SVG, PDF by extension)."""
        from .plot import save_plane

        save_plane(self, path, **kw)

    def __repr__(self) -> str:
        return (
            f"PlanePartition(area={float(self.face_areas.sum()):.4g}, linear_regions={self.num_regions('linear')}, "
            f"activation_regions={self.num_faces}, vertices={self.vertices.shape[0]}, edges={self.edges.shape[0]})"
        )
