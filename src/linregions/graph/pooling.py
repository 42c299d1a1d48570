"""Pooling windows and the pairwise-maximum tournament that turns a max-pool into ARGMAX units
(shared by the dense compiler and the torch-native engine)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .ops import _tuple


# ----------------------------------------------------------------------------------------------
# maxima as tournaments (shared with the torch-native engine, ``linregions.engine``)


def pool_positions(out_shape: Sequence[int], nd: int, kernel, stride, padding, dilation) -> list[np.ndarray]:
    """Per spatial dim i, (out_i, k_i) input positions of the windows of a max pooling
    (negative or too large: padding)."""
    k, s = _tuple(kernel, nd, "kernel_size"), _tuple(stride if stride not in (None, ()) else kernel, nd, "stride")
    p, d = _tuple(padding, nd, "padding"), _tuple(dilation, nd, "dilation")
    osp = tuple(out_shape)[-nd:]
    return [np.arange(osp[i])[:, None] * s[i] - p[i] + np.arange(k[i])[None, :] * d[i] for i in range(nd)]


def adaptive_positions(shape: Sequence[int], out_shape: Sequence[int], nd: int) -> list[np.ndarray]:
    """``pool_positions`` of an adaptive max pooling (windows of unequal sizes padded with -1e9)."""
    pos = []
    for i in range(nd):
        n_i, o_i = shape[-nd + i], out_shape[-nd + i]
        st = (np.arange(o_i) * n_i) // o_i
        en = -((-(np.arange(o_i) + 1) * n_i) // o_i)
        kk = int((en - st).max())
        P = st[:, None] + np.arange(kk)[None, :]
        pos.append(np.where(P < en[:, None], P, -(10**9)))
    return pos


def window_indices(shape: Sequence[int], out_shape: Sequence[int], nd: int, pos: list[np.ndarray]) -> np.ndarray:
    """(n_out, k) indices into the flattened input (``shape``, batch dim included) of the
    candidates of each output of a max pooling, -1 for padding. Raises ``ValueError`` when a
    window lies entirely in the padding."""
    shape, out_shape = tuple(shape), tuple(out_shape)
    sp, osp = shape[-nd:], out_shape[-nd:]
    lead = int(np.prod(shape[:-nd]))
    idx = np.zeros((1,) * (2 * nd), np.int64)
    ok = np.ones((1,) * (2 * nd), bool)
    strides = np.cumprod((1,) + tuple(sp[::-1]))[:-1][::-1]
    for i in range(nd):
        P = pos[i]
        sh = [1] * (2 * nd)
        sh[i], sh[nd + i] = P.shape
        Pi = P.reshape(sh)
        idx = idx + Pi * strides[i]
        ok = ok & (Pi >= 0) & (Pi < sp[i])
    idx = np.where(ok, idx, -1).reshape(int(np.prod(osp)), -1)
    win = np.where(idx[None] >= 0, idx[None] + (np.arange(lead) * int(np.prod(sp)))[:, None, None], -1)
    win = win.reshape(lead * int(np.prod(osp)), -1)
    if np.any(~(win >= 0).any(axis=1)):
        raise ValueError("a pooling window lies entirely in the padding")
    return win


def tournament_rounds(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The tournament ``max(a, b) = b + relu(a - b)`` that computes the maxima over ``windows``
    ((n_out, k) candidate indices, -1 = none): valid candidates are moved first (stable), then
    each round compares columns 0::2 (``a``) with 1::2 (``b``).

    Returns the sorted windows, their validity, and per round the (rows, pair columns) of the
    comparisons made, in the order of the round's ARGMAX units (``np.nonzero`` order).
    """
    valid = windows >= 0
    order = np.argsort(~valid, axis=1, kind="stable")
    windows = np.take_along_axis(windows, order, 1)
    valid = np.take_along_axis(valid, order, 1)
    rounds = []
    v = valid
    while v.shape[1] > 1:
        r, j = np.nonzero(v[:, 1::2])
        rounds.append((r, j))
        v = v[:, 0::2]
    return windows, valid, rounds


