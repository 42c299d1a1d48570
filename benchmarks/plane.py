"""Exact 2D partitions: linregions.plane (float64, numpy + numba) against regioncam (Rust, float32).

Both tools get the same network on the same square of a plane: He-normal ReLU MLPs with
N(0, 0.1^2) biases on [-1, 1]^2 (input 2), and a 784-[64, 64, 64] net restricted to the plane
through three inputs (the first MNIST training images of 0, 1, 2 when the packaged data can be
read, else three random points in [0, 1]^784), on the square of plane coordinates that holds them.

Times are medians of ``--repeat`` runs, the two tools alternating within one process (so both see
the same machine load); the ratio is regioncam's median over ours (> 1: we are faster). Region
counts must agree (``counts`` column). BLAS and numba run single-threaded unless ``--threads`` says
otherwise (set before numpy is imported; regioncam is single-threaded). ``--memory`` also reports
the peak resident memory of each tool on each case, each measured in a fresh process. Usage:

    python benchmarks/plane.py                 # 32, 64, 128, 256 and the 784 slice
    python benchmarks/plane.py --sizes 32 64 --repeat 5
"""
from __future__ import annotations

import argparse
import os
import sys


def _set_threads(argv) -> int:
    n = 1
    if "--threads" in argv:
        n = int(argv[argv.index("--threads") + 1])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)
    return n


THREADS = _set_threads(sys.argv)

import time  # noqa: E402

import numpy as np  # noqa: E402

from linregions.laws import Normal, random_mlp  # noqa: E402
from linregions.plane import plane  # noqa: E402


def _regioncam(rnet, half: float):
    import regioncam

    rc = regioncam.Regioncam(size=half)
    for l in range(rnet.depth):
        rc.linear(rnet.weights[l].T.astype(np.float32), rnet.biases[l].astype(np.float32))
        rc.relu()
    rc.linear(rnet.weights[-1].T.astype(np.float32), rnet.biases[-1].astype(np.float32))
    return rc.num_faces


def _three_inputs():
    try:
        from linregions.data import first_of_each_digit, mnist

        return first_of_each_digit(mnist("train", limit=2000)), "MNIST 0,1,2"
    except Exception:  # noqa: BLE001 - the benchmark also runs without the data package
        return np.random.default_rng(0).random((3, 784)), "random [0,1]^784 points"


def plane_probe(pts):
    """Origin, orthonormal basis and half-width of the square (plane coordinates) around the
    three points, as ``plane_through`` builds them."""
    d1, d2 = pts[1] - pts[0], pts[2] - pts[0]
    q0 = d1 / np.linalg.norm(d1)
    r = d2 - (q0 @ d2) * q0
    B = np.stack([q0, r / np.linalg.norm(r)], axis=1)
    origin = pts.mean(axis=0)
    half = 1.2 * float(np.abs((pts - origin) @ B).max())
    return origin, B, half


def cases(sizes, mnist: bool):
    out = []
    for w in sizes:
        net = random_mlp(2, [w, w, w], 1, biases=Normal(0.1), seed=0)
        out.append((f"2-[{w}]x3 on [-1,1]^2", net, np.zeros(2), np.eye(2), 1.0))
    if mnist:
        pts, what = _three_inputs()
        net = random_mlp(784, [64, 64, 64], 10, biases=Normal(0.1), seed=0)
        out.append((f"784-[64]x3 ({what})", net, *plane_probe(pts)))
    return out


def _peak_rss_mb(tool: str, index: int, sizes, mnist: bool) -> float:
    """Peak resident memory (MB) of one run of ``tool`` on case ``index`` in a fresh process (the
    child reports its own high-water mark, which includes the interpreter and libraries; Linux)."""
    import subprocess

    cmd = [sys.executable, __file__, "--_one", tool, str(index), "--sizes", *map(str, sizes)]
    if not mnist:
        cmd.append("--no-mnist")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1]) / 1024  # KB on Linux


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[32, 64, 128, 256], help="hidden widths (3 layers each)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="BLAS/numba threads (default 1)")
    ap.add_argument("--no-mnist", action="store_true", help="skip the 784-[64,64,64] slice")
    ap.add_argument("--memory", action="store_true", help="also measure peak memory per tool and case (fresh processes)")
    ap.add_argument("--analysis", action="store_true", help="also time linear regions + affine maps")
    ap.add_argument("--_one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    todo = cases(args.sizes, not args.no_mnist)
    if args._one:  # child process of --memory
        tool, i = args._one[0], int(args._one[1])
        name, net, origin, basis, half = todo[i]
        if tool == "ours":
            plane(net, origin, basis, (-half, half, -half, half))
        else:
            _regioncam(net.restrict(origin, basis), half)
        with open("/proc/self/status") as fh:  # VmHWM: this process's peak (ru_maxrss survives exec)
            print(next(line.split()[1] for line in fh if line.startswith("VmHWM")))
        return
    try:
        import regioncam  # noqa: F401

        have_rc = True
    except ImportError:
        have_rc = False
        print("regioncam is not installed: printing our times only (pip install regioncam)")
    print(f"# threads: {THREADS} (BLAS, numba); regioncam single-threaded; medians of {args.repeat} alternating runs; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    # warm-up: numba loads its cached kernels once per process
    plane(random_mlp(2, [8, 8], 1, seed=0), np.zeros(2), np.eye(2), (-1, 1, -1, 1))
    head = f"{'workload':<36} {'regions':>8} {'counts':>6} {'ours (s)':>9} {'regioncam (s)':>13} {'ratio':>6}"
    if args.memory:
        head += f" {'ours MB':>8} {'rc MB':>8}"
    print(head)
    for i, (name, net, origin, basis, half) in enumerate(todo):
        bounds = (-half, half, -half, half)
        rnet = net.restrict(origin, basis)
        t_ours, t_rc = [], []
        part, n_rc = None, -1
        for _ in range(args.repeat):
            t = time.perf_counter()
            part = plane(net, origin, basis, bounds)
            t_ours.append(time.perf_counter() - t)
            if have_rc:
                t = time.perf_counter()
                n_rc = _regioncam(rnet, half)
                t_rc.append(time.perf_counter() - t)
        mo = float(np.median(t_ours))
        mr = float(np.median(t_rc)) if t_rc else float("nan")
        same = "same" if n_rc == part.num_regions("activation") else ("n/a" if not have_rc else "DIFF")
        line = f"{name:<36} {part.num_regions('activation'):>8} {same:>6} {mo:>9.4f} {mr:>13.4f} {mr / mo:>6.2f}"
        if args.memory:
            line += f" {_peak_rss_mb('ours', i, args.sizes, not args.no_mnist):>8.0f}"
            line += f" {_peak_rss_mb('rc', i, args.sizes, not args.no_mnist) if have_rc else float('nan'):>8.0f}"
        print(line, flush=True)
        if args.analysis:
            t = time.perf_counter()
            part.num_regions("linear"), part.affine_maps()
            print(f"{'':<36} linear regions {part.num_regions('linear')}, affine maps: {time.perf_counter() - t:.3f} s")
    print(f"# load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
