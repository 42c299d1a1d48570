"""Benchmark: the torch-native engine (``linregions.engine.lines``) on CNNs and ResNet-18.

Workloads (issue 10), CIFAR-shaped inputs (3 x 32 x 32), random initialisation, eval mode:

- ``cnn16``, ``cnn32``, ``cnn64``: three 3x3 conv layers of 16 / 32 / 64 channels, ReLU, 2x2
  max-pooling after the last two, a linear head with 10 outputs;
- ``resnet18``: torchvision's ResNet-18 (BasicBlocks, widths 64-512) with the CIFAR stem (3x3 conv,
  no max-pool), 10 outputs; ``resnet18w16`` the same with widths 16-128 (quick runs).

Segments: S pairs of random images x, y in [0, 1]^3072, walked from x towards y over a fraction
``--fraction`` of the way (the whole way, fraction 1, crosses tens of thousands of boundaries on
ResNet-18 and takes long on a small CPU).

Printed per model and thread setting: the final points, activation and linear regions per
segment, the engine's time (median of ``--repeat``), the floor (one plain float64 forward pass of
the module over the final points, in blocks of ``--chunk-points``, with the same torch threads,
measured in the same process, interleaved with the engine's runs), the ratio of the medians (target <= 2) with the range of the
per-run ratios, and the peak memory of the run (CPU: peak resident memory of a fresh process per
model, minus that after loading; GPU: ``torch.cuda.max_memory_allocated``), which
``--chunk-points`` bounds.

    python benchmarks/torch_engine.py [--models cnn16,cnn32,cnn64,resnet18] [--segments 2]
        [--fraction 0.02] [--repeat 3] [--chunk-points 1024] [--threads 1,2] [--device cpu]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def _model(name: str):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if name.startswith("cnn"):
        c = int(name[3:])
        return nn.Sequential(
            nn.Conv2d(3, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c * 8 * 8, 10)).eval()
    from linregions.engine.models import cifar_resnet18

    if name == "resnet18":
        return cifar_resnet18(64)
    if name.startswith("resnet18w"):
        return cifar_resnet18(int(name[len("resnet18w"):]))
    raise SystemExit(f"unknown model {name!r}")


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def run_one(name: str, S: int, fraction: float, repeat: int, chunk: int, device: str) -> dict:
    import torch

    from linregions.engine import compile_program, lines

    model = _model(name)
    prog = compile_program(model, (3, 32, 32), device)
    g = torch.Generator().manual_seed(1)
    X = torch.rand((S, 3, 32, 32), generator=g, dtype=torch.float64)
    Y = torch.rand((S, 3, 32, 32), generator=g, dtype=torch.float64)
    X1 = X + fraction * (Y - X)
    base = _rss_gb()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    m = copy.deepcopy(model).to(device=device, dtype=torch.float64).eval()

    def engine():
        t0 = time.perf_counter()
        b = lines(prog, X, X1, device=device, chunk_points=chunk)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0, b

    def floor(P):
        # the floor: one float64 forward pass over the final points (segment ends and boundary points)
        t0 = time.perf_counter()
        with torch.no_grad():
            for a in range(0, P.shape[0], chunk):
                m(P[a : a + chunk].to(device))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    t, batch = engine()
    peak = (torch.cuda.max_memory_allocated() / 2**30) if device.startswith("cuda") else _rss_gb() - base
    pts = []
    for i, part in enumerate(batch):
        tt = torch.as_tensor(np.concatenate([[0.0], part.t, [1.0]]))
        pts.append(X[i][None] + tt.reshape(-1, 1, 1, 1) * (X1[i] - X[i])[None])
    P = torch.cat(pts)
    ts, fs = [t], [floor(P)]
    for _ in range(repeat - 1):  # interleaved, so that both see the same machine load
        ts.append(engine()[0])
        fs.append(floor(P))
    return dict(model=name, units=prog.num_units, segments=S, fraction=fraction,
                act_regions=float(batch.num_regions("activation").mean()), lin_regions=float(batch.num_regions("linear").mean()),
                points=int(P.shape[0]), time=float(np.median(ts)), floor=float(np.median(fs)), peak_gb=float(peak), chunk=chunk,
                ratios=[a / b for a, b in zip(ts, fs)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="cnn16,cnn32,cnn64,resnet18")
    ap.add_argument("--segments", type=int, default=2)
    ap.add_argument("--fraction", type=float, default=0.02)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chunk-points", type=int, default=1024)
    ap.add_argument("--threads", default="1,2", help="torch threads; a comma list runs each setting (e.g. 1,2)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    import torch

    threads = [int(x) for x in str(a.threads).split(",")]
    if a.one:
        torch.set_num_threads(threads[0])
        print(json.dumps(run_one(a.one, a.segments, a.fraction, a.repeat, a.chunk_points, a.device)))
        return
    print(f"torch {torch.__version__}, device {a.device}, torch threads {a.threads} (torch.set_num_threads and "
          f"OMP_NUM_THREADS), chunk_points {a.chunk_points}, {a.segments} segments per model, fraction {a.fraction} of the "
          f"way x -> y; times are medians of {a.repeat} runs, engine and floor interleaved in one process")
    print(f"{'model':<12} {'thr':>3} {'units':>8} {'points':>7} {'act.reg/seg':>11} {'lin.reg/seg':>11} {'time s':>8} "
          f"{'s/seg':>8} {'floor s':>8} {'ratio':>6} {'min-max':>10} {'peak GB':>8}")
    for name in a.models.split(","):
        for th in threads:
            env = dict(os.environ, OMP_NUM_THREADS=str(th))
            cmd = [sys.executable, __file__, "--one", name, "--segments", str(a.segments), "--fraction", str(a.fraction),
                   "--repeat", str(a.repeat), "--chunk-points", str(a.chunk_points), "--threads", str(th), "--device", a.device]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode != 0:
                print(f"{name:<12} {th:>3} failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rng = f"{min(r['ratios']):.2f}-{max(r['ratios']):.2f}"
            print(f"{r['model']:<12} {th:>3} {r['units']:>8} {r['points']:>7} {r['act_regions']:>11.1f} {r['lin_regions']:>11.1f} "
                  f"{r['time']:>8.2f} {r['time'] / r['segments']:>8.2f} {r['floor']:>8.2f} {r['time'] / r['floor']:>6.2f} "
                  f"{rng:>10} {r['peak_gb']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
