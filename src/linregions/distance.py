"""Exact distance from inputs to the boundary of their region (docs/theory.md §4, Corollary 8).

Two kinds of region (docs/theory.md §2), two distances:

- ``kind="activation"``: the distance from x to the boundary of its *activation region* (constant
  activation pattern). On that region every pre-activation u_z is affine, so the region is the
  convex polytope ``{y : xi_{p_z} <= u_z(x) + grad u_z . (y - x) <= xi_{p_z + 1} for all z}``
  (p_z the piece of z at x, all neurons of all layers, with the region's gradients). For x inside a
  convex polytope the distance to its boundary is the distance to its complement, a union of open
  half-spaces, hence the minimum over constraints of the distance to the constraint's hyperplane:

      dist(x, boundary) = min_z min_{xi in {xi_p, xi_{p+1}}} |u_z(x) - xi| / ||grad u_z(x)||,

  the measure of Corollary 8 (docs/theory.md §4). The nearest boundary point is
  ``x - (u_z(x) - xi) grad u_z / ||grad u_z||^2`` for the minimising neuron; it lies in the closure
  of the region. Neurons with ``grad u_z = 0`` on the region (dead upstream) and passthrough units
  never switch there and are skipped. Vectorised in torch (CPU or CUDA): one forward pass that
  carries the Jacobians ``J_l = W_l D_{l-1} J_{l-1}`` of every layer, or their Gram matrices
  (cheaper when n_in exceeds the widths, e.g. MNIST), chunked to bound memory.

- ``kind="linear"``: the distance from x to B_N = {y : grad N is discontinuous at y}, the boundary
  of the *linear region* of x (activation regions glued across facets where the output's slope does
  not jump). See :func:`distance_to_boundary` for the search, its cost and its budget.

With probability one, distance(x, B_N) >= the activation distance, with equality when the facet
nearest to x is a facet of a good neuron (every neuron good: always equal).
"""
from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.optimize import linprog, nnls

from .network import Network
from .tolerances import CLOSE_FACTOR, SNAP_NOISE_FRACTION, SNAP_RTOL, slope_jump, slope_noise, snap_scale

__all__ = ["Distances", "distance_to_boundary", "activation_distance", "linear_distance", "LDP_RTOL", "FACET_RTOL", "TIGHT_RTOL"]

#: A constraint's hyperplane H bounds a true facet F of an activation region R (an (n-1)-dimensional
#: face) when an (n-1)-ball of radius ``FACET_RTOL * L`` inside H fits in R (L: the length scale
#: ``max(||x||, ||y||, distance)``). Only asked when the nearest point y of F touches two or more
#: other constraints; the radius comes from an LP solved by HiGHS with feasibility tolerance
#: ``_LP_TOL`` (1e-10 of L), two orders below the threshold. Facets of networks with continuous
#: parameter laws are ~L / #neurons wide; one thinner than 1e-8 L is taken for a lower-dimensional
#: face, which is missed (probability ~1e-8 per facet).
FACET_RTOL = 1e-8
_LP_TOL = 1e-10

#: Another constraint counts as tight at the nearest point y of a facet candidate when its slack
#: there is at most ``TIGHT_RTOL * L``. Tight constraints decide where the facet is crossed: none,
#: at y; one, at y pushed infinitesimally into the facet along the facet; more, at an interior
#: point from the LP of ``FACET_RTOL``. Over-counting tight constraints only costs work (both
#: ways stay exact for a constraint that is not tight); the threshold sits far above the rounding
#: of the least-distance solve (~1e-15 L) so that a tight constraint is never missed.
TIGHT_RTOL = 1e-7

#: Least-distance programs (``_least_distance``) are solved in units of sigma, the largest
#: |signed distance| from x to a constraint's hyperplane. A solution is accepted when it violates
#: no constraint by more than ``LDP_RTOL * (sigma + ||w||)``: NNLS and the polishing solve are exact
#: up to rounding (~1e-15 of that scale for the small, well-scaled systems here), so only an
#: inconsistent system (the constraint's hyperplane misses the region) can exceed it.
LDP_RTOL = 1e-9
#: The last residual component of the Lawson-Hanson NNLS is -1 / (1 + ||w / sigma||^2) for a
#: consistent system and 0 for an inconsistent one; below this the system is inconsistent (a
#: nearest point more than 1e6 sigma away is treated as none).
_LDP_INCONSISTENT = 1e-12
#: The polished solution (min-norm solution on the constraints NNLS made active) replaces the
#: NNLS one when it satisfies every constraint to ``_POLISH_RTOL * sigma``.
_POLISH_RTOL = 1e-12
#: Peak memory target (bytes) of one chunk of inputs in the torch path of kind="activation".
_CHUNK_BYTES = 128 * 2**20
#: Seed of the fixed generic directions that break ties when a point lies on several boundaries.
_TIE_SEED = 20190131

Kind = Literal["activation", "linear"]


@dataclass(frozen=True, repr=False, eq=False)
class Distances:
    """Distances from a batch of inputs to the boundary of their region.

    Attributes
    ----------
    kind : "activation" or "linear" (which region's boundary).
    x : (B, n_in) the inputs.
    distance : (B,) the exact distance (``inf`` when no neuron can switch: no boundary at all).
    layer, unit : (B,) the neuron (0-based hidden layer, unit) whose switch is at the nearest
        boundary point (-1 when none). Ties: the first found (lowest layer for kind="activation").
    breakpoint : (B,) 0-based index j of the breakpoint xi_j it reaches there (-1 when none).
    nearest : (B, n_in) the nearest boundary point (NaN when none).
    exact : (B,) bool; False only for kind="linear" where the search hit its budget: then
        ``distance`` is an upper bound (the nearest linear boundary found, possibly inf) and
        ``lower`` a lower bound.
    lower : (B,) lower bound of the distance (equal to ``distance`` where exact).
    regions : (B,) activation regions examined (1 for kind="activation").
    close : (B,) number of close tolerance decisions made for each input: snaps to a breakpoint
        (``SNAP_RTOL``) and slope-jump tests (``tolerances.slope_jump``) whose quantity was above
        rounding noise and within ``CLOSE_FACTOR`` of the threshold. Where such a decision erased
        more than rounding noise (a snapped offset above ``SNAP_NOISE_FRACTION`` of the tolerance,
        a suppressed slope jump above ``slope_noise``) the routine warns (``RuntimeWarning``)
        with the count; the distance is then exact for the arrangement as resolved, not
        necessarily for the float64 parameters.
    """

    kind: str
    x: np.ndarray
    distance: np.ndarray
    layer: np.ndarray
    unit: np.ndarray
    breakpoint: np.ndarray
    nearest: np.ndarray
    exact: np.ndarray
    lower: np.ndarray
    regions: np.ndarray
    close: np.ndarray

    def __len__(self) -> int:
        return int(self.distance.shape[0])

    def __repr__(self) -> str:
        d = self.distance[np.isfinite(self.distance)]
        mean = f"{d.mean():.4g}" if d.size else "nan"
        extra = "" if self.exact.all() else f", inexact={int((~self.exact).sum())}"
        if self.close.any():
            extra += f", close={int(self.close.sum())}"
        return f"Distances(kind={self.kind}, n={len(self)}, mean={mean}, min={self.distance.min(initial=np.inf):.4g}{extra})"


def _check(net: Any, X: Any, kind: str) -> np.ndarray:
    if not isinstance(net, Network):
        raise TypeError(f"net: expected a linregions.Network (use Network.from_torch for torch modules), got {type(net).__name__}")
    if kind not in ("activation", "linear"):
        raise ValueError(f"kind must be 'activation' or 'linear', got {kind!r}")
    X = net._check_inputs(X)
    if X.shape[0] == 0:
        raise ValueError(f"X: need at least one input of dimension {net.n_in}, got an empty batch")
    return X


def distance_to_boundary(
    net: Network,
    X: Any,
    kind: Kind = "activation",
    *,
    device: Any = None,
    chunk_size: int | None = None,
    max_regions: int = 2000,
    method: str = "auto",
    progress: bool = False,
) -> Distances:
    """Exact distance from each input to the boundary of its activation or linear region.

    Parameters
    ----------
    net : the network.
    X : (B, n_in) or (n_in,) inputs (numpy, torch or lists).
    kind : "activation" — the boundary of the activation region (docs/theory.md §4: min over neurons
        and the breakpoints on either side of |u_z(x) - xi| / ||grad u_z(x)||, exact because the
        region is convex; see the module docstring). "linear" — B_N, where grad N jumps.
    device : torch device for kind="activation" (e.g. "cuda"); default CPU.
    chunk_size : inputs per torch chunk (default: from a 128 MiB memory target).
    max_regions : kind="linear" only: budget of activation regions examined per input.
    method : kind="activation" only: "jacobian", "gram" or "auto" (see ``activation_distance``).
    progress : tqdm progress bar (chunks, or inputs for kind="linear").

    Method, cost and limits of kind="linear" (best-first search over activation regions).
    Each activation region is a polytope whose H-representation follows from its pattern (the
    region's affine maps of every neuron). Starting from the region of x (the one-sided pattern
    at x along fixed generic directions, so x on a boundary is fine), candidate constraints are
    taken in the order of a lower bound of their distance (to their hyperplane, or to their
    region). A candidate gets its exact distance from x (the nearest point y of the region on the
    constraint's hyperplane) by least-distance programming (Lawson-Hanson, via scipy's NNLS:
    finite active-set, exact up to rounding) and is crossed at a point of the facet's relative
    interior: y itself when no other constraint is tight there (``TIGHT_RTOL``), y pushed
    infinitesimally along the facet when one is (lexicographic one-sided directions), else the
    centre of the largest ball in the facet from an LP (HiGHS; ``FACET_RTOL`` decides that the
    face is a true facet). The pattern beyond comes from a one-sided forward pass (``SNAP_RTOL``
    decides who is on a breakpoint). If the output's Jacobian differs on the two sides
    (``tolerances.slope_jump`` with the rounding floor ``slope_noise``, as ``line`` decides linear
    boundaries), grad N is discontinuous on the
    facet, y is a point of B_N and its distance bounds the answer from
    above; otherwise the region beyond is pushed with that distance as key. The search stops when
    the smallest key reaches the best bound found. It is exact: the ball around x of radius
    d(x, B_N) meets only activation regions of x's linear region, reached from x's region by
    crossings closer than d, so every region closer than d is examined and the nearest point of
    B_N shows up as a crossing with a jump. Cost per examined region: one pass over the layers
    building its constraints (O(sum n_l n_{l-1} n_in)) plus one NNLS of size
    (n_in + 1) x (#constraints) per candidate closer than the current best (and one LP of the
    same size for a candidate whose nearest point touches two or more other constraints). Meant
    for small input
    dimension (milliseconds to a second per input for n_in <= 10 and a few hundred neurons); the
    number of regions inside the ball grows fast with n_in and depth, so past ``max_regions``
    regions the search stops and the result says ``exact=False``, with ``distance`` an upper bound
    (possibly inf) and ``lower`` a lower bound (the smallest pending key).

    Returns
    -------
    Distances (numpy arrays).

    >>> from linregions import random_mlp
    >>> net = random_mlp(2, [16, 16], seed=0)
    >>> X = np.random.default_rng(0).normal(size=(5, 2))
    >>> act = distance_to_boundary(net, X, "activation")
    >>> lin = distance_to_boundary(net, X, "linear")
    >>> bool(np.all(lin.distance >= act.distance * (1 - 1e-12)))
    True
    """
    X = _check(net, X, kind)
    if kind == "activation":
        return activation_distance(net, X, device=device, chunk_size=chunk_size, method=method, progress=progress)
    if device is not None and str(device) != "cpu":
        raise ValueError(f"device: kind='linear' runs on the CPU (scipy NNLS), got device={device!r}")
    return linear_distance(net, X, max_regions=max_regions, progress=progress)


# ----------------------------------------------------------------------------------------------
# kind="activation": vectorised torch path


def _method_costs(net: Network) -> tuple[int, int]:
    """Multiply-adds per input of the two ways to get every ||grad u_z||: (jacobian, gram)."""
    n, w = net.n_in, net.widths
    jac = sum(w[l] * w[l - 1] * n for l in range(1, len(w)))
    gram = sum(w[l] * w[l - 1] ** 2 + (w[l] ** 2 * w[l - 1] if l < len(w) - 1 else w[l] * w[l - 1]) for l in range(1, len(w)))
    return jac, gram


def activation_distance(
    net: Network, X: Any, *, device: Any = None, chunk_size: int | None = None, method: str = "auto",
    progress: bool = False,
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

    >>> from linregions import random_mlp
    >>> net = random_mlp(3, [8, 8], seed=0)
    >>> r = activation_distance(net, np.zeros((2, 3)) + 0.5)
    >>> r.distance.shape, bool(r.exact.all())
    ((2,), True)
    """
    import torch

    X = _check(net, X, "activation")
    if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if method not in ("auto", "jacobian", "gram"):
        raise ValueError(f"method must be 'auto', 'jacobian' or 'gram', got {method!r}")
    from .torch_io import check_device

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


def _warn_erased(count: int, kind: str) -> None:
    """Warn (``RuntimeWarning``) when ``count`` tolerance decisions erased more than rounding noise."""
    if count:
        warnings.warn(
            f"distance_to_boundary(kind={kind!r}): {count} close tolerance decision(s) erased more than rounding "
            "noise (a neuron within the snap tolerance SNAP_RTOL of a breakpoint without being on it, or a slope "
            "change below the jump threshold); the distances are exact for the arrangement as resolved, see "
            "Distances.close for the inputs concerned",
            RuntimeWarning,
            stacklevel=3,
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
    rows = torch.arange(B, device=dev)
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
        live = gsq > 0
        gn = torch.sqrt(torch.where(live, gsq, torch.ones_like(gsq)))
        d_lo = torch.where(live, slack_lo / gn, inf)
        d_hi = torch.where(live, slack_hi / gn, inf)
        use_hi = d_hi < d_lo
        dist = torch.where(use_hi, d_hi, d_lo)
        dmin, z = dist.min(dim=1)
        better = dmin < best
        if bool(better.any()):
            best = torch.where(better, dmin, best)
            layer = torch.where(better, torch.full_like(layer, l), layer)
            unit = torch.where(better, z, unit)
            hi, pz = use_hi[rows, z], p[rows, z]
            bp = torch.where(better, torch.where(hi, pz, pz - 1), bp)
            slack = torch.where(better, torch.where(hi, slack_hi[rows, z], -slack_lo[rows, z]), slack)
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


# ----------------------------------------------------------------------------------------------
# kind="linear": best-first search over activation regions


def _directional_pattern(
    net: Network, p: np.ndarray, dirs: np.ndarray, snaps: list | None = None
) -> tuple[np.ndarray, ...]:
    """Activation pattern just beyond p in direction dirs[0] (ties broken by dirs[1], dirs[2], ...).

    A neuron within ``SNAP_RTOL`` of a breakpoint at p takes the piece on the side its first
    non-zero directional derivative points to (derivatives through the one-sided pieces of the
    layers below); a neuron at a breakpoint along every direction keeps the right piece. "Zero"
    is relative to magnitudes carried through the layers without cancellation (|W| |a| + |b| for
    values, |W| |q| |da| for derivatives), which bound the rounding of the computed ones: a
    derivative that vanishes in exact arithmetic (a direction tangent to the neuron's level set,
    seen through a chain of neurons) is recognised as zero even when its inputs are rounding noise.
    Each breakpoint xi_j has its own snap scale (``tolerances.snap_scale``).

    When ``snaps`` is a list, it receives ``(layer, unit, j, |u - xi_j| / tol)`` for every neuron
    within ``CLOSE_FACTOR`` times the snap tolerance of breakpoint j at p (ratio <= 1: snapped,
    p is on that neuron's breakpoint).
    """
    a = p[None, :]
    da = dirs
    a_mag, da_mag = np.abs(a), np.abs(da)
    pat = []
    for l, act in enumerate(net.activations):
        W, b, xi = net.weights[l], net.biases[l], act.breakpoints
        absW = np.abs(W)
        u = a @ W.T + b  # (1, n_l)
        du = da @ W.T  # (k, n_l)
        u_mag = a_mag @ absW.T + np.abs(b)
        du_mag = da_mag @ absW.T
        tol = SNAP_RTOL * snap_scale(W, b, a_mag[0], xi)  # (n_l, T)
        dtol = SNAP_RTOL * du_mag
        piece = np.asarray(net.piece(l, u)).copy()
        for j, x in enumerate(xi):
            dev = np.abs(u[0] - x)
            ratio = np.divide(dev, tol[:, j], out=np.where(dev > 0, np.inf, 0.0), where=tol[:, j] > 0)
            on = (ratio <= 1.0) & net.switching(l)
            if snaps is not None:
                for z in np.nonzero((ratio <= CLOSE_FACTOR) & net.switching(l))[0].tolist():
                    snaps.append((l, z, j, float(ratio[z])))
            if not on.any():
                continue
            sgn = np.where(np.abs(du[:, on]) > dtol[:, on], np.sign(du[:, on]), 0.0)
            first = np.argmax(sgn != 0, axis=0)
            s = sgn[first, np.arange(sgn.shape[1])]
            piece[0, on] = np.where(s < 0, j, j + 1)
        piece = piece[0]
        pat.append(piece.astype(np.int16))
        q, c = _piece_affine(net, l, piece)
        a, da = q * u + c, q * du
        a_mag, da_mag = np.abs(q) * u_mag + np.abs(c), np.abs(q) * du_mag
    return tuple(pat)


def _piece_affine(net: Network, l: int, piece: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and offset of each unit's piece in hidden layer l: a = q u + c on that piece."""
    act = net.activations[l]
    q = np.asarray(net.slope(l, piece), dtype=np.float64)
    k = np.clip(piece - 1, 0, act.T - 1)
    phis = act.values_at_breakpoints
    phi = phis[np.arange(phis.shape[0]), k] if act.per_unit else phis[k]
    c = phi - q * act.breakpoints[k]
    c = np.where(net.switching(l), c, 0.0)
    return q, c


@dataclass
class _Region:
    pattern: tuple
    A: np.ndarray  # (m, n) unit-norm constraint normals: A y <= c
    c: np.ndarray
    group: np.ndarray  # (m,) id of the coincident-hyperplane group of each constraint
    info: np.ndarray  # (m, 3) layer, unit, breakpoint of each constraint
    J: np.ndarray  # output Jacobian on the region
    Jabs: np.ndarray  # |W_d| |tangent of the last hidden layer|: the scale of J's rounding (slope_noise)


def _region(net: Network, pattern: tuple) -> _Region:
    """H-representation of the activation region of ``pattern`` and the output's Jacobian there."""
    G, h = net.weights[0], net.biases[0]
    rows_A, rows_c, info = [], [], []
    for l, act in enumerate(net.activations):
        if l > 0:
            q, c = _piece_affine(net, l - 1, pattern[l - 1])
            W = net.weights[l]
            G, h = W @ (q[:, None] * G), W @ (q * h + c) + net.biases[l]
        xi, p = act.breakpoints, pattern[l].astype(np.int64)
        norm = np.linalg.norm(G, axis=1)
        live = (norm > 0) & net.switching(l)
        lo = np.nonzero(live & (p >= 1))[0]
        hi = np.nonzero(live & (p <= act.T - 1))[0]
        # u >= xi[p-1]:  -G y <= h - xi[p-1];   u <= xi[p]:  G y <= xi[p] - h
        rows_A += [-G[lo] / norm[lo, None], G[hi] / norm[hi, None]]
        rows_c += [(h[lo] - xi[p[lo] - 1]) / norm[lo], (xi[p[hi]] - h[hi]) / norm[hi]]
        info += [np.stack([np.full(lo.size, l), lo, p[lo] - 1], 1), np.stack([np.full(hi.size, l), hi, p[hi]], 1)]
    q, c = _piece_affine(net, net.depth - 1, pattern[-1])
    J = net.weights[-1] @ (q[:, None] * G)
    Jabs = np.abs(net.weights[-1]) @ np.abs(q[:, None] * G)  # the summands of the last product (slope_noise)
    A = np.concatenate(rows_A) if rows_A else np.zeros((0, net.n_in))
    cc = np.concatenate(rows_c) if rows_c else np.zeros(0)
    inf = np.concatenate(info).astype(np.int64) if info else np.zeros((0, 3), np.int64)
    return _Region(pattern, A, cc, _groups(A, cc), inf, J, Jabs)


def _groups(A: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Group constraints whose hyperplanes and sides coincide (within ``SNAP_RTOL``)."""
    m = A.shape[0]
    g = np.arange(m)
    if m < 2:
        return g
    scale = 1.0 + np.abs(c).max()
    close = (A @ A.T >= 1 - SNAP_RTOL) & (np.abs(c[:, None] - c[None, :]) <= SNAP_RTOL * scale)
    for i in range(m):
        j = np.argmax(close[i])  # first member of i's group
        g[i] = g[j]
    return g


def _least_distance(A: np.ndarray, c: np.ndarray, x: np.ndarray, eq: tuple | None = None):
    """Nearest point to x of {y : A y <= c} (and a.y = b when ``eq=(a, b)``), or None if empty.

    Least-distance programming by NNLS (Lawson & Hanson, ch. 23): min ||w|| s.t. G w >= h is
    solved by u = argmin_{u>=0} ||[G^T; h^T] u - e_{n+1}||, w = -r[:n] / r[n] (r the residual);
    the result is then polished by the minimum-norm solution on the constraints NNLS made active.
    """
    n = x.size
    Gm, hv = -A, A @ x - c
    if eq is not None:
        a, b = eq
        Gm = np.vstack([Gm, a[None], -a[None]])
        hv = np.concatenate([hv, [b - a @ x, a @ x - b]])
    if Gm.shape[0] == 0:
        return x.copy(), 0.0
    sigma = float(np.abs(hv).max())
    if sigma == 0.0:
        return x.copy(), 0.0
    E = np.vstack([Gm.T, hv[None] / sigma])
    f = np.zeros(n + 1)
    f[n] = 1.0
    try:
        u, _ = nnls(E, f, maxiter=50 * (n + 1 + Gm.shape[0]))
    except RuntimeError:  # pragma: no cover - iteration limit
        return None
    r = E @ u - f
    if -r[n] <= _LDP_INCONSISTENT:
        return None  # E u = f solvable: the constraints are inconsistent (or infinitely far)
    w = -r[:n] / r[n] * sigma
    act = u > 0
    if act.any():  # polish: min-norm solution of the active constraints as equalities
        w2 = np.linalg.lstsq(Gm[act], hv[act], rcond=None)[0]
        if np.all(Gm @ w2 >= hv - _POLISH_RTOL * sigma) and np.linalg.norm(w2) <= np.linalg.norm(w) * (1 + 1e-9) + 1e-300:
            w = w2
    viol = hv - Gm @ w
    if viol.max(initial=0.0) > LDP_RTOL * (sigma + np.linalg.norm(w)):
        return None
    return x + w, float(np.linalg.norm(w))


def _facet_center(R: _Region, i: int, y: np.ndarray, L: float) -> np.ndarray | None:
    """A point of the facet of constraint group i of R with an in-plane ball of radius
    > FACET_RTOL * L inside R, or None when R meets that hyperplane in a lower-dimensional face."""
    a = R.A[i]
    other = R.group != R.group[i]
    Ao, so = R.A[other], R.c[other] - R.A[other] @ y
    s_t = np.linalg.norm(Ao - (Ao @ a)[:, None] * a[None], axis=1)
    n = a.size
    # variables (omega, tau), y' = y + L omega; maximise tau
    A_ub = np.hstack([Ao, s_t[:, None]])
    b_ub = so / L
    A_eq = np.concatenate([a, [0.0]])[None]
    cost = np.zeros(n + 1)
    cost[-1] = -1.0
    bounds = [(None, None)] * n + [(0.0, 1.0)]
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[0.0], bounds=bounds, method="highs",
                  options=dict(primal_feasibility_tolerance=_LP_TOL, dual_feasibility_tolerance=_LP_TOL))
    if res.status != 0 or -res.fun <= FACET_RTOL:
        return None
    p = y + L * res.x[:n]
    return p - (a @ p - R.c[i]) * a


def _search_one(net: Network, x: np.ndarray, max_regions: int, dirs: np.ndarray):
    """Best-first search for the nearest facet of B_N; see ``distance_to_boundary``.

    Returns (distance, (layer, unit, breakpoint), nearest point, exact, lower bound, regions
    examined, close decisions, close decisions that erased more than rounding noise)."""
    snaps: list = []
    P0 = _directional_pattern(net, x, dirs, snaps)
    # x lies on the breakpoints it was snapped to (the same decision as kind="activation"): a
    # facet of those hyperplanes in a region whose closure holds x (key 0) is at distance 0
    # exactly, not at the rounding residue of the region's composed constraints
    on_x = {(l, z, j) for l, z, j, r in snaps if r <= 1.0}
    close = sum(1 for *_, r in snaps if r > SNAP_NOISE_FRACTION)
    erased = sum(1 for *_, r in snaps if SNAP_NOISE_FRACTION < r <= 1.0)
    n_terms = net.n_in + sum(net.widths)
    key0 = b"".join(p.tobytes() for p in P0)
    regions: dict[bytes, _Region] = {}
    heap: list = [(0.0, 0, "R", key0, P0)]
    count = 1
    best, best_info, best_y = math.inf, (-1, -1, -1), None
    visited: set[bytes] = set()
    lower, exact = None, True
    while heap:
        key, _, typ, rk, payload = heap[0]
        if key >= best:
            break
        heapq.heappop(heap)
        if typ == "R":
            if rk in visited:
                continue
            if len(visited) >= max_regions:
                lower, exact = key, False
                break
            visited.add(rk)
            R = regions.get(rk) or _region(net, payload)
            regions[rk] = R
            lb_R = 0.0 if key == 0.0 else (_least_distance(R.A, R.c, x) or (None, key))[1]
            hyper = np.abs(R.A @ x - R.c)
            for i in np.unique(R.group):
                if key == 0.0 and on_x and any(tuple(v) in on_x for v in R.info[R.group == i].tolist()):
                    heapq.heappush(heap, (0.0, count, "F*", rk, (int(i), x.copy())))
                    count += 1
                    continue
                lb = max(lb_R, float(hyper[i]))
                if lb < best:
                    heapq.heappush(heap, (lb, count, "F", rk, int(i)))
                    count += 1
        elif typ == "F":
            R, i = regions[rk], payload
            sol = _least_distance(R.A[R.group != i], R.c[R.group != i], x, eq=(R.A[i], R.c[i]))
            if sol is None or sol[1] >= best:
                continue
            heapq.heappush(heap, (sol[1], count, "F*", rk, (i, sol[0])))
            count += 1
        else:  # "F*": exact distance known; is it a facet, and is it on B_N?
            R, (i, y) = regions[rk], payload
            # cross the facet at a point of its relative interior: y itself, or y pushed along
            # the facet away from the one other tight constraint (lexicographic directions), or
            # an interior point from an LP when several others are tight there
            a = R.A[i]
            L = max(float(np.linalg.norm(x)), float(np.linalg.norm(y)), key, 1e-300)
            other = R.group != R.group[i]
            tight = np.unique(R.group[other][R.c[other] - R.A[other] @ y <= TIGHT_RTOL * L])
            p, lead = y, a[None]
            if tight.size == 1:
                aj = R.A[tight[0]]
                v = aj - (aj @ a) * a
                lead = np.vstack([-v / np.linalg.norm(v), a])
            elif tight.size > 1:
                p = _facet_center(R, i, y, L)
                if p is None:  # R meets the hyperplane in a lower-dimensional face only
                    continue
            P1 = _directional_pattern(net, p, np.vstack([lead, dirs]))
            k1 = b"".join(q.tobytes() for q in P1)
            if k1 == rk:  # the point not recognised as on the breakpoint (rounding beyond SNAP_RTOL)
                continue
            R1 = regions.get(k1) or _region(net, P1)
            regions[k1] = R1
            # linear boundary: the shared rule (relative threshold, rounding floor of the products)
            noise = slope_noise((R.Jabs + R1.Jabs).reshape(1, -1), n_terms)
            jump, near = slope_jump(R.J.reshape(1, -1), R1.J.reshape(1, -1), noise)
            close += int(near[0])
            erased += int(near[0] and not jump[0])
            if jump[0]:
                if key < best:
                    best, best_info, best_y = key, tuple(int(v) for v in R.info[i]), y
            elif k1 not in visited:
                heapq.heappush(heap, (key, count, "R", k1, P1))
                count += 1
    if exact:
        lower = best
    else:
        lower = min(best, lower, min((h[0] for h in heap), default=math.inf))
    return best, best_info, best_y, exact, lower, len(visited), close, erased


def linear_distance(net: Network, X: Any, *, max_regions: int = 2000, progress: bool = False) -> Distances:
    """Distance to B_N, the boundary of the linear region (see ``distance_to_boundary``)."""
    X = _check(net, X, "linear")
    if not isinstance(max_regions, (int, np.integer)) or max_regions < 1:
        raise ValueError(f"max_regions must be a positive integer, got {max_regions!r}")
    B, n = X.shape
    rng = np.random.default_rng(_TIE_SEED)
    dirs = rng.normal(size=(3, n))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    dist = np.full(B, math.inf)
    info = np.full((B, 3), -1, np.int64)
    nearest = np.full((B, n), math.nan)
    exact = np.ones(B, bool)
    lower = np.full(B, math.inf)
    regions = np.zeros(B, np.int64)
    close = np.zeros(B, np.int64)
    erased = 0
    it = range(B)
    if progress and B > 1:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="distance (linear)", unit="input")
    for b in it:
        d, inf_, y, ex, lo, nreg, cl, er = _search_one(net, X[b], int(max_regions), dirs)
        dist[b], info[b], exact[b], lower[b], regions[b], close[b] = d, inf_, ex, lo, nreg, cl
        erased += er
        if y is not None:
            nearest[b] = y
    _warn_erased(erased, "linear")
    return Distances(kind="linear", x=X, distance=dist, layer=info[:, 0], unit=info[:, 1], breakpoint=info[:, 2],
                     nearest=nearest, exact=exact, lower=lower, regions=regions, close=close)
