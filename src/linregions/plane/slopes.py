"""The output's affine map on every face, and where its gradient jumps (linear-region boundaries).

On a face the activation pattern is fixed, so N(origin + basis @ s) = offset + grad @ s there. The
gradient is the product W_d D_{d-1} W_{d-1} ... D_0 W_0 of the restricted network with the slopes
D_l of the face's pieces (read from its state codes, not re-decided at a point); the offset comes
from the value of N at an interior point. The magnitude of the summands of the last product,
|W_d| |D_{d-1} W_{d-1} ... W_0|, scales the rounding floor of the gradient
(``tolerances.slope_noise``), and ``tolerances.slope_jump`` decides the jump across
every interior edge with that floor (a gradient exactly 0 on one side and rounding noise on the
other is no jump).
"""
from __future__ import annotations

import numpy as np

from ..network import Network
from ..tolerances import slope_jump, slope_noise

#: Faces per block.
_BLOCK = 1 << 14


def face_affine(rnet: Network, states, roots: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per face f: ``grad`` (F, n_out, 2), ``offset`` (F, n_out), and ``abs_grad`` (F, n_out, 2),
    the magnitude of the summands of the last product ``|W_d| |D_{d-1} ... W_0|`` (the scale of
    ``slope_noise``). ``X`` (F, 2) are interior points; the pattern of face f in layer l is
    ``states[l][roots[f, l]]``. Forward tangents along the two plane directions, as flat matmuls
    (faces x directions rows)."""
    F = X.shape[0]
    n_out, d = rnet.n_out, rnet.depth
    grad = np.empty((F, n_out, 2))
    agrad = np.empty((F, n_out, 2))
    off = np.empty((F, n_out))
    absW = [np.abs(W) for W in rnet.weights]
    for s0 in range(0, F, _BLOCK):
        x = X[s0 : s0 + _BLOCK]
        k = x.shape[0]
        f = np.arange(s0, s0 + k)
        a = x
        t = np.repeat(np.eye(2), k, axis=0)  # rows: direction-major, then face
        for l in range(d):
            W, b = rnet.weights[l], rnet.biases[l]
            u = a @ W.T + b
            q = np.tile(rnet.slope(l, states[l][roots[f, l]] // 2), (2, 1))  # on a breakpoint: the left piece
            t = (t @ W.T) * q
            a = rnet.activate(l, u)
        W, b = rnet.weights[-1], rnet.biases[-1]
        N = a @ W.T + b
        g = np.stack([t[:k] @ W.T, t[k:] @ W.T], axis=2)  # (k, n_out, 2)
        grad[s0 : s0 + k] = g
        at = np.abs(t)  # the summands of the last product bound its rounding (``slope_noise``)
        agrad[s0 : s0 + k] = np.stack([at[:k] @ absW[-1].T, at[k:] @ absW[-1].T], axis=2)
        off[s0 : s0 + k] = N - np.einsum("fij,fj->fi", g, x)
    return grad, off, agrad


def edge_jumps(rnet: Network, grad: np.ndarray, agrad: np.ndarray, edge_faces: np.ndarray, interior: np.ndarray):
    """(E,) jump of the output's gradient across every interior edge (``tolerances.slope_jump``
    with the rounding floor ``slope_noise`` of both sides' absolute gradients) and the number of
    close decisions among them."""
    E = edge_faces.shape[0]
    out = np.zeros(E, bool)
    e = np.nonzero(interior)[0]
    if e.size == 0 or grad.shape[0] == 0:
        return out, 0
    fl, fr = edge_faces[e, 0], edge_faces[e, 1]
    ok = (fl >= 0) & (fr >= 0)  # a broken complex (warned about) has interior edges with one face
    e, fl, fr = e[ok], fl[ok], fr[ok]
    k = grad[0].size
    gl, gr = grad[fl].reshape(-1, k), grad[fr].reshape(-1, k)
    noise = slope_noise((agrad[fl] + agrad[fr]).reshape(-1, k), rnet.n_in + sum(rnet.widths))
    jump, close = slope_jump(gl, gr, noise)
    out[e] = jump
    return out, int(close.sum())
