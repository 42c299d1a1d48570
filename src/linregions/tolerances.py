"""Named numerical tolerances of the exact routines (all computation is float64).

Every exact partition decides a few things by comparing floats; each comparison uses one of the
constants or rules below, so that a reader can see what was decided and why the threshold is safe.

Rounding in a float64 forward pass of a layer of width n makes an error of about
``sqrt(n) * 2**-52 * sum_i |w_i a_i|`` in a pre-activation (``n * 2**-53`` at worst, the classical
bound ``gamma_n = n u / (1 - n u)`` of a dot product, u = 2**-53), i.e. 1e-15 to 1e-14 of the
magnitude of its summands for widths up to a few thousand. The thresholds sit above that, and far
below any gap that occurs with appreciable probability for networks with continuous weight and
bias laws, so they act on *degenerate* arrangements (for example zero biases, where every
first-layer hyperplane passes through the origin).

On segments, a layer's values at the points the previous layer inserted are extended from the
point before (``_kernels_line_nb.products._extend``: U(p) = U(p') + (t_p - t_p') dU, the tangent
updated by the units that switch at p'): exact in exact arithmetic, and each step adds rounding
of the size of the summands of one product row, since |t_p - t_p'| |dU| <= |W| |a(p) - a(p')|
<= 2 |W| max|a|, which the snap scale covers. A crossing merged into another point (within
``T_MERGE``) leaves a kink the state codes do not show; an extension across it would carry the
kink's offset to every later point (near-degenerate nets, where values near the cluster are
~1e-9, got spurious crossings that way), so once a segment has a merged crossing its later layers
take the product at every point, which evaluates the activations at each point itself.

What they cannot resolve (stated, not hidden): features smaller than ``SNAP_RTOL`` times the
magnitude of the inputs and weights (a segment of length 1e-13 at |x| ~ 1, or 1e-11 at |x| ~ 100,
biases of ~1e-11 next to weights of ~1), crossings within ``T_MERGE`` of a segment's end, and
slope jumps below ``SLOPE_RTOL`` of the slope vector (e.g. one output a billion times steeper
than another). Results count the decisions that were *close* (a quantity between rounding noise
and its threshold) and warn when such a decision erased more than rounding noise. On segments,
``linregions.line`` re-decides close decisions in exact rational arithmetic on the float64
parameters (``linregions.exact``), so 1D counts stay exact below these thresholds; what is below
rounding noise itself (``T_MERGE / CLOSE_FACTOR`` in t, ``SNAP_RTOL / CLOSE_FACTOR`` of the scale in
u) is taken as a coincidence, as in zero-bias networks, and is not re-decided. Float errors can
reach past the windows re-decided around close decisions: after a cluster of such coincidences
(every first-layer unit of a 1-input net crossing within 1e-13 of one point), the values carried
past it are off by more than rounding, and a later layer's crossing can sit microns from where
exact arithmetic puts it, outside the window. So the float points left outside the windows are
checked against fresh forward passes at the midpoints around them
(``line.redecide._unreliable_points``), and the windows grow over the ones contradicted before a
result counts as certified.
"""
from __future__ import annotations

import numpy as np

#: Unit roundoff of float64 (half the machine epsilon).
UNIT_ROUNDOFF = 2.0**-53

#: A pre-activation u is taken to sit exactly on breakpoint xi_j when
#: ``|u - xi_j| <= SNAP_RTOL * scale_j`` where ``scale_j`` bounds the magnitude of the summands of
#: u - xi_j (``|W| |a| + |b| + |xi_j|``, see ``snap_scale``: each breakpoint has its own scale, so
#: a far-away breakpoint such as hard tanh's 1e6 does not blunt the one at 0). This is what keeps
#: counts exact when many neurons switch at one point: their crossings are recognised as one point
#: instead of a cloud of near-copies. 1e-12 sits ~100x above worst-case rounding (measured: snapped
#: residues in zero-bias nets are <= 1e-15 of the scale) and lets segments as short as ~1e-11 |x|
#: be resolved.
SNAP_RTOL = 1e-12

#: Two crossings on a segment closer than ``T_MERGE`` (in units of the segment's length)
#: are one point. Rounding in the crossing parameter is ~1e-15; distinct generic crossings of
#: a net with N neurons are ~1/N apart.
T_MERGE = 1e-10

#: The output's slope is taken to jump at a point (a linear-region boundary) when the change of
#: the slope vector exceeds ``SLOPE_RTOL`` times the sum of the slope norms on the two sides
#: *and* the rounding floor of ``slope_noise``. Slopes are products of weights computed with
#: relative error ~1e-14; genuine jumps are of the size of the slopes themselves.
SLOPE_RTOL = 1e-9

#: Safety factor on the rounding bound ``gamma_K |W_d| |D_{d-1} ... W_0 v|`` of a slope
#: (``slope_noise``); the bound is already a worst case, the factor covers the difference of the
#: two sides and the interpolation that produced the tangents.
SLOPE_NOISE_SAFETY = 8.0

#: A pre-activation snapped to a breakpoint (``|u - xi| <= tol``, ``tol = SNAP_RTOL * scale``)
#: is rounding noise when ``|u - xi| <= SNAP_NOISE_FRACTION * tol``, i.e. 1e-13 of the scale of
#: its summands: float64 rounding of a forward pass and of the interpolations along edges stays
#: below that (~1e-15 to 1e-14), and exactly degenerate arrangements (zero biases) snap values of
#: that size. A snapped value above it is a real offset that the snap tolerance erased: the
#: arrangement is nearly, not exactly, degenerate (features ~1e-12 of the scale, e.g. biases
#: ~1e-9 to 1e-11), counts may be off, and results count it and warn (``RuntimeWarning``).
SNAP_NOISE_FRACTION = 1e-1

#: A tolerance decision counts as *close* when the decided quantity lies within this factor of
#: its threshold (above rounding noise): the result then says so (``close_decisions``).
CLOSE_FACTOR = 100.0


def snap_scale(W: np.ndarray, b: np.ndarray, a_absmax: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Per-neuron, per-breakpoint bound on the magnitude of the summands of ``u - xi_j`` with
    ``u = W a + b``: ``|W| |a| + |b| + |xi_j|``.

    ``a_absmax`` is (n_prev,) -> result (n, T); or (n_prev, S) for S separate bounds -> (n, S, T).
    Multiply by ``SNAP_RTOL`` for the snapping tolerance of breakpoint j in ``[..., j]``.

    >>> import numpy as np
    >>> snap_scale(np.array([[1.0, -2.0]]), np.array([0.5]), np.array([1.0, 1.0]), np.array([0.0, 1e6])).tolist()
    [[3.5, 1000003.5]]
    """
    base = np.abs(W) @ a_absmax
    base = base + (np.abs(b)[:, None] if base.ndim == 2 else np.abs(b))
    return base[..., None] + np.abs(np.asarray(xi, dtype=float))


def vector_norm(x: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis without overflow or underflow of the squares (each row is
    scaled by its largest entry first): slopes of 1e200 have norms of 1e200, not inf.

    >>> [f"{v:.6g}" for v in vector_norm(np.array([[3e200, 4e200], [0.0, 0.0]]))]
    ['5e+200', '0']
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    if x.shape[-1] == 1:
        return np.abs(x[..., 0])
    m = np.max(np.abs(x), axis=-1) if x.shape[-1] else np.zeros(x.shape[:-1])
    safe = np.where(m > 0, m, 1.0)
    return m * np.linalg.norm(x / safe[..., None], axis=-1)


def slope_noise(abs_slope: np.ndarray, n_terms: int) -> np.ndarray:
    """Rounding floor of slope vectors: ``SLOPE_NOISE_SAFETY * n_terms * u * ||abs_slope||``.

    ``abs_slope`` (k, n_out) is the magnitude of the summands of the *last* product of the slope,
    ``|W_d| |D_{d-1} W_{d-1} ... D_0 W_0 v|`` (the absolute value of the final weights times the
    absolute value of the signed tangent of the last hidden layer). Cancellation among those
    summands is what leaves rounding noise where the exact slope is 0 (duplicated neurons with
    opposite output weights), and ``gamma_{n_terms}`` times it bounds that noise; errors made in
    earlier layers are relative errors of the tangent, covered by ``SLOPE_RTOL``.

    Why not the product with ``|.|`` of *every* factor (the classical a-priori bound)? With random
    signs it grows like (sqrt(width))^depth faster than the slope itself: on a 4-[128]x20 ReLU net
    it exceeds every genuine jump and every linear boundary would vanish. ``n_terms`` is the number
    of summands along a path (for an MLP, ``n_in + sum(widths)`` is safe).

    >>> float(slope_noise(np.array([[0.21 + 0.21]]), 4)[0]) < 1e-14
    True
    """
    return SLOPE_NOISE_SAFETY * n_terms * UNIT_ROUNDOFF * vector_norm(np.atleast_2d(abs_slope))


def slope_jump(left: np.ndarray, right: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decide linear-region boundaries: does the output's slope jump between ``left`` and ``right``?

    ``left``, ``right`` (k, n_out) are the slope vectors on the two sides of k candidate points
    (or facets); ``noise`` (k,) the rounding floor of their difference (``slope_noise`` of the sum
    of both sides' absolute slopes). Returns ``(jump, close)``: ``jump`` where
    ``||right - left|| > max(SLOPE_RTOL (||left|| + ||right||), noise)``; ``close`` where the
    difference is above rounding noise and within ``CLOSE_FACTOR`` of the relative threshold
    ``SLOPE_RTOL (||left|| + ||right||)`` (a suppressed jump larger than ``noise`` is always
    close). A difference above ``noise`` but far from the relative threshold is *not* close:
    ``noise`` bounds the rounding error of the difference, so the exact slopes certainly differ
    there (for wide deep nets the a-priori floor is far above the actual rounding, and calling
    every jump within 100x of it close would flag most segments for nothing).

    A slope that is exactly 0 on one side and rounding noise on the other is no jump:

    >>> import numpy as np
    >>> jump, close = slope_jump(np.array([[0.0]]), np.array([[1e-17]]), np.array([4e-16]))
    >>> bool(jump[0]), bool(close[0])
    (False, False)
    >>> jump, close = slope_jump(np.array([[0.0]]), np.array([[0.21]]), np.array([4e-16]))
    >>> bool(jump[0]), bool(close[0])
    (True, False)
    >>> jump, close = slope_jump(np.array([[1.0]]), np.array([[1.0 + 5e-9]]), np.array([4e-16]))
    >>> bool(jump[0]), bool(close[0])
    (True, True)
    """
    left, right = np.atleast_2d(left), np.atleast_2d(right)
    diff = vector_norm(right - left)
    rel = SLOPE_RTOL * (vector_norm(left) + vector_norm(right))
    thr = np.maximum(rel, noise)
    jump = diff > thr
    close = (diff > noise) & (diff <= CLOSE_FACTOR * rel) & (diff * CLOSE_FACTOR > rel)
    return jump, close


__all__ = [
    "UNIT_ROUNDOFF", "SNAP_RTOL", "SNAP_NOISE_FRACTION", "T_MERGE", "SLOPE_RTOL", "SLOPE_NOISE_SAFETY", "CLOSE_FACTOR",
    "snap_scale", "slope_noise", "slope_jump", "vector_norm",
]
