"""kind="linear": the exact distance to B_N by a best-first search over activation regions with small
least-distance programs (see ``distance_to_boundary`` for the method, its cost and its budget)."""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog, nnls

from ..network import Network
from ..tolerances import CLOSE_FACTOR, SNAP_NOISE_FRACTION, SNAP_RTOL, slope_jump, slope_noise, snap_scale
from .results import Distances, _check, _warn_erased

__all__ = ["linear_distance", "LDP_RTOL", "FACET_RTOL", "TIGHT_RTOL"]

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
#: Seed of the fixed generic directions that break ties when a point lies on several boundaries.
_TIE_SEED = 20190131

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
