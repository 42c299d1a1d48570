"""The theory of Hanin & Rolnick evaluated for real networks, and held against measurement.

What is here (docs/theory.md §3-§6):

- ``theorem6``: unbiased Monte Carlo estimates of E[vol_{m-k}(B_{N,k} ∩ K)] (Theorem 6) for a
  random-network law (``NetworkLaw``) or for one fixed ``Network`` with the law of its biases, on a
  domain K: a ``Box`` or ``Ball`` of input space, a ``Segment``, a planar ``Rectangle``, or the
  whole line/plane of a 1- or 2-input network (``WholeSpace``). k = 1 sums over every neuron and
  breakpoint; k >= 2 enumerates neuron tuples when there are few and samples them uniformly
  (unbiased) otherwise. Torch, float64, CPU or CUDA (``device=``): k = 1 is batched over
  networks, inputs and the neurons of a layer; k >= 2 over inputs and tuples, network by network.
- ``segment_expected_count``: the k = 1 closed form on a segment, per neuron and affine piece
  |F(ξ - z̃(t1)) - F(ξ - z̃(t0))| (also on the whole real line of a 1-input network).
- ``c_bias``, ``c_grad``, ``corollary7``, ``corollary8``: the constants and the bounds of
  Corollaries 7 and 8 with the measured quantity next to them.
- ``init_facts``: facts (31)-(34) of the appendix at He initialisation, estimate against formula.
- ``measure`` and ``compare``: exact counts/lengths (``line``, ``plane``) or Crofton estimates
  (``crofton``) next to the prediction, with standard errors and z-scores (``TheoryTable``).

Conventions (docs/architecture.md): a bias law describes PyTorch's bias β (u = w·a + β); the
bias-free pre-activation is z̃ = u - β, and the density in Theorem 6 is ρ_β(ξ - z̃(x)).
Goodness is structural (a path of open neurons with non-zero weights to an output); a neuron
exactly at a breakpoint counts as open.

The exact estimator ("substituted"). The coarea argument behind Theorem 6 (Prop. 11) integrates,
for each chosen neuron z and breakpoint ξ, over the level set {u_z = ξ} *with z's bias set so that
z sits at ξ*. So, for every x, chosen neurons are set exactly to their breakpoints in layer order,
and goodness and the bias-free pre-activations (and gradients) of later chosen neurons are taken
in that substituted network. For k >= 2 the Jacobian row of a later chosen neuron is its gradient
in the substituted network (the slopes of earlier chosen neurons only add multiples of their own
rows, which the Gram determinant ignores). The cheaper ``mode="unmodified"`` evaluates everything
in the network as it is: a named approximation, biased where goodness or later pre-activations
depend on the chosen neurons (narrow hard-tanh nets; docs/theory.md §3 reports 3.5σ for k = 2).

Assumption A2. Theorem 6 needs biases with a bounded density. ``Zero()`` (no density) or a law
whose density is unbounded raises ``laws.AssumptionError``; so does a fixed network given without
its bias law.

>>> from linregions import relu, Normal
>>> law = NetworkLaw(1, (8, 8), activation=relu(), biases=Normal(0.5))
>>> est = theorem6(law, Segment([-1.0], [1.0]), k=1, n_networks=4, n_samples=256)
>>> est.value > 0
True
"""
from __future__ import annotations

from ..crofton import Ball, Box
from .network_law import (  # noqa: F401
    Kind,
    Mode,
    _BATCH_ELEMENTS,
    _MAX_EXHAUSTIVE_TERMS,
    NetworkLaw,
    _check_law,
    _laws_for,
    _pdf_torch,
)
from .domains import (  # noqa: F401
    Segment,
    Rectangle,
    WholeSpace,
    Domain,
    _domain_n_in,
    _restriction,
    _sample_domain,
    _param_volume,
)
from ._kernels import (  # noqa: F401
    _SMALL_WORK,
    _cpu_threads,
    _TorchNet,
    _reach,
    _TorchStack,
    _bcast,
    _reach_stack,
    _k1_values,
    _kk_values,
    _chunk,
)
from .estimators import (  # noqa: F401
    Estimate,
    Theorem6Estimate,
    _check_a2_structure,
    _nets,
    _check_common,
    _tuples,
    _estimate_k1,
    _estimate_one,
    theorem6,
    approximation_bias,
)
from .closed_form import (  # noqa: F401
    segment_expected_count,
    _segment_expected_activation,
    _good_numpy,
    _tangent,
)
from .measurement import (  # noqa: F401
    _WHOLE_PLANE_MAX_HALF_WIDTH,
    _whole_plane_vertices,
    _measure_one,
    Measurement,
    measure,
)
from .corollaries import (  # noqa: F401
    c_bias,
    _grad_norms,
    _unit_scale,
    c_grad,
    Corollary7,
    _T,
    corollary7,
    Corollary8Row,
    Corollary8,
    corollary8,
)
from .facts import (  # noqa: F401
    FactCheck,
    _log_factor,
    init_facts,
)
from .tables import (  # noqa: F401
    TheoryRow,
    TheoryTable,
    _z,
    compare,
)

__all__ = [
    "NetworkLaw",
    "Segment",
    "Rectangle",
    "WholeSpace",
    "Box",
    "Ball",
    "Estimate",
    "Theorem6Estimate",
    "theorem6",
    "approximation_bias",
    "segment_expected_count",
    "c_bias",
    "c_grad",
    "Corollary7",
    "corollary7",
    "Corollary8Row",
    "Corollary8",
    "corollary8",
    "FactCheck",
    "init_facts",
    "measure",
    "Measurement",
    "TheoryRow",
    "TheoryTable",
    "compare",
]
