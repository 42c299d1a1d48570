"""Piecewise-linear networks: affine layers and activations, in float64 (docs/theory.md §1).

``Network`` is the one representation every exact routine works on. Layer ``l`` (0-based, the
paper's layer l + 1) computes the pre-activations ``u_l = W_l a_{l-1} + b_l`` (PyTorch's sign
convention: b is PyTorch's bias beta, the paper's b_z is -beta) and ``a_l = phi_l(u_l)``;
``a_{-1}`` is the input x. The last affine layer gives the output and has no activation.

A neuron is named by ``(layer, unit)`` with 0-based layer index over the hidden layers; flat
neuron indices run layer by layer (``Network.neuron_ids``).

Unit kinds. Besides ordinary neurons (kind ``NEURON``), a hidden layer may hold *passthrough*
units (kind ``PASSTHROUGH``: identity activation, they never switch; they carry skip connections
of residual networks through a layer) and *argmax* units (kind ``ARGMAX``: ordinary
breakpoints, but they come from rewriting max-pooling as max(a, b) = b + relu(a - b), so their
boundaries are where an argmax changes, a boundary of another kind). Code that walks neurons must
use ``activate``/``piece``/``slope``/``switching`` rather than the raw activation, so that
passthrough units are handled. Plain MLPs have only ``NEURON`` units.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .activations import PiecewiseLinear

__all__ = ["Network", "PiecewiseLinearModule", "NEURON", "PASSTHROUGH", "ARGMAX"]

NEURON, PASSTHROUGH, ARGMAX = 0, 1, 2


def is_module(obj: Any) -> bool:
    """Whether ``obj`` is a torch ``nn.Module`` (without importing torch when it is not loaded):
    the front doors send modules to the torch-native engine (``linregions.engine``)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _as_matrix(x: Any, name: str) -> np.ndarray:
    try:
        if type(x).__module__.startswith("torch"):
            x = x.detach().cpu().resolve_conj().numpy()
        complex_ = bool(np.iscomplexobj(x))
        if not complex_:
            a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: cannot convert {type(x).__name__} to a float64 array ({e})") from None
    if complex_:
        raise TypeError(f"{name} is complex ({np.asarray(x).dtype}); linear regions are defined for real networks and "
                        "inputs: give real values (the imaginary part is never dropped silently)")
    a.setflags(write=False)
    return a


class UnitKinds:
    """Unit-kind queries shared by ``Network`` and the engine's ``ModuleSlice``: a class with
    ``unit_kinds`` (one int8 array per hidden layer, or None when every unit is a NEURON),
    ``widths``, ``depth`` and ``activations``."""

    unit_kinds: Any
    widths: Any
    depth: Any
    activations: Any

    @property
    def has_special_units(self) -> bool:
        """True when some hidden unit is PASSTHROUGH or ARGMAX."""
        return self.unit_kinds is not None

    def kinds(self, l: int) -> np.ndarray:
        """Unit kinds of hidden layer l (NEURON, PASSTHROUGH, ARGMAX)."""
        return self.unit_kinds[l] if self.unit_kinds is not None else np.zeros(self.widths[l], np.int8)

    def switching(self, l: int) -> np.ndarray:
        """Boolean mask of the units of hidden layer l that have breakpoints (not passthrough)."""
        return self.kinds(l) != PASSTHROUGH

    @property
    def num_neurons(self) -> int:
        """Number of neurons that can switch (all hidden units but passthrough ones)."""
        return int(sum(int(self.switching(l).sum()) for l in range(self.depth)))

    @property
    def neuron_ids(self) -> np.ndarray:
        """(num_neurons, 2) array of (layer, unit) of the switching neurons, layer by layer."""
        ids = [np.stack([np.full(m.sum(), l), np.nonzero(m)[0]], 1) for l, m in enumerate(map(self.switching, range(self.depth)))]
        return np.concatenate(ids).astype(np.int64).reshape(-1, 2)

    def _pt(self, l: int, like):
        m = self.kinds(l) == PASSTHROUGH
        if type(like).__module__.startswith("torch"):
            import torch

            return torch.tensor(m, device=like.device)
        return m

    def slope(self, l: int, piece):
        """Slope of each unit's piece in hidden layer l (passthrough units: 1)."""
        q = self.activations[l].slope(piece)
        if self.unit_kinds is None:
            return q
        m = self._pt(l, piece)
        return np.where(m, 1.0, q) if not type(piece).__module__.startswith("torch") else q.masked_fill(m, 1.0)


@dataclass(frozen=True, eq=False)
class Network(UnitKinds):
    """A stack of affine layers with continuous piecewise-linear activations between them.

    Parameters
    ----------
    weights : d + 1 matrices; ``weights[l]`` has shape (n_{l+1}, n_l) with n_0 = n_in.
    biases : d + 1 vectors (PyTorch's sign: u = W a + b).
    activations : d activations, one per hidden layer.
    unit_kinds : optional, d int8 arrays (one per hidden layer) of NEURON / PASSTHROUGH / ARGMAX.

    >>> import numpy as np
    >>> from linregions import relu
    >>> net = Network((np.eye(2), np.ones((1, 2))), (np.zeros(2), np.zeros(1)), (relu(),))
    >>> net(np.array([[1.0, -2.0]]))
    array([[1.]])
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activations: tuple[PiecewiseLinear, ...]
    unit_kinds: tuple[np.ndarray, ...] | None = None

    def __post_init__(self) -> None:
        Ws = tuple(_as_matrix(W, f"weights[{i}]") for i, W in enumerate(self.weights))
        bs = tuple(_as_matrix(b, f"biases[{i}]") for i, b in enumerate(self.biases))
        acts = tuple(self.activations)
        if len(Ws) == 0:
            raise ValueError("Network: empty network (no layers)")
        if len(Ws) < 2:
            raise ValueError("Network: need at least one hidden layer (an affine map has a single linear region)")
        if len(bs) != len(Ws):
            raise ValueError(f"Network: {len(Ws)} weight matrices but {len(bs)} bias vectors")
        if len(acts) != len(Ws) - 1:
            raise ValueError(f"Network: {len(Ws) - 1} hidden layers need {len(Ws) - 1} activations, got {len(acts)}")
        for i, (W, b) in enumerate(zip(Ws, bs)):
            if W.ndim != 2 or W.shape[0] == 0 or W.shape[1] == 0:
                raise ValueError(f"Network: weights[{i}] must be a non-empty 2-D matrix, got shape {W.shape}")
            if b.shape != (W.shape[0],):
                raise ValueError(f"Network: biases[{i}] must have shape ({W.shape[0]},), got {b.shape}")
            if i > 0 and W.shape[1] != Ws[i - 1].shape[0]:
                raise ValueError(
                    f"Network: weights[{i}] expects {W.shape[1]} inputs but layer {i - 1} has {Ws[i - 1].shape[0]} units"
                )
            if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
                raise ValueError(f"Network: weights[{i}] or biases[{i}] contain NaN or inf")
        for i, a in enumerate(acts):
            if not isinstance(a, PiecewiseLinear):
                raise TypeError(f"Network: activations[{i}] must be a PiecewiseLinear, got {type(a).__name__}")
            a.check_width(Ws[i].shape[0], f" of layer {i}")
        kinds = None
        if self.unit_kinds is not None:
            kinds = tuple(np.asarray(k, dtype=np.int8).reshape(-1) for k in self.unit_kinds)
            if len(kinds) != len(acts) or any(k.shape != (W.shape[0],) for k, W in zip(kinds, Ws)):
                raise ValueError("Network: unit_kinds needs one array per hidden layer, of the layer's width")
            if any(np.any((k < 0) | (k > 2)) for k in kinds):
                raise ValueError("Network: unit_kinds entries must be NEURON (0), PASSTHROUGH (1) or ARGMAX (2)")
            for k in kinds:
                k.setflags(write=False)
            if all(not k.any() for k in kinds):
                kinds = None
        object.__setattr__(self, "weights", Ws)
        object.__setattr__(self, "biases", bs)
        object.__setattr__(self, "activations", acts)
        object.__setattr__(self, "unit_kinds", kinds)

    # -- shape -----------------------------------------------------------------------------------
    @property
    def n_in(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights[-1].shape[0])

    @property
    def widths(self) -> tuple[int, ...]:
        """Widths n_1..n_d of the hidden layers."""
        return tuple(int(W.shape[0]) for W in self.weights[:-1])

    @property
    def depth(self) -> int:
        """Number of hidden layers d."""
        return len(self.activations)

    # -- per-layer activation, aware of passthrough units ----------------------------------------
    def activate(self, l: int, u):
        """a_l = phi_l(u_l) (identity on passthrough units); numpy or torch."""
        a = self.activations[l](u)
        if self.unit_kinds is None:
            return a
        m = self._pt(l, u)
        return u * m + a * ~m if not type(u).__module__.startswith("torch") else u.where(m, a)

    def piece(self, l: int, u):
        """Piece index of each unit of hidden layer l (passthrough units: 0)."""
        p = self.activations[l].piece(u)
        if self.unit_kinds is None:
            return p
        m = self._pt(l, u)
        return p * ~m if not type(u).__module__.startswith("torch") else p.masked_fill(m, 0)

    def derivative(self, l: int, u):
        """phi_l'(u) per unit (right derivative at a breakpoint; 1 on passthrough units)."""
        return self.slope(l, self.piece(l, u))

    def __repr__(self) -> str:
        acts = sorted({a.name for a in self.activations})
        return f"Network({'-'.join(map(str, (self.n_in,) + self.widths + (self.n_out,)))}, activation={'/'.join(acts)})"

    # -- evaluation ------------------------------------------------------------------------------
    def _check_inputs(self, X: Any) -> np.ndarray:
        X = _as_matrix(X, "inputs")
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"inputs must have shape (batch, {self.n_in}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("inputs contain NaN or inf")
        return X

    def pre_activations(self, X: Any) -> list[np.ndarray]:
        """Pre-activations u_l(x) of every hidden layer and, last, the output: d + 1 arrays (batch, n)."""
        a = self._check_inputs(X)
        out = []
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            u = a @ W.T + b
            out.append(u)
            if l < self.depth:
                a = self.activate(l, u)
        return out

    def __call__(self, X: Any) -> np.ndarray:
        """The network's output N(x), shape (batch, n_out)."""
        return self.pre_activations(X)[-1]

    def activation_pattern(self, X: Any) -> list[np.ndarray]:
        """Piece index (0..T) of every hidden neuron at each input: d arrays (batch, n_l)."""
        return [self.piece(l, u) for l, u in enumerate(self.pre_activations(X)[:-1])]

    def jacobian(self, X: Any) -> np.ndarray:
        """dN/dx at each input (batch, n_out, n_in), from the activation pattern at x."""
        X = self._check_inputs(X)
        us = self.pre_activations(X)
        J = np.broadcast_to(self.weights[0], (X.shape[0],) + self.weights[0].shape)
        for l in range(self.depth):
            d = self.derivative(l, us[l])
            J = np.einsum("ij,bjk->bik", self.weights[l + 1], d[:, :, None] * J)
        return J

    # -- restriction -----------------------------------------------------------------------------
    def restrict(self, origin: Any, basis: Any) -> "Network":
        """The network on the affine subspace x = origin + basis @ s (docs/theory.md §2, restrictions).

        ``basis`` is (n_in,) for a line or (n_in, k) for a k-plane; the result has input
        dimension k, first layer W basis and first bias W origin + b.
        """
        x0 = _as_matrix(origin, "origin").reshape(-1)
        B = _as_matrix(basis, "basis")
        if B.ndim == 1:
            B = B[:, None]
        if x0.shape != (self.n_in,) or B.ndim != 2 or B.shape[0] != self.n_in:
            raise ValueError(f"restrict: origin must have shape ({self.n_in},) and basis ({self.n_in}, k), got {x0.shape} and {B.shape}")
        W0, b0 = self.weights[0], self.biases[0]
        return Network((W0 @ B,) + self.weights[1:], (W0 @ x0 + b0,) + self.biases[1:], self.activations, self.unit_kinds)

    # -- torch interop ---------------------------------------------------------------------------
    @classmethod
    def from_torch(cls, module: Any, input_shape: Sequence[int] | None = None) -> "Network":
        """Convert a PyTorch module to a float64 ``Network``.

        Without ``input_shape``: an ``nn.Sequential`` of ``nn.Linear`` and piecewise-linear
        activations, ``nn.Flatten``, ``nn.Identity``, ``nn.Dropout``; consecutive affine layers
        are composed; an activation first or last gets an identity layer next to it.
        With ``input_shape`` (one example's shape, no batch dimension, e.g. ``(1, 28, 28)``):
        any piecewise-linear module traced by ``torch.fx`` (convolutions, pooling, batch norm
        in eval mode, residual additions, max-pooling) is compiled by
        ``linregions.graph.network_from_module``; the network's input is the flattened input.
        Smooth, discontinuous or unknown modules raise ``TypeError`` or ``ValueError`` naming
        the module (or graph node). See ``linregions.torch_io`` for the supported list.
        """
        from .torch_io import refuse_complex

        refuse_complex(module)
        if input_shape is not None:
            from .graph import network_from_module

            return network_from_module(module, tuple(input_shape))
        from .torch_io import network_from_torch

        return network_from_torch(module)

    def to_torch(self, dtype: Any = None):
        """An equivalent ``nn.Sequential`` (float64 by default)."""
        from .torch_io import network_to_torch

        return network_to_torch(self, dtype=dtype)

    def tensors(self, device: Any = None, dtype: Any = None) -> tuple[list, list]:
        """Weights and biases as torch tensors on ``device`` (float64 by default)."""
        import torch

        dtype = torch.float64 if dtype is None else dtype
        return (
            [torch.tensor(W, dtype=dtype, device=device) for W in self.weights],
            [torch.tensor(b, dtype=dtype, device=device) for b in self.biases],
        )


def PiecewiseLinearModule(activation: PiecewiseLinear):
    """A ``torch.nn.Module`` applying ``activation`` (for abs and custom activations).

    ``Network.from_torch`` recognises it, so custom activations round-trip.
    """
    from .torch_io import PLModule

    return PLModule(activation)
