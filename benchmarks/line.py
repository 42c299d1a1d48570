"""Benchmark: exact 1D partitions (``linregions.lines``) against the floor of one forward pass.

Thousands of segments between random points of [0, 1]^784 (MNIST-sized inputs) through a
784-[256, 256, 256, 256]-1 ReLU network with He-normal weights, for the paper's bias law
N(0, 1e-6) and for N(0, 0.01). For each setting it prints the number of breakpoints found (points
where the activation pattern changes), breakpoints per second, the time of ONE plain batched
forward pass (numpy float64 matmuls and max(u, 0), same BLAS threads, batches of 8192 rows) over
as many inputs as there are breakpoints, and the ratio of the two times. The partition cannot cost
less than evaluating the network at its breakpoints, so the ratio is the overhead over that floor
(target: <= 5 on CPU). Timings on a shared machine are noisy: each row is repeated.

    python benchmarks/line.py [--segments 2000] [--repeats 2]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from linregions.laws import Normal, random_mlp
from linregions.line import lines


def plain_forward(net, n_points: int, batch: int = 8192) -> float:
    """Seconds for one forward pass over n_points inputs (the floor)."""
    rng = np.random.default_rng(0)
    X = rng.random((min(batch, n_points), net.n_in))
    Ws, bs = net.weights, net.biases
    t0 = time.perf_counter()
    done = 0
    while done < n_points:
        a = X[: min(batch, n_points - done)]
        for W, b in zip(Ws[:-1], bs[:-1]):
            a = np.maximum(a @ W.T + b, 0.0)
        a @ Ws[-1].T + bs[-1]
        done += a.shape[0]
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--segments", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    X0, X1 = rng.random((args.segments, 784)), rng.random((args.segments, 784))
    print(f"{args.segments} segments in [0,1]^784, network 784-[256]x4-1 ReLU, He-normal weights")
    header = f"{'bias law':>12} {'rep':>3} {'breakpoints':>11} {'per segment':>11} {'lines [s]':>9} {'bp/s':>10} {'forward [s]':>11} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for std in (1e-3, 0.1):
        net = random_mlp(784, [256] * 4, biases=Normal(std=std), seed=args.seed)
        lines(net, X0[:20], X1[:20])  # warm-up
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            batch = lines(net, X0, X1)
            t_lines = time.perf_counter() - t0
            P = int(batch.t.size)
            t_fwd = plain_forward(net, P)
            print(
                f"{f'N(0,{std:g}^2)':>12} {rep:>3} {P:>11} {P / args.segments:>11.1f} {t_lines:>9.2f} "
                f"{P / t_lines:>10.0f} {t_fwd:>11.3f} {t_lines / t_fwd:>6.2f}"
            )


if __name__ == "__main__":
    main()
