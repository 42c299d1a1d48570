"""The paper's experiments as library code (docs/theory.md), each a function returning an
``ExperimentResult``: a tidy table (pandas), a summary table, matplotlib figures, the paper's
claim and an honest verdict computed from the numbers.

Experiments (``EXPERIMENTS`` lists them in report order):

- ``regions_at_init``: regions along segments between MNIST points at He initialisation against
  #neurons for depths 1-4, with the Theorem 6 prediction on the same axes.
- ``regions_in_training``: regions along fixed segments, per epoch while training on MNIST
  (Adam, lr 1e-3, He init, biases N(0, 0.001²)), normalised by #neurons, with test accuracy.
- ``distance_to_boundary``: mean distance from data points to the nearest boundary against
  1/#neurons, at initialisation and during training.
- ``slices``: 2D slices through the first 0, 1 and 2 of the training set: region pictures at init
  and after training, region counts against #neurons^2/2 during training, with label-corruption
  and learning-rate variants (companion paper).
- ``formula_vs_measurement``: Theorem 6 against exact counts, with error bars.
- ``boundary_volume``: boundary volume density in 784 dimensions from integral geometry.
- ``zero_bias_control``: zero biases (assumption A2 fails) against the paper's tiny biases.

Grids of independent cells run through ``linregions.sweep.run_sweep`` (process pool, Dask, or
serial) and land in a resumable results store. Sizes come from a ``Scale``: ``"small"`` (the
default report, a few minutes on 2 cores), ``"full"`` (close to the paper) and ``"tiny"``
(tests).

Each experiment states one ``verdicts.Verdict`` per claim, judged on the whole table (every
epoch, every seed) with a stated tolerance; standard errors take the network as the sampling
unit. Where a prediction sits next to a measurement, both are computed on the same samples
(``ExperimentResult.pairs``).

All figures are ``matplotlib.figure.Figure`` objects (no pyplot state, no display needed).
"""
from __future__ import annotations

from typing import Callable

from . import verdicts
from ._common import PAPER_BIAS, SCALES, ExperimentResult, Pair, Scale, _data, bias_label, paired_means, scale_config  # noqa: F401
from ._training import network_from_npz, train_cell
from .at_init import init_cell, regions_at_init
from .distances import distance_to_boundary
from .formula import THEORY_CONFIGS, formula_vs_measurement, theory_cell
from .in_training import regions_in_training
from .slice_counts import slices
from .volume import boundary_volume, volume_cell
from .zero_bias import zero_bias_cell, zero_bias_control

__all__ = [
    "Scale", "SCALES", "scale_config", "ExperimentResult", "EXPERIMENTS",
    "regions_at_init", "regions_in_training", "distance_to_boundary", "slices",
    "formula_vs_measurement", "boundary_volume", "zero_bias_control",
    "init_cell", "train_cell", "zero_bias_cell", "theory_cell", "volume_cell", "network_from_npz",
    "PAPER_BIAS", "THEORY_CONFIGS", "Pair", "paired_means", "bias_label", "verdicts",
]

#: The experiments in report order.
EXPERIMENTS: dict[str, Callable[..., ExperimentResult]] = {
    "regions_at_init": regions_at_init,
    "regions_in_training": regions_in_training,
    "distance_to_boundary": distance_to_boundary,
    "slices": slices,
    "formula_vs_measurement": formula_vs_measurement,
    "boundary_volume": boundary_volume,
    "zero_bias_control": zero_bias_control,
}

try:  # the local-complexity experiment (issue 11) registers itself when its module is there
    from .local_complexity import lc_training
except ImportError:
    pass
else:
    EXPERIMENTS["local_complexity"] = lc_training
    __all__.append("lc_training")

#: What each experiment needs besides the package (``linregions report`` checks it before any work).
REQUIRES: dict[str, tuple[str, ...]] = {n: (() if n == "boundary_volume" else ("mnist",)) for n in EXPERIMENTS}
__all__.append("REQUIRES")
