"""The evaluation protocol of the torch-native engine: what the segment driver asks of a model.

The driver (``linregions.engine.segments``) implements the layer-by-layer splitting of
``linregions.line`` without ever forming a weight matrix: it asks the model, for a batch of
points (rows) with their *live tensors* (every value that later computation still needs), for

- the pre-activations of activation site l, flattened to (P, n_l), and their tangents (the
  linear part of the map along the segment's direction, with the activation pattern of the
  earlier sites fixed): ``Evaluator.advance``;
- the per-segment magnitude of the summands of those pre-activations (for the snap tolerance
  ``tolerances.snap_scale``), from the same ops with absolute parameters on ``|a|``:
  ``Evaluator.summand_scale``;
- new points between two existing ones: every live tensor is affine in t between consecutive
  points while the upstream pattern is fixed, so values are interpolated exactly and tangents
  inherited from the interval they split: ``Live.insert``;
- site l applied with given state codes (values at the points, slopes of the pieces on the
  intervals): ``Evaluator.apply``;
- the output and its slope: ``Evaluator.output``;
- reachability (goodness) and absolute slopes at given patterns: ``Evaluator.reach`` (all units,
  a backward pass), ``Evaluator.reach_units`` (given units, a forward pass from their site: what
  the driver uses) and ``Evaluator.abs_slope``.

``linregions.engine.program.ModuleProgram`` implements it for ``torch.nn.Module``s (traced with
torch.fx, evaluated with the module's own ops in float64).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from ..activations import PiecewiseLinear

__all__ = ["Site", "Live", "Evaluator"]


@dataclass(eq=False)
class Site:
    """One activation site: a node whose units switch (an activation, or one round of the
    tournament of a maximum, whose units are ``ARGMAX``).

    ``act`` is the activation of its units (per-unit slopes when ``act.per_unit``);
    ``position`` (n,) is each unit's flat position in the node's output (for a tournament
    round: the index of the maximum it belongs to); ``passthrough`` (n,) bool or None marks
    units that never switch (a PReLU slope of 1)."""

    name: str
    kind: int
    act: PiecewiseLinear
    n: int
    position: np.ndarray
    round: int = 0
    passthrough: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def relu_like(self) -> bool:
        """One breakpoint, slopes (0, 1): slope = (code >= 2), open = (code >= 1)."""
        q = self.act.slopes
        return self.act.T == 1 and not self.act.per_unit and q[0] == 0.0 and q[1] == 1.0

    def tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Breakpoints, slopes (per code: code c has slope q[c // 2], i.e. the left piece on a
        breakpoint), open-ness per code, on ``device``."""
        key = str(device)
        if key not in self._cache:
            xi = torch.tensor(self.act.breakpoints, dtype=torch.float64, device=device)
            q = torch.tensor(self.act.slopes, dtype=torch.float64, device=device)
            T = self.act.T
            codes = torch.arange(2 * T + 1, device=device)
            qc = q[..., codes // 2]  # (2T+1,) or (n, 2T+1)
            openc = (qc != 0) | (codes % 2 == 1)
            pt = None if self.passthrough is None else torch.as_tensor(self.passthrough, device=device)
            self._cache[key] = dict(xi=xi, q=q, qc=qc, openc=openc, pt=pt)
        return self._cache[key]


class Live:
    """The live tensors of a batch of points (rows sorted by segment and t).

    ``values``: key -> (P, ...) float64 values at the points; ``tangents``: key -> (P, ...)
    derivative along the segment on the interval starting at each row; ``pc``: index of the next
    step of the model's program. Non-tensor entries (shapes) are shared by all rows."""

    def __init__(self, values: dict[str, Any], tangents: dict[str, Any], pc: int = 0):
        self.values, self.tangents, self.pc = values, tangents, pc

    @property
    def rows(self) -> int:
        return next(v.shape[0] for v in self.values.values() if isinstance(v, torch.Tensor))

    def insert(self, k: torch.Tensor, lam: torch.Tensor) -> None:
        """Insert new rows after rows ``k`` (sorted), at parameter ``lam`` in (0, 1) of the interval
        [row k, row k + 1]: values interpolated, tangents inherited from row k."""
        for key, v in self.values.items():
            if isinstance(v, torch.Tensor):
                lv = lam.reshape((-1,) + (1,) * (v.dim() - 1)).to(v.dtype)
                self.values[key] = insert_rows(v, k, v[k] + lv * (v[k + 1] - v[k]))
        for key, v in self.tangents.items():
            if isinstance(v, torch.Tensor):
                self.tangents[key] = insert_rows(v, k, v[k])


def insert_rows(X: torch.Tensor, k: torch.Tensor, Xn: torch.Tensor) -> torch.Tensor:
    """Insert rows ``Xn`` after rows ``k`` of X (k sorted; several new rows after one k keep their order)."""
    n_old, n_new = X.shape[0], k.numel()
    ar = torch.arange(n_new, device=X.device)
    new_pos = k + 1 + ar
    old_pos = torch.arange(n_old, device=X.device) + torch.searchsorted(k, torch.arange(n_old, device=X.device), right=False)
    Y = X.new_empty((n_old + n_new,) + tuple(X.shape[1:]))
    Y[old_pos] = X
    Y[new_pos] = Xn
    return Y


class Evaluator(Protocol):
    """What the segment driver needs from a model (see the module docstring)."""

    sites: tuple[Site, ...]
    input_shape: tuple[int, ...]
    n_out: int

    def start(self, X: torch.Tensor, V: torch.Tensor) -> Live: ...

    def advance(self, l: int, live: Live, chunk: int) -> tuple[torch.Tensor, torch.Tensor]: ...

    def summand_scale(self, l: int, live: Live, seg: torch.Tensor, S: int) -> torch.Tensor: ...

    def apply(self, l: int, live: Live, U: torch.Tensor, dU: torch.Tensor, codes: torch.Tensor, inplace: bool = False,
              narrowed: bool = False) -> None: ...

    def output(self, live: Live, chunk: int) -> tuple[torch.Tensor, torch.Tensor]: ...

    def reach(self, masks: list[torch.Tensor], chunk: int) -> list[torch.Tensor]: ...

    def reach_units(self, layer: torch.Tensor, unit: torch.Tensor, mask_fn: Any, chunk: int) -> torch.Tensor: ...

    def abs_slope(self, V: torch.Tensor, masks: list[torch.Tensor], chunk: int) -> torch.Tensor: ...
