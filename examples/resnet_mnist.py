"""A small ResNet trained on MNIST padded to 32 x 32: exact regions along segments between test
images, per layer, at initialisation and after one epoch (the torch-native engine).

Run by hand (not in CI; a few minutes on 2 CPU cores with the defaults):

    .venv/bin/python examples/resnet_mnist.py [--width 4] [--train-size 60000] [--segments 3]

What it does (docs/resnet_example.md shows the output):

1. builds torchvision's ResNet-18 layout (BasicBlocks, widths ``w, 2w, 4w, 8w``) with the CIFAR stem
   (3x3 conv, no max-pool) for 1-channel 32 x 32 inputs and 10 classes (random init, no weights
   downloaded), MNIST from ``linregions.data.mnist`` (offline), images padded 28 -> 32;
2. at initialisation: exact partitions of segments between pairs of test images of different
   digits with ``linregions.engine.lines`` (the module's own conv / batch-norm / residual ops in
   float64), counting the crossings of each stage (stem, layer1..layer4) and the linear regions;
3. trains one epoch (SGD with momentum, batch 128, batch norm in training mode), puts the model in
   eval mode, and repeats 2 on the same segments;
4. at initialisation and after the epoch: the exact partition (``linregions.plane``, the module's own
   ops) of a square window of side ``--window`` (input units) centred at the centroid of the first
   test images of the digits 0, 1, 2, in the plane through those three images; drawn next to the
   triangle of the three images with the window marked, saved as ``resnet_mnist_plane_<tag>.png``
   under ``--out``. (The whole triangle holds tens of millions of regions: a segment between two
   of the images crosses about 9,000 boundaries.) ``--segments 0`` skips 2, ``--window 0`` skips 4.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import linregions as lr
from linregions.data import first_of_each_digit, mnist
from linregions.engine import compile_program, lines
from linregions.engine.models import cifar_resnet18


def padded(images: np.ndarray) -> torch.Tensor:
    """(n, 784) in [0, 1] -> (n, 1, 32, 32), zero-padded by 2 pixels on each side."""
    x = torch.as_tensor(np.array(images, dtype=np.float32)).reshape(-1, 1, 28, 28)
    return F.pad(x, (2, 2, 2, 2))


STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")


def stage(site_name: str) -> str:
    """The ResNet stage an activation site belongs to (fx node names: 'relu', 'layer2_1_relu_1', ...)."""
    return site_name.split("_")[0] if site_name.startswith("layer") else "stem"


def per_stage(model, X0: torch.Tensor, X1: torch.Tensor, chunk_points: int) -> dict:
    prog = compile_program(model, (1, 32, 32))
    t0 = time.perf_counter()
    batch = lines(prog, X0.double(), X1.double(), chunk_points=chunk_points)
    elapsed = time.perf_counter() - t0
    names = [stage(s.name) for s in prog.sites]
    counts = dict.fromkeys(STAGES, 0)
    for l in batch.layer:
        counts[names[l]] += 1
    S = len(batch)
    out = {k: v / S for k, v in counts.items()}
    out["activation regions"] = float(batch.num_regions("activation").mean())
    out["linear regions"] = float(batch.num_regions("linear").mean())
    out["seconds/segment"] = elapsed / S
    return out


def plane_window(model, images: torch.Tensor, side: float):
    """The exact partition of the square of side ``side`` centred at the centroid of three images
    (1, 32, 32), in the plane through them (orthonormal basis of b - a, c - a); returns the
    partition and the images' plane coordinates (3, 2)."""
    a, b, c = (x.double().reshape(-1) for x in images)
    basis, _ = torch.linalg.qr(torch.stack([b - a, c - a], 1))  # the plane's directions (Gram-Schmidt)
    centroid = (a + b + c) / 3
    corners = (torch.stack([a, b, c]) - centroid) @ basis
    h = side / 2
    part = lr.plane(model, centroid.reshape(1, 32, 32), basis.T.reshape(2, 1, 32, 32), (-h, h, -h, h))
    return part, corners.numpy()


def draw_window(part, corners: np.ndarray, side: float, names, path: Path, title: str) -> None:
    """Two panels: the triangle of the three images with the window marked, and the window's exact
    partition (faces coloured by linear region, boundaries by ResNet stage, decision boundary)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from linregions.plot import plot_plane

    cmap = plt.get_cmap("viridis")
    stage_color = {k: cmap(0.9 * i / (len(STAGES) - 1)) for i, k in enumerate(STAGES)}
    site_colors = [stage_color[stage(s.name)] for s in part.net.prog.sites]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 5.4), gridspec_kw=dict(width_ratios=[1, 1.25]))
    tri = np.vstack([corners, corners[:1]])
    ax0.plot(tri[:, 0], tri[:, 1], color="0.6", lw=1)
    for (u, v), name in zip(corners, names):
        ax0.scatter([u], [v], c="k", s=30, zorder=3)
        ax0.annotate(name, (u, v), xytext=(5, 5), textcoords="offset points", fontsize=9)
    ax0.scatter([0], [0], marker="s", s=60, facecolors="none", edgecolors="crimson", lw=1.5, zorder=4)
    ax0.annotate(f"window\n{side:g} x {side:g}\n(drawn enlarged)", (0, 0), xytext=(8, -24), textcoords="offset points",
                 fontsize=8, color="crimson")
    ax0.set_aspect("equal")
    ax0.margins(0.15)
    ax0.set_title("plane through three test images", fontsize=10)
    ax0.tick_params(labelsize=7)
    plot_plane(part, ax=ax1, kind="linear", layer_colors=site_colors, legend=False, decision_boundary=True, title="")
    handles = [Line2D([0], [0], color=stage_color[k], lw=2, label=k) for k in STAGES]
    handles.append(Line2D([0], [0], color="k", lw=2, label="decision boundary"))
    ax1.legend(handles=handles, fontsize=7, loc="upper right", framealpha=0.85)
    ax1.set_title(f"window at the centroid: {part.num_regions('linear'):,} linear / {part.num_faces:,} activation regions",
                  fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plane_report(model, images: torch.Tensor, side: float, names, out: Path, tag: str, title: str) -> dict:
    t0 = time.perf_counter()
    part, corners = plane_window(model, images, side)
    seconds = time.perf_counter() - t0
    path = out / f"resnet_mnist_plane_{tag}.png"
    draw_window(part, corners, side, names, path, title)
    info = dict(path=str(path), activation_regions=part.num_faces, linear_regions=part.num_regions("linear"),
                watertight=part.watertight, certified=part.certified, seconds=seconds)
    print(f"  [{tag}] plane window {side:g} x {side:g}: {info}", flush=True)
    return info


def train_one_epoch(model, X: torch.Tensor, y: torch.Tensor, seed: int = 0) -> float:
    g = torch.Generator().manual_seed(seed)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    perm = torch.randperm(X.shape[0], generator=g)
    for i in range(0, X.shape[0], 128):
        idx = perm[i : i + 128]
        opt.zero_grad()
        F.cross_entropy(model(X[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    return 0.0


def accuracy(model, X: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--train-size", type=int, default=60000)
    ap.add_argument("--segments", type=int, default=3)
    ap.add_argument("--chunk-points", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--window", type=float, default=0.05, help="side of the plane window in input units (0: no plane)")
    ap.add_argument("--out", default="docs/img", help="folder of the plane pictures")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    train, test = mnist("train", limit=a.train_size, dtype=np.float32), mnist("test", limit=2000, dtype=np.float32)
    Xtr, ytr = padded(train.images), torch.as_tensor(np.array(train.labels), dtype=torch.long)
    Xte, yte = padded(test.images), torch.as_tensor(np.array(test.labels), dtype=torch.long)
    # segments between test images of different digits: digit i -> digit i + 1
    first = [int(np.nonzero(test.labels == d)[0][0]) for d in range(10)]
    pairs = [(first[i], first[i + 1]) for i in range(a.segments)]
    X0 = torch.stack([Xte[i] for i, _ in pairs]) if pairs else None
    X1 = torch.stack([Xte[j] for _, j in pairs]) if pairs else None
    model = cifar_resnet18(width=a.width, num_classes=10, in_channels=1)
    three = padded(first_of_each_digit(test, (0, 1, 2)))
    names = ["test 0", "test 1", "test 2"]
    out = Path(a.out)
    model_name = f"ResNet-18 layout, widths {a.width}-{8 * a.width}"

    rows = {"initialisation": per_stage(model, X0, X1, a.chunk_points) if a.segments else {}}
    rows["initialisation"]["test accuracy"] = accuracy(model, Xte, yte)
    if a.window > 0:
        plane_report(model, three, a.window, names, out, "init", f"{model_name}, at initialisation")
    t0 = time.perf_counter()
    train_one_epoch(model, Xtr, ytr)
    train_s = time.perf_counter() - t0
    rows["after one epoch"] = per_stage(model, X0, X1, a.chunk_points) if a.segments else {}
    rows["after one epoch"]["test accuracy"] = accuracy(model, Xte, yte)
    if a.window > 0:
        acc = rows["after one epoch"]["test accuracy"]
        plane_report(model, three, a.window, names, out, "trained",
                     f"{model_name}, after one epoch on MNIST (test accuracy {acc:.3f})")

    print(f"{model_name}, CIFAR stem, MNIST padded to 32x32; "
          f"one epoch on {Xtr.shape[0]} images took {train_s:.0f} s; {a.segments} segments between test digits d -> d+1")
    keys = list(rows["initialisation"])
    print(f"| {'per segment':<20} | {'initialisation':>15} | {'after one epoch':>15} |")
    print(f"|{'-' * 22}|{'-' * 17}|{'-' * 17}|")
    for k in keys:
        label = k if k in ("activation regions", "linear regions", "seconds/segment", "test accuracy") else f"crossings in {k}"
        print(f"| {label:<20} | {rows['initialisation'][k]:>15.3g} | {rows['after one epoch'][k]:>15.3g} |")


if __name__ == "__main__":
    main()
