"""Named numerical tolerances of the exact routines (all computation is float64).

Every exact partition decides a few things by comparing floats; each comparison uses one of the
constants below, so that a reader can see what was decided and why the threshold is safe.

Rounding in a float64 forward pass of a layer of width n makes an error of about
``sqrt(n) * 2**-52 * sum_i |w_i a_i|`` in a pre-activation (``n * 2**-52`` at worst), i.e.
1e-15 to 1e-14 of the magnitude of its summands for widths up to a few thousand. The thresholds
sit above that, and far below any gap that occurs with appreciable probability for networks with
continuous weight and bias laws, so they act on *degenerate* arrangements (for example zero
biases, where every first-layer hyperplane passes through the origin).

What they cannot resolve (stated, not hidden): features smaller than ``SNAP_RTOL`` times the
magnitude of the inputs and weights (a segment of length 1e-13 at |x| ~ 1, or 1e-11 at |x| ~ 100,
biases of ~1e-11 next to weights of ~1), crossings within ``T_MERGE`` of a segment's end, and
slope jumps below ``SLOPE_RTOL`` of the slope vector (e.g. one output a billion times steeper
than another).
"""
from __future__ import annotations

#: A pre-activation u is taken to sit exactly on a breakpoint xi when
#: ``|u - xi| <= SNAP_RTOL * scale`` where ``scale`` bounds the magnitude of the summands of u
#: (``|W| |a| + |b| + |xi|``). This is what keeps counts exact when many neurons switch at
#: one point: their crossings are recognised as one point instead of a cloud of near-copies.
#: 1e-12 sits ~100x above worst-case rounding (measured: snapped residues in zero-bias nets are
#: <= 1e-15 of the scale) and lets segments as short as ~1e-11 |x| be resolved.
SNAP_RTOL = 1e-12

#: Two crossings on a segment closer than ``T_MERGE`` (in units of the segment's length)
#: are one point. Rounding in the crossing parameter is ~1e-15; distinct generic crossings of
#: a net with N neurons are ~1/N apart.
T_MERGE = 1e-10

#: The output's slope is taken to jump at a point (a linear-region boundary) when the change of
#: the slope vector exceeds ``SLOPE_RTOL`` times the sum of the slope norms on the two sides.
#: Slopes are products of weights computed with relative error ~1e-14; genuine jumps are of
#: the size of the slopes themselves.
SLOPE_RTOL = 1e-9

__all__ = ["SNAP_RTOL", "T_MERGE", "SLOPE_RTOL"]
