"""Region tables (linregions.regions.region_table) against the partition that they describe.

The issue's budget: the full region table of a planar slice (every column group: sizes, shape,
Chebyshev centres and inradii, affine maps and classes, patterns and layers, glue) in under 2x
the time of computing the partition itself. Network: He-normal ReLU MLP 2-[w, w, w]-1 with
N(0, 0.1^2) biases on [-1, 1]^2 (the plane benchmark's cases; w = 128 gives ~57k regions).
Times are medians of ``--repeat`` runs, one thread (``OMP_NUM_THREADS=1`` is set before numpy
loads). The table is computed on a fresh partition each time: ``maps`` is the partition's own
lazily computed state the table needs (``affine_maps``, ``region_labels``), ``table`` the rest;
the ratio is (maps + table) / partition, the budget column says whether it is under 2.
Also timed: the decision boundary, the dual graph, locating 10^5 points. Usage:

    python benchmarks/regions.py                  # w = 128
    python benchmarks/regions.py --sizes 32 64 --repeat 3
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from linregions.decision import plane_boundary  # noqa: E402
from linregions.laws import Normal, random_mlp  # noqa: E402
from linregions.plane import plane  # noqa: E402
from linregions.regions import dual_graph, locate, region_table  # noqa: E402


def _timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[128], help="hidden widths (3 layers each)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print("threads: OMP_NUM_THREADS =", os.environ["OMP_NUM_THREADS"], f"; medians of {args.repeat} runs")
    head = (f"{'network':<16} {'faces':>8} {'partition (s)':>14} {'maps (s)':>9} {'table (s)':>10} {'ratio':>6} {'budget':>7} "
            f"{'linear table':>13} {'boundary':>9} {'dual':>7} {'locate 1e5':>11}")
    print(head)
    warm = plane(random_mlp(2, [8], 1, seed=0), [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))  # imports, numba
    region_table(warm), region_table(warm, "linear"), plane_boundary(warm), dual_graph(warm), locate(warm, np.zeros((1, 2)))
    for w in args.sizes:
        net = random_mlp(2, [w, w, w], 1, biases=Normal(0.1), seed=0)
        tp, tm, tt, tl, tb, tg, tq = [], [], [], [], [], [], []
        F = 0
        for _ in range(args.repeat):
            t, part = _timed(lambda: plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1)))
            tp.append(t)
            F = part.num_faces
            tm.append(_timed(lambda: (part.affine_maps(), part.region_labels))[0])
            t, df = _timed(lambda: region_table(part, "activation"))
            tt.append(t)
            assert len(df) == F
            tl.append(_timed(lambda: region_table(part, "linear"))[0])
            tb.append(_timed(lambda: plane_boundary(part))[0])
            tg.append(_timed(lambda: dual_graph(part))[0])
            pts = np.random.default_rng(0).uniform(-1, 1, size=(100_000, 2))
            tq.append(_timed(lambda: locate(part, pts))[0])
        med = lambda x: float(np.median(x))  # noqa: E731
        ratio = (med(tm) + med(tt)) / med(tp)
        print(f"{f'2-[{w},{w},{w}]':<16} {F:>8} {med(tp):>14.3f} {med(tm):>9.3f} {med(tt):>10.3f} {ratio:>6.2f} "
              f"{'ok' if ratio < 2 else 'OVER':>7} {med(tl):>13.3f} {med(tb):>9.3f} {med(tg):>7.3f} {med(tq):>11.3f}")


if __name__ == "__main__":
    main()
