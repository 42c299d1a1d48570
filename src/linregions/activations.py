"""Continuous piecewise-linear activations (docs/theory.md §1).

An activation phi has T >= 1 breakpoints xi_1 < ... < xi_T and T + 1 slopes q_0..q_T, with q_j the
slope on (xi_j, xi_{j+1}) (xi_0 = -inf, xi_{T+1} = +inf) and q_j != q_{j+1}; one value,
``phi(xi_1)``, fixes the offset. Slopes may differ per unit (``nn.PReLU(num_parameters=n)``):
then ``slopes`` has shape ``(n, T + 1)`` and ``value`` shape ``(n,)``; breakpoints are shared.

A *piece index* p in 0..T names the interval a pre-activation lies in; a neuron is *open* on a
piece when that piece's slope is non-zero (the paper's phi'(u) != 0, used for goodness).

Functions here accept numpy arrays or torch tensors and return the same kind.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "PiecewiseLinear",
    "relu",
    "leaky_relu",
    "hard_tanh",
    "absolute",
    "relu6",
    "hard_sigmoid",
    "soft_shrink",
]


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


@dataclass(frozen=True, eq=False)
class PiecewiseLinear:
    """A continuous piecewise-linear activation with T breakpoints.

    Parameters
    ----------
    breakpoints : (T,) strictly increasing finite floats xi_1..xi_T.
    slopes : (T + 1,) or (n_units, T + 1) slopes q_0..q_T; adjacent slopes must differ.
    value : phi(xi_1), a float (or (n_units,) with per-unit slopes).
    name : a short label used in reprs and reports.

    Examples
    --------
    >>> phi = PiecewiseLinear([-1.0, 1.0], [0.0, 1.0, 0.0], value=-1.0, name="hardtanh")
    >>> phi(np.array([-3.0, 0.5, 2.0]))
    array([-1. ,  0.5,  1. ])
    """

    breakpoints: np.ndarray
    slopes: np.ndarray
    value: np.ndarray | float = 0.0
    name: str = "custom"
    _values_at_breakpoints: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for nm in ("breakpoints", "slopes", "value"):
            if np.iscomplexobj(getattr(self, nm)):
                raise TypeError(f"activation {self.name!r}: {nm} is complex ({getattr(self, nm)!r}); give real values")
        xi = np.atleast_1d(np.asarray(self.breakpoints, dtype=np.float64))
        q = np.asarray(self.slopes, dtype=np.float64)
        v = np.asarray(self.value, dtype=np.float64)
        if xi.ndim != 1 or xi.size < 1:
            raise ValueError(f"activation {self.name!r}: breakpoints must be a non-empty 1-D sequence, got shape {xi.shape}")
        if not np.all(np.isfinite(xi)):
            raise ValueError(f"activation {self.name!r}: breakpoints must be finite, got {xi.tolist()}")
        if np.any(np.diff(xi) <= 0):
            raise ValueError(f"activation {self.name!r}: breakpoints must be strictly increasing, got {xi.tolist()}")
        T = xi.size
        if q.ndim not in (1, 2) or q.shape[-1] != T + 1:
            raise ValueError(
                f"activation {self.name!r}: {T} breakpoint(s) need {T + 1} slopes (shape ({T + 1},) or (n_units, {T + 1})), got shape {q.shape}"
            )
        if not np.all(np.isfinite(q)) or not np.all(np.isfinite(v)):
            raise ValueError(f"activation {self.name!r}: slopes and value must be finite")
        if np.any(q[..., 1:] == q[..., :-1]):
            raise ValueError(
                f"activation {self.name!r}: adjacent slopes must differ (a breakpoint with equal slopes on both sides is not a breakpoint), got {q.tolist()}"
            )
        if q.ndim == 1 and v.ndim != 0:
            raise ValueError(f"activation {self.name!r}: value must be a scalar when slopes are shared")
        if q.ndim == 2 and v.ndim == 0:
            v = np.full(q.shape[0], float(v))
        if q.ndim == 2 and v.shape != (q.shape[0],):
            raise ValueError(f"activation {self.name!r}: per-unit value must have shape ({q.shape[0]},), got {v.shape}")
        # phi at each breakpoint: Phi_1 = value, Phi_{j+1} = Phi_j + q_j (xi_{j+1} - xi_j).
        steps = q[..., 1:T] * np.diff(xi) if T > 1 else np.zeros(q.shape[:-1] + (0,))
        phis = np.concatenate([v[..., None], v[..., None] + np.cumsum(steps, axis=-1)], axis=-1)
        for name, arr in (("breakpoints", xi), ("slopes", q), ("value", v), ("_values_at_breakpoints", phis)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    # -- description -------------------------------------------------------------------------
    @property
    def T(self) -> int:
        """Number of breakpoints."""
        return int(self.breakpoints.size)

    @property
    def per_unit(self) -> bool:
        """True when slopes differ between units (then ``width`` is fixed)."""
        return self.slopes.ndim == 2

    @property
    def width(self) -> int | None:
        """The number of units the activation is tied to (per-unit slopes), else None."""
        return int(self.slopes.shape[0]) if self.per_unit else None

    @property
    def values_at_breakpoints(self) -> np.ndarray:
        """phi(xi_1), ..., phi(xi_T) (shape (T,) or (n_units, T))."""
        return self._values_at_breakpoints

    def __repr__(self) -> str:
        q = self.slopes if not self.per_unit else f"<{self.slopes.shape[0]} per-unit slope rows>"
        return f"PiecewiseLinear({self.name}: breakpoints={self.breakpoints.tolist()}, slopes={q if isinstance(q, str) else q.tolist()})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PiecewiseLinear):
            return NotImplemented
        return (
            self.breakpoints.shape == other.breakpoints.shape
            and self.slopes.shape == other.slopes.shape
            and bool(np.all(self.breakpoints == other.breakpoints))
            and bool(np.all(self.slopes == other.slopes))
            and bool(np.all(self.value == other.value))
        )

    __hash__ = object.__hash__

    # -- evaluation ----------------------------------------------------------------------------
    def _arrays(self, like: Any):
        if _is_torch(like):
            import torch

            kw = dict(dtype=like.dtype, device=like.device)
            return (
                torch.tensor(self.breakpoints, **kw),
                torch.tensor(self.slopes, **kw),
                torch.tensor(self._values_at_breakpoints, **kw),
            )
        return self.breakpoints, self.slopes, self._values_at_breakpoints

    def piece(self, u):
        """Piece index p in 0..T of each pre-activation: the number of breakpoints <= u.

        ``u`` has shape (..., n_units) when slopes are per unit. A value exactly on xi_j gets
        the piece to its right (j); callers that care about exact ties handle them first.
        """
        if _is_torch(u):
            import torch

            if self.T > 8:
                xi = torch.tensor(self.breakpoints, dtype=u.dtype, device=u.device)
                return torch.searchsorted(xi, u.contiguous(), right=True)
            p = (u >= float(self.breakpoints[0])).to(torch.int64)  # as below: comparisons beat searchsorted
            for x in self.breakpoints[1:]:
                p += u >= float(x)
            return p
        u = np.asarray(u)
        if self.T > 8:
            return np.searchsorted(self.breakpoints, u, side="right")
        # a few comparisons are several times faster than searchsorted (same result for finite u)
        p = (u >= self.breakpoints[0]).astype(np.intp)
        for x in self.breakpoints[1:]:
            p += u >= x
        return p

    def slope(self, piece):
        """Slope q_p of each piece index (per unit when slopes are per unit)."""
        if _is_torch(piece):
            import torch

            if not self.per_unit and self.T <= 8:  # a chain of selects of the exact slopes (no gather)
                c = [torch.tensor(float(v), dtype=torch.float64, device=piece.device) for v in self.slopes]
                q = torch.where(piece >= 1, c[1], c[0])
                for j in range(2, self.T + 1):
                    q = torch.where(piece == j, c[j], q)
                return q
            q = torch.tensor(self.slopes, dtype=torch.float64, device=piece.device)
            rows = torch.arange(q.shape[0], device=piece.device)
        else:
            q, rows = self.slopes, np.arange(self.slopes.shape[0])
        return q[rows, piece] if self.per_unit else q[piece]

    def is_open(self, piece):
        """True where the slope of the piece is non-zero (the neuron passes gradient)."""
        return self.slope(piece) != 0

    def derivative(self, u):
        """phi'(u) (right derivative at a breakpoint)."""
        s = self.slope(self.piece(u))
        return s.to(u.dtype) if _is_torch(u) else s

    def __call__(self, u):
        """phi(u), elementwise (numpy array or torch tensor)."""
        if not self.per_unit:
            fast = self._fast_torch(u) if _is_torch(u) else self._fast_numpy(u)
            if fast is not None:
                return fast
        xi, q, phis = self._arrays(u)
        p = self.piece(u)
        if _is_torch(u):
            import torch

            a = torch.clamp(p - 1, min=0)
            if self.per_unit:
                rows = torch.arange(q.shape[0], device=u.device)
                return phis[rows, a] + q[rows, p] * (u - xi[a])
            return phis[a] + q[p] * (u - xi[a])
        a = np.maximum(p - 1, 0)
        if self.per_unit:
            rows = np.arange(q.shape[0])
            return phis[rows, a] + q[rows, p] * (u - xi[a])
        return phis[a] + q[p] * (u - xi[a])

    def _fast_shape(self) -> str | None:
        """Which closed form ``__call__`` may use instead of the general path (shared slopes only):
        "relu" (max(u, 0)), "clip" (hard tanh / ReLU6: slopes 0, 1, 0 and phi(xi_1) = xi_1), "one"
        (one breakpoint: phi(xi) + q_p (u - xi) with p from one comparison), or None."""
        xi, q, v = self.breakpoints, self.slopes, float(self.value)
        if self.T == 1:
            return "relu" if float(xi[0]) == 0.0 and v == 0.0 and q[0] == 0.0 and q[1] == 1.0 else "one"
        if self.T == 2 and q[0] == 0.0 and q[1] == 1.0 and q[2] == 0.0 and v == xi[0]:
            return "clip"
        return None

    def _fast_numpy(self, u):
        """phi(u) by the closed form of ``_fast_shape`` on a numpy array (None: the general path);
        the same formula as the general path."""
        shape = self._fast_shape()
        if shape is None:
            return None
        u = np.asarray(u, dtype=np.float64)
        xi, q = self.breakpoints, self.slopes
        if shape == "relu":
            return np.maximum(u, 0.0)
        if shape == "clip":
            return np.clip(u, xi[0], xi[1])
        x = float(xi[0])
        return float(self.value) + q[(u >= x).view(np.int8)] * (u - x if x != 0.0 else u)

    def _fast_torch(self, u):
        """``_fast_numpy`` on a torch tensor: the same formulas with selects instead of gathers."""
        shape = self._fast_shape()
        if shape is None:
            return None
        import torch

        xi, q = self.breakpoints, self.slopes
        if shape == "relu":
            return torch.clamp_min(u, 0.0)
        if shape == "clip":
            return torch.clamp(u, float(xi[0]), float(xi[1]))
        x = float(xi[0])
        d = u - x if x != 0.0 else u
        return float(self.value) + torch.where(u >= x, u.new_tensor(float(q[1])), u.new_tensor(float(q[0]))) * d

    def check_width(self, n: int, where: str = "") -> None:
        """Raise if per-unit slopes do not match a layer of width n."""
        if self.per_unit and self.width != n:
            raise ValueError(f"activation {self.name!r}{where} has {self.width} per-unit slopes but the layer has {n} units")


def relu() -> PiecewiseLinear:
    """ReLU: xi = (0,), q = (0, 1)."""
    return PiecewiseLinear([0.0], [0.0, 1.0], 0.0, name="relu")


def leaky_relu(negative_slope: float = 0.01) -> PiecewiseLinear:
    """Leaky ReLU(a): xi = (0,), q = (a, 1)."""
    return PiecewiseLinear([0.0], [float(negative_slope), 1.0], 0.0, name=f"leaky_relu({negative_slope:g})")


def hard_tanh(min_val: float = -1.0, max_val: float = 1.0) -> PiecewiseLinear:
    """Hard tanh: xi = (min, max), q = (0, 1, 0), phi(min) = min. Two flat pieces."""
    return PiecewiseLinear([min_val, max_val], [0.0, 1.0, 0.0], float(min_val), name=f"hard_tanh({min_val:g},{max_val:g})")


def absolute() -> PiecewiseLinear:
    """Absolute value: xi = (0,), q = (-1, 1)."""
    return PiecewiseLinear([0.0], [-1.0, 1.0], 0.0, name="abs")


def relu6() -> PiecewiseLinear:
    """ReLU6: xi = (0, 6), q = (0, 1, 0)."""
    return PiecewiseLinear([0.0, 6.0], [0.0, 1.0, 0.0], 0.0, name="relu6")


def hard_sigmoid() -> PiecewiseLinear:
    """Hard sigmoid (PyTorch's): xi = (-3, 3), q = (0, 1/6, 0), phi(-3) = 0."""
    return PiecewiseLinear([-3.0, 3.0], [0.0, 1.0 / 6.0, 0.0], 0.0, name="hard_sigmoid")


def soft_shrink(lambd: float = 0.5) -> PiecewiseLinear:
    """Soft shrinkage: xi = (-lambda, lambda), q = (1, 0, 1), phi(-lambda) = 0."""
    return PiecewiseLinear([-lambd, lambd], [1.0, 0.0, 1.0], 0.0, name=f"soft_shrink({lambd:g})")
