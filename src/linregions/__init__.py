"""linregions: exact linear regions of piecewise-linear networks, and the theory of
Hanin & Rolnick, "Complexity of Linear Regions in Deep Networks" (ICML 2019)."""
from __future__ import annotations

from .activations import (
    PiecewiseLinear,
    absolute,
    hard_sigmoid,
    hard_tanh,
    leaky_relu,
    relu,
    relu6,
    soft_shrink,
)
from .laws import AssumptionError, HeNormal, Laplace, Law, Normal, Uniform, Zero, random_mlp
from .line import LineBatch, LinePartition, line, lines, real_line
from .network import Network, PiecewiseLinearModule

__version__ = "0.1.0"

__all__ = [
    "PiecewiseLinear", "relu", "leaky_relu", "hard_tanh", "absolute", "relu6", "hard_sigmoid", "soft_shrink",
    "Network", "PiecewiseLinearModule",
    "Law", "Normal", "Uniform", "Laplace", "Zero", "HeNormal", "AssumptionError", "random_mlp",
    "LinePartition", "LineBatch", "line", "lines", "real_line",
]


def load_model(path, *, trust: bool = False) -> Network:
    """Load a TorchScript (or, with ``trust=True``, pickled) model as a ``Network``."""
    from .torch_io import load_model as _load

    return _load(path, trust=trust)


__all__.append("load_model")
