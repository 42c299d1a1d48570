"""Result types of the 1D engine: ``LinePartition`` (one segment) and ``LineBatch`` (many
segments stored flat), with their counts of close tolerance decisions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal

import numpy as np

from .._views import RegionViews, NotebookViews

from ..network import Network

Kind = Literal["linear", "activation"]

#: Peak memory target of one chunk of segments (bytes); chunks are processed one after another.
_CHUNK_BYTES = 96 * 2**20


def _check_kind(kind: str) -> None:
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")


@dataclass(frozen=True, repr=False, eq=False)
class LinePartition(RegionViews, NotebookViews):
    """The exact partition of one segment [x0, x1].

    Attributes
    ----------
    x0, x1 : the segment's ends (n_in,).
    t : (m,) sorted points in (0, 1) where the activation pattern changes.
    linear : (m,) bool, True where the output's slope jumps (a linear-region boundary).
    crossing_point : (c,) index into ``t`` of each crossing (one per neuron switching there).
    layer, unit : (c,) the neuron (0-based hidden layer, unit) that switches.
    breakpoint : (c,) 0-based index j of the breakpoint xi_j it passes.
    good : (c,) bool, whether that neuron is good there: a path of open neurons (non-zero slope,
        non-zero weights) to an output, evaluated at the crossing point.
    slopes, intercepts : (m + 1, n_out); on interval i, N(x(t)) = intercepts[i] + slopes[i] * t.
    unit_kind : (c,) int8 kind of the switching unit: ``NEURON``, or ``ARGMAX`` for a boundary
        where an argmax of a (compiled) max-pooling changes.
    close_decisions : number of tolerance decisions (snap, merge within ``T_MERGE``, slope jump)
        that were *close* (between rounding noise and ``CLOSE_FACTOR`` times their threshold) and
        were not re-decided in exact arithmetic; 0 means every decision was clear or exact.
    exact_windows : number of sub-intervals of the segment that were re-decided in exact rational
        arithmetic on the float64 parameters (``linregions.exact``) because a decision was close.
        Points found there may be closer than float64 resolves ``t``, so ``t`` can repeat a value.
    """

    x0: np.ndarray
    x1: np.ndarray
    t: np.ndarray
    linear: np.ndarray
    crossing_point: np.ndarray
    layer: np.ndarray
    unit: np.ndarray
    breakpoint: np.ndarray
    good: np.ndarray
    slopes: np.ndarray
    intercepts: np.ndarray
    unit_kind: np.ndarray | None = None
    close_decisions: int = 0
    exact_windows: int = 0

    @property
    def certified(self) -> bool:
        """True when no close tolerance decision was left standing (all clear, or re-decided exactly)."""
        return self.close_decisions == 0

    def num_regions(self, kind: Kind = "linear") -> int:
        """Number of linear regions (pieces of N) or activation regions on the segment."""
        _check_kind(kind)
        return 1 + int(self.linear.sum() if kind == "linear" else self.t.size)

    def breakpoints(self, kind: Kind = "linear") -> np.ndarray:
        """Sorted t in (0, 1) of the boundaries of the given kind."""
        _check_kind(kind)
        return self.t[self.linear] if kind == "linear" else self.t

    @property
    def points(self) -> np.ndarray:
        """The boundary points x(t) in input space, (m, n_in)."""
        return self.x0 + self.t[:, None] * (self.x1 - self.x0)

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.x1 - self.x0))

    # -- regions as objects (linregions.regions / decision / serialize / notebook) -------------
    def decision_boundary(self, level: float | None = None):
        """The exact points t where the predicted class changes."""
        from ..decision import segment_boundary

        return segment_boundary(self, level)

    def plot(self, ax=None, **kw):
        """Rug plot of the breakpoints by layer under the output (``linregions.plot.plot_line``)."""
        from ..plot import plot_line

        return plot_line(self, ax=ax, **kw)

    def save(self, path, **kw) -> None:
        """``.npz``: the partition (``linregions.load``); other suffixes: the picture."""
        if str(path).lower().endswith(".npz"):
            if kw:
                raise TypeError(f"save to .npz takes no picture options, got {sorted(kw)}")
            from ..serialize import save

            save(self, path)
            return
        from ..plot import save_line

        save_line(self, path, **kw)

    def __repr__(self) -> str:
        return (
            f"LinePartition(length={self.length:.4g}, linear_regions={self.num_regions('linear')}, "
            f"activation_regions={self.num_regions('activation')}, crossings={self.layer.size}, "
            f"good_crossings={int(self.good.sum())}{'' if self.certified else f', close_decisions={self.close_decisions}'})"
        )


@dataclass(frozen=True, repr=False, eq=False)
class LineBatch:
    """Exact partitions of many segments, stored flat (``point_offsets`` and
    ``crossing_offsets`` delimit segment i); index it to get a ``LinePartition``."""

    x0: np.ndarray
    x1: np.ndarray
    t: np.ndarray
    linear: np.ndarray
    point_offsets: np.ndarray
    crossing_point: np.ndarray  # index into the flat t
    layer: np.ndarray
    unit: np.ndarray
    breakpoint: np.ndarray
    good: np.ndarray
    crossing_offsets: np.ndarray
    slopes: np.ndarray  # flat intervals: segment i owns rows point_offsets[i] + i ... point_offsets[i+1] + i
    intercepts: np.ndarray
    unit_kind: np.ndarray | None = None  # per crossing: NEURON or ARGMAX
    close_decisions: np.ndarray | None = None  # (S,) per segment, as LinePartition.close_decisions
    exact_windows: np.ndarray | None = None  # (S,) per segment, as LinePartition.exact_windows

    @property
    def certified(self) -> np.ndarray:
        """(S,) True where no close tolerance decision was left standing on the segment."""
        if self.close_decisions is None:
            return np.ones(len(self), bool)
        return self.close_decisions == 0

    def __len__(self) -> int:
        return int(self.x0.shape[0])

    def num_regions(self, kind: Kind = "linear") -> np.ndarray:
        """(S,) number of regions of the given kind on each segment."""
        _check_kind(kind)
        counts = self.linear.astype(np.int64) if kind == "linear" else np.ones(self.t.size, np.int64)
        csum = np.concatenate([[0], np.cumsum(counts)])
        return 1 + csum[self.point_offsets[1:]] - csum[self.point_offsets[:-1]]

    def lengths(self) -> np.ndarray:
        return np.linalg.norm(self.x1 - self.x0, axis=1)

    def __getitem__(self, i: int) -> LinePartition:
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"LineBatch indices must be integers (one segment), got {type(i).__name__}; iterate for many")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"segment {i} out of range for {n} segments")
        i %= n
        p0, p1 = self.point_offsets[i], self.point_offsets[i + 1]
        c0, c1 = self.crossing_offsets[i], self.crossing_offsets[i + 1]
        return LinePartition(
            x0=self.x0[i], x1=self.x1[i], t=self.t[p0:p1], linear=self.linear[p0:p1],
            crossing_point=self.crossing_point[c0:c1] - p0, layer=self.layer[c0:c1], unit=self.unit[c0:c1],
            breakpoint=self.breakpoint[c0:c1], good=self.good[c0:c1],
            slopes=self.slopes[p0 + i : p1 + i + 1], intercepts=self.intercepts[p0 + i : p1 + i + 1],
            unit_kind=None if self.unit_kind is None else self.unit_kind[c0:c1],
            close_decisions=0 if self.close_decisions is None else int(self.close_decisions[i]),
            exact_windows=0 if self.exact_windows is None else int(self.exact_windows[i]),
        )

    def __iter__(self) -> Iterator[LinePartition]:
        return (self[i] for i in range(len(self)))

    def to_frame(self):
        """One row per segment: length, linear and activation region counts."""
        from ..serialize import to_frame

        return to_frame(self)

    def save(self, path) -> None:
        """Write to ``.npz`` (``linregions.load`` reads it back)."""
        from ..serialize import save

        save(self, path)

    def __repr__(self) -> str:
        if len(self) == 0:
            return "LineBatch(0 segments)"
        lin, act = self.num_regions("linear"), self.num_regions("activation")
        return (
            f"LineBatch({len(self)} segments, linear_regions mean={lin.mean():.4g}, "
            f"activation_regions mean={act.mean():.4g}, crossings={self.layer.size})"
        )


# ----------------------------------------------------------------------------------------------
# numerical core



def _unit_kinds(net: Network, layer: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Kind (NEURON / ARGMAX) of the unit of each crossing."""
    out = np.zeros(layer.size, np.int8)
    if net.has_special_units:
        for l in range(net.depth):
            m = layer == l
            out[m] = net.kinds(l)[unit[m]]
    return out


def _concat(X0: np.ndarray, X1: np.ndarray, parts: list[dict], n_out: int = 1) -> LineBatch:
    """One flat ``LineBatch`` from chunks of segments (dicts of flat arrays with per-chunk offsets;
    ``close_decisions`` and ``unit_kind`` are used when every chunk has them). Shared by the dense
    path and the torch-native engine."""
    S = X0.shape[0]
    X0, X1 = X0.reshape(S, int(np.prod(X0.shape[1:]))), X1.reshape(S, int(np.prod(X1.shape[1:])))
    e_f, e_i, e_b = np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool)
    if not parts:  # no segments
        z = np.zeros(1, np.int64)
        return LineBatch(x0=X0, x1=X1, t=e_f, linear=e_b, point_offsets=z, crossing_point=e_i, layer=e_i,
                         unit=e_i, breakpoint=e_i, good=e_b, crossing_offsets=z, slopes=np.zeros((0, n_out)),
                         intercepts=np.zeros((0, n_out)), close_decisions=e_i, exact_windows=e_i,
                         unit_kind=np.zeros(0, np.int8))
    p_off, c_off = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)]
    n_p = n_c = 0
    for p in parts:
        p_off.append(p["point_offsets"][1:] + n_p)
        c_off.append(p["crossing_offsets"][1:] + n_c)
        p["crossing_point"] = p["crossing_point"] + n_p
        n_p += p["t"].size
        n_c += p["layer"].size
    cat = lambda key, dt=None: np.concatenate([p[key] for p in parts]).astype(dt or parts[0][key].dtype, copy=False)  # noqa: E731
    has = lambda key: all(key in p for p in parts)  # noqa: E731
    return LineBatch(
        x0=X0, x1=X1, t=cat("t"), linear=cat("linear"), point_offsets=np.concatenate(p_off).astype(np.int64),
        crossing_point=cat("crossing_point", np.int64), layer=cat("layer", np.int64), unit=cat("unit", np.int64),
        breakpoint=cat("breakpoint", np.int64), good=cat("good"),
        crossing_offsets=np.concatenate(c_off).astype(np.int64), slopes=cat("slopes"), intercepts=cat("intercepts"),
        close_decisions=cat("close_decisions") if has("close_decisions") else None,
        exact_windows=np.zeros(S, np.int64) if has("close_decisions") else None,
        unit_kind=cat("unit_kind", np.int8) if has("unit_kind") else None,
    )
