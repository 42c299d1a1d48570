"""A training hook that records region complexity while a PyTorch model trains.

``RegionTracker`` is added to a user's own training loop. Every ``every`` optimiser steps it
converts the model to a float64 ``Network`` (``Network.from_torch``) and records, on fixed inputs
chosen once at construction:

- the exact number of linear and activation regions on fixed segments (``linregions.line.lines``),
  also as boundaries per neuron ``(regions - 1) / #neurons`` (the paper's normalisation);
- the exact number of regions in fixed planar slices (``linregions.plane.plane_through``), also
  divided by ``#neurons^2 / 2`` (the companion paper's scale for 2D slices);
- the exact distance from fixed points to the nearest region boundary
  (``linregions.distance.distance_to_boundary``), also times ``#neurons``;
- local complexity (``linregions.local_complexity``) around named groups of fixed points (for
  example train, test and random points) at a few radii, at log-spaced steps (every step below 30,
  every 10 below 150, every 100 below 1,000, ...): exact boundary density in the ball, exact probe
  counts, the published proxy, averaged per group, radius and layer (``tracker.lc_frame()``).

One row per measurement goes into a table (``tracker.frame()``), with the step and any extra
values the caller passes (epoch, loss, accuracy).

>>> import torch, numpy as np
>>> from torch import nn
>>> model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
>>> rng = np.random.default_rng(0)
>>> tr = RegionTracker(segments=(rng.normal(size=(5, 4)), rng.normal(size=(5, 4))), every=10)
>>> opt = torch.optim.Adam(model.parameters(), 1e-3)
>>> for step in range(20):
...     opt.zero_grad(); model(torch.randn(8, 4)).pow(2).mean().backward(); opt.step()
...     _ = tr.step(model, loss=0.0)
>>> list(tr.frame()["step"])
[10, 20]
"""
from __future__ import annotations

import math
import time
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .network import Network, _as_matrix

__all__ = ["RegionTracker"]

_KINDS = ("linear", "activation")


def _sem(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")


class RegionTracker:
    """Record region counts on fixed segments and planes, and distances at fixed points.

    Parameters
    ----------
    segments : ``(X0, X1)``, each (S, n_in): fixed segments [X0[i], X1[i]].
    planes : sequence of ``(p0, p1, p2)`` triples of inputs; each plane is the slice through the
        three points (``plane_through``, with ``margin`` around them).
    points : (P, n_in) fixed inputs for the distance to the nearest boundary.
    every : measure every ``every`` calls of ``step`` (optimiser steps). ``record`` measures now.
    distance_kind : ``"activation"`` (exact distance to the activation-region boundary, what the
        paper measures) or ``"linear"`` (distance to B_N).
    margin : margin of the planes around their three points (fraction of their extent).
    keep_planes : keep each measured ``PlanePartition`` in ``self.partitions[(step, i)]``.
    lc_points : ``{group: (P, n_in) points}`` for local complexity, e.g.
        ``{"train": ..., "test": ..., "random": ...}``.
    lc_radii : radius or radii of the local-complexity balls and probes.
    lc_every : ``"log"`` (the log-spaced schedule of ``local_complexity.is_log_step``), a
        positive integer, or a collection of steps; ``step`` records local complexity when it is
        due (and ``record`` always).
    lc_options : keyword arguments for ``local_complexity`` (``n_chords``, ``n_probes``,
        ``columns``, ``seed``, ``device``, ``bias_law``). The seed is fixed, so every step uses the
        same probes and chords (differences between steps are then not blurred by new draws).

    Measuring never changes the model (it is read in ``torch.no_grad``, in float64).
    """

    def __init__(
        self,
        *,
        segments: tuple[Any, Any] | None = None,
        planes: Sequence[tuple[Any, Any, Any]] | None = None,
        points: Any = None,
        every: int = 100,
        distance_kind: str = "activation",
        margin: float = 0.1,
        keep_planes: bool = False,
        lc_points: Mapping[str, Any] | None = None,
        lc_radii: float | Sequence[float] = (),
        lc_every: str | int | Sequence[int] = "log",
        lc_options: Mapping[str, Any] | None = None,
    ):
        if segments is None and not planes and points is None and not lc_points:
            raise ValueError("RegionTracker: give at least one of segments=(X0, X1), planes=[(p0, p1, p2), ...], points=X, lc_points={name: X}")
        if not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"RegionTracker: every must be a positive integer (steps), got {every!r}")
        if distance_kind not in _KINDS:
            raise ValueError(f"RegionTracker: distance_kind must be 'linear' or 'activation', got {distance_kind!r}")
        self.segments = None
        if segments is not None:
            if not (isinstance(segments, (tuple, list)) and len(segments) == 2):
                raise TypeError("RegionTracker: segments must be a pair (X0, X1) of (S, n_in) arrays")
            X0, X1 = (np.atleast_2d(_as_matrix(s, f"segments[{i}]")) for i, s in enumerate(segments))
            if X0.shape != X1.shape:
                raise ValueError(f"RegionTracker: segment ends must have the same shape, got {X0.shape} and {X1.shape}")
            self.segments = (X0, X1)
        self.planes = []
        for i, tri in enumerate(planes or ()):
            if len(tri) != 3:
                raise ValueError(f"RegionTracker: planes[{i}] must be three points (p0, p1, p2)")
            self.planes.append(tuple(_as_matrix(p, f"planes[{i}]").reshape(-1) for p in tri))
        self.points = None if points is None else np.atleast_2d(_as_matrix(points, "points"))
        self.every = int(every)
        self.distance_kind = distance_kind
        self.margin = float(margin)
        self.keep_planes = bool(keep_planes)
        self.partitions: dict[tuple[int, int], Any] = {}
        self.steps = 0
        self._rows: list[dict] = []
        self._init_lc(lc_points, lc_radii, lc_every, lc_options)

    def _init_lc(self, lc_points: Any, lc_radii: Any, lc_every: Any, lc_options: Any) -> None:
        self.lc_points: dict[str, np.ndarray] = {}
        for name, X in (lc_points or {}).items():
            self.lc_points[str(name)] = np.atleast_2d(_as_matrix(X, f"lc_points[{name!r}]"))
        radii = np.atleast_1d(np.asarray(lc_radii, dtype=np.float64)).reshape(-1)
        if self.lc_points and (radii.size == 0 or np.any(~np.isfinite(radii)) or np.any(radii <= 0)):
            raise ValueError(f"RegionTracker: lc_radii must be one or more positive radii when lc_points are given, got {lc_radii!r}")
        if isinstance(lc_every, (list, tuple, np.ndarray, range, set, frozenset)):
            lc_every = frozenset(int(v) for v in lc_every)
        elif not (lc_every == "log" or (isinstance(lc_every, (int, np.integer)) and not isinstance(lc_every, bool) and lc_every >= 1)):
            raise ValueError(f"RegionTracker: lc_every must be 'log', a positive integer (steps) or a collection of steps, got {lc_every!r}")
        self.lc_radii = tuple(float(r) for r in radii)
        self.lc_every = lc_every
        self.lc_options = dict(lc_options or {})
        self._lc_rows: list[pd.DataFrame] = []
        self._lc_last_step: int | None = None

    def __repr__(self) -> str:
        s = 0 if self.segments is None else len(self.segments[0])
        p = 0 if self.points is None else len(self.points)
        lc = f", lc_groups={len(self.lc_points)}" if self.lc_points else ""
        return f"RegionTracker(segments={s}, planes={len(self.planes)}, points={p}{lc}, every={self.every}, records={len(self._rows)})"

    # -- hooks -----------------------------------------------------------------------------------
    def step(self, model: Any, **extra: Any) -> dict | None:
        """Call once per optimiser step; measures (and returns the row) every ``every`` steps, and
        records local complexity alone at the other steps where it is due (``lc_every``)."""
        self.steps += 1
        if self.steps % self.every == 0:
            return self.record(model, **extra)
        if self.lc_points and self.lc_due(self.steps):
            self.record_lc(model, **extra)
        return None

    def lc_due(self, step: int) -> bool:
        """Whether local complexity is due at ``step`` (``lc_every``)."""
        from .local_complexity import is_log_step

        if isinstance(self.lc_every, frozenset):
            return int(step) in self.lc_every
        return is_log_step(step) if self.lc_every == "log" else int(step) % int(self.lc_every) == 0

    def record_lc(self, model: Any, step: int | None = None, **extra: Any) -> pd.DataFrame:
        """Local complexity of ``model`` now around every group of ``lc_points``: the mean and the
        standard error over each group's points of every column of ``local_complexity``, per
        radius and layer (layer -1: the whole network). Appends to ``lc_frame()`` and returns the
        new rows; a second call at the same step returns them again without measuring."""
        from .local_complexity import lc_summary, local_complexity

        st = self.steps if step is None else int(step)
        if self._lc_last_step == st and self._lc_rows:
            return self._lc_rows[-1]
        net = model if isinstance(model, Network) else self._network(model)
        t0 = time.perf_counter()
        parts = []
        for name, X in self.lc_points.items():
            out = lc_summary(local_complexity(net, X, self.lc_radii, **{"progress": False, **self.lc_options}))
            out.insert(0, "group", name)
            out.insert(1, "n_points", len(X))
            parts.append(out)
        rows = pd.concat(parts, ignore_index=True)
        rows.insert(0, "step", st)
        for k, v in extra.items():
            rows[k] = v
        rows["measure_seconds"] = time.perf_counter() - t0
        self._lc_rows.append(rows)
        self._lc_last_step = st
        return rows

    def lc_frame(self) -> pd.DataFrame:
        """All local-complexity rows so far: one per step × group × radius × layer."""
        return pd.concat(self._lc_rows, ignore_index=True) if self._lc_rows else pd.DataFrame()

    def record(self, model: Any, step: int | None = None, **extra: Any) -> dict:
        """Measure ``model`` now (a torch module or a ``Network``) and append one row (and local
        complexity rows to ``lc_frame()`` when ``lc_points`` are set)."""
        net = self._network(model)
        t0 = time.perf_counter()
        row: dict[str, Any] = {"step": self.steps if step is None else int(step), **extra, "num_neurons": net.num_neurons}
        N = net.num_neurons
        if self.segments is not None:
            from .line import lines

            batch = lines(net, *self.segments)
            for kind in _KINDS:
                r = batch.num_regions(kind).astype(np.float64)
                row[f"segment_regions_{kind}"] = float(r.mean())
                row[f"segment_regions_{kind}_sem"] = _sem(r)
                row[f"segment_boundaries_per_neuron_{kind}"] = float(((r - 1) / N).mean())
        for i, (p0, p1, p2) in enumerate(self.planes):
            from .plane import plane_through

            part = plane_through(net, p0, p1, p2, margin=self.margin)
            for kind in _KINDS:
                c = float(part.num_regions(kind))
                row[f"plane{i}_regions_{kind}"] = c
                row[f"plane{i}_regions_{kind}_per_half_n2"] = c / (N * N / 2.0)
            if self.keep_planes:
                self.partitions[(row["step"], i)] = part
        if self.points is not None:
            from .distance import distance_to_boundary

            d = np.asarray(distance_to_boundary(net, self.points, kind=self.distance_kind).distance, dtype=np.float64)
            row["distance_mean"] = float(d.mean())
            row["distance_sem"] = _sem(d)
            row["distance_median"] = float(np.median(d))
            row["distance_times_neurons"] = float(d.mean() * N)
        row["measure_seconds"] = time.perf_counter() - t0
        self._rows.append(row)
        if self.lc_points:
            self.record_lc(net, step=row["step"], **extra)
        return row

    def frame(self) -> pd.DataFrame:
        """All rows recorded so far, one per measurement."""
        return pd.DataFrame(self._rows)

    @property
    def rows(self) -> list[dict]:
        return list(self._rows)

    @staticmethod
    def _network(model: Any) -> Network:
        if isinstance(model, Network):
            return model
        try:
            import torch
        except ImportError:  # pragma: no cover
            raise TypeError("RegionTracker needs a torch module or a linregions.Network") from None
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"RegionTracker: model must be a torch.nn.Module or a linregions.Network, got {type(model).__name__}")
        with torch.no_grad():
            return Network.from_torch(model)
