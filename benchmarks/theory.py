"""Speed of the Theorem 6 k = 1 estimator against its floor, one batch of per-neuron gradients.

The estimator (``linregions.theory.theorem6``, k = 1) needs, per input x, the gradient norm of every
neuron (a forward pass carrying the (n_in x n_l) Jacobians: the floor), the bias densities, and, for
the exact "substituted" goodness, one downstream pass per hidden layer with each neuron of that
layer set at its breakpoint (rank-one updates, vectorised over the layer's neurons; skipped when
only the activation kind or the unmodified linear kind is asked for). Printed:
inputs per second of the full estimator and of the floor alone, measured in the same run, and
their ratio, on a 784-[256]x4 ReLU law (He-normal weights, N(0, 0.001²) biases as in the paper)
with inputs uniform in [0, 1]^784.

    python benchmarks/theory.py [--device cuda] [--batch 256] [--repeat 3] [--threads N]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from linregions.laws import Normal
from linregions.theory import Box, NetworkLaw, _grad_norms, _k1_values, _TorchNet, _TorchStack, _kk_values


def _time(fn, repeat: int, sync) -> float:
    fn()  # warm-up
    sync()
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=64, help="inputs per batch (default 64)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--widths", default="256x4")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    w, r = (int(v) for v in args.widths.split("x"))
    law = NetworkLaw(784, (w,) * r, 10, biases=Normal(1e-3))
    net = law.sample(0)
    box = Box(np.zeros(784), np.ones(784))
    tn = _TorchNet(net, [law.biases] * net.depth, args.device, box)
    S = torch.as_tensor(box.sample(np.random.default_rng(1), args.batch), dtype=torch.float64, device=tn.device)
    sync = (lambda: torch.cuda.synchronize()) if tn.device.type == "cuda" else (lambda: None)

    t_floor = _time(lambda: _grad_norms(tn, S), args.repeat, sync)
    ts = _TorchStack([net], [law.biases] * net.depth, args.device, box)
    t_est = _time(lambda: _k1_values(ts, S[None]), args.repeat, sync)
    t_act = _time(lambda: _k1_values(ts, S[None], substituted=False), args.repeat, sync)
    # k = 2 with one sampled neuron pair per input, for scale
    rng = np.random.default_rng(2)
    ids = net.neuron_ids
    C = np.sort(np.stack([rng.choice(ids.shape[0], 2, replace=False) for _ in range(args.batch)]), axis=1)
    tl, tu = (torch.as_tensor(ids[C, i], device=tn.device) for i in (0, 1))
    tb = torch.zeros_like(tl)
    t_k2 = _time(lambda: _kk_values(tn, S, tl, tu, tb, True), args.repeat, sync)

    B = args.batch
    print(f"Theorem 6 estimator, {law!r}, device={tn.device}, torch threads={torch.get_num_threads()}, batch={B}")
    print(f"{'what':<46} {'s/batch':>9} {'inputs/s':>10} {'x floor':>8}")
    rows = [
        ("floor: per-neuron gradient norms", t_floor),
        ("k = 1 estimator (activation, exact, approx.)", t_est),
        ("k = 1 estimator, activation kind only", t_act),
        ("k = 2 estimator, one sampled pair per input", t_k2),
    ]
    for name, t in rows:
        print(f"{name:<46} {t:>9.4f} {B / t:>10.1f} {t / t_floor:>8.2f}")


if __name__ == "__main__":
    main()
