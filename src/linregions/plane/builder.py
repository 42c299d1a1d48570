"""The construction of a planar complex, layer by layer (the paper's splitting, in two dimensions).

Per hidden layer l the pre-activations u_l are affine on every current face (the layers before l
are), so their values at the vertices decide everything: u_l at all current vertices is one matmul
(``VertexValues.preactivations``); a neuron's zero set cuts a face iff the face has vertices
strictly on both sides of a breakpoint. The (neuron, breakpoint) lines of a layer are handled in
chunks: first every current edge is split at every crossing of the chunk's lines
(``kernels.split_chunk``), so that faces cut afterwards never split a shared edge; then every face
straddled by some of the lines (an *ancestor*) is cut by them one after the other
(``kernels.clip_chunk``). New vertices get u_l by exact linear interpolation along their edge (u_l
is affine along it), and the crossing neuron's value is set to its breakpoint exactly. A value
within ``SNAP_RTOL`` times its breakpoint's own scale (``tolerances.snap_scale``) counts as on it,
everywhere, so degenerate arrangements stay exact (zero biases: later lines pass exactly through
existing vertices instead of creating near-copies).

At the end of a layer, the state of every face for that layer is read from one vertex (the vertex
mean where that vertex is on a breakpoint) into a code array wide enough for the activation's
breakpoints (``code_dtype``), and close snapping decisions are counted (``tolerances.CLOSE_FACTOR``).
"""
from __future__ import annotations

import numpy as np

from ..tolerances import CLOSE_FACTOR, SNAP_RTOL, T_MERGE
from .growable import _Grow, _row_blocks
from .values import PlaneModel, VertexValues

#: Smallest number of (neuron, breakpoint) pairs handled in one chunk of a layer. A chunk's first
#: pass is dense over all current edges; the cuts after it cost about k^3 face visits for an
#: ancestor face cut by k of the chunk's lines, so few large faces (the first layer) get small
#: chunks and many small faces get the whole layer at once.
_MIN_CHUNK = 16

#: Memory budget (bytes) of the per-vertex pre-activations of the layer being cut (vertices x
#: width x 8). A domain that needs more raises ``ValueError`` instead of exhausting memory.
MAX_VERTEX_BYTES = 4 * 2**30


def code_dtype(T: int) -> type:
    """Narrowest integer type holding the state codes 0..2T of an activation with T breakpoints
    (int8 up to 63 breakpoints)."""
    return np.int8 if 2 * T <= np.iinfo(np.int8).max else np.int16 if 2 * T <= np.iinfo(np.int16).max else np.int32


def _budget_error(l: int, rows: int, width: int) -> ValueError:
    return ValueError(
        f"plane: layer {l} needs pre-activations at more than {rows} vertices x {width} units, over the memory "
        f"budget MAX_VERTEX_BYTES={MAX_VERTEX_BYTES / 2**30:.3g} GiB; shrink the domain, or partition it in pieces"
    )


class _Builder:
    """Mutable planar complex used while cutting (vertices, face rings, per-vertex u_l)."""

    def __init__(self, rnet: "PlaneModel", polygon: np.ndarray, max_regions: int, values: VertexValues):
        self.net = rnet
        self.values = values
        self.max_regions = int(max_regions)
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
        self.states: list[np.ndarray] = []  # per layer: (F_l, n_l) state codes (``code_dtype``)
        self.U: _Grow | None = None
        #: close tolerance decisions: snaps that erased more than rounding noise ("snap") or were
        #: near the threshold without snapping ("snap_kept"), merges likewise, and faces left
        #: uncut because snapping made their sides inconsistent ("clip")
        self.close = {"snap": 0, "snap_kept": 0, "merge": 0, "merge_kept": 0, "clip": 0}

    # -- dense per-layer values ---------------------------------------------------------------------
    def start_layer(self, l: int) -> None:
        n = self.net.widths[l]
        V = self.P.n
        prev = self.P.a if l == 0 else self.U.a
        if V * n * 8 > MAX_VERTEX_BYTES:
            raise _budget_error(l, V, n)
        # reserve the whole budget at once: rows never written cost no memory, and growing a
        # buffer of this size by copying would be slow
        cap = max(V + 1, MAX_VERTEX_BYTES // (8 * n))
        U = _Grow.empty(V, (n,), np.float64, cap)
        scale = self.values.preactivations(l, self.P.a, prev, U.buf[:V])
        self.xi = self.net.activations[l].breakpoints
        self.tol = SNAP_RTOL * scale  # (n_l, T): each breakpoint its own scale
        self.U = U

    # -- one chunk: split every edge at the chunk's crossings, then cut inside the ancestors -------
    def cut_chunk(self, cols: np.ndarray, xis: np.ndarray, tols: np.ndarray, gids: np.ndarray) -> None:
        from .kernels import clip_chunk, slot_edges, split_chunk

        cols = cols.astype(np.int64)
        xis = xis.astype(np.float64)
        tols = tols.astype(np.float64)
        U = self.U
        key, osv, osl = slot_edges(self.slot_vert.buf, self.slot_lab.buf, self.face_start.buf, self.face_len.buf,
                                   self.face_len.n, self.P.n)
        P, nV, sv, sl, fst, fln, anc, cptr, pk, merged, merged_kept, status = split_chunk(
            self.P.buf, self.P.n, U.buf, key, np.argsort(key), osv, osl, self.face_start.buf,
            self.face_len.buf, self.face_len.n, cols, xis, tols, T_MERGE, CLOSE_FACTOR,
        )
        self.close["merge"] += int(merged)
        self.close["merge_kept"] += int(merged_kept)
        self.P.buf, self.P.n = P, nV
        U.n = nV
        if status == 1:
            raise _budget_error(self.layer, nV + 1, U.buf.shape[1])
        self.slot_vert.buf, self.slot_lab.buf = sv, sl
        nF = self.face_len.n
        self.slot_vert.n = self.slot_lab.n = int(fst[nF - 1] + fln[nF - 1])  # rings are compact
        self.face_start.buf, self.face_len.buf = fst, fln
        if anc.size == 0:
            return
        P, nV, sv, sl, ns, fst, fln, nF, parents, npar, skipped, status = clip_chunk(
            self.P.buf, self.P.n, U.buf, self.slot_vert.buf, self.slot_lab.buf, self.slot_vert.n,
            self.face_start.buf, self.face_len.buf, self.face_len.n, anc, cptr,
            cols[pk], xis[pk], tols[pk], gids[pk].astype(np.int64), self.max_regions,
        )
        self.P.buf, self.P.n = P, nV
        U.n = nV
        self.slot_vert.buf, self.slot_lab.buf = sv, sl
        self.slot_vert.n = self.slot_lab.n = ns
        self.face_start.buf, self.face_len.buf = fst, fln
        self.face_start.n = self.face_len.n = nF
        self.roots.append(self.roots.a[parents[:npar]])
        self.close["clip"] += int(skipped)
        if status == 1:
            raise _budget_error(self.layer, nV + 1, U.buf.shape[1])
        if status == 2:
            raise ValueError(
                f"plane: the domain holds more than max_regions={self.max_regions} activation regions "
                f"(reached while cutting layer {self.layer}); shrink the domain or raise max_regions"
            )

    # -- end of a layer: activation state of every face for this layer ---------------------------
    def end_layer(self, l: int) -> None:
        net = self.net
        F = self.face_len.n
        self.roots.a[:, l] = np.arange(F)
        U = self.U
        sw = np.ascontiguousarray(net.switching(l))
        xi = np.ascontiguousarray(self.xi, dtype=np.float64)
        tol = np.ascontiguousarray(self.tol)
        codes = np.empty((F, U.buf.shape[1]), code_dtype(net.activations[l].T))
        from .kernels import face_codes, snap_decisions

        face_codes(U.buf, self.slot_vert.buf, self.face_start.buf, self.face_len.buf, xi, tol, sw, codes)
        erased, kept = snap_decisions(U.buf, U.n, xi, tol, sw, CLOSE_FACTOR)
        self.close["snap"] += int(erased)
        self.close["snap_kept"] += int(kept)
        self.states.append(codes)


def _breakpoints(act, units: np.ndarray, bps: np.ndarray) -> np.ndarray:
    """Breakpoint values of the (unit, breakpoint) cutters (per-unit activations: their own)."""
    xi = np.asarray(act.breakpoints, dtype=np.float64)
    return xi[units, bps] if xi.ndim == 2 else xi[bps]


def _crossing(U: np.ndarray, units: np.ndarray, xis: np.ndarray, tols: np.ndarray) -> np.ndarray:
    """(k,) bool: cutter k has a vertex strictly above and one strictly below its breakpoint
    (beyond its snapping tolerance, the rule of ``kernels._side_bits``)."""
    if U.shape[0] == 0 or units.size == 0:
        return np.zeros(units.size, bool)
    hi = np.full(U.shape[1], -np.inf)
    lo = np.full(U.shape[1], np.inf)
    for blk in _row_blocks(U.shape[0], U.shape[1]):  # both reductions while a block is in cache
        B = U[blk]
        np.maximum(hi, B.max(axis=0), out=hi)
        np.minimum(lo, B.min(axis=0), out=lo)
    hi, lo = hi[units], lo[units]
    return (hi - xis > tols) & (lo - xis < -tols)


def build(rnet: "PlaneModel", poly: np.ndarray, max_regions: int, values: VertexValues, progress: bool) -> _Builder:
    """Cut the polygon ``poly`` by every layer of the restricted network ``rnet``."""
    bld = _Builder(rnet, poly, max_regions, values)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(sum(c.size for c in bld.cut_unit)), desc="plane", unit="neuron")
    for l in range(rnet.depth):
        bld.layer = l
        bld.start_layer(l)
        units, bps = bld.cut_unit[l], bld.cut_bp[l]
        gids = bld.cut_offset[l] + np.arange(units.size)
        xis = _breakpoints(rnet.activations[l], units, bps)
        tols = bld.tol[units, bps]
        if bar is not None:
            done = units.size
        # only lines with vertices strictly on both sides can cut a face (u_l is affine on every
        # face, and vertices added while cutting this layer interpolate between existing ones)
        live = _crossing(bld.U.a, units, xis, tols)
        units, gids, xis, tols = units[live], gids[live], xis[live], tols[live]
        i = 0
        while i < units.size:
            c = max(_MIN_CHUNK, bld.face_len.n)
            sl = slice(i, i + c)
            bld.cut_chunk(units[sl], xis[sl], tols[sl], gids[sl])
            i += c
        if bar is not None:
            bar.update(done)
        bld.end_layer(l)
    if bar is not None:
        bar.close()
    return bld
