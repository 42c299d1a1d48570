"""Training cells shared by the training experiments (regions, distances, slices): one MLP
trained on MNIST and tracked with a ``RegionTracker`` once per epoch."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from ..sweep import CellResult, ResultStore
from ._common import PAPER_BIAS, Scale, _N_IN, _N_OUT, _sweep, _data, _pairs, _law


def _torch_mlp(widths, bias: str, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    law = _law(bias)
    sizes = [_N_IN, *widths, _N_OUT]
    layers: list = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        lin = nn.Linear(a, b)
        with torch.no_grad():
            nn.init.kaiming_normal_(lin.weight, mode="fan_in", nonlinearity="relu")  # He-normal, variance 2/fan_in
            lin.bias.copy_(torch.as_tensor(law.sample(rng, (b,)), dtype=torch.float32))
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _weights_npz(model) -> bytes:
    from ..network import Network

    net = Network.from_torch(model)
    buf = io.BytesIO()
    np.savez_compressed(buf, **{f"W{i}": W for i, W in enumerate(net.weights)}, **{f"b{i}": b for i, b in enumerate(net.biases)})
    return buf.getvalue()


def network_from_npz(data: bytes):
    """The ReLU ``Network`` saved by a training cell's weight artifact."""
    from ..activations import relu
    from ..network import Network

    z = np.load(io.BytesIO(data))
    n = len([k for k in z.files if k.startswith("W")])
    return Network(tuple(z[f"W{i}"] for i in range(n)), tuple(z[f"b{i}"] for i in range(n)), (relu(),) * (n - 1))


def train_cell(widths: list, seed: int, bias: str, lr: float, corrupt: float, epochs: int, train_size: int, test_size: int,
               batch_size: int, n_segments: int, n_points: int, plane: bool, save_weights: bool) -> CellResult:
    """Train a 784-widths-10 ReLU MLP on MNIST (He-normal weights, biases from ``bias``, Adam
    with learning rate ``lr``, cross-entropy, a fraction ``corrupt`` of training labels replaced
    by uniformly random ones) and track it with a ``RegionTracker`` once per epoch (epoch 0 =
    initialisation): exact regions on fixed segments between training points, exact regions in
    the plane through the first 0, 1 and 2 of the training set, exact distances at training
    points, and test accuracy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small MLPs: one thread is fastest, and pool workers share the cores
    try:
        return _train(widths, seed, bias, lr, corrupt, epochs, train_size, test_size, batch_size, n_segments, n_points, plane, save_weights)
    finally:
        torch.set_num_threads(threads)


def _train(widths, seed, bias, lr, corrupt, epochs, train_size, test_size, batch_size, n_segments, n_points, plane, save_weights):
    import torch

    from ..data import first_of_each_digit
    from ..tracker import RegionTracker

    train, test = _data("train", train_size), _data("test", test_size)
    Xtr, ytr = torch.from_numpy(np.ascontiguousarray(train.images)), torch.from_numpy(np.array(train.labels))
    if corrupt > 0:
        rng = np.random.default_rng(30_000 + seed)
        flip = rng.random(len(ytr)) < corrupt
        y = ytr.numpy().copy()
        y[flip] = rng.integers(0, 10, size=int(flip.sum()))
        ytr = torch.from_numpy(y)
    Xte, yte = torch.from_numpy(np.ascontiguousarray(test.images)), torch.from_numpy(np.array(test.labels))
    i, j = _pairs(len(train), n_segments, 40_000 + seed)
    P = np.random.default_rng(50_000 + seed).choice(len(train), size=max(n_points, 0), replace=False)
    X64 = train.images
    tracker = RegionTracker(
        segments=(X64[i].astype(np.float64), X64[j].astype(np.float64)),
        planes=[tuple(first_of_each_digit(train).astype(np.float64))] if plane else None,
        points=X64[P].astype(np.float64) if n_points else None, every=10**9,
    )
    model = _torch_mlp(widths, bias, seed)
    artifacts = {"init.npz": _weights_npz(model)} if save_weights else {}
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)

    def accuracy() -> float:
        with torch.no_grad():
            return float((model(Xte).argmax(1) == yte).double().mean())

    tracker.record(model, step=0, epoch=0, test_accuracy=accuracy(), train_loss=float("nan"))
    step = 0
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(Xtr), generator=gen)
        total, count = 0.0, 0
        model.train()
        for s in range(0, len(Xtr), batch_size):
            idx = perm[s : s + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            step += 1
            total += loss.item() * len(idx)
            count += len(idx)
        model.eval()
        tracker.record(model, step=step, epoch=epoch, test_accuracy=accuracy(), train_loss=total / count)
    if save_weights:
        artifacts["final.npz"] = _weights_npz(model)
    return CellResult(tracker.rows, artifacts)


def _train_cells(sc: Scale) -> list[dict]:
    base = dict(epochs=sc.train_epochs, train_size=sc.train_size, test_size=sc.test_size, batch_size=sc.batch_size,
                n_segments=sc.track_segments, n_points=sc.track_points)
    cells = []
    for w in sc.train_archs:
        for law in sc.train_bias_laws:
            for s in range(sc.train_seeds):
                pic = tuple(w) == tuple(sc.picture_arch) and law == PAPER_BIAS and s == 0
                cells.append(dict(widths=list(w), seed=s, bias=law, lr=1e-3, corrupt=0.0, plane=True, save_weights=pic, **base))
    for label, corrupt, lr in sc.variants:
        for s in range(sc.train_seeds):
            c = dict(widths=list(sc.picture_arch), seed=s, bias=PAPER_BIAS, lr=lr, corrupt=corrupt, plane=True,
                     save_weights=(corrupt == 0 and lr == 1e-3 and s == 0), **base)
            if c not in cells:
                cells.append(c)
    cells.sort(key=lambda c: -sum(c["widths"]))  # costly cells first
    return cells


def _train_frame(sc: Scale, store: ResultStore, run) -> pd.DataFrame:
    df = _sweep(train_cell, _train_cells(sc), store, run, "train")
    df["arch"] = df["widths"].map(lambda w: "784-" + "-".join(map(str, w)) + "-10")
    df["variant"] = [
        next((lab for lab, c, l in sc.variants if c == cor and l == lr), f"corrupt {cor}, lr {lr}")
        for cor, lr in zip(df["corrupt"], df["lr"])
    ]
    return df

