"""Exact 1D partitions in rational arithmetic on the float64 parameters.

Every float64 number is a dyadic rational ``m 2^-e``. On a segment ``x(t) = x0 + t (x1 - x0)``
with a fixed activation pattern, every pre-activation is ``u(t) = alpha + beta t`` where
``alpha`` and ``beta`` are sums of products of the float64 weights, biases, activation slopes
and values, and the ends: dyadic rationals, held here exactly as Python integers over a power of
two shared by a layer. The breakpoints of a layer are then the rationals
``t = (xi_j - alpha) / beta``; comparing them with interval ends is integer arithmetic. This is
the layer-by-layer splitting of ``linregions.line`` (docs/theory.md, exact layer-by-layer
splitting) with no rounding at all, so it decides what float64 cannot: crossings closer than
``T_MERGE``, pre-activations within the snapping tolerance of a breakpoint, slope jumps near the
rounding floor. ``linregions.line`` calls it on the short sub-intervals where a float decision
was close (``window``); it is far too slow to partition whole segments of wide networks.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .network import PASSTHROUGH, Network

__all__ = ["ExactWindow", "window", "ExactBudgetExceeded"]

#: Largest number of big-integer multiply-adds one ``window`` call may spend before it gives up
#: (``ExactBudgetExceeded``); the caller then keeps the float64 decision and reports it as close.
MAX_OPS = 3 * 10**7


class ExactBudgetExceeded(RuntimeError):
    """The exact re-decision would cost more than ``MAX_OPS`` integer operations."""


def _dyadic(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Exact integers n (object array) and E >= 0 with ``a == n / 2**E`` elementwise."""
    a = np.asarray(a, dtype=np.float64)
    m, e = np.frexp(a)
    mi = (m * 2.0**53).astype(np.int64)  # exact: |m| < 1 has 53 significant bits
    ex = e.astype(np.int64) - 53
    nz = mi != 0
    E = max(0, int(-ex[nz].min())) if nz.any() else 0
    out = np.empty(a.shape, dtype=object)
    flat_m, flat_s, flat_o = mi.ravel(), (ex + E).ravel(), out.reshape(-1)
    for i in range(flat_m.size):
        flat_o[i] = int(flat_m[i]) << int(flat_s[i]) if flat_m[i] else 0
    return out, E


def _lift(n: np.ndarray, E: int, E2: int) -> np.ndarray:
    return n if E2 == E else n * (1 << (E2 - E))


def _add(x: tuple[np.ndarray, int], y: tuple[np.ndarray, int]) -> tuple[np.ndarray, int]:
    E = max(x[1], y[1])
    return _lift(x[0], x[1], E) + _lift(y[0], y[1], E), E


@dataclass
class _Params:
    W: list[tuple[np.ndarray, int]]
    b: list[tuple[np.ndarray, int]]
    xi: list[tuple[np.ndarray, int]]
    q: list[tuple[np.ndarray, int]]  # (n, T + 1) slopes per unit
    phi: list[tuple[np.ndarray, int]]  # (n, T) values at the breakpoints per unit


_CACHE: "weakref.WeakKeyDictionary[Network, _Params]" = weakref.WeakKeyDictionary()


def _params(net: Network) -> _Params:
    p = _CACHE.get(net)
    if p is None:
        q, phi = [], []
        for l, act in enumerate(net.activations):
            n = net.widths[l]
            q.append(_dyadic(np.broadcast_to(act.slopes, (n, act.T + 1))))
            phi.append(_dyadic(np.broadcast_to(act.values_at_breakpoints, (n, act.T))))
        p = _Params([_dyadic(W) for W in net.weights], [_dyadic(b) for b in net.biases],
                    [_dyadic(a.breakpoints) for a in net.activations], q, phi)
        _CACHE[net] = p
    return p


def _sign(x: np.ndarray) -> np.ndarray:
    return np.array([(v > 0) - (v < 0) for v in x.ravel()], dtype=np.int8).reshape(x.shape)


@dataclass(frozen=True)
class ExactWindow:
    """The exact partition of the sub-interval (ta, tb) of a segment.

    ``t``: the m points inside (exact rationals, increasing); ``states``: per hidden layer the
    (m + 1, n_l) state codes of the intervals (2p inside piece p, 2j + 1 identically on breakpoint
    j, 0 for passthrough units; the same codes as ``linregions.line``); ``slopes``,
    ``intercepts``: the output's affine piece on each interval (N = intercept + slope t, rounded
    to float64 from the exact values); ``linear``: exact slope jump at each point.
    """

    t: list[Fraction]
    states: list[np.ndarray]
    slopes: np.ndarray
    intercepts: np.ndarray
    linear: np.ndarray


def window(net: Network, x0: np.ndarray, x1: np.ndarray, ta: float, tb: float, *, max_ops: int = MAX_OPS) -> ExactWindow:
    """Exact layer-by-layer partition of the segment x0 + t (x1 - x0) for t in (ta, tb).

    >>> import numpy as np
    >>> from linregions import Network, relu
    >>> # two neurons switching 1e-20 apart: float64 cannot separate them on [-1, 1]
    >>> net = Network((np.array([[1.0], [1.0]]), np.array([[1.0, 2.0]])), (np.array([0.0, 1e-20]), np.zeros(1)), (relu(),))
    >>> w = window(net, np.array([-1.0]), np.array([1.0]), 0.25, 0.75)
    >>> w.t == [Fraction(1, 2) - Fraction(1e-20) / 2, Fraction(1, 2)], w.linear.tolist()
    (True, [True, True])
    """
    P = _params(net)
    d = net.depth
    X0, Ex = _dyadic(np.asarray(x0, dtype=np.float64))
    X1, Ex1 = _dyadic(np.asarray(x1, dtype=np.float64))
    Ex2 = max(Ex, Ex1)
    X0, X1 = _lift(X0, Ex, Ex2), _lift(X1, Ex1, Ex2)
    Vd = X1 - X0
    bounds = [Fraction(ta), Fraction(tb)]
    Wn, Ew = P.W[0]
    alpha = _add((Wn.dot(X0), Ew + Ex2), P.b[0])
    A, E = alpha[0][None, :], alpha[1]
    B = _lift(Wn.dot(Vd), Ew + Ex2, E)[None, :]
    ops = 0
    states: list[np.ndarray] = []
    for l in range(d + 1):
        if l > 0:
            Wn, Ew = P.W[l]
            ops += 2 * A.shape[0] * Wn.size
            if ops > max_ops:
                raise ExactBudgetExceeded(f"exact re-decision needs more than {max_ops} integer operations")
            An, Ea = A.dot(Wn.T), E + Ew
            Bn = B.dot(Wn.T)
            (A, E) = _add((An, Ea), (np.broadcast_to(P.b[l][0], An.shape), P.b[l][1]))
            B = _lift(Bn, Ea, E)
        if l == d:
            break
        xi_n, Exi = P.xi[l]
        if Exi > E:
            A, B, E = _lift(A, E, Exi), _lift(B, E, Exi), Exi
        X = _lift(xi_n, Exi, E)
        sw = net.switching(l)
        # roots strictly inside each interval
        new_bounds = [bounds[0]]
        parent = []
        for i in range(A.shape[0]):
            lo, hi = bounds[i], bounds[i + 1]
            roots = set()
            for j in range(X.size):
                h_lo = A[i] * lo.denominator + B[i] * lo.numerator - X[j] * lo.denominator
                h_hi = A[i] * hi.denominator + B[i] * hi.numerator - X[j] * hi.denominator
                s_lo, s_hi = _sign(h_lo), _sign(h_hi)
                for z in np.nonzero((s_lo * s_hi < 0) & sw)[0]:
                    roots.add(Fraction(int(X[j] - A[i, z]), int(B[i, z])))
            for r in sorted(roots):
                new_bounds.append(r)
                parent.append(i)
            new_bounds.append(hi)
            parent.append(i)
        parent_idx = np.array(parent, dtype=np.int64)
        bounds = new_bounds
        A, B = A[parent_idx], B[parent_idx]
        states = [s[parent_idx] for s in states]
        # state codes at the midpoints (exact; no root inside an interval)
        m = A.shape[0]
        code = np.zeros(A.shape, dtype=np.int64)
        on = np.zeros(A.shape, dtype=np.int64) - 1
        for i in range(m):
            mid = (bounds[i] + bounds[i + 1]) / 2
            for j in range(X.size):
                h = A[i] * mid.denominator + B[i] * mid.numerator - X[j] * mid.denominator
                sg = _sign(h)
                code[i] += 2 * (sg > 0)
                ident = (sg == 0)
                on[i][ident] = j
        code = np.where(on >= 0, 2 * on + 1, code)
        code[:, ~sw] = 0
        states.append(code)
        # activation: a = phi_j' + q_p (u - xi_j'), j' = max(p - 1, 0); identically on xi_j: phi_j
        qn, Eq = P.q[l]
        pn, Ep = P.phi[l]
        p = code // 2
        jj = np.maximum(p - 1, 0)
        units = np.arange(A.shape[1])[None, :]
        qsel = qn[units, p]
        odd = code % 2 == 1
        qsel = np.where(odd, 0, qsel)
        jj = np.where(odd, (code - 1) // 2, jj)
        Ea = E + Eq
        Aa = qsel * (A - X[jj])
        Ba = qsel * B
        Aa, Ea2 = _add((Aa, Ea), (pn[units, jj], Ep))
        Ba = _lift(Ba, Ea, Ea2)
        pt = net.kinds(l) == PASSTHROUGH
        if pt.any():
            Aa[:, pt] = _lift(A[:, pt], E, Ea2)
            Ba[:, pt] = _lift(B[:, pt], E, Ea2)
        A, B, E = Aa, Ba, Ea2
    den = 1 << E
    slopes = np.array([[float(Fraction(int(v), den)) for v in row] for row in B])
    intercepts = np.array([[float(Fraction(int(v), den)) for v in row] for row in A])
    linear = np.array([bool(np.any(B[i] != B[i + 1])) for i in range(B.shape[0] - 1)], dtype=bool)
    return ExactWindow(t=bounds[1:-1], states=states, slopes=slopes, intercepts=intercepts, linear=linear)
