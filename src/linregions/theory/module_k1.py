"""The Theorem 6 k = 1 integrand on a torch module, with the module's own ops (docs/theory.md §3).

For activation-region boundaries (k = 1) the integrand at x is

    Σ_z ‖∇z̃(x)‖ Σ_i ρ_{β_z}(ξ_i - z̃(x)),        z̃ = u_z - β_z,

summed over the switching units z of every activation site (``engine.ModuleProgram``), with ρ
the density of a *stated* law of the biases: a module's weights and biases are the user's, so
the law is the hypothesis under which the expectation is taken (one law, or one per site).

Pieces, evaluated in float64 without any dense matrix of a convolution:

- ``site_biases``: β_z, each unit's own bias (the constant of the affine map from the previous
  site's outputs to u_z: u_z with every live tensor after the previous site set to zero, as the
  dense compiler composes affine maps; for a conv followed by batch norm, the folded shift);
- ``k1_activation``: u_z(x) and ‖∇u_z(x)‖ from forward-mode tangents through the module's
  linear parts (``ModuleProgram.advance``/``apply``) along the columns of a basis P of the domain's
  directions (the identity for boxes and balls: the full input gradient; one column on a
  segment), in chunks of directions so that at most ``chunk_points`` tangent rows are live.

The substituted linear kind (goodness with the chosen neuron set at its breakpoint) is not
computed here: ``theorem6`` compiles the module densely for it, and convolutions, whose
neurons share one bias per channel, fail assumption A2 for it anyway (``AssumptionError``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..laws import AssumptionError
from ..network import ARGMAX

__all__ = ["site_biases", "k1_activation", "check_module_a2", "module_program"]


def module_program(module: Any, input_shape: Any, n_in: int, device: Any = None):
    """The engine's ``ModuleProgram`` of ``module`` for one sample of shape ``input_shape``
    (default: a flat vector of ``n_in`` entries)."""
    from ..engine import compile_program

    from ..torch_io import input_shape_of

    shape = (int(n_in),) if input_shape is None else input_shape_of(input_shape)
    if int(np.prod(shape)) != int(n_in):
        raise ValueError(f"input_shape {shape} has {int(np.prod(shape))} entries but the inputs have {n_in}")
    return compile_program(module, shape, device)


def check_module_a2(module: Any, prog: Any) -> None:
    """Assumption A2 for the per-neuron k = 1 activation estimator on a module: maximum units
    (ARGMAX, max-pooling) have no bias of their own and are refused; convolution neurons share
    one bias per channel, which the per-neuron estimator tolerates (only each neuron's marginal
    bias law enters), with a warning, as ``theory.estimators._check_a2_structure`` does."""
    import warnings

    argmax = [s.name for s in prog.sites if s.kind == ARGMAX]
    if argmax:
        raise AssumptionError(
            f"this module has maximum units ({argmax[0]}): they have no bias of their own, so assumption A2 "
            "fails for them and Theorem 6 does not cover their boundaries; use exact counts (line) instead")
    if any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in module.modules()):
        warnings.warn("the convolution neurons of this module share one bias per channel (assumption A2 fails for "
                      "the joint law); the k = 1 activation-boundary integrand uses each neuron's marginal bias law "
                      "only, which stays valid", stacklevel=3)


def site_biases(prog: Any, chunk_points: int) -> list[torch.Tensor]:
    """(n_l,) float64 per site: each unit's own bias β_z (module docstring)."""
    dev = prog.device
    out = []
    zero = torch.zeros((1,) + tuple(prog.input_shape), dtype=torch.float64, device=dev)
    with torch.no_grad():
        for l in range(len(prog.sites)):
            out.append(_site_bias(prog, l, zero, chunk_points))
    return out


def _site_bias(prog: Any, l: int, zero: torch.Tensor, chunk_points: int) -> torch.Tensor:
    """β of site l's units: the pre-activations of site l with every live tensor after site l - 1 zero."""
    live = prog.start(zero.clone(), zero.clone())
    for j in range(l):
        U, dU = prog.advance(j, live, chunk_points)
        prog.apply(j, live, U, dU, 2 * prog.pieces(j, U))
    if l > 0:
        live.values = {k: (torch.zeros_like(v) if isinstance(v, torch.Tensor) else v) for k, v in live.values.items()}
    U, _ = prog.advance(l, live, chunk_points)
    return U[0].detach().clone()


def k1_activation(prog: Any, X: np.ndarray, P: np.ndarray | None, laws: list, betas: list[torch.Tensor],
                  chunk_points: int) -> np.ndarray:
    """(B, n_sites): per input row x (flattened, (B, n_in)) and site, Σ_z ‖P^T ∇u_z(x)‖ Σ_i ρ(ξ_i - z̃(x))
    over the site's switching units (P: (n_in, m) directions, None for the identity)."""
    from .network_law import _pdf_torch

    dev = prog.device
    shape = tuple(prog.input_shape)
    n_in = prog.n_in
    Pt = torch.eye(n_in, dtype=torch.float64, device=dev) if P is None else torch.as_tensor(
        np.asarray(P, dtype=np.float64), device=dev)
    m = Pt.shape[1]
    Xt = torch.as_tensor(np.array(X, dtype=np.float64), device=dev).reshape((-1,) + shape)
    B_all = Xt.shape[0]
    L = len(prog.sites)
    budget = max(2, int(chunk_points))
    B = max(1, min(B_all, budget // max(1, min(m, budget))))
    c = max(1, min(m, budget // B))
    out = np.zeros((B_all, L))
    xis = [[float(x) for x in s.act.breakpoints] for s in prog.sites]
    switch = [torch.ones(s.n, dtype=torch.bool, device=dev) if s.passthrough is None
              else ~torch.as_tensor(s.passthrough, device=dev) for s in prog.sites]
    with torch.no_grad():
        for b0 in range(0, B_all, B):
            Xb = Xt[b0 : b0 + B]
            nb = Xb.shape[0]
            gn2 = [torch.zeros((nb, s.n), dtype=torch.float64, device=dev) for s in prog.sites]
            Us: list[torch.Tensor] = []
            for j0 in range(0, m, c):
                cols = Pt[:, j0 : j0 + c]
                cc = cols.shape[1]
                V = cols.T.reshape((1, cc) + shape).expand((nb, cc) + shape).reshape((nb * cc,) + shape)
                live = prog.start(Xb, V.contiguous())
                for l in range(L):
                    U, dU = prog.advance(l, live, budget)
                    gn2[l] += (dU.reshape(nb, cc, -1) ** 2).sum(dim=1)
                    codes = 2 * prog.pieces(l, U)
                    if j0 == 0:
                        Us.append(U)
                    prog.apply(l, live, U, dU, codes.repeat_interleave(cc, dim=0))
                del live
            for l in range(L):
                zt = Us[l] - betas[l][None]
                dens = sum(_pdf_torch(laws[l], x - zt) for x in xis[l])
                term = torch.sqrt(gn2[l]) * dens * switch[l]
                out[b0 : b0 + nb, l] = term.sum(dim=1).cpu().numpy()
    return out
