"""kind="activation": the closed-form distance to the activation-region boundary (docs/theory.md §4,
Corollary 8), vectorised in torch on a ``Network`` (see the package docstring for the formula).
Modules go through ``distance.module`` (the torch-native engine)."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..network import Network
from ..tolerances import CLOSE_FACTOR, SNAP_NOISE_FRACTION, SNAP_RTOL
from .results import Distances, _check, _module_only, _net_only, _warn_erased, is_module

__all__ = ["activation_distance"]

#: Peak memory target (bytes) of one chunk of inputs in the torch path of kind="activation".
_CHUNK_BYTES = 128 * 2**20


def _method_costs(net: Network) -> tuple[int, int]:
    """Multiply-adds per input of the two ways to get every ||grad u_z||: (jacobian, gram)."""
    n, w = net.n_in, net.widths
    jac = sum(w[l] * w[l - 1] * n for l in range(1, len(w)))
    gram = sum(w[l] * w[l - 1] ** 2 + (w[l] ** 2 * w[l - 1] if l < len(w) - 1 else w[l] * w[l - 1]) for l in range(1, len(w)))
    return jac, gram


def activation_distance(
    net: Network, X: Any, *, device: Any = None, chunk_size: int | None = None, method: str = "auto",
    progress: bool = False, input_shape: Any = None, chunk_points: int | None = None,
) -> Distances:
    """Distance to the activation-region boundary (docs/theory.md §4), batched in torch.

    One forward pass per chunk of inputs gets every neuron's gradient norm on the region, takes
    each neuron's two neighbouring breakpoints and keeps the smallest |u - xi| / ||grad u||; the
    gradient of the minimising neuron is then recovered by a backward product for the nearest
    point. A pre-activation within ``SNAP_RTOL`` of a breakpoint counts as on it (distance 0, as in
    ``line``). The gradient norms come either from the Jacobians (``method="jacobian"``:
    ``J_l = W_l D_{l-1} J_{l-1}``, shape (chunk, n_l, n_in), cost sum_l n_l n_{l-1} n_in per input)
    or from their Gram matrices (``method="gram"``: ``K_l = W_l D K_{l-1} D W_l^T`` with
    ``K_0 = W_0 W_0^T``, ||grad u_z||^2 = (K_l)_zz, cost sum_l n_l n_{l-1} (n_l + n_{l-1}),
    independent of n_in); ``"auto"`` takes the cheaper. See ``distance_to_boundary``.
    A torch ``nn.Module`` (with ``input_shape``/``chunk_points``) runs through ``distance.module``
    (the module's own ops, forward-mode tangents along the input basis).

    >>> from linregions import random_mlp
    >>> net = random_mlp(3, [8, 8], seed=0)
    >>> r = activation_distance(net, np.zeros((2, 3)) + 0.5)
    >>> r.distance.shape, bool(r.exact.all())
    ((2,), True)
    """
    if is_module(net):
        from .module import module_distance

        _net_only(chunk_size, method)
        return module_distance(net, X, "activation", input_shape=input_shape, device=device, chunk_points=chunk_points,
                               progress=progress)
    _module_only(input_shape, chunk_points)
    import torch

    X = _check(net, X, "activation")
    if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if method not in ("auto", "jacobian", "gram"):
        raise ValueError(f"method must be 'auto', 'jacobian' or 'gram', got {method!r}")
    from ..torch_io import check_device

    dev = check_device("cpu" if device is None else device)
    jac_cost, gram_cost = _method_costs(net)
    gram = method == "gram" or (method == "auto" and gram_cost < jac_cost)
    B, n = X.shape
    wmax = max(net.widths)
    per_input = 8 * (3 * wmax * wmax + 2 * wmax * wmax if gram else 3 * n * wmax) + 64 * sum(net.widths) + 16 * n
    chunk = int(chunk_size or max(1, min(B, _CHUNK_BYTES // per_input)))
    with warnings.catch_warnings():  # the core's arrays are read-only; torch only reads them here
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        Ws, bs = net.tensors(device=dev)
        xis = [torch.as_tensor(a.breakpoints, dtype=torch.float64, device=dev) for a in net.activations]
    absW = [W.abs() for W in Ws]
    sw = [torch.as_tensor(net.switching(l), device=dev) for l in range(net.depth)]
    K0 = Ws[0] @ Ws[0].T if gram else None
    out = {k: [] for k in ("distance", "layer", "unit", "breakpoint", "nearest", "close", "erased")}
    starts = range(0, B, chunk)
    if progress and len(starts) > 1:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="distance (activation)", unit="chunk")
    with torch.no_grad():
        for s in starts:
            xb = torch.as_tensor(X[s : s + chunk], dtype=torch.float64, device=dev)
            res = _activation_chunk(net, xb, Ws, bs, absW, xis, sw, K0)
            for k, v in res.items():
                out[k].append(v.cpu().numpy())
    cat = {k: np.concatenate(v) for k, v in out.items()}
    _warn_erased(int(cat["erased"].sum()), "activation")
    return Distances(
        kind="activation", x=X, distance=cat["distance"], layer=cat["layer"], unit=cat["unit"],
        breakpoint=cat["breakpoint"], nearest=cat["nearest"], exact=np.ones(B, bool),
        lower=cat["distance"].copy(), regions=np.ones(B, np.int64), close=cat["close"].astype(np.int64),
    )


def _activation_chunk(net, x, Ws, bs, absW, xis, sw, K0) -> dict:
    """One chunk of ``activation_distance``; Gram matrices when K0 (= W_0 W_0^T) is given."""
    import torch

    B, n = x.shape
    dev = x.device
    d = net.depth
    inf = torch.tensor(math.inf, dtype=torch.float64, device=dev)
    best = torch.full((B,), math.inf, dtype=torch.float64, device=dev)
    layer = torch.full((B,), -1, dtype=torch.int64, device=dev)
    unit = torch.full((B,), -1, dtype=torch.int64, device=dev)
    bp = torch.full((B,), -1, dtype=torch.int64, device=dev)
    slack = torch.zeros(B, dtype=torch.float64, device=dev)  # signed xi - u of the chosen neuron
    close = torch.zeros(B, dtype=torch.int64, device=dev)
    erased = torch.zeros(B, dtype=torch.int64, device=dev)
    qs = []
    a, J, K = x, None, None
    for l in range(d):
        W, b, xi = Ws[l], bs[l], xis[l]
        T = xi.numel()
        u = a @ W.T + b
        if l == 0:  # the gradients are the rows of W_0, the same for every input
            gsq = (W * W).sum(1).expand(B, -1)
        elif K0 is not None:
            M = W * qs[-1][:, None, :]  # W_l D_{l-1}, (B, n_l, n_{l-1})
            MK = torch.matmul(M, K)
            if l < d - 1:
                K = torch.matmul(MK, M.transpose(1, 2))
                gsq = torch.diagonal(K, dim1=1, dim2=2)
            else:
                gsq = (MK * M).sum(2)
        else:
            G = torch.matmul(W, J)  # (B, n_l, n)
            gsq = (G * G).sum(2)
        # snap tolerance of each neuron's two neighbouring breakpoints, each at its own scale
        # (tolerances.snap_scale: |W| |a| + |b| + |xi_j|)
        base = a.abs() @ absW[l].T + b.abs()
        p = net.piece(l, u)
        k_lo, k_hi = (p - 1).clamp(0, T - 1), p.clamp(0, T - 1)
        tol_lo = SNAP_RTOL * (base + xi.abs()[k_lo])
        tol_hi = SNAP_RTOL * (base + xi.abs()[k_hi])
        slack_lo = torch.where((p >= 1) & sw[l], u - xi[k_lo], inf)
        slack_hi = torch.where((p <= T - 1) & sw[l], xi[k_hi] - u, inf)
        for sl, tl in ((slack_lo, tol_lo), (slack_hi, tol_hi)):
            noisy = sl.abs() > SNAP_NOISE_FRACTION * tl
            close += (noisy & (sl.abs() <= CLOSE_FACTOR * tl)).sum(1)
            erased += (noisy & (sl <= tl)).sum(1)
        slack_lo = torch.where(slack_lo <= tol_lo, torch.zeros_like(slack_lo), slack_lo)
        slack_hi = torch.where(slack_hi <= tol_hi, torch.zeros_like(slack_hi), slack_hi)
        best, layer, unit, bp, slack = nearer_facet(l, gsq, slack_lo, slack_hi, p, (best, layer, unit, bp, slack))
        q = net.slope(l, p).to(torch.float64)
        qs.append(q)
        a = net.activate(l, u)
        if K0 is not None:
            K = K0 if l == 0 else K
        else:
            J = q[:, :, None] * (W.expand(B, -1, -1) if l == 0 else G)
    # gradient of each chosen neuron by a backward product through the region's slopes
    grad = torch.zeros(B, n, dtype=torch.float64, device=dev)
    for l in range(d):
        m = layer == l
        if not bool(m.any()):
            continue
        v = Ws[l][unit[m]]
        for k in range(l - 1, -1, -1):
            v = (v * qs[k][m]) @ Ws[k]
        grad[m] = v
    gsq = (grad * grad).sum(1)
    ok = torch.isfinite(best) & (gsq > 0)
    step = torch.where(ok, slack / torch.where(ok, gsq, torch.ones_like(gsq)), torch.zeros_like(gsq))
    nearest = torch.where(ok[:, None], x + step[:, None] * grad, torch.full_like(x, math.nan))
    return dict(distance=best, layer=layer, unit=unit, breakpoint=bp, nearest=nearest, close=close, erased=erased)


def nearer_facet(l: int, gsq, slack_lo, slack_hi, p, running: tuple) -> tuple:
    """Fold hidden layer (site) ``l`` into the running nearest facet of each input.

    The activation region of x is bounded, for every unit z, by the two neighbouring breakpoints
    of its piece ``p``; the distance to the hyperplane of breakpoint j is ``|u_z - xi_j| /
    ||grad u_z||`` (``slack_lo = u - xi_{p-1}``, ``slack_hi = xi_p - u``, inf where there is no
    such breakpoint; units with zero gradient never bound it). ``running`` is (best distance,
    layer, unit, breakpoint, signed slack xi - u of the chosen unit), updated where layer l is
    strictly closer (ties keep the earlier layer and, within a layer, the lowest unit)."""
    import torch

    best, layer, unit, bp, slack = running
    live = gsq > 0
    gn = torch.sqrt(torch.where(live, gsq, torch.ones_like(gsq)))
    inf = torch.full_like(gn, math.inf)
    d_lo = torch.where(live, slack_lo / gn, inf)
    d_hi = torch.where(live, slack_hi / gn, inf)
    use_hi = d_hi < d_lo
    dmin, z = torch.where(use_hi, d_hi, d_lo).min(dim=1)
    better = dmin < best
    if bool(better.any()):
        rows = torch.arange(z.shape[0], device=z.device)
        best = torch.where(better, dmin, best)
        layer = torch.where(better, torch.full_like(layer, l), layer)
        unit = torch.where(better, z, unit)
        hi, pz = use_hi[rows, z], p[rows, z]
        bp = torch.where(better, torch.where(hi, pz, pz - 1), bp)
        slack = torch.where(better, torch.where(hi, slack_hi[rows, z], -slack_lo[rows, z]), slack)
    return best, layer, unit, bp, slack
