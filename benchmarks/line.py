"""Benchmark: exact 1D partitions (``linregions.line`` / ``lines``) against regioncam's 1D
partition (Rust, float32) measured side by side in the same run, and against the floor of one
plain float64 forward pass.

Workloads (issue 15): He-normal ReLU MLPs with N(0, 0.1^2) biases;

- ``line``, one segment: the diagonal of [-1, 1]^2 through 2-[32]x3 and 2-[128]x3, and a segment
  between two random points of [0, 1]^784 through 784-[64]x3;
- ``lines``: S segments between random points of [0, 1]^784 through 784-[256]x4, S random
  chords of [-1, 1]^2 through 2-[32]x3, and 10 S short segments (length 0.05 from random points
  of [0, 1]^784, mostly 0-3 crossings: the local-complexity workload) through 784-[256]x4
  (regioncam: a Python loop of single segments).

Threads: the environment's BLAS settings and the load average are printed; linregions' compiled
kernels run their per-segment products on one BLAS thread (``_kernels_line.one_blas_thread``), and
the forward-pass floor runs on one BLAS thread too.

regioncam gets each segment as a 1-input network (the first layer restricted to the segment,
x0 + t (x1 - x0) for t in [0, 1], computed inside its timed loop, in float64 then cast). Every row
checks that both tools find the same number of regions per segment (float32 may differ by a few
regions on rare segments; the mismatch count is printed). Each time is the median of
``--repeat`` runs; ratio = regioncam time / linregions time (> 1: linregions is faster), in wall
time, and in CPU time of the process (``cpu ratio``: less sensitive to other processes on a loaded
machine; it counts every thread, so a multi-threaded tool is charged for all of them).

All four timings of a row (linregions, linregions with ``exact=False``, the forward-pass floor,
regioncam) are taken in turn, repeat after repeat, so that load changes hit them alike.

Also printed: the floor ratio (``lines`` time over one plain float64 forward pass, numpy matmuls
and max(u, 0) with the same BLAS threads, over as many inputs as there are breakpoints) and the
cost of exact re-decision on generic inputs (``exact=True``, the default, against ``exact=False``).

    python benchmarks/line.py [--segments 200] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from _floor import plain_forward  # this folder
from linregions.laws import Normal, random_mlp
from linregions.line import line, lines


def _interleaved(fs, repeat: int):
    """Medians of several functions timed in turn (so that a load change hits them alike): wall
    times, CPU times of the process (all its threads), and the last outputs."""
    ts, cs, outs = [[] for _ in fs], [[] for _ in fs], [None] * len(fs)
    for _ in range(repeat):
        for k, f in enumerate(fs):
            c0, t0 = time.process_time(), time.perf_counter()
            outs[k] = f()
            ts[k].append(time.perf_counter() - t0)
            cs[k].append(time.process_time() - c0)
    return [float(np.median(t)) for t in ts], [float(np.median(c)) for c in cs], outs


def _regioncam_counts(net, X0, X1) -> np.ndarray:
    """regioncam's number of regions (edges) on each segment, one Regioncam1D per segment."""
    import regioncam

    Ws = [W.T.astype(np.float32) for W in net.weights[1:]]
    bs = [b.astype(np.float32) for b in net.biases[1:]]
    W0, b0 = net.weights[0], net.biases[0]
    out = np.empty(X0.shape[0], np.int64)
    for i in range(X0.shape[0]):
        rc = regioncam.Regioncam1D(size=(0.0, 1.0))
        rc.linear((W0 @ (X1[i] - X0[i]))[None, :].astype(np.float32), (W0 @ X0[i] + b0).astype(np.float32))
        rc.relu()
        for W, b in zip(Ws[:-1], bs[:-1]):
            rc.linear(W, b)
            rc.relu()
        rc.linear(Ws[-1], bs[-1])
        out[i] = rc.num_edges
    return out


def _workloads(S: int, rng):
    diag = (np.array([[-1.0, -1.0]]), np.array([[1.0, 1.0]]))
    yield "line, 2-[32]x3, diagonal", random_mlp(2, [32] * 3, biases=Normal(std=0.1), seed=1), *diag, True
    yield "line, 2-[128]x3, diagonal", random_mlp(2, [128] * 3, biases=Normal(std=0.1), seed=2), *diag, True
    yield "line, 784-[64]x3", random_mlp(784, [64] * 3, biases=Normal(std=0.1), seed=3), rng.random((1, 784)), rng.random((1, 784)), True
    yield (f"lines, {S} seg, 784-[256]x4", random_mlp(784, [256] * 4, biases=Normal(std=0.1), seed=4),
           rng.random((S, 784)), rng.random((S, 784)), False)
    yield (f"lines, {S} seg, 2-[32]x3", random_mlp(2, [32] * 3, biases=Normal(std=0.1), seed=5),
           rng.uniform(-1, 1, (S, 2)), rng.uniform(-1, 1, (S, 2)), False)
    # many short segments (local complexity, issue 11): length 0.05 from random points of [0, 1]^784
    n_short = 10 * S
    x = rng.random((n_short, 784))
    v = rng.normal(size=(n_short, 784))
    v *= 0.05 / np.linalg.norm(v, axis=1, keepdims=True)
    yield (f"lines, {n_short} short, 784-[256]x4", random_mlp(784, [256] * 4, biases=Normal(std=0.1), seed=4),
           x, x + v, False)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--segments", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        import regioncam  # noqa: F401

        have_rc = True
    except ImportError:
        have_rc = False
    threads = {k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    print(f"threads: {threads}, cpus={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; linregions' kernels and "
          f"the floor: one BLAS thread; regioncam {'present' if have_rc else 'absent'}; "
          f"median of {args.repeat} runs (float64 linregions, float32 regioncam)")
    rng = np.random.default_rng(args.seed)
    head = (f"{'workload':<30} {'regions/seg':>11} {'linregions':>11} {'regioncam':>10} {'ratio':>6} {'cpu ratio':>9} "
            f"{'count diff':>10} {'floor x':>7} {'exact cost':>10}")
    print(head)
    print("-" * len(head))
    for name, net, X0, X1, single in _workloads(args.segments, rng):
        if single:
            f = lambda: line(net, X0[0], X1[0])  # noqa: E731
            f_float = lambda: line(net, X0[0], X1[0], exact=False)  # noqa: E731
        else:
            f = lambda: lines(net, X0, X1)  # noqa: E731
            f_float = lambda: lines(net, X0, X1, exact=False)  # noqa: E731
        res = f()  # warm-up (compiled kernels, caches)
        counts = np.atleast_1d(res.num_regions("activation"))
        n_pts = int(np.atleast_1d(res.t).size) if single else int(res.t.size)
        fwd = lambda: plain_forward(net, n_pts + 2 * counts.size, blas_threads=1)  # noqa: E731
        rc = (lambda: _regioncam_counts(net, X0, X1)) if have_rc else (lambda: None)  # noqa: E731
        rc()
        inner = 20 if single else 1  # sub-millisecond calls: time 20 in a row
        loop = lambda g: (lambda: [g() for _ in range(inner)][-1])  # noqa: E731
        ts, cs, (_, _, _, rc_counts) = _interleaved([loop(f), loop(f_float), loop(fwd), loop(rc)], args.repeat)
        t_ours, t_float, t_fwd, t_rc = (x / inner for x in ts)
        if have_rc:
            ratio = f"{t_rc / t_ours:6.2f}"
            cpu_ratio = f"{cs[3] / cs[0]:9.2f}"
            diff = f"{int(np.sum(rc_counts != counts))}/{counts.size}"
            rc_s = f"{t_rc * 1e3:8.2f}ms"
        else:
            ratio, cpu_ratio, diff, rc_s = "  n/a", "n/a", "n/a", "n/a"
        print(f"{name:<30} {counts.mean():>11.1f} {t_ours * 1e3:>9.2f}ms {rc_s:>10} {ratio:>6} {cpu_ratio:>9} {diff:>10} "
              f"{t_ours / t_fwd:>7.2f} {100 * (t_ours / t_float - 1):>+9.1f}%")


if __name__ == "__main__":
    main()
