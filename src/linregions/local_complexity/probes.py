"""The probe star of local complexity: probe directions, the published proxy, and which probe
diameters can hold a crossing at all (``local_complexity`` columns 2 and 3).

One float64 forward pass of the 2P vertices x ± r q_i of the cross-polytope around each sample
(and of x itself) gives both

- the published proxy (Humayun, Balestriero & Baraniuk, ICML 2024): the neurons whose piece is not
  constant over the vertices;
- a certificate of *empty* probe diameters: where the activation pattern (every switching unit,
  every layer) is the same at x - r q_i, x and x + r q_i, the diameter [x - r q_i, x + r q_i]
  has no crossing. Induction over layers: if no unit of layers < l switches on the half-probe
  [x, x + r q_i], layer l's pre-activations are affine on it, and an affine function with the
  same piece at both ends crosses no breakpoint (the snapping tolerance of ``line`` only removes
  crossings). So the exact 1D engine runs only on the other diameters, and the counts are those
  of ``line`` on every probe (``tests/test_local_complexity.py`` checks it probe by probe).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..network import Network, _as_matrix

__all__ = ["probe_directions", "published_proxy"]


def probe_directions(n_in: int, n_probes: int | None = None, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """(P, n_in) orthonormal rows of a Haar-random orthogonal matrix (the first P rows; P = n_in
    by default): the probe directions of the published local-complexity proxy.

    >>> Q = probe_directions(4, seed=1)
    >>> bool(np.allclose(Q @ Q.T, np.eye(4)))
    True
    """
    n_in = int(n_in)
    P = n_in if n_probes is None else int(n_probes)
    if not 1 <= P <= n_in:
        raise ValueError(f"n_probes must be an integer in 1..{n_in} (the input dimension), got {n_probes!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    G = rng.normal(size=(n_in, P))
    from .._kernels_line import one_blas_thread

    with one_blas_thread():  # the same matrix whatever the BLAS threads (and no thread contention)
        Q, R = np.linalg.qr(G)
    Q = Q * np.sign(np.diagonal(R))[None, :]  # Haar measure (sign fix of the QR factor)
    return np.ascontiguousarray(Q.T)


def published_proxy(net: Any, X: Any, radius: float, directions: np.ndarray, *, device: Any = None,
                    per_neuron: bool = False) -> np.ndarray:
    """The published local-complexity proxy: per sample and hidden layer, the number of neurons
    whose piece (for ReLU: whether u >= 0) is not constant over the 2P vertices x ± r q_i of the
    cross-polytope (Humayun et al. 2024), from one float64 forward pass of all vertices.

    Returns (S, depth) counts, or (S, num_neurons) booleans with ``per_neuron``. The first layer
    is evaluated as u_0(x) ± r (Q W_0ᵀ) (one (P × n) product shared by all samples instead of a
    matmul per vertex); later layers are ordinary matmuls over the vertices (numpy with
    ``device=None``, else torch on ``device``). A pre-activation exactly on a breakpoint takes the piece to its right (for ReLU:
    u = 0 counts with u > 0; the published code tests u > 0: they differ only on exact ties).

    >>> from linregions import random_mlp
    >>> net = random_mlp(3, [4, 4], seed=0)
    >>> published_proxy(net, np.zeros((1, 3)), 1.0, probe_directions(3, seed=0)).shape
    (1, 2)
    """
    X = np.atleast_2d(_as_matrix(X, "X"))
    return _star(net, X, float(radius), np.asarray(directions, dtype=np.float64), device, per_neuron, False)[0]


def _star(net: Any, X: np.ndarray, r: float, Q: np.ndarray, device: Any, per_neuron: bool,
          busy: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The proxy (``published_proxy``) and, with ``busy``, (S, P) bool: the probe diameters whose
    vertices do not both have x's activation pattern (the others have no crossing: module
    docstring). Vertices are ordered x + r q_1..x + r q_P, x - r q_1..x - r q_P."""
    if not isinstance(net, Network):  # a module through the engine (local_complexity.modules.ModuleModel)
        return net.star(X, r, Q, per_neuron, busy)
    U0, D = _first_layer_star(net, X, r, Q)
    S, P = X.shape[0], Q.shape[0]
    torch_dev = device is not None
    if torch_dev:
        import torch

        dev = torch.device(device)
        t = lambda A: torch.as_tensor(np.array(A, dtype=np.float64), device=dev)  # noqa: E731
        u = torch.cat([t(U0)[:, None, :] + t(D)[None], t(U0)[:, None, :] - t(D)[None]], dim=1).reshape(S * 2 * P, -1)
        uc = t(U0)
        W = [t(w) for w in net.weights]
        b = [t(v) for v in net.biases]
        diff = torch.zeros((S, 2 * P), dtype=torch.bool, device=dev)
    else:
        u = (U0[:, None, :] + np.concatenate([D, -D])[None]).reshape(S * 2 * P, -1)
        uc = U0
        W, b = net.weights, net.biases
        diff = np.zeros((S, 2 * P), bool)
    out = []
    for l in range(net.depth):
        if l > 0:
            u = net.activate(l - 1, u) @ W[l].T + b[l]
            if busy:
                uc = net.activate(l - 1, uc) @ W[l].T + b[l]
        p = net.piece(l, u).reshape(S, 2 * P, -1)
        sw = net.switching(l)
        swt = torch.as_tensor(np.array(sw), device=dev) if torch_dev else sw
        varies = (p != p[:, :1]).any(axis=1) & swt
        if busy:  # any switching unit whose piece at a vertex differs from its piece at x
            diff |= ((p != net.piece(l, uc)[:, None, :]) & swt).any(axis=2)
        varies = varies.cpu().numpy() if torch_dev else varies
        out.append(varies if per_neuron else varies.sum(axis=1))
    proxy = np.concatenate(out, axis=1) if per_neuron else np.stack(out, axis=1)
    if not busy:
        return proxy, None
    diff = diff.cpu().numpy() if torch_dev else diff
    return proxy, diff[:, :P] | diff[:, P:]


def _first_layer_star(net: Network, X: np.ndarray, r: float, Q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-layer pre-activations at the samples (S, n_0) and their change r Q W_0ᵀ along each
    probe (P, n_0): u_0(x ± r q_i) = u_0(x) ± r (W_0 q_i), exact up to rounding."""
    W0 = net.weights[0]
    return X @ W0.T + net.biases[0], (r * Q) @ W0.T

