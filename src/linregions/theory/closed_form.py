"""Theorem 6 with k = 1 in closed form on a segment and on the whole real line
(``segment_expected_count``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..line import lines, real_line
from ..network import Network, _as_matrix

from .network_law import Kind, _laws_for


# ------------------------------------------------------------------------------------------------
# closed form on segments


def segment_expected_count(net: Network, x0: Any, x1: Any | None = None, *, bias_law: Any,
                           kind: Kind = "linear") -> float:
    """Theorem 6 with k = 1 in closed form on the segment [x0, x1]: Σ_z E_{β_z}[#points of z's
    boundary on the segment | all other parameters], the expected count of boundary points.

    On each interval where z̃ is affine, ∫ |dz̃/dt| ρ_β(ξ - z̃(t)) dt = |F_β(ξ - z̃(t1)) - F_β(ξ - z̃(t0))|
    (F_β the bias CDF). For ``kind="linear"`` the intervals are those of the network with z frozen
    at φ(ξ) (the substituted network), and only those where z is good there count. With
    ``x1=None`` and a 1-input network, the segment is the whole real line (outer intervals to ±∞).

    >>> from linregions import Normal, Network, relu
    >>> net = Network((np.array([[1.0]]), np.array([[1.0]])), (np.zeros(1), np.zeros(1)), (relu(),))
    >>> round(segment_expected_count(net, [-1.0], [1.0], bias_law=Normal(1.0)), 6)  # P(|β| < 1)
    0.682689
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a Network, got {type(net).__name__}")
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")
    laws = _laws_for(None, bias_law, net.depth)
    whole = x1 is None
    if whole and net.n_in != 1:
        raise ValueError("x1=None (the whole real line) needs a 1-input network")
    x0 = np.atleast_1d(_as_matrix(x0, "x0")).reshape(-1) if not whole else None
    x1 = np.atleast_1d(_as_matrix(x1, "x1")).reshape(-1) if not whole else None
    if kind == "activation":
        return _segment_expected_activation(net, x0, x1, laws)
    total = 0.0
    ids = net.neuron_ids
    for l, z in ids:
        Ws = list(net.weights)
        bs = list(net.biases)
        for i, xi in enumerate(net.activations[l].breakpoints):
            # substituted (frozen) network: u_z ≡ ξ, so z's output is φ(ξ) everywhere
            W = Ws[l].copy()
            W[z] = 0.0
            b = bs[l].copy()
            b[z] = xi
            frozen = Network(tuple(Ws[:l]) + (W,) + tuple(Ws[l + 1 :]), tuple(bs[:l]) + (b,) + tuple(bs[l + 1 :]),
                             net.activations, net.unit_kinds)
            if whole:
                part = real_line(frozen)
                a0, a1 = part.x0, part.x1
            else:
                part = lines(frozen, x0[None], x1[None])[0]
                a0, a1 = x0, x1
            t = np.concatenate([[0.0], part.t, [1.0]])
            P = a0 + t[:, None] * (a1 - a0)
            zt = net.pre_activations(P)[l][:, z] - net.biases[l][z]
            F = np.asarray(laws[l].cdf(xi - zt), dtype=np.float64)
            if whole:  # outer intervals extend to ±∞ (z̃ is affine beyond the last point)
                ends = a0 + np.array([[0.5 * t[1]], [0.5 * (t[-2] + 1.0)]]) * (a1 - a0)
                slope_lo, slope_hi = _tangent(net, ends, np.broadcast_to(a1 - a0, ends.shape), l)[:, z]
                F = F.copy()
                if slope_lo != 0:  # t → -∞: ξ - z̃ → +∞ if z̃ increases
                    F[0] = 1.0 if slope_lo > 0 else 0.0
                if slope_hi != 0:  # t → +∞: ξ - z̃ → -∞ if z̃ increases
                    F[-1] = 0.0 if slope_hi > 0 else 1.0
            dF = np.abs(np.diff(F))
            if kind == "linear":
                mid = a0 + (0.5 * (t[:-1] + t[1:]))[:, None] * (a1 - a0)
                dF = dF * _good_numpy(frozen, mid, l, z)
            total += float(dF.sum())
    return total


def _segment_expected_activation(net: Network, x0: np.ndarray | None, x1: np.ndarray | None, laws: list) -> float:
    """``segment_expected_count`` for activation boundaries from ONE partition of the network.

    z̃ (the bias-free part of u_z) depends only on neurons upstream of z, so it is affine on every
    interval of the network's own partition (finer than the substituted network's, but z̃ keeps
    one direction on the sub-intervals of an affine piece, so the |ΔF| add up to the same value).
    """
    whole = x1 is None
    if whole:
        part = real_line(net)
        a0, a1 = part.x0, part.x1
    else:
        part = lines(net, x0[None], x1[None])[0]
        a0, a1 = x0, x1
    t = np.concatenate([[0.0], part.t, [1.0]])
    us = net.pre_activations(a0 + t[:, None] * (a1 - a0))
    if whole:
        ends = a0 + np.array([[0.5 * t[1]], [0.5 * (t[-2] + 1.0)]]) * (a1 - a0)
        V = np.broadcast_to(a1 - a0, ends.shape)
    total = 0.0
    for l in range(net.depth):
        sw = net.switching(l)
        zt = us[l][:, sw] - net.biases[l][sw]
        if whole:
            slope_lo, slope_hi = _tangent(net, ends, V, l)[:, sw]
        for xi in net.activations[l].breakpoints:
            F = np.asarray(laws[l].cdf(xi - zt), dtype=np.float64).copy()
            if whole:  # outer intervals extend to ±∞ (z̃ is affine beyond the last point)
                F[0] = np.where(slope_lo > 0, 1.0, np.where(slope_lo < 0, 0.0, F[0]))
                F[-1] = np.where(slope_hi > 0, 0.0, np.where(slope_hi < 0, 1.0, F[-1]))
            total += float(np.abs(np.diff(F, axis=0)).sum())
    return total


def _good_numpy(net: Network, X: np.ndarray, l: int, z: int) -> np.ndarray:
    """Whether neuron (l, z) is good at each input (structural; a neuron at a breakpoint is open)."""
    us = net.pre_activations(X)
    R = np.any(net.weights[-1] != 0, axis=0)[None, :]
    for j in range(net.depth - 1, l, -1):
        u = us[j]
        on = (net.derivative(j, u) != 0) | np.isin(u, net.activations[j].breakpoints)
        R = ((on & R).astype(np.float64) @ (net.weights[j] != 0).astype(np.float64)) > 0
    return np.broadcast_to(R, (X.shape[0], net.widths[l]))[:, z]


def _tangent(net: Network, X: np.ndarray, V: np.ndarray, l: int) -> np.ndarray:
    """d u_l / dt along direction V at inputs X (pieces from the pattern at X; exact zeros where
    the path of the derivative passes through flat pieces)."""
    a, da = X, V
    for j in range(l + 1):
        u = a @ net.weights[j].T + net.biases[j]
        du = da @ net.weights[j].T
        if j == l:
            return du
        a, da = net.activate(j, u), net.derivative(j, u) * du
    raise AssertionError


