"""Benchmark of linregions.distance.

1. kind="activation" on a 784-[256]x4-10 ReLU net (He init, biases N(0, 1e-6), inputs U[0, 1]^784):
   inputs per second of ``distance_to_boundary`` against, in the same run,
   - the floor: a bare torch forward pass carrying every neuron's gradient (J_l = W_l D J_{l-1}),
     the least work any exact method that looks at all gradients has to do;
   - ``method="jacobian"`` (the same forward Jacobians plus the min) and the default ``"gram"``
     (Gram matrices K_l = W D K D W^T of the gradients: cost independent of n_in);
   - autograd: every neuron's gradient by ``torch.func.vmap(jacrev)`` (what one would write
     without the forward Jacobian), on fewer inputs.
2. kind="linear" on small nets: seconds per input and activation regions examined, with the
   time of kind="activation" on the same inputs as the baseline.
3. kind="activation" on torch modules (3-conv CNNs, the module's own ops through the torch-native
   engine): seconds per input against, in the same run, the floor: one plain float64 forward pass
   of the module over n_in rows per input (the forward-mode tangents along the input basis that
   any method giving every unit's ||grad u_z|| from the module's ops must push through it); and,
   where the dense compiled network is small enough, the dense path (compile + distance) on the
   same inputs.

Times are medians over ``--repeat`` runs; the thread settings (torch, BLAS) are printed first.

Usage: python benchmarks/distance.py [--inputs 512] [--device cpu] [--repeat 3] [--quick] [--skip-modules]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from linregions import hard_tanh, random_mlp, relu
from linregions.distance import distance_to_boundary
from linregions.laws import Normal


def _floor(net, X, device, chunk):
    Ws, bs = net.tensors(device=device)
    out = []
    with torch.no_grad():
        for s in range(0, X.shape[0], chunk):
            a = torch.as_tensor(X[s : s + chunk], device=device)
            J = None
            norms = []
            for l in range(net.depth):
                u = a @ Ws[l].T + bs[l]
                G = Ws[l].expand(a.shape[0], -1, -1) if J is None else torch.matmul(Ws[l], J)
                norms.append((G * G).sum(2))
                d = (u > 0).to(u.dtype)
                a = u * d
                J = d[:, :, None] * G
            out.append(torch.cat(norms, 1).min(1).values)
    if device != "cpu":
        torch.cuda.synchronize()
    return torch.cat(out)


def _autograd(net, X, device):
    Ws, bs = net.tensors(device=device)

    def pre(x):
        us, a = [], x
        for l in range(net.depth):
            u = Ws[l] @ a + bs[l]
            us.append(u)
            a = torch.relu(u)
        return torch.cat(us)

    J = torch.func.vmap(torch.func.jacrev(pre))(torch.as_tensor(X, device=device))
    if device != "cpu":
        torch.cuda.synchronize()
    return (J * J).sum(2)


def _time(fn, repeat):
    """Median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def bench_activation(inputs: int, device: str, repeat: int) -> None:
    net = random_mlp(784, [256] * 4, 10, biases=Normal(1e-3), seed=0)
    X = np.random.default_rng(1).uniform(0, 1, size=(inputs, 784))
    chunk = 64
    fns = {
        "distance_to_boundary (auto = gram)": lambda: distance_to_boundary(net, X, "activation", device=device),
        "distance_to_boundary (method=jacobian)": lambda: distance_to_boundary(net, X, "activation", device=device, method="jacobian"),
        "floor: forward + all gradients (torch)": lambda: _floor(net, X, device, chunk),
    }
    n_auto = max(8, inputs // 8)
    t = {k: _time(f, repeat) for k, f in fns.items()}
    t_auto = _time(lambda: _autograd(net, X[:n_auto], device), repeat) * inputs / n_auto
    base = t["floor: forward + all gradients (torch)"]
    print(f"\nkind='activation', 784-[256]x4-10 ReLU, {inputs} inputs, device={device}")
    print(f"{'method':<44}{'inputs/s':>12}{'time / floor':>14}")
    for k, v in list(t.items()) + [(f"autograd vmap(jacrev) (on {n_auto} inputs)", t_auto)]:
        print(f"{k:<44}{inputs / v:>12.1f}{v / base:>14.2f}")


def bench_linear(repeat: int, quick: bool = False) -> None:
    cases = [
        ("2-[16,16] ReLU", 2, [16, 16], relu(), 40),
        ("2-[10,10,2] hard tanh", 2, [10, 10, 2], hard_tanh(), 40),
        ("3-[8,4,2] ReLU", 3, [8, 4, 2], relu(), 40),
        ("3-[8,8,2] hard tanh", 3, [8, 8, 2], hard_tanh(), 40),
        ("3-[32,32] hard tanh", 3, [32, 32], hard_tanh(), 20),
        ("4-[16,16,16] ReLU", 4, [16, 16, 16], relu(), 20),
        ("8-[32,32,4] hard tanh", 8, [32, 32, 4], hard_tanh(), 10),
    ]
    if quick:
        cases = [(name, n, w, act, min(k, 10)) for name, n, w, act, k in cases[:3]]
    print("\nkind='linear' (best-first search), biases N(0, 0.25), inputs 2 N(0, I); lin>act: inputs where they differ")
    print(f"{'net':<24}{'inputs':>7}{'ms/input':>10}{'x activation':>14}{'regions mean':>14}{'max':>6}{'lin>act':>9}")
    for name, n, widths, act, k in cases:
        net = random_mlp(n, widths, activation=act, biases=Normal(0.5), seed=3)
        X = 2 * np.random.default_rng(4).normal(size=(k, n))
        res = {}
        t_lin = _time(lambda: res.__setitem__("lin", distance_to_boundary(net, X, "linear")), repeat)
        t_act = _time(lambda: res.__setitem__("act", distance_to_boundary(net, X, "activation")), repeat)
        lin, a = res["lin"], res["act"]
        differ = int((lin.distance > a.distance * (1 + 1e-9)).sum())
        print(f"{name:<24}{k:>7}{1e3 * t_lin / k:>10.2f}{t_lin / t_act:>14.1f}{lin.regions.mean():>14.2f}{lin.regions.max():>6}{differ:>9}")


def _cnn(c: int, channels: int, seed: int = 0):
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(c, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1, stride=2), nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding=1, stride=2), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10),
    )


def bench_modules(device: str, repeat: int, quick: bool = False) -> None:
    from linregions import Network
    from linregions.engine import compile_program

    cases = [((3, 16, 16), 8, 4, True), ((3, 32, 32), 8, 2, False), ((3, 32, 32), 16, 2, False)]
    if quick:
        cases = cases[:1]
    print(f"\nkind='activation' on torch modules (3-conv CNNs, ReLU), device={device}; floor: one float64 forward of the "
          "module over n_in rows per input")
    print(f"{'model':<28}{'units':>8}{'inputs':>7}{'s/input':>10}{'x floor':>9}{'dense s/input':>15}{'dense compile s':>17}{'max rel diff':>14}")
    for shape, ch, k, dense in cases:
        m = _cnn(shape[0], ch)
        m(torch.zeros((1,) + shape))  # materialise the lazy layer
        m = m.double().eval()
        prog = compile_program(m, shape, device)
        X = np.random.default_rng(2).normal(size=(k,) + shape)
        n = int(np.prod(shape))
        basis = torch.eye(n, dtype=torch.float64, device=device).reshape((n,) + shape)
        md = m.to(device)

        def floor():
            with torch.no_grad():
                for _ in range(k):
                    for i in range(0, n, 4096):
                        md(basis[i : i + 4096])
            if device != "cpu":
                torch.cuda.synchronize()

        res = {}
        t_mod = _time(lambda: res.__setitem__("m", distance_to_boundary(prog, X)), repeat)
        t_floor = _time(floor, repeat)
        dense_t = compile_t = diff = float("nan")
        if dense:
            t0 = time.perf_counter()
            net = Network.from_torch(m.cpu(), input_shape=shape)
            compile_t = time.perf_counter() - t0
            dense_t = _time(lambda: res.__setitem__("d", distance_to_boundary(net, X.reshape(k, -1))), repeat) / k
            diff = float(np.max(np.abs(res["m"].distance / res["d"].distance - 1)))
        name = f"{ch} ch, input {'x'.join(map(str, shape))}"
        print(f"{name:<28}{prog.num_units:>8}{k:>7}{t_mod / k:>10.3f}{t_mod / t_floor:>9.2f}{dense_t:>15.3f}{compile_t:>17.2f}{diff:>14.2g}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inputs", type=int, default=512)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-linear", action="store_true")
    p.add_argument("--skip-modules", action="store_true")
    p.add_argument("--quick", action="store_true", help="small run: 32 inputs, the first three kind='linear' nets")
    args = p.parse_args()
    torch.manual_seed(0)
    if args.quick:
        args.inputs = min(args.inputs, 32)
    print(f"threads: torch {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"cpu count {os.cpu_count()}; medians over {args.repeat} repeats")
    bench_activation(args.inputs, args.device, args.repeat)
    if not args.skip_linear:
        bench_linear(args.repeat, quick=args.quick)
    if not args.skip_modules:
        bench_modules(args.device, args.repeat, quick=args.quick)


if __name__ == "__main__":
    main()
