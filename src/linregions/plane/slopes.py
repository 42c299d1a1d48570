"""The output's affine map on every face, and where its gradient jumps (linear-region boundaries).

On a face the activation pattern is fixed, so N(origin + basis @ s) = offset + grad @ s there. The
gradient is the product W_d D_{d-1} W_{d-1} ... D_0 W_0 of the restricted network with the slopes
D_l of the face's pieces (read from its state codes, not re-decided at a point); the offset comes
from the value of N at an interior point. The magnitude of the summands of the last product,
|W_d| |D_{d-1} W_{d-1} ... W_0|, scales the rounding floor of the gradient
(``tolerances.slope_noise``), and ``tolerances.slope_jump`` decides the jump across
every interior edge with that floor (a gradient exactly 0 on one side and rounding noise on the
other is no jump).

For a module on the plane (``engine.plane.ModuleSlice``) the same functions take the affine maps
from the module's ops (value and two tangents at an interior point, the pattern fixed) and the
floor from the gradients' own magnitudes, as the engine's ``line`` does.
"""
from __future__ import annotations

import numpy as np

from ..network import PASSTHROUGH, Network
from ..tolerances import CLOSE_FACTOR, SLOPE_RTOL, slope_jump, slope_noise, vector_norm
from .values import is_dense

#: Faces per block.
_BLOCK = 1 << 14


def _piece_intercepts(rnet: Network, l: int, pieces: np.ndarray) -> np.ndarray:
    """c with phi_l(u) = q u + c on the given pieces (k, n_l) (passthrough units: 0)."""
    act = rnet.activations[l]
    xi, q, phis = act.breakpoints, act.slopes, act.values_at_breakpoints
    if act.per_unit:
        a = np.clip(pieces - 1, 0, act.T - 1)  # the breakpoint the piece's formula is anchored at
        rows = np.arange(q.shape[0])
        c = phis[rows, a] - q[rows, pieces] * xi[a]
    else:  # one gather from the (T + 1,) table of the pieces' intercepts
        a = np.clip(np.arange(act.T + 1) - 1, 0, act.T - 1)
        c = (phis[a] - q * xi[a])[pieces]
    if rnet.unit_kinds is not None:
        c = np.where(rnet.kinds(l) == PASSTHROUGH, 0.0, c)
    return c


def _face_affine_backward(rnet: Network, states, roots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per face f: ``grad`` (F, n_out, 2) and ``offset`` (F, n_out) (see ``face_affine``).

    Backward, from the output: with r_l = dN/da_l (r_{d-1} = W_d) and a_l = q_l u_l + c_l on the
    face's pieces, N = b_d + sum_l r_l . (q_l b_l + c_l) + r_{-1} . s, and r_{l-1} = (r_l q_l) W_l.
    One flat matmul per layer over n_out rows per face; no forward pass."""
    F = roots.shape[0]
    n_out, d = rnet.n_out, rnet.depth
    grad = np.empty((F, n_out, 2))
    off = np.empty((F, n_out))
    Wd = rnet.weights[-1]
    for s0 in range(0, F, _BLOCK):
        f = np.arange(s0, min(F, s0 + _BLOCK))
        k = f.size
        g = np.broadcast_to(Wd, (k,) + Wd.shape).reshape(k * n_out, -1)  # rows: face-major, then output
        o = np.broadcast_to(rnet.biases[-1], (k, n_out)).reshape(-1).copy()
        for l in range(d - 1, -1, -1):
            p = states[l][roots[f, l]] // 2  # on a breakpoint: the left piece
            q = rnet.slope(l, p)
            c = _piece_intercepts(rnet, l, p)
            if n_out > 1:
                q, c = np.repeat(q, n_out, axis=0), np.repeat(c, n_out, axis=0)
            gq = g * q
            o += np.einsum("rn,rn->r", g, c) + gq @ rnet.biases[l]
            g = gq @ rnet.weights[l]
        grad[f] = g.reshape(k, n_out, 2)
        off[f] = o.reshape(k, n_out)
    return grad, off


def face_affine(rnet: Network, states, roots: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per face f: ``grad`` (F, n_out, 2) and ``offset`` (F, n_out) with N = offset + grad @ s on
    the face. ``X`` (F, 2) are interior points; the pattern of face f in layer l is
    ``states[l][roots[f, l]]``. The product W_d D_{d-1} ... D_0 W_0 is taken from the cheaper
    side: from the output (``_face_affine_backward``, n_out rows per face, no forward pass) when
    n_out <= 2, else from the two plane directions (forward tangents, faces x directions rows)."""
    if not is_dense(rnet):  # a module on the plane: value and two tangents with the module's ops
        return rnet.face_affine(states, roots, X)
    if rnet.n_out <= 2:
        return _face_affine_backward(rnet, states, roots)
    F = X.shape[0]
    n_out, d = rnet.n_out, rnet.depth
    grad = np.empty((F, n_out, 2))
    off = np.empty((F, n_out))
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
        off[s0 : s0 + k] = N - np.einsum("fij,fj->fi", g, x)
    return grad, off


def face_abs_grad(rnet: Network, states, roots: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(len(faces), n_out, 2): the magnitude of the summands of the gradient's last product,
    ``|W_d| |D_{d-1} W_{d-1} ... D_0 W_0|`` on each given face (the scale of ``slope_noise``)."""
    absWd = np.abs(rnet.weights[-1])
    out = np.empty((faces.size, rnet.n_out, 2))
    for s0 in range(0, faces.size, _BLOCK):
        f = faces[s0 : s0 + _BLOCK]
        k = f.size
        t = np.repeat(np.eye(2), k, axis=0)
        for l in range(rnet.depth):
            t = (t @ rnet.weights[l].T) * np.tile(rnet.slope(l, states[l][roots[f, l]] // 2), (2, 1))
        at = np.abs(t)
        out[s0 : s0 + k] = np.stack([at[:k] @ absWd.T, at[k:] @ absWd.T], axis=2)
    return out


def edge_jumps(rnet: Network, grad: np.ndarray, states, roots: np.ndarray, edge_faces: np.ndarray,
               interior: np.ndarray):
    """(E,) jump of the output's gradient across every interior edge (``tolerances.slope_jump``
    with the rounding floor ``slope_noise``) and the number of close decisions among them. The
    floor needs the faces' ``face_abs_grad``; it is computed only where an a-priori bound of the
    floor (``line``'s ``_noise_constants``) cannot settle the jump."""
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
    diff = vector_norm(gr - gl)
    rel = SLOPE_RTOL * (vector_norm(gl) + vector_norm(gr))
    dense = is_dense(rnet)
    if dense:
        from ..line.core import _noise_constants

        factor, n_terms = _noise_constants(rnet)
        bound = slope_noise(np.ones((1, 1)), n_terms)[0] * 2.0 * factor * np.sqrt(2.0)
    else:  # the floor is read from the gradients themselves (``ModuleSlice.slope_floor``)
        bound = 0.0
    jump, close = np.ones(e.size, bool), np.zeros(e.size, bool)
    cand = np.nonzero(~(diff > np.maximum(CLOSE_FACTOR * rel, bound)))[0]
    if cand.size:
        if dense:
            faces, inv = np.unique(np.concatenate([fl[cand], fr[cand]]), return_inverse=True)
            ag = face_abs_grad(rnet, states, roots, faces)[inv].reshape(2, cand.size, k)
            noise = slope_noise(ag[0] + ag[1], n_terms)
        else:
            noise = rnet.slope_floor(gl[cand], gr[cand])
        jump[cand], close[cand] = slope_jump(gl[cand], gr[cand], noise)
    out[e] = jump
    return out, int(close.sum())
