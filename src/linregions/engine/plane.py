"""The plane builder's evaluation interface (``linregions.plane.values.VertexValues``) for modules.

``ModuleVertexValues`` gives the pre-activations of activation site l at the vertices of a planar
complex by running the module's own ops (``ModuleProgram``) from the input
``origin + points @ basis`` up to site l (u_l is continuous, so no pattern is needed at vertices
on earlier breakpoints), and the snap scale of every unit and breakpoint from the same ops with
absolute parameters (``tolerances.snap_scale``: ``|W| |a| + |b| + |xi_j|``, with ``|a|`` the
largest over the vertices).

Wiring it into ``plane``/``plane_through`` for modules also needs the builder to read the sites'
activations and widths from the program (instead of a restricted ``Network``) and the output
slopes per face from ``ModuleProgram`` tangents; that is not done yet.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .program import ModuleProgram
from .segments import CHUNK_POINTS

__all__ = ["ModuleVertexValues"]


class ModuleVertexValues:
    """``VertexValues`` of a module on the plane ``x = origin + points @ basis`` (``basis``: (2, n_in))."""

    def __init__(self, prog: ModuleProgram, origin: Any, basis: Any, chunk_points: int = CHUNK_POINTS):
        self.prog = prog
        self.origin = torch.as_tensor(np.asarray(origin, dtype=np.float64).reshape(-1), device=prog.device)
        self.basis = torch.as_tensor(np.asarray(basis, dtype=np.float64).reshape(2, -1), device=prog.device)
        if self.origin.numel() != prog.n_in or self.basis.shape[1] != prog.n_in:
            raise ValueError(f"origin and basis must have {prog.n_in} = prod{prog.input_shape} coordinates, got "
                             f"{tuple(self.origin.shape)} and {tuple(self.basis.shape)}")
        self.chunk = chunk_points

    def preactivations(self, l: int, points: np.ndarray, prev: np.ndarray, out: np.ndarray) -> np.ndarray:
        prog = self.prog
        P = torch.as_tensor(np.asarray(points, dtype=np.float64), device=prog.device)
        X = (self.origin[None] + P @ self.basis).reshape((-1,) + prog.input_shape)
        env = {prog.input_key: X}
        start = 0
        if l > 0:  # values just after site l - 1, the inputs of the ops that make u_l
            stop = prog.site_step[l - 1] + 1
            env = prog._chunked("value", env, 0, stop, self.chunk, lambda k, u, sl: prog.activate(k, u))
            start = stop
        from .protocol import Live

        seg = torch.zeros(X.shape[0], dtype=torch.long, device=prog.device)
        scale = prog.summand_scale(l, Live(env, {}, start), seg, 1)[0]  # (n_l,)
        env = prog._chunked("value", env, start, prog.site_step[l], self.chunk)
        ops = prog.site_ops[l]
        out[:] = ops.pre("value", env[ops.input]).cpu().numpy()
        xi = np.abs(prog.sites[l].act.breakpoints)
        return scale.cpu().numpy()[:, None] + xi[None, :]
