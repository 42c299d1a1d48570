"""Planar slices of modules: the plane builder's interfaces (``linregions.plane.values``) for a
``ModuleProgram``.

- ``ModuleVertexValues`` (``VertexValues``) gives the pre-activations of activation site l at the
  vertices of a planar complex by running the module's own ops from the input
  ``origin + basis @ s`` up to site l (u_l is continuous, so no pattern is needed at vertices on
  earlier breakpoints; site l - 1 is applied to the builder's own u_{l-1}, which is exactly on
  the breakpoint at vertices made by its lines, so ties downstream stay exact; the live values of
  vertices that existed at the previous site are kept, so each vertex runs the prefix once), and the snap scale of every unit and breakpoint from the same ops with
  absolute parameters (``tolerances.snap_scale``: ``|W| |a| + |b| + |xi_j|``, with ``|a|`` the
  largest over the vertices).
- ``ModuleSlice`` (``PlaneModel``) is what the builder and the partition read instead of a
  restricted ``Network``: the sites' activations, widths and unit kinds, the output's affine map
  on every face, the rounding floor of slope jumps, and reachability (goodness).

The affine map of a face (Theorem 1's setting: the module is affine on an activation region) is
evaluated at the face's interior point with the face's pattern fixed: values with
a_l = q_l u_l + c_l (the face's pieces, read from its state codes) and two tangents, the plane's
basis directions, with a_l' = q_l u_l'; the offset is N - grad @ s. No weight matrix is formed.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..network import PASSTHROUGH, UnitKinds
from ..tolerances import slope_noise
from .program import ModuleProgram
from .segments import CHUNK_POINTS

__all__ = ["ModuleVertexValues", "ModuleSlice", "plane_chunk"]

#: Target bytes of one block of rows evaluated at once on a plane (live tensors of the widest
#: site, values and tangents): the row count is derived from it (``plane_chunk``).
_CHUNK_BYTES = 256 * 2**20


def plane_chunk(prog: ModuleProgram, chunk_points: int | None) -> int:
    """Rows per evaluated block: ``chunk_points`` when given, else as many as fit ``_CHUNK_BYTES``
    with four tensors of the widest site per row (at most ``CHUNK_POINTS``)."""
    if chunk_points is not None:
        return int(chunk_points)
    widest = max([s.n for s in prog.sites] + [prog.n_in, prog.n_out])
    return int(max(16, min(CHUNK_POINTS, _CHUNK_BYTES // (4 * 8 * widest))))


def _inputs(prog: ModuleProgram, origin: torch.Tensor, basis: torch.Tensor, points: np.ndarray) -> torch.Tensor:
    P = torch.as_tensor(np.asarray(points, dtype=np.float64), device=prog.device)
    return (origin[None] + P @ basis).reshape((-1,) + prog.input_shape)


class ModuleVertexValues:
    """``VertexValues`` of a module on the plane ``x = origin + points @ basis`` (``basis``: (2, n_in))."""

    def __init__(self, prog: ModuleProgram, origin: Any, basis: Any, chunk_points: int = CHUNK_POINTS):
        self.prog = prog
        self.origin = torch.as_tensor(np.array(origin, dtype=np.float64).reshape(-1), device=prog.device)
        self.basis = torch.as_tensor(np.array(basis, dtype=np.float64).reshape(2, -1), device=prog.device)
        if self.origin.numel() != prog.n_in or self.basis.shape[1] != prog.n_in:
            raise ValueError(f"origin and basis must have {prog.n_in} = prod{prog.input_shape} coordinates, got "
                             f"{tuple(self.origin.shape)} and {tuple(self.basis.shape)}")
        self.chunk = chunk_points
        self._cache = None  # (site, points, live values just before the site) of the last call

    def _forward(self, points: np.ndarray, stop: int) -> dict:
        """The live values just before step ``stop`` at the given points, from the input (every
        site applied to its own pre-activations)."""
        prog = self.prog
        env = {prog.input_key: _inputs(prog, self.origin, self.basis, points)}
        return prog._chunked("value", env, 0, stop, self.chunk, lambda k, u, sl: prog.activate(k, u))

    @torch.no_grad()
    def preactivations(self, l: int, points: np.ndarray, prev: np.ndarray, out: np.ndarray) -> np.ndarray:
        """u_l at the vertices. The live values just before site l - 1 are kept from the previous
        call for the vertices that existed then (the builder only appends vertices), so each
        vertex pays the ops before its first site once; vertices added since are evaluated from
        the input."""
        prog = self.prog
        V = points.shape[0]
        start = 0 if l == 0 else prog.site_step[l - 1]
        cache = self._cache
        if l > 0 and cache is not None and cache[0] == l - 1 and cache[1].shape[0] <= V \
                and np.array_equal(cache[1], points[: cache[1].shape[0]]):
            old, env = cache[1].shape[0], cache[2]
            if V > old:
                new = self._forward(points[old:], start)
                env = {k: (torch.cat([v, new[k]]) if isinstance(v, torch.Tensor) else v) for k, v in env.items()}
        else:
            env = self._forward(points, start)
        self._cache = None
        if l > 0:  # site l - 1 applied to the builder's ``prev`` (exactly on the breakpoint where
            # one of its lines was crossed, so ties downstream stay exact)
            U = torch.as_tensor(np.asarray(prev, dtype=np.float64), device=prog.device)
            env = prog._chunked("value", env, start, start + 1, self.chunk, lambda k, u, sl: prog.activate(k, U[sl]))
            start += 1
        from .protocol import Live

        seg = torch.zeros(V, dtype=torch.long, device=prog.device)
        scale = prog.summand_scale(l, Live(env, {}, start), seg, 1)[0]  # (n_l,)
        env = prog._chunked("value", env, start, prog.site_step[l], self.chunk)
        self._cache = (l, np.array(points, copy=True), env)
        ops = prog.site_ops[l]
        out[:] = ops.pre("value", env[ops.input]).cpu().numpy()
        xi = np.abs(prog.sites[l].act.breakpoints)
        s = scale.cpu().numpy()[:, None]
        return s + (xi if xi.ndim == 2 else xi[None, :])  # (n_l, T): tolerances.snap_scale


class ModuleSlice(UnitKinds):
    """A module seen on a plane, as the plane builder and ``PlanePartition`` read it (the
    ``plane.values.PlaneModel`` interface): hidden "layers" are the program's activation sites.

    ``origin`` (n_in,) and ``basis`` (n_in, 2) are flat; ``n_in`` is the module's input size
    (``input_shape`` its shape)."""

    def __init__(self, prog: ModuleProgram, origin: np.ndarray, basis: np.ndarray, chunk: int):
        self.prog = prog
        self.origin = np.asarray(origin, dtype=np.float64).reshape(-1)
        self.basis = np.asarray(basis, dtype=np.float64).reshape(-1, 2)
        self.chunk = int(chunk)
        self.activations = tuple(s.act for s in prog.sites)
        self.widths = tuple(int(s.n) for s in prog.sites)
        self.depth = len(prog.sites)
        self.n_in, self.n_out = prog.n_in, prog.n_out
        self.input_shape = prog.input_shape
        kinds = []
        for s in prog.sites:
            k = np.full(s.n, s.kind, np.int8)
            if s.passthrough is not None:
                k[np.asarray(s.passthrough, bool)] = PASSTHROUGH
            kinds.append(k)
        special = any(np.any(k != 0) for k in kinds)
        self.unit_kinds = tuple(kinds) if special else None
        self._o = torch.as_tensor(self.origin.copy(), device=prog.device)
        self._b = torch.as_tensor(self.basis.T.copy(), device=prog.device)

    def __repr__(self) -> str:
        return f"ModuleSlice({self.prog!r})"

    # -- what the builder reads ---------------------------------------------------------------------
    def vertex_values(self) -> ModuleVertexValues:
        return ModuleVertexValues(self.prog, self.origin, self.basis.T, self.chunk)

    # -- faces: the output's affine map with the face's pattern fixed ------------------------------
    def face_affine(self, states, roots: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per face f: ``grad`` (F, n_out, 2) and ``offset`` (F, n_out) with
        N(origin + basis @ s) = offset + grad @ s on the face (``X`` (F, 2): interior points)."""
        from ..plane.slopes import _piece_intercepts

        prog, F, d = self.prog, X.shape[0], self.depth
        dev = prog.device
        grad = np.empty((F, self.n_out, 2))
        off = np.empty((F, self.n_out))
        blk = max(1, self.chunk // 2)
        n = len(prog.steps)
        for s0 in range(0, F, blk):
            f = np.arange(s0, min(F, s0 + blk))
            k = f.size
            q, c = [], []
            for l in range(d):
                pieces = states[l][roots[f, l]].astype(np.int64) // 2  # on a breakpoint: the left piece
                q.append(torch.as_tensor(self.slope(l, pieces), dtype=torch.float64, device=dev))
                c.append(torch.as_tensor(_piece_intercepts(self, l, pieces), dtype=torch.float64, device=dev))
            q2 = [x.repeat_interleave(2, dim=0) for x in q]  # tangent rows: face-major, then direction
            x = _inputs(prog, self._o, self._b, X[f])
            with torch.no_grad():
                N = prog._chunked("value", {prog.input_key: x}, 0, n, self.chunk,
                                  lambda l, u, sl: q[l][sl] * u + c[l][sl])[prog.output_key]
                V = self._b.repeat(k, 1).reshape((2 * k,) + prog.input_shape)
                dN = prog._chunked("lin", {prog.input_key: V}, 0, n, self.chunk,
                                   lambda l, u, sl: q2[l][sl] * u)[prog.output_key]
            N = N.reshape(k, -1).cpu().numpy()
            g = dN.reshape(k, 2, -1).permute(0, 2, 1).cpu().numpy()
            grad[f] = g
            off[f] = N - np.einsum("fij,fj->fi", g, X[f])
        return grad, off

    def slope_floor(self, gl: np.ndarray, gr: np.ndarray) -> np.ndarray:
        """Rounding floor of the gradient jump between faces with gradients ``gl``/``gr`` (k, m):
        ``slope_noise`` of their magnitudes, as the engine's ``line`` does (rounding of a tangent
        propagated in float64 is relative to the tangents themselves; an a-priori product of
        absolute weights would exceed the slopes of deep nets by orders of magnitude)."""
        return slope_noise(np.abs(gl) + np.abs(gr), self.n_in + int(sum(self.widths)))

    # -- goodness ----------------------------------------------------------------------------------
    def reachability(self, opens: list[np.ndarray]) -> list[np.ndarray]:
        """R[l][k, z]: a path from unit z of site l through open units of later sites (``opens``)
        with non-zero weights reaches an output (``ModuleProgram.reach``)."""
        dev = self.prog.device
        masks = [torch.as_tensor(o, device=dev).to(torch.float64) for o in opens]
        R = self.prog.reach(masks, max(1, self.chunk // 16))  # autograd keeps every intermediate
        return [r.cpu().numpy() for r in R]

