"""The segment driver's element-wise passes over rows of points (``engine.segments``): state
codes of the intervals at a site, strict crossings of breakpoints inside intervals and the new
points they give (closed form, u being affine on each interval), the gather of live tensors at
new points (exact linear interpolation), and earlier sites' states kept as row maps. On CPU each
pass runs in cache-sized row blocks (``engine.blocks``); tolerances are ``line``'s."""
from __future__ import annotations

import torch

from ..tolerances import T_MERGE
from .blocks import BLOCK_ELEMS, blockwise


#: Elements per block of the driver's element-wise passes on CPU (``engine.blocks``).
_BLOCK_ELEMS = BLOCK_ELEMS


def _blockwise(fn, n_rows: int, width: int, device: torch.device) -> list:
    """``engine.blocks.blockwise`` with the driver's block size."""
    return blockwise(fn, n_rows, width, device, _BLOCK_ELEMS)


def _tol_rows(ts: torch.Tensor, seg: torch.Tensor, a: int, b: int) -> torch.Tensor:
    """Snap tolerances (per segment, ``ts`` (S, n)) of rows a..b-1: one broadcast row when they
    are one segment's, else one row per row."""
    return ts[int(seg[a])][None] if bool(seg[a] == seg[b - 1]) else ts[seg[a:b]]


def _states(U, same, xi_list, tol_seg, seg, code_dtype):
    """State code of every interval (2p inside piece p, 2j+1 on breakpoint j at both ends), rows
    that start no interval get 0 (``line._interval_states``); ``tol_seg[j]`` (S, n) is the snap
    tolerance of breakpoint j per segment, ``seg`` (P,) each row's segment. In row blocks
    (``engine.blocks``)."""
    s = torch.zeros(U.shape, dtype=code_dtype, device=U.device)

    def block(a, b):  # intervals a..b-1: rows a..b
        Ub = U[a : b + 1]
        body = s[a:b]
        m2 = Ub[:-1] + Ub[1:]
        for x in xi_list:
            body += m2 >= 2 * x
        del m2
        body *= 2
        for j, (x, ts) in enumerate(zip(xi_list, tol_seg)):
            snapped = (Ub - x if x != 0 else Ub).abs() <= _tol_rows(ts, seg, a, b + 1)
            body.masked_fill_(snapped[:-1] & snapped[1:], 2 * j + 1)
        if not bool(same[a:b].all()):
            body.masked_fill_(~same[a:b, None], 0)

    _blockwise(block, U.shape[0] - 1, U.shape[1], U.device)
    return s


def _crossings(U, same, xi_list, tol_seg, seg, passthrough):
    """Rows k, units z, breakpoint values and interpolation parameters lam of the strict crossings
    of a breakpoint between consecutive rows of one segment (U affine on each interval); ordered
    by breakpoint, then row, then unit. In row blocks (``engine.blocks``)."""

    def block(a, b):  # intervals a..b-1: rows a..b
        found = []
        Ub = U[a : b + 1]
        for x, ts in zip(xi_list, tol_seg):
            # a strict crossing (u - x beyond the tolerance, >= 0, on both sides with opposite signs)
            # changes the side of x: candidates first, the tolerance on the few candidates
            above = Ub > x
            cand = above[:-1] ^ above[1:]
            del above
            cand &= same[a:b, None]
            if passthrough is not None:
                cand &= ~passthrough[None, :]
            k, z = torch.nonzero(cand, as_tuple=True)
            del cand
            da, db = Ub[k, z], Ub[k + 1, z]
            if x != 0:
                da, db = da - x, db - x
            tol = ts[seg[k + a], z]  # rows k and k + 1 are one segment's
            strict = ((da > tol) & (db < -tol)) | ((da < -tol) & (db > tol))
            k, z, da, db = k[strict], z[strict], da[strict], db[strict]
            found.append((k + a, z, torch.full_like(da, x), da / (da - db)) if k.numel() else None)
        return found

    per_block = _blockwise(block, U.shape[0] - 1, U.shape[1], U.device)
    hits = [blk[j] for j in range(len(xi_list)) for blk in per_block if blk[j] is not None]
    if not hits:
        return None
    return tuple(torch.cat(x) for x in zip(*hits))


def _new_points(U, t, seg, xi, tol_seg, pt):
    """Sorted new points (after row k, at lam of the interval, parameter t_new) of the strict
    crossings of site l's breakpoints, merged within ``T_MERGE`` as ``line`` does."""
    same = seg[:-1] == seg[1:]
    found = _crossings(U, same, xi, tol_seg, seg, pt)
    if found is None:
        return None
    k, z, xv, lam = found
    dev = U.device
    t_new = t[k] + lam * (t[k + 1] - t[k])
    o = torch.sort(t_new, stable=True).indices
    o = o[torch.sort(k[o], stable=True).indices]
    k, z, xv, lam, t_new = k[o], z[o], xv[o], lam[o], t_new[o]
    keep = ((t_new - t[k]) > T_MERGE) & ((t[k + 1] - t_new) > T_MERGE)
    first = torch.ones(k.numel(), dtype=torch.bool, device=dev)
    first[1:] = (k[1:] != k[:-1]) | (torch.diff(t_new) > T_MERGE)
    # a cluster of crossings closer than T_MERGE is one point, kept when its first member is away
    # from both interval ends
    cluster = torch.cumsum(first.long(), 0) - 1
    keep_cluster = torch.zeros(int(cluster[-1]) + 1, dtype=torch.long, device=dev)
    keep_cluster.scatter_reduce_(0, cluster, keep.long(), "amax")
    sel = first & keep_cluster[cluster].bool()
    if not bool(sel.any()):
        return None
    # the crossing units of each kept point sit exactly on their breakpoint there (new row j)
    member = keep_cluster[cluster].bool()
    new_row = torch.cumsum(sel.long(), 0) - 1
    on = (new_row[member], z[member], xv[member])
    return k[sel], lam[sel], t_new[sel], on


def _gather(X: torch.Tensor, ids: torch.Tensor, k: torch.Tensor, lam: torch.Tensor, interp: bool) -> torch.Tensor:
    """Rows ``ids`` of the sequence X with new rows inserted after rows k: id >= 0 is an old row,
    id = -1 - j the j-th new row (interpolated at lam[j] between rows k[j], k[j] + 1, or
    inherited from row k[j]). In row blocks of the output (``engine.blocks``); in a block, the
    difference X[k + 1] - X[k] of an interval is formed once for all its new rows that split it."""
    old = ids >= 0
    src, j = ids, None
    if not bool(old.all()):
        j = (-1 - ids).clamp(min=0)
        src = torch.where(old, ids, k[j] if k.numel() else ids)
    interp = interp and j is not None
    out = X.new_empty((ids.numel(),) + tuple(X.shape[1:]))

    def block(a, b):
        o = out[a:b]
        torch.index_select(X, 0, src[a:b], out=o)
        if interp:
            nw = torch.nonzero(~old[a:b]).reshape(-1)
            if nw.numel():
                jj = j[a:b][nw]
                split, which = torch.unique_consecutive(k[jj], return_inverse=True)  # k is sorted
                D = X.index_select(0, split + 1).sub_(X.index_select(0, split))  # X[k + 1] - X[k]
                if split.numel() < nw.numel():
                    D = D.index_select(0, which)
                lv = lam[jj].reshape((-1,) + (1,) * (X.dim() - 1)).to(X.dtype)
                o.index_add_(0, nw, D.mul_(lv))  # o[nw] holds X[k]: X[k] + lv (X[k + 1] - X[k])

    _blockwise(block, ids.numel(), max(1, X[:1].numel()), X.device)
    return out


class _States:
    """Interval states of one site on a window's rows, without copies: row r's states are row
    ``map[r]`` of ``base`` (the states computed at the site). A row inserted by a later site starts
    a piece of the interval it splits, so it repeats that interval's row: ``map`` is non-decreasing
    in steps of 0 or 1, and consecutive rows differ only where consecutive base rows do."""

    __slots__ = ("base", "map")

    def __init__(self, base: torch.Tensor, map: torch.Tensor | None = None):
        self.base = base
        self.map = torch.arange(base.shape[0], device=base.device) if map is None else map

    def rows(self, r) -> torch.Tensor:
        """The states of rows r (an index tensor or a slice)."""
        return self.base[self.map[r]]

    def split(self, w: torch.Tensor, k: torch.Tensor) -> "_States":
        """The rows ``w`` of the sequence with new rows inserted after rows k (``_gather``'s ids)."""
        return _States(self.base, _gather(self.map, w, k, k, False))

    def changes(self, left: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows r with ``left[r]`` and units z whose state differs between rows r and r + 1, sorted by
        row, then unit (compared on consecutive base rows j, j + 1; r is the last row of j). In
        row blocks (``engine.blocks``)."""
        m, base = self.map, self.base
        j0, j1 = int(m[0]), int(m[-1])
        last = torch.searchsorted(m, torch.arange(j0, j1, device=m.device), right=True) - 1
        lb = left[last]

        def block(a, b):  # base rows j0 + a .. j0 + b - 1 against their successors
            i, z = torch.nonzero((base[j0 + a : j0 + b] != base[j0 + a + 1 : j0 + b + 1]) & lb[a:b, None], as_tuple=True)
            return i + a, z

        found = _blockwise(block, j1 - j0, base.shape[1], base.device)
        if not found:
            return (torch.zeros(0, dtype=torch.long, device=m.device),) * 2
        i, z = (torch.cat(x) for x in zip(*found))
        return last[i], z
