"""A small CNN trained on MNIST, compiled into a Network: a 2D slice and region counts on segments.

Run by hand (not in CI; a few minutes on 2 CPU cores):

    .venv/bin/python examples/cnn_mnist.py --minutes 3 --out docs/img

What it does (docs/cnn_example.md shows the output):

1. trains ``Conv2d(1,4,5,stride 2) - ReLU - MaxPool2d(2) - Conv2d(4,8,3) - ReLU - Linear(128,10)``
   with Adam (lr 1e-3) on the MNIST training set (``linregions.data.mnist``);
2. compiles it with ``linregions.graph.compile_module`` (conv unrolled, max-pooling rewritten as
   max(a, b) = b + relu(a - b) with ARGMAX units, values still needed carried by PASSTHROUGH units)
   and checks that the compiled network computes the module's logits on test images;
3. at initialisation and after training: the exact partition of the plane through the first
   training images of the digits 0, 1, 2 (``linregions.plane.plane_through``), drawn with the
   argmax boundaries in their own colour, and exact region counts on segments between test
   digits of different classes (``linregions.line.lines``), split by the kind of boundary.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from linregions.data import first_of_each_digit, mnist
from linregions.graph import compile_module
from linregions.line import lines
from linregions.network import ARGMAX, NEURON
from linregions.plane import plane_through


def make_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 5, stride=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(128, 10),
    )


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, minutes: float, epochs: int, seed: int) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    Xt = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 28, 28)
    yt = torch.tensor(y, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0, losses = time.time(), []
    for ep in range(epochs):
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), 128):
            idx = perm[i : i + 128]
            loss = nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if time.time() - t0 > 60 * minutes:
                print(f"  time budget reached in epoch {ep + 1} after {i // 128 + 1} batches")
                return losses
        print(f"  epoch {ep + 1}: mean loss of the last 100 batches {np.mean(losses[-100:]):.4f} ({time.time() - t0:.0f} s)")
    return losses


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        out = model(torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 28, 28))
    return float((out.argmax(1).numpy() == y).mean())


def segment_counts(compiled, X0: np.ndarray, X1: np.ndarray) -> dict:
    net = compiled.network
    batch = lines(net, X0, X1, progress=True)
    kinds = compiled.crossing_kinds(batch)
    changes = compiled.argmax_changes(batch)
    S = len(batch)
    return dict(
        linear=batch.num_regions("linear"), activation=batch.num_regions("activation"),
        neuron_crossings=int((kinds == NEURON).sum()) / S, argmax_crossings=int((kinds == ARGMAX).sum()) / S,
        argmax_changes=int(changes.sum()) / S,
    )


def draw(part, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=(5.6, 5.9), dpi=90)
    V, E = part.vertices, part.edges
    inner = part.edge_layer >= 0
    lin = part.slope_jump()  # the boundaries of linear regions (the output's gradient jumps)
    for mask, color, lw, label in (
        (inner & (part.edge_kind == NEURON) & ~lin, "#bbbbbb", 0.3, "activation boundary (neuron), same linear piece"),
        (inner & (part.edge_kind == ARGMAX) & ~lin, "#f4b183", 0.3, "argmax boundary, same linear piece"),
        (inner & (part.edge_kind == NEURON) & lin, "#1f3b73", 0.45, "neuron boundary of a linear region"),
        (inner & (part.edge_kind == ARGMAX) & lin, "#d62728", 0.45, "argmax boundary of a linear region"),
    ):
        segs = V[E[mask]]
        ax.add_collection(LineCollection(segs, colors=color, linewidths=lw, label=label))
    if part.marks is not None:
        ax.scatter(part.marks[:, 0], part.marks[:, 1], c="k", s=25, zorder=3)
        for (u, v), d in zip(part.marks, "012"):
            ax.annotate(d, (u, v), xytext=(4, 4), textcoords="offset points", fontsize=12, weight="bold")
    lo, hi = part.domain.min(0), part.domain.max(0)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    fig.legend(loc="lower center", ncol=2, fontsize=6, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    from PIL import Image  # a 64-colour palette keeps the PNG small (line art)

    Image.open(path).convert("RGB").quantize(colors=64).save(path, optimize=True)


def report(model: nn.Module, tag: str, p012: np.ndarray, X0: np.ndarray, X1: np.ndarray, out: Path) -> dict:
    t = time.time()
    compiled = compile_module(model.double(), (1, 28, 28))
    model.float()
    net = compiled.network
    print(f"[{tag}] {compiled}\n  {net}  (compiled in {time.time() - t:.1f} s)")
    t = time.time()
    part = plane_through(net, *p012, progress=True)
    n_arg_edges = int((part.edge_kind == ARGMAX).sum())
    print(f"  plane through digits 0,1,2: {part}  argmax edges {n_arg_edges}  ({time.time() - t:.1f} s)")
    draw(part, out / f"cnn_mnist_plane_{tag}.png",
         f"CNN on MNIST ({tag}): slice through digits 0, 1, 2\n"
         f"{part.num_regions('linear')} linear regions, {part.num_regions('activation')} activation regions")
    t = time.time()
    seg = segment_counts(compiled, X0, X1)
    print(f"  {len(X0)} segments: linear regions {seg['linear'].mean():.1f} +- {seg['linear'].std(ddof=1) / np.sqrt(len(X0)):.1f}, "
          f"activation regions {seg['activation'].mean():.1f}; per segment: neuron crossings {seg['neuron_crossings']:.1f}, "
          f"argmax crossings {seg['argmax_crossings']:.1f} (of which the window's argmax changes: {seg['argmax_changes']:.1f})  "
          f"({time.time() - t:.1f} s)")
    return dict(compiled=compiled, plane=part, segments=seg)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=4.0, help="training time budget (default 4)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--segments", type=int, default=100, help="segments between test digits (default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="docs/img", help="folder for the PNGs")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: on a busy machine more threads are slower)")
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_set, test_set = mnist("train", dtype=np.float32), mnist("test")
    p012 = first_of_each_digit(mnist("train", limit=100))
    rng = np.random.default_rng(args.seed)
    i0 = rng.choice(len(test_set), args.segments, replace=False)
    i1 = rng.choice(len(test_set), args.segments, replace=False)
    i1 = np.where(test_set.labels[i1] == test_set.labels[i0], (i1 + 1) % len(test_set), i1)
    X0, X1 = test_set.images[i0], test_set.images[i1]

    model = make_cnn()
    results = {"init": report(model, "init", p012, X0, X1, out)}
    print(f"training (budget {args.minutes} min, at most {args.epochs} epochs) ...")
    train(model, train_set.images, train_set.labels, args.minutes, args.epochs, args.seed)
    model.eval()
    print(f"test accuracy {accuracy(model, test_set.images, test_set.labels):.4f}")
    results["trained"] = report(model, "trained", p012, X0, X1, out)
    with torch.no_grad():
        ref = model.double()(torch.tensor(test_set.images[:200]).reshape(-1, 1, 28, 28)).numpy()
    got = results["trained"]["compiled"].network(test_set.images[:200])
    print(f"compiled network vs module on 200 test images: max |logit difference| = {np.abs(got - ref).max():.2e}")
    print("\n| | linear regions on a segment | activation regions | neuron crossings | argmax crossings | argmax changes | plane: linear regions | plane: activation regions |")
    print("|---|---|---|---|---|---|---|---|")
    for tag, r in results.items():
        s, p = r["segments"], r["plane"]
        print(f"| {tag} | {s['linear'].mean():.1f} | {s['activation'].mean():.1f} | {s['neuron_crossings']:.1f} | {s['argmax_crossings']:.1f} "
              f"| {s['argmax_changes']:.1f} | {p.num_regions('linear')} | {p.num_regions('activation')} |")


if __name__ == "__main__":
    main()
