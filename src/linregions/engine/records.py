"""The crossings pass of the segment driver (``engine.segments``): from the final points of a
window and the states of every site, the kept points, the crossings (site, unit, breakpoint) with
their goodness (a path of open units with non-zero weights to an output, Prop. 9: settled by a
sure slope jump with one crossing unit, else by ``ModuleProgram.reach_units``), the linear-region
boundaries (``tolerances.slope_jump``'s rule with the ``slope_noise`` floor) and the affine pieces
of the output on the intervals."""
from __future__ import annotations

import numpy as np
import torch

from ..tolerances import SLOPE_RTOL, slope_noise
from .rows import _blockwise


def _records(prog, seg, t, states, N_pts, dN_pts, X0, X1, chunk) -> dict[str, dict[str, np.ndarray]]:
    """Points (with crossings, goodness and slope jumps) and intervals (affine pieces) of a
    window's rows, from the interval states, as ``line`` assembles them: a point is kept where
    some unit's state differs on its two sides."""
    dev = seg.device
    same = seg[:-1] == seg[1:]
    iv = torch.nonzero(same).reshape(-1)
    dN = dN_pts[iv]
    intercepts = N_pts[iv] - dN * t[iv][:, None]
    inner = torch.nonzero(seg[iv[:-1]] == seg[iv[1:]]).reshape(-1)
    inner = inner[iv[inner] + 1 == iv[inner + 1]]  # consecutive intervals share their middle point
    li, ri = iv[inner], iv[inner + 1]
    rec = []
    # the left rows of the pairs (li is increasing and ri = li + 1) and each one's pair index
    left = torch.zeros(max(t.numel() - 1, 0), dtype=torch.bool, device=dev)
    left[li] = True
    pair_of = torch.cumsum(left.long(), 0) - 1
    for l, s in enumerate(states):
        r, z = s.changes(left)  # left rows r, units whose state differs at r + 1
        if r.numel():
            p = pair_of[r]
            j = s.map[r]
            a, c = s.base[j, z].long(), s.base[j + 1, z].long()
            bp = torch.where(a % 2 == 1, (a - 1) // 2, torch.where(c % 2 == 1, (c - 1) // 2, torch.minimum(a, c) // 2))
            rec.append((p, torch.full_like(p, l), z, bp))
    if rec:
        pair, layer, unit, bp = (torch.cat(x) for x in zip(*rec))
    else:
        pair = layer = unit = bp = torch.zeros(0, dtype=torch.long, device=dev)
    used = torch.zeros(inner.numel(), dtype=torch.bool, device=dev)
    used[pair] = True
    kept = torch.nonzero(used).reshape(-1)
    K = kept.numel()
    # slope jumps (tolerances.slope_jump's rule): relative threshold SLOPE_RTOL and a rounding floor
    # ``slope_noise`` of the slopes on the two sides. (The a-priori floor of the absolute product
    # |W_d| |D| ... |W_0| |v| is useless on deep nets: on a random ResNet-18 it exceeds the slopes
    # by ~1e12 and would erase every boundary; rounding of a tangent propagated in float64 is
    # relative to the tangents themselves, so the floor uses their magnitudes.)
    dl, dr = dN[inner[kept]], dN[inner[kept] + 1]
    diff = torch.linalg.norm(dr - dl, dim=1)
    rel = SLOPE_RTOL * (torch.linalg.norm(dl, dim=1) + torch.linalg.norm(dr, dim=1))
    noise = torch.as_tensor(slope_noise((dl.abs() + dr.abs()).cpu().numpy(), prog.n_in + prog.num_units), device=dev)
    linear = diff > torch.maximum(rel, noise)
    # goodness: a path of open units (on either side) with non-zero weights to an output. Where the
    # slope jumps at a point with one crossing unit, that unit is good (a unit without such a path
    # cannot change the output's slope); elsewhere a forward pass of the pattern decides.
    good = torch.zeros(pair.numel(), dtype=torch.bool, device=dev)
    if K:
        row = torch.searchsorted(kept, pair)
        n_at = torch.bincount(row, minlength=K)
        sure = linear & (n_at == 1)
        good[sure[row]] = True
        # the crossings at points without a sure answer: a forward pass of a one-hot at each unit
        # through the open units (on either side) of the later sites (``ModuleProgram.reach_units``)
        ent = torch.nonzero(~sure[row]).reshape(-1)
        if ent.numel():
            er = kept[row[ent]]
            rl, rr = li[er], ri[er]

            def mask_fn(l2, idx):
                s2, il, ir = states[l2], rl[idx], rr[idx]
                mask = torch.empty((idx.numel(), s2.base.shape[1]), dtype=torch.bool, device=dev)

                def block(a, b):  # open on either side
                    torch.logical_or(prog.opens(l2, s2.rows(il[a:b])), prog.opens(l2, s2.rows(ir[a:b])), out=mask[a:b])

                _blockwise(block, idx.numel(), s2.base.shape[1], dev)
                return mask

            good[ent] = prog.reach_units(layer[ent], unit[ent], mask_fn, chunk)
    pts = li[kept] + 1
    local = torch.full((t.numel(),), -1, dtype=torch.long, device=dev)
    local[pts] = torch.arange(K, device=dev)
    keep_iv = t[iv] == 0.0
    keep_iv |= local[iv] >= 0
    kinds = torch.tensor([s.kind for s in prog.sites], dtype=torch.int8, device=dev)
    np_ = lambda x: x.detach().cpu().numpy()  # noqa: E731
    return dict(
        points=dict(seg=np_(seg[pts]), t=np_(t[pts]), linear=np_(linear)),
        crossings=dict(point=np_(local[li[pair] + 1]), layer=np_(layer), unit=np_(unit), breakpoint=np_(bp),
                       good=np_(good), unit_kind=np_(kinds[layer])),
        intervals=dict(seg=np_(seg[iv]), t=np_(t[iv]), keep=np_(keep_iv), slopes=np_(dN), intercepts=np_(intercepts)),
    )
