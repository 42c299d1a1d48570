"""Torch kernels of the Theorem 6 estimators: batched pre-activations, gradients and goodness of the
substituted network (k = 1 batched over networks; k >= 2 over inputs and neuron tuples)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..network import Network

from .network_law import _BATCH_ELEMENTS, _pdf_torch
from .domains import Domain, _restriction


# ------------------------------------------------------------------------------------------------
# torch kernels

#: CPU batches with fewer elements than this run on one torch thread: for small tensors the
#: threads' start-up (and, on a loaded machine, their spin-waiting) costs far more than the work.
_SMALL_WORK = 2**22


class _cpu_threads:
    """Context: one torch thread for small CPU work (see ``_SMALL_WORK``); restores the setting."""

    def __init__(self, device: Any, work: int):
        self.on = (device is None or str(device) == "cpu") and work < _SMALL_WORK
        self.prev = None

    def __enter__(self):
        if self.on:
            import torch

            self.prev = torch.get_num_threads()
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        if self.on and self.prev is not None:
            import torch

            torch.set_num_threads(self.prev)


class _TorchNet:
    """A network's parameters as float64 tensors, with the original biases (for z̃ = u - β)."""

    def __init__(self, net: Network, laws: list, device: Any, domain: Domain):
        import torch

        self.net = net
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        origin, P = _restriction(domain)
        rnet = net if origin is None else net.restrict(origin, P)
        self.rnet = rnet
        as_t = lambda A: torch.tensor(np.array(A, dtype=np.float64), device=self.device)  # noqa: E731
        self.W, self.b = [as_t(W) for W in rnet.weights], [as_t(b) for b in rnet.biases]
        self.beta = [as_t(b) for b in net.biases]  # original biases: z̃ = u - β
        self.laws = laws
        self.nz = [W != 0 for W in self.W]
        self.dense = [bool(m.all()) for m in self.nz]
        self.switch = [torch.tensor(np.array(net.switching(l)), device=self.device) for l in range(net.depth)]
        self.xi = [as_t(a.breakpoints) for a in net.activations]
        self.phi_xi = [as_t(a.values_at_breakpoints) for a in net.activations]
        self.m = rnet.n_in

    def layer_in(self, l: int, a, Ga):
        """Pre-activations u_l and their gradients (B, m, n_l) from a_{l-1} and its gradient."""
        W, b = self.W[l], self.b[l]
        u = a @ W.T + b
        Gu = W.T.expand(a.shape[0], -1, -1) if Ga is None else Ga @ W.T
        return u, Gu


def _reach(nz: list, opens: dict, lo: int) -> dict:
    """R[j] (j = lo..d-1): a path from each neuron of layer j to an output through neurons of
    later layers that are open (``opens[j']`` for j' > j) along non-zero weights (``nz[j]`` =
    weights[j] != 0, torch bool). The boolean matrix products run in float64."""
    import torch

    d = len(nz) - 1
    R = nz[-1].any(dim=0)
    out = {d - 1: R}
    for j in range(d - 1, lo, -1):
        G = opens[j] & R
        if bool(nz[j].all()):  # dense weights: reachable iff some neuron of layer j is
            R = G.any(dim=-1, keepdim=True).expand(*G.shape[:-1], nz[j].shape[1])
        else:
            R = (G.to(torch.float64) @ nz[j].to(torch.float64)) > 0
        out[j - 1] = R
    return out


class _TorchStack:
    """M networks of one architecture (a law's samples, or one network) as stacked float64
    tensors (M, n_out, n_in), restricted to the domain, with the original biases (z̃ = u - β)."""

    def __init__(self, nets: list[Network], laws: list, device: Any, domain: Domain):
        import torch

        net = nets[0]
        shapes = [W.shape for W in net.weights]
        if any([W.shape for W in n.weights] != shapes or n.activations != net.activations for n in nets[1:]):
            raise ValueError("networks batched together must share architecture and activations")
        self.net = net
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        origin, P = _restriction(domain)
        rnets = nets if origin is None else [n.restrict(origin, P) for n in nets]
        st = lambda arrs: torch.tensor(np.stack(arrs).astype(np.float64), device=self.device)  # noqa: E731
        L = len(net.weights)
        self.W = [st([r.weights[l] for r in rnets]) for l in range(L)]  # (M, n_out, n_in)
        self.Wt = [W.transpose(-1, -2) for W in self.W]
        self.b = [st([r.biases[l] for r in rnets]) for l in range(L)]  # (M, n_out)
        self.beta = [st([n.biases[l] for n in nets]) for l in range(L)]
        self.laws = laws
        self.nz = [W != 0 for W in self.W]
        self.dense = [bool(m.all()) for m in self.nz]
        self.switch = [torch.tensor(np.array(net.switching(l)), device=self.device) for l in range(net.depth)]
        self.xi = [torch.tensor(np.array(a.breakpoints, dtype=np.float64), device=self.device) for a in net.activations]
        self.phi_xi = [torch.tensor(np.array(a.values_at_breakpoints, dtype=np.float64), device=self.device)
                       for a in net.activations]
        self.m = rnets[0].n_in
        self.M = len(nets)


def _bcast(x, extra: int):
    """(M, ...) -> (M, 1 x extra, ...): insert ``extra`` broadcast axes after the network axis."""
    return x.reshape(x.shape[:1] + (1,) * extra + x.shape[1:])


def _reach_stack(ts: _TorchStack, opens: dict, lo: int, extra: int) -> dict:
    """``_reach`` for stacked networks: opens[j] has shape (M, <extra axes>, n_j)."""
    import torch

    d = ts.net.depth
    R = _bcast(ts.nz[-1].any(dim=-2), extra)
    out = {d - 1: R}
    for j in range(d - 1, lo, -1):
        G = opens[j] & R
        if ts.dense[j]:
            R = G.any(dim=-1, keepdim=True).expand(*G.shape[:-1], ts.W[j].shape[-1])
        else:
            R = (G.to(torch.float64) @ _bcast(ts.nz[j].to(torch.float64), G.dim() - 3)) > 0
        out[j - 1] = R
    return out


def _k1_values(ts: _TorchStack, S, substituted: bool = True):
    """Per network and input (S: (M, B, m)), the k = 1 integrand summed over neurons and
    breakpoints, three ways: (M, B, 3) = (activation kind, linear kind substituted, linear kind
    unmodified). Vectorised over networks, inputs, and the neurons of each layer. Without
    ``substituted`` the substituted passes (one per hidden layer and breakpoint, most of the cost)
    are skipped and the second column is NaN."""
    import torch

    net, d = ts.net, ts.net.depth
    a, Ga = S, None
    us, acts, opens, terms = [], [], {}, []
    for l in range(d):
        Wt = ts.Wt[l]
        u = a @ Wt + ts.b[l][:, None, :]
        Gu = Wt[:, None].expand(S.shape[0], S.shape[1], *Wt.shape[1:]) if Ga is None else Ga @ Wt[:, None]
        gn = torch.linalg.vector_norm(Gu, dim=-2)  # (M, B, n_l)
        zt = u - ts.beta[l][:, None, :]
        dens = torch.stack([_pdf_torch(ts.laws[l], x - zt) for x in ts.xi[l]], dim=0)  # (T, M, B, n_l)
        terms.append(gn[None] * (dens * ts.switch[l]))
        q = net.slope(l, net.piece(l, u))
        opens[l] = q != 0
        us.append(u)
        a = net.activate(l, u)
        acts.append(a)
        Ga = Gu * q[..., None, :].to(Gu.dtype)
        del Gu
    R = _reach_stack(ts, opens, 0, 1)
    act = torch.zeros(S.shape[:2], dtype=torch.float64, device=S.device)
    sub = torch.zeros_like(act)
    unm = torch.zeros_like(act)
    for l in range(d):
        t = terms[l]  # (T, M, B, n_l)
        act += t.sum(dim=(0, 3))
        unm += (t * R[l]).sum(dim=(0, 3))
        if l == d - 1:
            sub += (t * R[l]).sum(dim=(0, 3))
            continue
        if not substituted:
            continue
        for i in range(t.shape[0]):
            delta = ts.phi_xi[l][..., i] - acts[l]  # (M, B, n_l): change of z's output when z sits at ξ_i
            U = us[l + 1][:, :, None, :] + delta[..., None] * ts.Wt[l + 1][:, None]  # (M, B, n_l, n_{l+1})
            op = {}
            for j in range(l + 1, d):
                if j > l + 1:
                    U = net.activate(j - 1, U) @ ts.Wt[j][:, None] + ts.b[j][:, None, None, :]
                op[j] = net.slope(j, net.piece(j, U)) != 0
            Rs = _reach_stack(ts, op, l + 1, 2)
            G = op[l + 1] & Rs[l + 1]  # (M, B, n_l, n_{l+1})
            if ts.dense[l + 1]:
                good = G.any(dim=-1)
            else:
                good = (G.to(torch.float64) * ts.nz[l + 1].transpose(-1, -2).to(torch.float64)[:, None]).sum(-1) > 0
            sub += (t[i] * good).sum(dim=-1)
    if not substituted:
        sub = torch.full_like(act, float("nan"))
    return torch.stack([act, sub, unm], dim=-1)


def _kk_values(tn: _TorchNet, S, tl, tu, tb, substitute: bool):
    """Per row (input, neuron tuple sorted by layer, breakpoint tuple): the Theorem 6 integrand
    ‖J‖ Π ρ(ξ - z̃) (columns: activation kind, linear kind = times 1{all good})."""
    import torch

    net, d = tn.net, tn.net.depth
    B, k = tl.shape
    a, Ga = S, None
    dens = torch.ones(B, dtype=torch.float64, device=S.device)
    J = torch.zeros(B, k, tn.m, dtype=torch.float64, device=S.device)
    opens = {}
    rows = torch.arange(B, device=S.device)
    for l in range(d):
        u, Gu = tn.layer_in(l, a, Ga)
        force = torch.zeros_like(u, dtype=torch.bool)
        for j in range(k):
            r = rows[tl[:, j] == l]
            if r.numel() == 0:
                continue
            un = tu[r, j]
            xi = tn.xi[l][tb[r, j]]
            zt = u[r, un] - tn.beta[l][un]
            dens[r] = dens[r] * _pdf_torch(tn.laws[l], xi - zt)
            J[r, j, :] = Gu[r, :, un]
            if substitute:
                u[r, un] = xi
                force[r, un] = True
        q = net.slope(l, net.piece(l, u))
        opens[l] = (q != 0) | force
        a = net.activate(l, u)
        Ga = Gu * q[:, None, :].to(Gu.dtype)
        del Gu
    R = _reach(tn.nz, opens, 0)
    good = torch.ones(B, dtype=torch.bool, device=S.device)
    for j in range(k):
        for l in range(d):
            r = rows[tl[:, j] == l]
            if r.numel():
                Rl = R[l]
                g = Rl[tu[r, j]] if Rl.dim() == 1 else Rl[r, tu[r, j]]
                good[r] &= g
    gram = J @ J.transpose(1, 2)
    vol = torch.sqrt(torch.clamp(torch.linalg.det(gram), min=0.0)) if k > 1 else torch.sqrt(gram[:, 0, 0])
    y = vol * dens
    return torch.stack([y, y * good], dim=1)


def _chunk(tn: _TorchNet, k: int) -> int:
    widths = tn.net.widths
    per = tn.m * max(widths) + (max(widths) ** 2 if k == 1 else 0) + 1
    return max(1, min(1 << 16, _BATCH_ELEMENTS // per))


