"""Result type of ``linregions.distance`` (``Distances``) and the checks and warnings both kinds share."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..network import Network, is_module as _is_torch_module

__all__ = ["Distances", "Kind"]

Kind = Literal["activation", "linear"]


@dataclass(frozen=True, repr=False, eq=False)
class Distances:
    """Distances from a batch of inputs to the boundary of their region.

    Attributes
    ----------
    kind : "activation" or "linear" (which region's boundary).
    x : (B, n_in) the inputs (for a torch module: (B,) + input_shape, as given).
    distance : (B,) the exact distance (``inf`` when no neuron can switch: no boundary at all).
    layer, unit : (B,) the neuron (0-based hidden layer, unit) whose switch is at the nearest
        boundary point (-1 when none). Ties: the first found (lowest layer for kind="activation").
        For a torch module: the engine's activation site and the flat unit index in it
        (``ModuleProgram.unit_name(layer, unit)`` reads it), as ``lr.lines`` reports crossings.
    breakpoint : (B,) 0-based index j of the breakpoint xi_j it reaches there (-1 when none).
    nearest : (B, n_in) the nearest boundary point (NaN when none); shaped like ``x``.
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
        raise TypeError(f"net: expected a linregions.Network or a torch.nn.Module, got {type(net).__name__}")
    if kind not in ("activation", "linear"):
        raise ValueError(f"kind must be 'activation' or 'linear', got {kind!r}")
    X = net._check_inputs(X)
    if X.shape[0] == 0:
        raise ValueError(f"X: need at least one input of dimension {net.n_in}, got an empty batch")
    return X



def is_module(obj: Any) -> bool:
    """A torch ``nn.Module`` or an engine ``ModuleProgram`` (without importing torch when it is not loaded)."""
    import sys

    if _is_torch_module(obj):
        return True
    prog = sys.modules.get("linregions.engine.program")
    return prog is not None and isinstance(obj, prog.ModuleProgram)


def _module_only(input_shape: Any, chunk_points: Any) -> None:
    if input_shape is not None or chunk_points is not None:
        raise TypeError("input_shape and chunk_points apply to torch modules (the torch-native engine), not to a "
                        "linregions.Network")


def _net_only(chunk_size: Any, method: str) -> None:
    if chunk_size is not None or method != "auto":
        raise TypeError("chunk_size and method apply to a linregions.Network; for torch modules, memory is set by "
                        "chunk_points")


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

