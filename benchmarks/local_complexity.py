"""Benchmark: exact local complexity (``linregions.local_complexity``) against one forward pass.

MNIST test points through a 784-[256, 256, 256, 256]-10 ReLU network (He-normal weights, biases
N(0, 1e-6) as in the paper, or ``--bias-std``), at one radius: column 1 (boundary density in the
ball from ``--chords`` exact random chords per point), column 2 (exact crossings on the 2P = 1568
orthogonal probe segments per point) and column 3 (the published proxy on the 2P vertices), each
timed on its own and all three together. The floor is ONE plain float64 forward pass (numpy
matmuls and max(u, 0), same BLAS threads, batches of 8192 rows) over as many inputs as there are
probe vertices (points x 2P); the ratio of the two times is the overhead over evaluating the
network at the proxy's own vertices (target: <= 5 for columns 1-3 together).

Column 2 runs the exact 1D engine on each point's compact network (``linregions.local_complexity.star``:
one Jacobian-times-probes pass per point bounds every unit's movement on the probes; only the few
units that may switch stay switching units), and only on the diameters one of them may reach;
column 3 is read off the same crossings. The candidates per point and the share of diameters run
are printed.
``--plain`` also times the plain path (``_SKIP_EMPTY_PROBES = False``: every diameter through the
whole network, the proxy from a forward pass of the vertices), alternated with the fast path.
``--engines`` times the segment engines of a ``Network``'s chords and
probes (``local_complexity.columns._SEGMENT_ENGINE``): "dense" (``linregions.lines``, per-segment compiled
kernel, exact re-decision of close calls) and "torch" (``linregions.engine`` on the network's
``to_torch()`` module, batched over segments). Threads: whatever ``OMP_NUM_THREADS`` /
``MKL_NUM_THREADS`` say and torch's thread count (printed); timings on a shared machine are noisy,
so each row is repeated, the floor is measured right before each run, and the medians of the
times, of the floors and of the per-run ratios are printed.

    python benchmarks/local_complexity.py [--points 1000] [--radius 0.05] [--repeats 3] [--engines dense,torch] [--plain]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from _floor import plain_forward  # this folder
from linregions.data import mnist
from linregions.laws import Normal, random_mlp
from linregions.local_complexity import local_complexity, probe_directions
from linregions._kernels_line import one_blas_thread
from linregions.local_complexity.star import star_certificate

LC = __import__("sys").modules["linregions.local_complexity.columns"]  # the paths' switches
ROWS = {"density": ("density",), "probes": ("probes",), "proxy": ("proxy",), "all": ("density", "probes", "proxy")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=1000, help="MNIST test points (default 1000)")
    ap.add_argument("--radius", type=float, default=0.05, help="radius in pixel units, images in [0, 1]^784 (default 0.05)")
    ap.add_argument("--chords", type=int, default=64, help="random chords per point for column 1 (default 64)")
    ap.add_argument("--probes", type=int, default=None, help="probe directions P (default 784: 2P = 1568 probes)")
    ap.add_argument("--bias-std", type=float, default=1e-3, help="bias standard deviation (default 1e-3, the paper's)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engines", default="dense,torch", help="segment engines to time, comma-separated (dense, torch)")
    ap.add_argument("--rows", default="density,probes,proxy,all", help="column sets to time (density, probes, proxy, all)")
    ap.add_argument("--plain", action="store_true", help="also time the plain path (every diameter, whole network)")
    args = ap.parse_args()
    net = random_mlp(784, [256] * 4, 10, biases=Normal(std=args.bias_std), seed=args.seed)
    X = mnist("test", limit=args.points).images.astype(np.float64)
    P = 784 if args.probes is None else args.probes
    n_vertices = X.shape[0] * 2 * P
    threads = {k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    print(f"{X.shape[0]} MNIST test points, network 784-[256]x4-10 ReLU (He-normal, biases N(0, {args.bias_std:g}^2)), "
          f"radius {args.radius:g}, P = {P} directions ({2 * P} probes), {args.chords} chords; threads {threads}, "
          f"torch threads {torch.get_num_threads()}")
    Q = probe_directions(784, args.probes, np.random.default_rng([args.seed, 1]))
    with one_blas_thread():
        cert = star_certificate(net, X, args.radius, Q)
    k = [sum(len(u) for u in star.units) for star in cert.stars.values()]
    n_diam = sum(star.diam.size for star in cert.stars.values())
    print(f"star certificate: {cert.fallback.sum()} of {X.shape[0]} points left to the plain path; the others have "
          f"{np.mean(k):.1f} candidate neurons on average (of {net.num_neurons}; max {max(k, default=0)}), "
          f"and {100 * n_diam / max(1, len(k) * P):.1f}% of their diameters run on the compact network")
    paths = ("fast", "plain") if args.plain else ("fast",)
    header = (f"{'engine':>6} {'path':>5} {'columns':>22} {'time [s]':>9} {'floor [s]':>9} {'ratio':>6} {'per point [ms]':>14}"
              "  result (mean over points, all layers)")
    print(header)
    print("-" * len(header))
    for engine in args.engines.split(","):
        LC._SEGMENT_ENGINE = engine
        local_complexity(net, X[:2], args.radius, n_chords=4, n_probes=args.probes, progress=False)  # warm-up (compiled kernels)
        for row in args.rows.split(","):
            cols = ROWS[row]
            runs = {p: ([], [], []) for p in paths}
            dfs = {}
            for _ in range(args.repeats):  # the floor is measured right before each run (load drifts); paths alternate
                for path in paths:
                    LC._SKIP_EMPTY_PROBES = path == "fast"
                    times, floors, ratios = runs[path]
                    floors.append(plain_forward(net, n_vertices))
                    t0 = time.perf_counter()
                    dfs[path] = local_complexity(net, X, args.radius, n_chords=args.chords, n_probes=args.probes,
                                                 columns=cols, seed=args.seed, progress=False)
                    times.append(time.perf_counter() - t0)
                    ratios.append(times[-1] / floors[-1])
            LC._SKIP_EMPTY_PROBES = True
            for path in paths:
                t, floor, ratio = (statistics.median(v) for v in runs[path])
                tot = dfs[path][dfs[path]["layer"] == -1].mean(numeric_only=True)
                res = ", ".join(f"{k} {tot[k]:.4g}" for k in ("density_linear", "probe_crossings_activation", "probe_neurons", "proxy") if k in tot)
                print(f"{engine:>6} {path:>5} {'+'.join(cols):>22} {t:9.3f} {floor:9.3f} {ratio:6.2f} {1000 * t / X.shape[0]:14.2f}  {res}")
            if len(dfs) == 2:
                same = all(np.array_equal(dfs["fast"][c].to_numpy(), dfs["plain"][c].to_numpy()) for c in dfs["fast"].columns)
                print(f"{'':>6} fast and plain tables identical: {same}")
    LC._SEGMENT_ENGINE = "dense"


if __name__ == "__main__":
    main()
