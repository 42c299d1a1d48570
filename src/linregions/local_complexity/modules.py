"""Local complexity on torch modules through the torch-native engine (``linregions.engine``).

``ModuleModel`` wraps a module's ``ModuleProgram`` with what ``linregions.local_complexity`` asks
of a network: sizes (activation sites play the role of hidden layers, ``layer`` = site index,
``unit`` = flat index in the site, as ``engine.lines`` reports crossings), exact partitions of
segments (``engine.lines`` on the module's own ops, float64, on ``device``, memory set by
``chunk_points``), activation patterns (one value pass of the module's ops), the on-breakpoint
test at the samples (``tolerances.snap_scale`` with the engine's summand bounds), the published
proxy, and the Theorem 6 k = 1 integrand at x (``theory.module_k1``). No dense matrix of a
convolution is formed, so CNNs and ResNets run at their own cost.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from ..line import LineBatch
from ..tolerances import SNAP_RTOL

__all__ = ["ModuleModel"]


class ModuleModel:
    """A torch module seen by ``local_complexity`` (module docstring). Inputs are flattened rows
    of ``n_in = prod(input_shape)`` entries."""

    def __init__(self, module: Any, input_shape: tuple[int, ...], device: Any = None, chunk_points: int | None = None):
        from ..engine import CHUNK_POINTS, compile_program

        self.module = module
        self.prog = compile_program(module, input_shape, device)  # checks the shape
        self.input_shape = self.prog.input_shape
        self.device = self.prog.device
        self.chunk = CHUNK_POINTS if chunk_points is None else int(chunk_points)
        self.n_in = self.prog.n_in
        self.depth = len(self.prog.sites)
        self.widths = tuple(int(s.n) for s in self.prog.sites)
        self._switch = [np.ones(s.n, bool) if s.passthrough is None else ~np.asarray(s.passthrough, bool)
                        for s in self.prog.sites]

    def __repr__(self) -> str:
        return f"ModuleModel({type(self.module).__name__}, input_shape={self.input_shape}, {self.prog!r})"

    def switching(self, l: int) -> np.ndarray:
        return self._switch[l]

    # -- exact partitions ------------------------------------------------------------------------
    def lines(self, X0: np.ndarray, X1: np.ndarray) -> LineBatch:
        from ..engine import lines

        return lines(self.prog, X0, X1, input_shape=self.input_shape, chunk_points=self.chunk)

    # -- forward passes ---------------------------------------------------------------------------
    def activation_pattern(self, X: Any) -> list[np.ndarray]:
        """Piece index of every unit of every site at each row of X (flattened inputs): one value
        pass of the module's ops in blocks of ``chunk`` rows (``Network.activation_pattern``)."""
        return [p.cpu().numpy() for p in self._pattern_t(X)]

    def _pattern_t(self, X: Any) -> list[torch.Tensor]:
        prog = self.prog
        Xt = torch.as_tensor(np.array(X, dtype=np.float64), device=self.device).reshape((-1,) + self.input_shape)
        out: list[list[torch.Tensor]] = [[] for _ in prog.sites]

        def site_fn(l, u, sl):
            out[l].append(prog.pieces(l, u))
            return prog.activate(l, u)

        with torch.no_grad():
            prog._chunked("value", {prog.input_key: Xt}, 0, len(prog.steps), self.chunk, site_fn)
        return [torch.cat(p) if p else torch.zeros((Xt.shape[0], s.n), dtype=torch.int16, device=self.device)
                for p, s in zip(out, prog.sites)]

    def on_breakpoint(self, X: np.ndarray) -> np.ndarray:
        """(m, sum(widths)) bool: switching units within the snapping tolerance SNAP_RTOL ·
        (|W| |a| + |b| + |ξ_j|) of a breakpoint at each row of X (``tolerances.snap_scale``)."""
        prog = self.prog
        m = X.shape[0]
        Xt = torch.as_tensor(np.array(X, dtype=np.float64), device=self.device).reshape((-1,) + self.input_shape)
        seg = torch.arange(m, device=self.device)
        live = prog.start(Xt, torch.zeros_like(Xt))
        out = []
        with torch.no_grad():
            for l, site in enumerate(prog.sites):
                scale = prog.summand_scale(l, live, seg, m)
                U, dU = prog.advance(l, live, self.chunk)
                on = torch.zeros(U.shape, dtype=torch.bool, device=U.device)
                for x in site.act.breakpoints:
                    on |= (U - float(x)).abs() <= SNAP_RTOL * (scale + abs(float(x)))
                out.append(on.cpu().numpy() & self._switch[l])
                prog.apply(l, live, U, dU, 2 * prog.pieces(l, U))
        return np.concatenate(out, axis=1)

    def star(self, X: np.ndarray, r: float, Q: np.ndarray, per_neuron: bool, busy: bool) -> tuple[np.ndarray, Any]:
        """The published proxy on the module (``local_complexity.probes._star``): per sample, units whose piece is not
        constant over the 2P vertices x ± r q_i; with ``busy`` also the (S, P) diameters whose
        vertices do not both have x's pattern. One value pass of the vertices (and of x), in blocks
        of whole samples of about ``chunk`` rows."""
        S, P = X.shape[0], Q.shape[0]
        D = np.concatenate([r * Q, -r * Q])
        per = max(1, self.chunk // (2 * P + 1))
        res, busy_rows = [], []
        for s0 in range(0, S, per):
            Xc = X[s0 : s0 + per]
            k = Xc.shape[0]
            V = np.concatenate([(Xc[:, None, :] + D[None]).reshape(-1, self.n_in), Xc])
            pats = self._pattern_t(V)
            diff = torch.zeros((k, 2 * P), dtype=torch.bool, device=self.device)
            varies = []
            for l, p in enumerate(pats):
                sw = torch.as_tensor(self._switch[l], device=self.device)
                pv, pc = p[: k * 2 * P].reshape(k, 2 * P, -1), p[k * 2 * P :]
                varies.append(((pv != pv[:, :1]).any(dim=1) & sw).cpu().numpy())
                if busy:
                    diff |= ((pv != pc[:, None, :]) & sw).any(dim=2)
            res.append(np.concatenate(varies, axis=1) if per_neuron else np.stack([v.sum(axis=1) for v in varies], axis=1))
            d = diff.cpu().numpy()
            busy_rows.append(d[:, :P] | d[:, P:])
        return np.concatenate(res), (np.concatenate(busy_rows) if busy else None)

    # -- Theorem 6 --------------------------------------------------------------------------------
    def hr(self, X: np.ndarray, bias_law: Any) -> np.ndarray:
        """(S, depth, 2): the Theorem 6 k = 1 integrand at each x per site: activation kind from
        the module's own ops (``theory.module_k1``); the linear kind (substituted network) is NaN,
        with a warning: the engine does not evaluate goodness in the substituted network, and a
        convolution's neurons share their biases, which fails A2 for it."""
        from ..theory.module_k1 import check_module_a2, k1_activation, site_biases
        from ..theory.network_law import _laws_for

        laws = _laws_for(None, bias_law, self.depth)
        check_module_a2(self.module, self.prog)
        act = k1_activation(self.prog, X, None, laws, site_biases(self.prog, self.chunk), self.chunk)
        warnings.warn("hr_linear is not computed on torch modules run by the engine (the substituted network's "
                      "goodness is not evaluated there; convolutions share biases, which fails assumption A2 for "
                      "the linear kind): it is NaN; hr_activation is computed", stacklevel=3)
        return np.stack([act, np.full_like(act, np.nan)], axis=2)
