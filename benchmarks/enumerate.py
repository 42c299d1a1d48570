"""Benchmark: exact polyhedral complexes in 3D/4D boxes (``linregions.enumerate.complex_in_box``).

ReLU networks n-[w, w]-1 with He-normal weights and N(0, 0.1^2) biases in the box [-1, 1]^n. For
each network it prints the number of activation regions, the time of the layer-by-layer
splitting alone and of the whole complex (splitting + face lattice + volumes + goodness), and
regions per second (medians over ``--repeats`` runs, after one warm-up call that loads or compiles
the numba kernels; the compile/load time is printed separately). The splitting, face lattice and
volume kernels are single-threaded numba code; BLAS threads are stated in the header (set
``OMP_NUM_THREADS=1`` for the reference numbers). Two baselines are measured in the same run:

- LP brute force (small networks only): activation patterns grown neuron by neuron, each kept
  when a linear program finds a ball of positive radius in its polytope (scipy HiGHS). It only
  counts regions (no faces, no volumes); ``ratio`` = its time / the complex's time.
- ``linregions.plane`` on a 2-input network with a similar number of regions: the vectorised 2D
  routine, as a reference for the per-region cost; ``ratio`` = complex time / plane time per
  region (how much more a 3D/4D region costs than a planar one).

Timings on a shared machine are noisy: each row is repeated, and ratios are taken within a row;
``cpu reg/s`` (regions per CPU second of this process) is the robust figure under load. Target
(issue #15): at least 20,000 regions/s in 3D. ``--cold`` also measures the cold compile of the
kernels (a fresh process with an empty ``NUMBA_CACHE_DIR``, as on CI), wall and CPU seconds.

    python benchmarks/enumerate.py [--repeats 3] [--quick] [--cold]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from scipy.optimize import linprog

from linregions.enumerate import complex_in_box
from linregions.enumerate.complex import _split_all
from linregions.laws import Normal, random_mlp
from linregions.plane import plane


def lp_count(net, low: float = -1.0, high: float = 1.0) -> int:
    """Number of activation regions of a ReLU net in [low, high]^n by LP brute force."""
    n = net.n_in
    box_A = np.vstack([np.eye(n), -np.eye(n)])
    box_c = np.r_[np.full(n, -low), np.full(n, high)]

    def feasible(A, c):  # ball of positive radius in {A x + c >= 0} ∩ box
        AA, cc = np.vstack([A, box_A]), np.r_[c, box_c]
        res = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.c_[-AA, np.linalg.norm(AA, axis=1)], b_ub=cc,
                      bounds=[(None, None)] * n + [(0, 1)], method="highs")
        return res.status == 0 and -res.fun > 1e-9

    states = [(np.eye(n), np.zeros(n), np.zeros((0, n)), np.zeros(0))]
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        new = []
        for M, m0, A, c in states:
            G, g0 = W @ M, W @ m0 + b
            part = [(A, c, [])]
            for z in range(W.shape[0]):
                nxt = []
                for A_, c_, p in part:
                    for on, sgn in ((1, 1.0), (0, -1.0)):
                        A2, c2 = np.vstack([A_, sgn * G[z]]), np.r_[c_, sgn * g0[z]]
                        if feasible(A2, c2):
                            nxt.append((A2, c2, p + [on]))
                part = nxt
            for A_, c_, p in part:
                on = np.array(p, float)
                new.append((on[:, None] * G, on * g0, A_, c_))
        states = new
    return len(states)


_COLD = """
import time
t0, c0 = time.perf_counter(), time.process_time()
from linregions.enumerate import complex_in_box
from linregions.laws import random_mlp
t1, c1 = time.perf_counter(), time.process_time()
complex_in_box(random_mlp(3, [3, 3], seed=0), -1.0, 1.0)
print(f"{time.perf_counter() - t1:.2f} {time.process_time() - c1:.2f}")
"""


def cold_compile() -> tuple[float, float]:
    """Wall and CPU seconds of the first ``complex_in_box`` call in a fresh process with an empty
    numba cache (every kernel compiled, as on CI)."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", _COLD], env=env, check=True, capture_output=True, text=True)
    wall, cpu = map(float, out.stdout.split()[-2:])
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller networks only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cold", action="store_true", help="also measure the cold numba compile (fresh process, empty cache)")
    args = ap.parse_args()
    if args.cold:
        wall, cpu = cold_compile()
        print(f"cold compile (empty NUMBA_CACHE_DIR, first complex_in_box call): {wall:.2f} s wall, {cpu:.2f} s CPU")
    cases = [(3, 8), (3, 16), (3, 24), (3, 32), (3, 40), (4, 8), (4, 12), (4, 16)]
    if args.quick:
        cases = [(3, 8), (3, 16), (4, 8)]
    t0 = time.perf_counter()
    complex_in_box(random_mlp(3, [3, 3], seed=0), -1.0, 1.0)  # numba: compile once, or load the cache
    t_warm = time.perf_counter() - t0
    try:
        import numba

        nb = f"numba {numba.__version__} (kernels single-threaded)"
    except ImportError:  # pragma: no cover
        nb = "numba missing"
    print("ReLU n-[w,w]-1, He-normal weights, biases N(0, 0.1^2), box [-1,1]^n")
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, {nb}; "
          f"cpu count {os.cpu_count()}; first call (compile or cache load) {t_warm:.2f} s")
    print(f"medians over {args.repeats} repeats; regions/s = activation regions / total wall time; "
          "cpu reg/s = the same per CPU second of this process (robust on a shared machine)")
    header = (f"{'net':>10} {'regions':>8} {'split [s]':>9} {'total [s]':>9} {'regions/s':>9} {'cpu reg/s':>9} "
              f"{'LP [s]':>8} {'LP ratio':>8} {'plane reg/s':>11} {'cost vs plane':>13}")
    print(header)
    print("-" * len(header))
    for n, w in cases:
        net = random_mlp(n, [w, w], biases=Normal(std=0.1), seed=args.seed)
        low, high = -np.ones(n), np.ones(n)
        t_split, t_all, t_plane, t_cpu = [], [], [], []
        R = pl_R = 0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ptr = _split_all(net, low, high, 10**7, False)[1]
            t_split.append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), time.process_time()
            cx = complex_in_box(net, low, high, max_regions=10**7)
            t_all.append(time.perf_counter() - t0)
            t_cpu.append(time.process_time() - c0)
            R = cx.num_regions("activation")
            assert R == ptr.size - 1
            # a 2-input net with about as many regions: planar regions ~ c w^2 for 2 layers of width w
            w2 = max(4, int(round(np.sqrt(R / 0.55) / 2)))
            net2 = random_mlp(2, [w2, w2], biases=Normal(std=0.1), seed=args.seed)
            t0 = time.perf_counter()
            part = plane(net2, np.zeros(2), np.eye(2), (-1.0, 1.0, -1.0, 1.0))
            t_plane.append(time.perf_counter() - t0)
            pl_R = part.num_regions("activation")
        lp = lp_s = "-"
        ts, ta, tp, tc = (statistics.median(t) for t in (t_split, t_all, t_plane, t_cpu))
        if w <= 8:
            t0 = time.perf_counter()
            count = lp_count(net)
            t_lp = time.perf_counter() - t0
            assert count == R, (count, R)
            lp, lp_s = f"{t_lp:.2f}", f"{t_lp / ta:.1f}"
        rate, pl_rate = R / ta, pl_R / tp
        print(f"{f'{n}-[{w},{w}]':>10} {R:>8} {ts:>9.3f} {ta:>9.3f} {rate:>9.0f} {R / tc:>9.0f} "
              f"{lp:>8} {lp_s:>8} {pl_rate:>11.0f} {pl_rate / rate:>13.2f}")


if __name__ == "__main__":
    main()
