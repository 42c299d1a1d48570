"""Goodness of the neurons along the edges of a planar complex (Def. 3 / Prop. 9: a neuron is
good where a path of open neurons with non-zero weights leads from it to an output)."""
from __future__ import annotations

import numpy as np

from ..line import _reachability
from ..network import Network
from .values import is_dense

#: Edges per block in the general (sparse weights) pass.
_BLOCK = 1 << 15


def _open_table(rnet: Network, l: int) -> np.ndarray:
    """(n_l, 2T + 1) open flag of every unit and state code: a non-zero slope, or on a breakpoint
    (the same rule as ``line._open``); passthrough units are always open."""
    act = rnet.activations[l]
    T = act.T
    n = rnet.widths[l]
    tab = np.ones((n, 2 * T + 1), bool)
    q = act.slopes
    tab[:, 0::2] = (q != 0) if act.per_unit else np.broadcast_to(q != 0, (n, T + 1))
    if rnet.has_special_units:
        tab[~rnet.switching(l)] = True
    return tab


def _open_codes(rnet: Network, l: int, codes: np.ndarray) -> np.ndarray:
    """Open flags of state codes (F, n_l) of layer l, by lookup in ``_open_table``."""
    return _open_table(rnet, l)[np.arange(codes.shape[1]), codes]


def edge_goodness(rnet: Network, states, roots: np.ndarray, edge_faces: np.ndarray, e_layer: np.ndarray, e_unit: np.ndarray,
                  sure: np.ndarray | None = None) -> np.ndarray:
    """Good flag of every neuron edge: a path of open neurons (non-zero weights) from the edge's
    neuron to an output, with open = open on either adjacent face (``line._reachability``).
    With all weights after the first layer non-zero this is "every later layer has an open
    neuron", evaluated per face and layer without forming per-edge patterns.

    ``sure`` (E,) marks edges known to be good (the output's gradient jumps across them: a neuron
    without an open path to an output cannot change it); only the others are searched. A module
    (``engine.plane.ModuleSlice``) searches with a backward pass of its ops (``reachability``)."""
    E = e_layer.size
    good = np.zeros(E, bool)
    ei = np.nonzero(e_layer >= 0)[0]
    if sure is not None:
        good[ei[sure[ei]]] = True
        ei = ei[~sure[ei]]
    dense = is_dense(rnet)
    d = rnet.depth
    fl, fr = edge_faces[ei, 0], edge_faces[ei, 1]
    fr = np.where(fr < 0, fl, fr)
    fl = np.where(fl < 0, fr, fl)
    if dense and all(np.all(W != 0) for W in rnet.weights[1:]):
        from .kernels import any_open

        opened = np.ones((roots.shape[0], d + 1), bool)
        for l in range(d):
            per_root = any_open(states[l], _open_table(rnet, l))
            opened[:, l] = per_root[roots[:, l]]
        both = opened[fl] | opened[fr]
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
        R = _reachability(rnet, opens) if dense else rnet.reachability(opens)
        for l in range(rnet.depth):
            m = np.nonzero(e_layer[e] == l)[0]
            good[e[m]] = R[l][m, e_unit[e[m]]]
    return good


