"""Named numerical tolerances of the exact routines (all computation is float64).

Every exact partition decides a few things by comparing floats; each comparison uses one of the
constants below, so that a reader can see what was decided and why the threshold is safe.

Rounding in a float64 forward pass of a layer of width n makes an error of about
``n * 2**-52 * sum_i |w_i a_i|`` in a pre-activation, i.e. around 1e-14 of the magnitude of its
summands for widths up to a few thousand. The thresholds sit four orders of magnitude above
that, and four or more below any gap that occurs with positive probability for networks with
continuous weight and bias laws, so they only ever act on *degenerate* arrangements (for example
zero biases, where every first-layer hyperplane passes through the origin).
"""
from __future__ import annotations

#: A pre-activation u is taken to sit exactly on a breakpoint xi when
#: ``|u - xi| <= SNAP_RTOL * scale`` where ``scale`` bounds the magnitude of the summands of u
#: (``|W| |a| + |b| + |xi|``). This is what keeps counts exact when many neurons switch at
#: one point: their crossings are recognised as one point instead of a cloud of near-copies.
SNAP_RTOL = 1e-10

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
