"""Exact 2D partitions: linregions.plane (float64, numpy) against regioncam (Rust, float32, one core).

Both tools get the same network on the same square of a plane: He-normal ReLU MLPs with
N(0, 0.1^2) biases on [-1, 1]^2 (input 2), and a 784-[64, 64, 64] net restricted to the plane
through three inputs (the first MNIST training images of 0, 1, 2 when the packaged data can be
read, else three random points in [0, 1]^784), on the square of plane coordinates that holds them.
Times are the best of ``--repeat`` runs, measured side by side in one process; the ratio is
regioncam's time over ours (> 1: we are faster). Usage:

    python benchmarks/plane.py                 # 32, 64, 128, 256 and the 784 slice
    python benchmarks/plane.py --sizes 32 64 --repeat 3
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from linregions.laws import Normal, random_mlp
from linregions.plane import plane


def _regioncam(rnet, half: float):
    import regioncam

    rc = regioncam.Regioncam(size=half)
    for l in range(rnet.depth):
        rc.linear(rnet.weights[l].T.astype(np.float32), rnet.biases[l].astype(np.float32))
        rc.relu()
    rc.linear(rnet.weights[-1].T.astype(np.float32), rnet.biases[-1].astype(np.float32))
    return rc.num_faces


def _best(f, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def _three_inputs():
    try:
        from linregions.data import first_of_each_digit, mnist

        return first_of_each_digit(mnist("train", limit=2000)), "MNIST 0,1,2"
    except Exception:  # noqa: BLE001 - the benchmark also runs without the data package
        return np.random.default_rng(0).random((3, 784)), "random [0,1]^784 points"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[32, 64, 128, 256], help="hidden widths (3 layers each)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-mnist", action="store_true", help="skip the 784-[64,64,64] slice")
    ap.add_argument("--analysis", action="store_true", help="also time linear regions + affine maps")
    args = ap.parse_args(argv)
    try:
        import regioncam  # noqa: F401

        have_rc = True
    except ImportError:
        have_rc = False
        print("regioncam is not installed: printing our times only (pip install regioncam)")

    cases = []
    for w in args.sizes:
        net = random_mlp(2, [w, w, w], 1, biases=Normal(0.1), seed=0)
        cases.append((f"2-[{w},{w},{w}]", net, np.zeros(2), np.eye(2), 1.0))
    if not args.no_mnist:
        pts, what = _three_inputs()
        net = random_mlp(784, [64, 64, 64], 10, biases=Normal(0.1), seed=0)
        probe = plane_probe(net, pts)
        cases.append((f"784-[64,64,64] ({what})", net, *probe))

    print(f"{'network':<40} {'regions':>9} {'regioncam':>9} {'ours (s)':>10} {'regioncam (s)':>14} {'ratio':>7}")
    for name, net, origin, basis, half in cases:
        bounds = (-half, half, -half, half)
        t_ours, part = _best(lambda: plane(net, origin, basis, bounds), args.repeat)
        if have_rc:
            rnet = net.restrict(origin, basis)
            t_rc, n_rc = _best(lambda: _regioncam(rnet, half), args.repeat)
            ratio = f"{t_rc / t_ours:7.2f}"
        else:
            t_rc, n_rc, ratio = float("nan"), -1, "    n/a"
        print(f"{name:<40} {part.num_regions('activation'):>9} {n_rc:>9} {t_ours:>10.3f} {t_rc:>14.3f} {ratio}", flush=True)
        if args.analysis:
            t = time.perf_counter()
            part.num_regions("linear"), part.affine_maps()
            print(f"{'':<40} linear regions {part.num_regions('linear')}, affine maps: {time.perf_counter() - t:.3f} s")


def plane_probe(net, pts):
    """Origin, orthonormal basis and half-width of the square (plane coordinates) around the
    three points, as ``plane_through`` builds them."""
    d1, d2 = pts[1] - pts[0], pts[2] - pts[0]
    q0 = d1 / np.linalg.norm(d1)
    r = d2 - (q0 @ d2) * q0
    B = np.stack([q0, r / np.linalg.norm(r)], axis=1)
    origin = pts.mean(axis=0)
    half = 1.2 * float(np.abs((pts - origin) @ B).max())
    return origin, B, half


if __name__ == "__main__":
    main()
