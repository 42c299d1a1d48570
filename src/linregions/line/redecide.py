"""Exact re-decision of close tolerance decisions on segments: windows around them are
partitioned in rational arithmetic (``linregions.exact.window``) and spliced into the float64
result; decisions left close are reported (``close_decisions``) and warned about."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..network import Network
from ..tolerances import CLOSE_FACTOR, T_MERGE
from .core import _forward_tangent, _goodness, _records
from .results import LineBatch, LinePartition

#: Window ends for exact re-decision sit in the middle of a gap between float points longer than
#: this (in t): there no merge was close, so the float64 partition is reliable at the ends.
_WINDOW_GAP = CLOSE_FACTOR * T_MERGE

#: Rounds of window growth in ``_redecide`` (float points outside the windows that fresh forward
#: passes contradict become suspects of the next round); a segment still contradicted after them
#: keeps its close decisions (not certified).
_MAX_ROUNDS = 4


def _windows(points: np.ndarray, suspects: np.ndarray) -> list[tuple[float, float]]:
    """Disjoint sub-intervals (ta, tb) of [0, 1] around the suspect t's, with ends in the middle
    of gaps (between float points, suspects, 0 and 1) longer than ``_WINDOW_GAP``."""
    C = np.unique(np.concatenate([[0.0, 1.0], points, np.clip(suspects, 0.0, 1.0)]))
    gaps = np.diff(C)
    wide = np.nonzero(gaps > _WINDOW_GAP)[0]  # gap i is (C[i], C[i + 1])
    out: list[tuple[float, float]] = []
    for q in np.unique(np.clip(suspects, 0.0, 1.0)):
        i = int(np.searchsorted(C, q))
        lw = wide[wide < i]
        rw = wide[wide >= i]
        ta = 0.0 if lw.size == 0 or (lw[-1] == 0 and q == 0.0) else 0.5 * (C[lw[-1]] + C[lw[-1] + 1])
        tb = 1.0 if rw.size == 0 else 0.5 * (C[rw[0]] + C[rw[0] + 1])
        if q == 0.0:
            ta = 0.0
        if q == 1.0:
            tb = 1.0
        if out and ta <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], tb))
        else:
            out.append((ta, tb))
    return out



def _unreliable_points(net: Network, part: LinePartition) -> np.ndarray:
    """The kept points of a float64 partition that fresh forward passes contradict: the units
    whose state code differs between the midpoints of the two intervals around the point (each
    evaluated from x directly, ``_forward_tangent``) are not the crossings recorded there.

    A segment with close decisions can carry float errors beyond the window around them: after a
    cluster of crossings snapped and merged within ``T_MERGE``, the values the layer loop carries
    past it (interpolated at inserted points) can be off by more than the rounding the tolerances
    allow for, and a crossing that exact arithmetic puts inside the cluster can appear microns
    after it. A fresh evaluation at a midpoint does not carry those errors, so such a point
    shows here and gets its own exact window."""
    M = part.t.size
    if M == 0:
        return np.zeros(0)
    bounds = np.concatenate([[0.0], part.t, [1.0]])
    mids = 0.5 * (bounds[:-1] + bounds[1:])
    V = part.x1 - part.x0
    states, _, _ = _forward_tangent(net, part.x0 + mids[:, None] * V, np.broadcast_to(V, (M + 1, V.size)))
    bad = np.zeros(M, bool)
    counts = np.zeros(M, np.int64)
    for l, s in enumerate(states):
        k, z = np.nonzero(s[:-1] != s[1:])  # point k lies between intervals k and k + 1
        counts += np.bincount(k, minlength=M)
        rec = part.crossing_point[part.layer == l] * (s.shape[1] + 1) + part.unit[part.layer == l]
        bad[k[~np.isin(k * (s.shape[1] + 1) + z, rec)]] = True
    bad |= counts != np.bincount(part.crossing_point, minlength=M)
    return part.t[bad]


def _splice(net: Network, part: LinePartition, ta: float, tb: float, w) -> LinePartition:
    """Replace the float points of ``part`` inside (ta, tb) by the exact window ``w``."""
    a = int(np.searchsorted(part.t, ta, side="right"))  # float points < ta ... interval a holds ta
    b = int(np.searchsorted(part.t, tb, side="left"))  # points a..b-1 are inside
    m = len(w.t)
    inner = np.arange(m)
    pair, layer, unit, bp = _records(w.states, inner)
    used = np.zeros(m, bool)
    used[pair] = True
    keep = np.nonzero(used)[0]
    left, right = keep, keep + 1
    good = _goodness(net, w.states, left, right, pair, layer, unit, keep)
    # intervals of the window that survive: the first, and those after a kept point
    iv_keep = np.concatenate([[0], keep + 1])
    new_index = np.full(m, -1)
    new_index[keep] = np.arange(keep.size)
    o = np.lexsort((unit, layer, pair))
    # exact linear flags between surviving intervals
    sl, il = w.slopes[iv_keep], w.intercepts[iv_keep]
    lin_w = np.array([bool(w.linear[k]) for k in keep], dtype=bool)
    t_w = np.array([float(w.t[k]) for k in keep])
    # old crossings outside the window
    c_old = (part.crossing_point < a) | (part.crossing_point >= b)
    cp_old = part.crossing_point[c_old]
    cp_old = np.where(cp_old >= b, cp_old - (b - a) + keep.size, cp_old)
    cp_new = new_index[pair[o]] + a
    cp = np.concatenate([cp_old, cp_new])
    layer_all = np.concatenate([part.layer[c_old], layer[o]])
    unit_all = np.concatenate([part.unit[c_old], unit[o]])
    o2 = np.lexsort((unit_all, layer_all, cp))
    return dataclasses.replace(
        part,
        t=np.concatenate([part.t[:a], t_w, part.t[b:]]),
        linear=np.concatenate([part.linear[:a], lin_w, part.linear[b:]]),
        crossing_point=cp[o2], layer=layer_all[o2], unit=unit_all[o2],
        breakpoint=np.concatenate([part.breakpoint[c_old], bp[o]])[o2],
        good=np.concatenate([part.good[c_old], good[o]])[o2],
        slopes=np.concatenate([part.slopes[:a], sl, part.slopes[b + 1:]]),
        intercepts=np.concatenate([part.intercepts[:a], il, part.intercepts[b + 1:]]),
    )


def _redecide(net: Network, batch: LineBatch, parts: list[dict], exact: bool) -> LineBatch:
    """Re-decide the close decisions of each segment exactly (``linregions.exact.window``) and
    warn about the ones left standing that erased more than rounding noise."""
    if not parts:
        return batch
    sus_seg = np.concatenate([p["suspect_seg"] + off for p, off in zip(parts, np.cumsum([0] + [p["point_offsets"].size - 1 for p in parts])[:-1])])
    sus_t = np.concatenate([p["suspect_t"] for p in parts])
    erased = np.concatenate([p["erased"] for p in parts])
    if sus_seg.size == 0:
        return batch
    close = batch.close_decisions.copy()
    windows = np.zeros(len(batch), np.int64)
    replaced: dict[int, LinePartition] = {}
    if exact:
        from ..exact import ExactBudgetExceeded, window

        for i in np.unique(sus_seg):
            part0 = batch[int(i)]
            sus = np.concatenate([sus_t[sus_seg == i], _unreliable_points(net, part0)])
            done: dict[tuple[float, float], object] = {}
            try:
                # windows around the suspects; then the float points left outside them are checked
                # against fresh forward passes again (a window's end can fall where exact
                # arithmetic puts a crossing that the float partition has just outside it), and
                # the windows grow until none is contradicted (a few rounds at most)
                for _ in range(_MAX_ROUNDS):
                    wins = _windows(part0.t, sus)
                    part = part0
                    for ta, tb in wins:
                        if (ta, tb) not in done:
                            done[(ta, tb)] = window(net, part.x0, part.x1, ta, tb)
                        part = _splice(net, part, ta, tb, done[(ta, tb)])
                    new = _unreliable_points(net, part)
                    new = new[~np.any([(new > ta) & (new < tb) for ta, tb in wins], axis=0)]
                    if new.size == 0:
                        break
                    sus = np.concatenate([sus, new])
                else:
                    continue  # still contradicted: left uncertified (close decisions kept)
            except ExactBudgetExceeded:
                continue
            replaced[int(i)] = part
            windows[i] = len(wins)
            close[i] = 0
            erased[i] = 0
    if erased.any():
        import warnings

        bad = np.nonzero(erased)[0]
        warnings.warn(
            f"{int(erased.sum())} close tolerance decision(s) (snap to a breakpoint or merge of crossings within "
            f"T_MERGE) erased more than rounding noise on {bad.size} segment(s) (first: {int(bad[0])}) and were not "
            "re-decided exactly; counts there may be off (see close_decisions)", UserWarning, stacklevel=3)
    if not replaced:
        return dataclasses.replace(batch, close_decisions=close, exact_windows=windows)
    return _rebuild(batch, replaced, close, windows)


def _rebuild(batch: LineBatch, replaced: dict[int, LinePartition], close: np.ndarray, windows: np.ndarray) -> LineBatch:
    """The batch with the partitions of some segments replaced."""
    segs = [replaced.get(i) or batch[i] for i in range(len(batch))]
    p_off = np.concatenate([[0], np.cumsum([p.t.size for p in segs])]).astype(np.int64)
    c_off = np.concatenate([[0], np.cumsum([p.layer.size for p in segs])]).astype(np.int64)
    cat = lambda f: np.concatenate([getattr(p, f) for p in segs])  # noqa: E731
    return dataclasses.replace(
        batch, t=cat("t"), linear=cat("linear"), point_offsets=p_off,
        crossing_point=np.concatenate([p.crossing_point + o for p, o in zip(segs, p_off[:-1])]).astype(np.int64),
        layer=cat("layer"), unit=cat("unit"), breakpoint=cat("breakpoint"), good=cat("good"), crossing_offsets=c_off,
        slopes=cat("slopes"), intercepts=cat("intercepts"), close_decisions=close, exact_windows=windows,
    )
