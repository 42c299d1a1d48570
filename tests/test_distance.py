"""Tests of linregions.distance against independent brute force (dense ray search).

Oracle: for many directions v (a dense fan, then zoomed around the best ones), march along the ray
x + t v with a fine step to the first change of the activation pattern (kind="activation") or of
the output's Jacobian (kind="linear"), and bisect it to full precision; the minimum over
directions is the distance. It uses only Network.activation_pattern and Network.jacobian.
"""
from __future__ import annotations

import numpy as np
import pytest

from linregions import Network, hard_tanh, leaky_relu, random_mlp, relu
from linregions.distance import Distances, distance_to_boundary
from linregions.laws import Normal, Zero
from linregions.network import PASSTHROUGH

RTOL = 1e-6


def _same(net, kind, ref, P):
    """Bool per row of P: same activation pattern (or same output Jacobian) as the reference."""
    if kind == "activation":
        pats = net.activation_pattern(P)
        return np.all(np.concatenate([p == r[None] for p, r in zip(pats, ref)], axis=1), axis=1)
    J = net.jacobian(P).reshape(len(P), -1)
    return np.linalg.norm(J - ref[None], axis=1) <= 1e-9 * (np.linalg.norm(ref) + np.linalg.norm(J, axis=1))


def _first_exit(net, x, V, kind, t_max, steps=400):
    """First t in (0, t_max] along each ray x + t V[j] where the region changes (inf if none)."""
    if kind == "activation":
        ref = [p[0] for p in net.activation_pattern(x[None])]
    else:
        ref = net.jacobian(x[None]).reshape(-1)
    ts = np.linspace(0.0, t_max, steps + 1)[1:]
    P = x[None, None] + ts[None, :, None] * V[:, None, :]
    same = _same(net, kind, ref, P.reshape(-1, x.size)).reshape(len(V), steps)
    out = np.full(len(V), np.inf)
    hit = ~same.all(axis=1)
    k = np.argmax(~same, axis=1)
    lo = np.where(k > 0, ts[np.maximum(k - 1, 0)], 0.0)[hit]
    hi = ts[k][hit]
    Vh = V[hit]
    for _ in range(52):
        mid = 0.5 * (lo + hi)
        s = _same(net, kind, ref, x[None] + mid[:, None] * Vh)
        lo, hi = np.where(s, mid, lo), np.where(s, hi, mid)
    out[hit] = hi
    return out


def _unit(V):
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def brute_distance(net, x, kind, t_max=1.0):
    """Min over a dense fan of directions, then zoomed around the best few, of the first exit."""
    n = x.size
    if n == 2:
        th = np.linspace(0, 2 * np.pi, 360, endpoint=False)
        V = np.stack([np.cos(th), np.sin(th)], 1)
        width, pts, shrink, levels, top = 0.02, 21, 5.0, 8, 3
    else:
        m = 600
        i = np.arange(m) + 0.5
        phi, z = np.pi * (1 + 5**0.5) * i, 1 - 2 * i / m
        r = np.sqrt(1 - z * z)
        V = np.stack([r * np.cos(phi), r * np.sin(phi), z], 1)
        width, pts, shrink, levels, top = 0.15, 7, 3.0, 13, 2
    t = _first_exit(net, x, V, kind, t_max, steps=150)
    best = float(t.min())
    if not np.isfinite(best):
        return best
    for j in np.argsort(t)[:top]:
        v, w = V[j], width
        for _ in range(levels):
            basis = np.linalg.svd(v[None])[2][1:]  # orthonormal complement of v
            g = np.linspace(-w, w, pts)
            grid = np.stack(np.meshgrid(*[g] * (n - 1), indexing="ij"), -1).reshape(-1, n - 1)
            W = _unit(v[None] + grid @ basis)
            tw = _first_exit(net, x, W, kind, 1.5 * best, steps=80)
            v, best = W[np.argmin(tw)], min(best, float(tw.min()))
            w /= shrink
    return best


def _inputs(n, k, seed, scale=1.0):
    return np.random.default_rng(seed).normal(size=(k, n)) * scale
