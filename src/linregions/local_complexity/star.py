"""The exact star certificate of the probe diameters (``local_complexity`` columns 2 and 3).

All 2P probes of one sample x share their centre: the diameters [x - r q_i, x + r q_i]. Under x's
activation pattern (slopes q_l, pieces of x) every pre-activation is affine along the probes,

    u_l(x + s r q_i) = u_l(x) + s D_l[:, i] + (deviation),   D_0 = r W_0 Q^T,   D_l = W_l diag(q_{l-1}) D_{l-1},

and the deviation comes only from units that leave x's piece. Write a unit's activation as its
affine extension from x's piece plus ψ(u) = φ(u) - (q u + c) (zero on x's piece, |ψ(u)| at most
max_p |q_p - q| times the distance of u from x's piece). Then, exactly,

    u_z = u_z(x) + s D_z,i + Σ_{z' in earlier layers} B[z, z'] ψ_{z'}(u_{z'}),

with B[z, z'] the derivative of u_z with respect to a_{z'} through x's pattern (one product of each
layer's weights with the columns of the units that may switch). Layer by layer this bounds the
deviation on every diameter (``star_certificate``): a unit whose |D_z,i| + deviation bound stays
below its distance to the nearest breakpoint (less a margin) on every diameter never leaves x's
piece within the star, so it is affine there; the others are the *candidates* (a handful per layer
on MNIST nets at small radii). On the star the network therefore equals a *compact network*
(``compact_network``) whose only switching units are the candidates: its input is the affine
extension of every candidate's pre-activation and of the output, y(s) = (u_K(x) + s D_K,i,
N(x) + s D_out,i); each layer computes its candidates' pre-activations from y and the ψ of earlier
candidates (carried by passthrough units), and the output is y_out + Σ B_out ψ. The exact 1D engine
(``lines``) runs on this network, from y(-1) to y(+1), for every diameter a candidate may cross,
with the same parameter t: the same crossings, and the same slopes of the output, so the same
linear-region boundaries. Diameters no candidate can reach hold no crossing and are not run.

Margins. Every bound is compared with ``MARGIN_RTOL`` (``CLOSE_FACTOR * SNAP_RTOL``) times a bound of
the summands of u (as ``tolerances.snap_scale``) on top: what ``line`` would snap, or count as a
close decision, is never certified, and rounding in D, B or the bounds cannot turn a certificate
into a missed crossing. Samples with a unit within the margin of a breakpoint at x itself
(``fallback``: measure zero for continuous laws; every first-layer unit at x = 0 with zero biases),
and networks with per-unit activation slopes, are left to the plain path (every diameter, whole network).

The published proxy (column 3) follows from the same exact crossings, without a forward pass of
the 2P vertices (``proxy_from_crossings``): a vertex's piece is x's, changed by every crossing of
that unit between x and the vertex in order.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..network import PASSTHROUGH, Network
from ..tolerances import CLOSE_FACTOR, SNAP_RTOL

__all__ = ["CompactStar", "StarCertificate", "star_certificate", "compact_network", "original_units", "tail_network",
           "proxy_from_crossings", "MARGIN_RTOL"]

#: Relative margin of the certificate (times a bound of the summands of u, as in
#: ``tolerances.snap_scale``): ``line`` snaps within ``SNAP_RTOL`` of that scale and calls a
#: decision close within ``CLOSE_FACTOR`` of it, so nothing it could snap or re-decide is certified.
MARGIN_RTOL = CLOSE_FACTOR * SNAP_RTOL

#: Relative inflation of the deviation bounds for the rounding of the products that compute them.
_BOUND_SLACK = 1e-6


@dataclass(frozen=True)
class CompactStar:
    """One sample's star on its compact network (``star_certificate``): ``net`` (the compact
    network), ``diam`` (the diameters a candidate may cross), ``Y0``, ``Y1`` (their ends in the
    compact network's inputs), ``units[l]`` (the original unit of each switching unit of compact
    layer l; they come first in the layer)."""

    net: Network
    diam: np.ndarray
    Y0: np.ndarray
    Y1: np.ndarray
    units: list


@dataclass(frozen=True)
class StarCertificate:
    """What the star pass certifies for a chunk of samples: ``us``, the pre-activations u_l(x) of
    every layer (hidden and output) at the samples; ``fallback`` (m,), the samples left to the
    plain path; ``stars``, sample index -> ``CompactStar`` for the others."""

    us: list
    fallback: np.ndarray
    stars: dict


def star_certificate(net: Network, X: np.ndarray, r: float, Q: np.ndarray, us: list | None = None) -> StarCertificate:
    """The star certificate and compact networks of the diameters [x - r q_i, x + r q_i] of each
    row x of ``X`` (module docstring). ``us``: ``net.pre_activations(X)`` when already computed.
    Call it under ``_kernels_line.one_blas_thread`` (``local_complexity`` does): the products are small."""
    m, d = X.shape[0], net.depth
    us = net.pre_activations(X) if us is None else us
    gaps, dist, a = [], [], X
    for l in range(d):  # per unit: distance of u_l(x) to its nearest breakpoint, and that less the margin
        W, b, xi = net.weights[l], net.biases[l], net.activations[l].breakpoints
        sx = np.abs(a) @ np.abs(W).T + np.abs(b)  # (m, n_l) summands of u_l at x
        off = np.abs(us[l][:, :, None] - xi)
        g = np.min(off - MARGIN_RTOL * (sx[:, :, None] + np.abs(xi)), axis=2)
        g[:, ~net.switching(l)] = np.inf
        gaps.append(g)
        dist.append(np.min(off, axis=2))
        a = net.activate(l, us[l])
    fallback = np.zeros(m, bool)
    for g in gaps:
        fallback |= np.any(g <= 0, axis=1)
    stars = {}
    if any(act.per_unit for act in net.activations):
        fallback[:] = True
    else:
        D0 = r * Q @ net.weights[0].T  # (P, n_0), shared by the samples
        dn0 = r * np.linalg.norm(Q, axis=1)
        for s in np.flatnonzero(~fallback):
            stars[int(s)] = _sample_star(net, [u[s] for u in us], [g[s] for g in gaps], [v[s] for v in dist], D0.T, dn0)
    return StarCertificate(us=us, fallback=fallback, stars=stars)


def _sample_star(net: Network, u: list, gap: list, dist: list, D: np.ndarray, dn: np.ndarray) -> CompactStar:
    """One sample: candidates layer by layer with their deviation bounds, then the compact network
    and the ends of the diameters a candidate may reach (module docstring). ``u``: the sample's
    pre-activations (hidden layers and output); ``gap``, ``dist``: per unit, the distance of u(x)
    to its nearest breakpoint less the margin, and without it; ``D``: D_0 (n_0, P); ``dn``: the
    length of each probe (bounds the change of the inputs)."""
    d, P = net.depth, D.shape[1]
    K, Drows, Bc, q_of, c_of = [], [], [], [], []  # per layer: candidates, their D rows, B rows, q, c
    B = np.zeros((net.widths[0], 0))  # d u_l / d ψ of the earlier candidates, through x's pattern
    E = np.zeros((0, P))  # bound of |ψ| of the earlier candidates on each diameter
    reach_any = np.zeros(P, bool)
    for l in range(d):
        dev = (np.abs(B) @ E) * (1 + _BOUND_SLACK) if E.shape[0] else np.zeros_like(D)
        wn = np.linalg.norm(net.weights[l], axis=1)
        reach = np.abs(D) + dev + MARGIN_RTOL * wn[:, None] * dn[None, :]
        hit = reach >= gap[l][:, None]
        cand = np.flatnonzero(hit.any(axis=1))
        reach_any |= hit.any(axis=0)
        q = net.derivative(l, u[l])
        dq = np.max(np.abs(net.activations[l].slopes[None, :] - q[cand, None]), axis=1, initial=0.0)
        K.append(cand)
        Drows.append(D[cand])
        Bc.append(B[cand])
        q_of.append(q[cand])
        c_of.append(net.activate(l, u[l])[cand] - q[cand] * u[l][cand])
        dn = np.linalg.norm(np.abs(q)[:, None] * (np.abs(D) + dev), axis=0)
        E = np.concatenate([E, dq[:, None] * np.maximum(0.0, reach[cand] - dist[l][cand, None])])
        dn = dn + np.linalg.norm(E, axis=0)
        W = net.weights[l + 1]  # the next layer (the output for l = d - 1); units with q = 0 pass nothing
        nz = np.flatnonzero(q != 0)
        Wn, qn = W[:, nz], q[nz, None]
        B = np.concatenate([Wn @ (qn * B[nz]), W[:, cand]], axis=1)
        D = Wn @ (qn * D[nz])
    diam = np.flatnonzero(reach_any)
    cnet = compact_network(net, K, Bc, B, q_of, c_of)
    base = np.concatenate([u[l][k] for l, k in enumerate(K)] + [u[d]])
    Dd = np.concatenate(Drows + [D])[:, diam].T  # (n_diam, k + n_out)
    return CompactStar(net=cnet, diam=diam, Y0=base - Dd, Y1=base + Dd, units=K)


def compact_network(net: Network, K: list, B: list, B_out: np.ndarray, q: list, c: list) -> Network:
    """The network on the star (module docstring), for candidates ``K[l]`` (units of layer l) with
    x's slopes ``q[l]`` and offsets ``c[l]`` (φ = q u + c on x's piece), ``B[l]`` (k_l, k_{<l}) the
    derivatives of their pre-activations with respect to ψ of the earlier candidates, and ``B_out``
    (n_out, k) the output's. Inputs: y = (the candidates' affine pre-activations, layer by layer,
    then the output's). Compact layer l holds, in order: the candidates of layer l (switching, with
    layer l's activation and unit kinds), passthrough copies of their pre-activations, passthrough
    ψ of the candidates of earlier layers, and passthrough copies of y for later layers and the
    output. The output is y_out + B_out ψ."""
    k = [len(v) for v in K]
    off = np.concatenate([[0], np.cumsum(k)]).astype(int)  # y[off[l]:off[l+1]]: candidates of layer l
    n_y = int(off[-1]) + net.n_out
    Ws, bs, kinds = [], [], []
    # previous layer's outputs -> (ψ of all earlier candidates, y still to come): M_psi, beta_psi, M_y
    M_psi, beta_psi, M_y = np.zeros((0, n_y)), np.zeros(0), np.eye(n_y)
    for l in range(net.depth):
        kl = k[l]
        pre = M_y[:kl] + B[l] @ M_psi  # y of this layer's candidates, plus B ψ
        pre_b = B[l] @ beta_psi
        carry_y = M_y[kl:]
        W = np.concatenate([pre, pre, M_psi, carry_y])
        b = np.concatenate([pre_b, pre_b, beta_psi, np.zeros(carry_y.shape[0])])
        Ws.append(W)
        bs.append(b)
        kinds.append(np.concatenate([net.kinds(l)[K[l]], np.full(W.shape[0] - kl, PASSTHROUGH, np.int8)]))
        # in this layer's outputs: S (kl), C (kl), Psi (off[l]), Y (rest)
        n = W.shape[0]
        S, C = np.eye(n)[:kl], np.eye(n)[kl:2 * kl]
        Psi = np.eye(n)[2 * kl:2 * kl + off[l]]
        M_psi = np.concatenate([Psi, S - q[l][:, None] * C])
        beta_psi = np.concatenate([np.zeros(off[l]), -c[l]])
        M_y = np.eye(n)[2 * kl + off[l]:]
    Ws.append(M_y + B_out @ M_psi)  # the output: y_out + B_out ψ
    bs.append(B_out @ beta_psi)
    return Network(tuple(Ws), tuple(bs), tuple(net.activations), tuple(kinds))


def original_units(units: list, layer: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """The network's unit index of crossings (``layer``, ``unit``) of a compact network whose layer
    l starts with the switching units ``units[l]`` (``CompactStar.units``)."""
    start = np.concatenate([[0], np.cumsum([len(v) for v in units])]).astype(np.int64)
    return np.concatenate(units).astype(np.int64)[start[layer] + unit]


_TAILS: "weakref.WeakKeyDictionary[Network, dict]" = weakref.WeakKeyDictionary()


def tail_network(net: Network, layer: int) -> Network:
    """The network from hidden layer ``layer`` on, with the affine map into that layer moved into
    the inputs: input y = u_layer(x) ∈ R^{n_layer}, first hidden layer the identity with layer
    ``layer``'s activation (and unit kinds), then layers ``layer + 1 ..`` unchanged. Where the
    layers before ``layer`` are affine on a segment, the segment [y(x), y(x')] has the same
    crossings at the same t (layer indices shifted by ``layer``). Cached per network."""
    cache = _TAILS.setdefault(net, {})
    if layer not in cache:
        n = net.widths[layer]
        kinds = None if net.unit_kinds is None else net.unit_kinds[layer:]
        cache[layer] = Network((np.eye(n), *net.weights[layer + 1:]), (np.zeros(n), *net.biases[layer + 1:]),
                               net.activations[layer:], kinds)
    return cache[layer]


def proxy_from_crossings(pieces: np.ndarray, P: int, seg: np.ndarray, t: np.ndarray, col: np.ndarray,
                         bp: np.ndarray) -> np.ndarray:
    """(m, N) bool: the published proxy (a unit's piece is not constant over the 2P vertices
    x ± r q_i) from x's pieces ``pieces`` (m, N) and the exact crossings of the diameters
    (flat diameter index ``seg`` = s * P + i, parameter ``t`` with x at 1/2, unit column ``col``,
    breakpoint ``bp``). A vertex's piece is x's, changed at each crossing of the unit between x and
    the vertex, in order from x: crossing breakpoint b leaves piece b for b + 1 or b + 1 for b."""
    m, N = pieces.shape
    out = np.zeros((m, N), bool)
    if seg.size == 0:
        return out
    sample = seg // P
    vertex = (seg % P) + P * (t > 0.5)  # 0..2P-1 within the sample
    order = np.lexsort((np.abs(t - 0.5), col, vertex, sample))
    sample, vertex, c, b = sample[order], vertex[order], col[order], bp[order]
    key = (sample * (2 * P) + vertex) * N + c
    start = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(start) - 1
    first_row = np.flatnonzero(start)
    cur = pieces[sample[first_row], c[first_row]].astype(np.int64)
    rank = np.arange(key.size) - first_row[group]
    for k in range(int(rank.max()) + 1):  # apply the k-th crossing of every (vertex, unit) at once
        rows = np.flatnonzero(rank == k)
        g = group[rows]
        cur[g] = np.where(cur[g] > b[rows], b[rows], b[rows] + 1)
    gs, gc = sample[first_row], c[first_row]
    moved = cur != pieces[gs, gc]
    n_moved = np.zeros((m, N), np.int64)
    np.add.at(n_moved, (gs[moved], gc[moved]), 1)
    out |= (n_moved > 0) & (n_moved < 2 * P)
    full = np.argwhere(n_moved == 2 * P)  # every vertex left x's piece: varies if they did not all agree
    if full.size:
        lo = np.full((m, N), np.iinfo(np.int64).max)
        hi = np.full((m, N), np.iinfo(np.int64).min)
        np.minimum.at(lo, (gs[moved], gc[moved]), cur[moved])
        np.maximum.at(hi, (gs[moved], gc[moved]), cur[moved])
        out[full[:, 0], full[:, 1]] = lo[full[:, 0], full[:, 1]] != hi[full[:, 0], full[:, 1]]
    return out
