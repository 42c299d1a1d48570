"""Local complexity during training (Humayun, Balestriero & Baraniuk, ICML 2024), exact next to
the published proxy.

An MLP is trained on a small MNIST training set long enough to interpolate it and go on; at
log-spaced steps a ``RegionTracker`` records local complexity (``linregions.local_complexity``)
around training, test and random points at two radii: the exact number of neurons that switch on
the probes of the published cross-polytope next to the published proxy on its vertices, and the
exact boundary density in the ball (Crofton). At the same steps the cell finds points on the
decision boundary (exact first change of the predicted class between test points) and measures
the boundary density there, to test the claim that regions migrate from the data towards the
decision boundary. A second run trains on labels of which a fraction is corrupted.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..sweep import CellResult
from ._common import ExperimentResult, Scale, _data, _figure, _result, _run_opts, _store, _sweep, scale_config
from .verdicts import Verdict, fmt, pct

__all__ = ["lc_training", "lc_cell", "LC_SIZES"]

_N_IN, _N_OUT = 784, 10

#: Sizes per scale name (a ``Scale`` with another name uses "small"): architecture, steps, the
#: training set, points per group, radii, probes and chords, label-noise fraction, seeds.
LC_SIZES: dict[str, dict] = {
    "tiny": dict(widths=(16, 16), steps=30, train_size=200, test_size=200, batch_size=50, points=3, radii=(0.25, 1.0),
                 n_probes=8, n_chords=4, noise=0.5, seeds=1, noisy_seeds=1, records=8),
    "small": dict(widths=(64, 64, 64), steps=10_000, train_size=1000, test_size=2000, batch_size=100, points=10,
                  radii=(0.25, 1.0), n_probes=32, n_chords=32, noise=0.5, seeds=2, noisy_seeds=2, records=24),
    "full": dict(widths=(200, 200, 200, 200), steps=100_000, train_size=1000, test_size=10_000, batch_size=200, points=50,
                 radii=(0.05, 0.25, 1.0), n_probes=128, n_chords=64, noise=0.5, seeds=3, noisy_seeds=3, records=40),
}

_GROUPS = ("train", "test", "random", "boundary")


def _schedule(steps: int, records: int) -> list[int]:
    """About ``records`` log-spaced steps in 0..steps (0 = initialisation, always the last step)."""
    g = np.unique(np.round(np.geomspace(1, max(steps, 1), max(records - 1, 1))).astype(int))
    return sorted({0, *g.tolist(), int(steps)})


def _decision_points(net, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The first point where the predicted class changes on each segment [A_i, B_i] whose ends are
    predicted differently: exact, from the segment's partition (``decision.segment_boundary``)."""
    from ..decision import segment_boundary
    from ..line import lines

    keep = np.nonzero(net(A).argmax(1) != net(B).argmax(1))[0]
    if keep.size == 0:
        return np.zeros((0, A.shape[1]))
    batch = lines(net, A[keep], B[keep])
    out = []
    for k, i in enumerate(keep):
        t = segment_boundary(batch[k]).t
        if t.size:
            out.append(A[i] + t[0] * (B[i] - A[i]))
    return np.array(out).reshape(-1, A.shape[1])


def lc_cell(widths: list, seed: int, corrupt: float, steps: int, train_size: int, test_size: int, batch_size: int,
            lr: float, points: int, radii: list, n_probes: int, n_chords: int, records: int) -> CellResult:
    """Train a 784-widths-10 ReLU MLP (PyTorch default init, Adam with learning rate ``lr``,
    cross-entropy, full passes over ``train_size`` images, a fraction ``corrupt`` of labels
    replaced by random ones) for ``steps`` steps, recording at about ``records`` log-spaced steps
    the local complexity around ``points`` training, test, uniformly random ([0, 1]^784) and
    decision-boundary points (``RegionTracker.record_lc``), with train and test accuracy."""
    import torch

    from ..local_complexity import lc_summary, local_complexity
    from ..network import Network
    from ..tracker import RegionTracker

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(60_000 + seed)
        train, test = _data("train", train_size), _data("test", test_size)
        Xtr = torch.from_numpy(np.ascontiguousarray(train.images))
        ytr = np.array(train.labels)
        if corrupt > 0:
            flip = rng.random(ytr.size) < corrupt
            ytr[flip] = rng.integers(0, 10, size=int(flip.sum()))
        ytr_t = torch.from_numpy(ytr)
        Xte, yte = torch.from_numpy(np.ascontiguousarray(test.images)), torch.from_numpy(np.array(test.labels))
        groups = {"train": train.images[rng.choice(len(train), points, replace=False)].astype(np.float64),
                  "test": test.images[rng.choice(len(test), points, replace=False)].astype(np.float64),
                  "random": rng.random((points, _N_IN))}
        pa, pb = rng.choice(len(test), 4 * points), rng.choice(len(test), 4 * points)
        opts = dict(n_probes=n_probes, n_chords=n_chords, seed=seed)
        sched = _schedule(steps, records)
        tracker = RegionTracker(lc_points=groups, lc_radii=tuple(radii), lc_every=sched, lc_options=opts)
        sizes = [_N_IN, *widths, _N_OUT]
        layers: list = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1])
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        gen = torch.Generator().manual_seed(seed)
        perm, pos = torch.randperm(len(Xtr), generator=gen), 0
        boundary_rows = []
        XA, XB = test.images[pa].astype(np.float64), test.images[pb].astype(np.float64)
        for step in range(0, steps + 1):
            if step > 0:
                if pos + batch_size > len(Xtr):
                    perm, pos = torch.randperm(len(Xtr), generator=gen), 0
                idx = perm[pos : pos + batch_size]
                pos += batch_size
                opt.zero_grad()
                loss_fn(model(Xtr[idx]), ytr_t[idx]).backward()
                opt.step()
            if not tracker.lc_due(step):
                continue
            with torch.no_grad():
                train_acc = float((model(Xtr).argmax(1) == torch.from_numpy(np.array(train.labels))).double().mean())
                fit_acc = float((model(Xtr).argmax(1) == ytr_t).double().mean())
                test_acc = float((model(Xte).argmax(1) == yte).double().mean())
                net = Network.from_torch(model)
            extra = dict(train_accuracy=train_acc, fit_accuracy=fit_acc, test_accuracy=test_acc)
            tracker.record_lc(net, step=step, **extra)
            D = _decision_points(net, XA, XB)[:points]
            if len(D):
                s = lc_summary(local_complexity(net, D, tuple(radii), progress=False, **opts))
                s.insert(0, "group", "boundary")
                s.insert(1, "n_points", len(D))
                s.insert(0, "step", step)
                for k, v in extra.items():
                    s[k] = v
                boundary_rows.append(s)
        df = pd.concat([tracker.lc_frame(), *boundary_rows], ignore_index=True)
        return CellResult(df.to_dict("records"))
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------
# judging trajectories


def _trajectory(df: pd.DataFrame, value: str) -> pd.DataFrame:
    """Mean over seeds per step of ``value`` (a per-group mean over points) with its standard
    error: over seeds when there are several, else the standard error over points."""
    g = df.groupby("step")
    rms = lambda s: float(np.sqrt(np.mean(np.square(s.dropna())) / len(s))) if s.notna().any() else np.nan  # noqa: E731
    out = g.agg(y=(value, "mean"), sem_pts=(f"{value}_sem", rms),
                seeds=("seed", "nunique"), spread=(value, lambda s: float(s.std(ddof=1) / np.sqrt(len(s))) if len(s) > 1 else np.nan))
    out["se"] = np.where(out["seeds"] > 1, np.fmax(out["spread"].fillna(0), out["sem_pts"]), out["sem_pts"])
    return out.reset_index()[["step", "y", "se"]]


def _phases(tr: pd.DataFrame, z: float = 2.0, rel: float = 0.05) -> dict:
    """Best fall-rise-fall pattern of a trajectory: a = lowest point before the peak b (after
    step 0), then the end. Returns the steps, the relative changes, and whether each change
    exceeds the margin max(z·se, rel·y(0)) (``clear``) or is at least of the right sign (``sign``)."""
    y, se, st = tr["y"].to_numpy(), tr["se"].fillna(0).to_numpy(), tr["step"].to_numpy()
    n = y.size
    y0 = y[0]
    best = None
    for b in range(2, n - 1):
        a = 1 + int(np.argmin(y[1:b]))
        if st[b] < 2 * st[a] or st[-1] < 2 * st[b]:  # each phase spans at least a factor 2 in steps
            continue
        m = lambda i, j: max(z * float(np.hypot(se[i], se[j])), rel * abs(y0))  # noqa: E731
        drops = (y0 - y[a], y[b] - y[a], y[b] - y[-1])
        margins = (m(0, a), m(a, b), m(b, n - 1))
        score = min(d - mg for d, mg in zip(drops, margins))
        if best is None or score > best[0]:
            best = (score, a, b, drops, margins)
    if best is None:
        return dict(clear=False, sign=False, text="too few steps to judge")
    _, a, b, drops, margins = best
    clear = all(d > mg for d, mg in zip(drops, margins))
    sign = all(d > 0 for d in drops)
    text = (f"from {fmt(y0)} at initialisation down to {fmt(y[a])} at step {st[a]} ({pct(_rel(y[a], y0))}), "
            f"up to {fmt(y[b])} at step {st[b]} ({pct(_rel(y[b], y[a]))}), "
            f"{'down' if y[-1] < y[b] else 'on'} to {fmt(y[-1])} at step {st[-1]} ({pct(_rel(y[-1], y[b]))})")
    return dict(clear=clear, sign=sign, a=int(st[a]), b=int(st[b]), text=text)


def _phase_verdict(d: pd.DataFrame, radii, value: str, label: str) -> tuple[bool | None, list[str]]:
    holds, texts = [], []
    for r in radii:
        tr = _trajectory(d[(d["group"] == "train") & (d["radius"] == r)], value)
        ph = _phases(tr)
        holds.append(True if ph["clear"] else (None if ph["sign"] else False))
        texts.append(f"r = {r:g}: {ph['text']}")
    h = True if all(v is True for v in holds) else (False if all(v is False for v in holds) else None)
    return h, texts


def lc_training(scale: str | Scale = "small", *, store=None, executor="process", scheduler=None, max_workers=None,
                progress=True) -> ExperimentResult:
    """Local complexity (exact and the published proxy) around training, test, random and
    decision-boundary points at log-spaced steps of MNIST training, with a label-noise variant;
    verdicts on the published claims judged on the whole trajectories."""
    sc = scale_config(scale)
    z = LC_SIZES.get(sc.name, LC_SIZES["small"])
    radii = list(z["radii"])
    base = dict(widths=list(z["widths"]), steps=z["steps"], train_size=z["train_size"], test_size=z["test_size"],
                batch_size=z["batch_size"], lr=1e-3, points=z["points"], radii=radii, n_probes=z["n_probes"],
                n_chords=z["n_chords"], records=z["records"])
    cells = ([dict(seed=s, corrupt=0.0, **base) for s in range(z["seeds"])]
             + [dict(seed=s, corrupt=z["noise"], **base) for s in range(z["noisy_seeds"])])
    df = _sweep(lc_cell, cells, _store(store), _run_opts(executor, scheduler, max_workers, progress), "local_complexity")
    for c in df.columns:  # the store gives NaN back as None in object columns
        if c not in ("group", "widths", "radii") and df[c].dtype == object:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    df["variant"] = np.where(df["corrupt"] > 0, "labels corrupted", "clean")
    tot = df[df["layer"] == -1]
    clean, noisy = tot[tot["corrupt"] == 0], tot[tot["corrupt"] > 0]

    # summary: per variant, group, radius: initial, extreme and final values, exact and proxy
    rows = []
    for (var, grp, r), s in tot.groupby(["variant", "group", "radius"]):
        m = s.groupby("step")[["probe_neurons", "proxy", "density_linear", "proxy_undercount", "train_accuracy", "test_accuracy"]].mean()
        rows.append(dict(variant=var, group=grp, radius=r, exact_init=m["probe_neurons"].iloc[0], exact_min=m["probe_neurons"].min(),
                         exact_max=m["probe_neurons"].max(), exact_final=m["probe_neurons"].iloc[-1], proxy_final=m["proxy"].iloc[-1],
                         undercount_mean=(m["proxy_undercount"] / m["probe_neurons"].where(m["probe_neurons"] > 0)).mean(),
                         density_init=m["density_linear"].iloc[0], density_final=m["density_linear"].iloc[-1],
                         train_acc_final=m["train_accuracy"].iloc[-1], test_acc_final=m["test_accuracy"].iloc[-1]))
    summ = pd.DataFrame(rows)

    figs = (_lc_figure(clean, radii, "clean labels"), _migration_figure(clean, radii), _noise_figure(clean, noisy, radii, z["noise"]))

    # verdict 1: fall, rise, fall (exact, on training points, at every radius); the proxy alongside
    h_exact, t_exact = _phase_verdict(clean, radii, "probe_neurons", "exact")
    h_proxy, t_proxy = _phase_verdict(clean, radii, "proxy", "proxy")
    v1 = Verdict(
        "LC around training points falls, rises and falls again", h_exact,
        "Exact count of neurons switching on the probes: " + "; ".join(t_exact)
        + ". The published proxy on the same probes: " + "; ".join(t_proxy)
        + f" (pattern {'found' if h_proxy else 'not found' if h_proxy is False else 'within noise'}).",
        "each phase must change LC by more than max(2 s.e., 5% of the initial value) and span at least a factor 2 in steps; "
        "the pattern is the best fall-rise-fall over the whole trajectory; 'departs' when not even the signs fit at any radius",
    )
    # verdict 2: migration towards the decision boundary in the late phase
    v2 = _migration_verdict(clean, radii)
    # verdict 3: label noise
    v3 = _noise_verdict(clean, noisy, radii, z["noise"])
    under = tot[tot["probe_neurons"] > 0]
    frac = (under["proxy_undercount"] / under["probe_neurons"])
    by_r = frac.groupby(under["radius"]).mean()
    note = ("The proxy never exceeded the exact count on its own probes (it cannot, up to tolerance decisions at the vertices); "
            "its mean undercount was " + ", ".join(f"{pct(v, 1, signed=False)} at r = {r:g}" for r, v in by_r.items())
            + ". It misses neurons whose bent boundary is crossed an even number of times between x and every vertex.")
    return _result(
        (v1, v2, v3), note,
        name="local_complexity", title="Local complexity during training",
        claim=("Humayun, Balestriero & Baraniuk (2024): local complexity (neurons switching in a cross-polytope around a point) "
               "falls, rises and falls again during training, and in the late phase the regions migrate away from the training "
               "points towards the decision boundary. With corrupted labels, memorisation should keep regions near the training points "
               "(our reading of the paper's link between the late phase and generalisation)."),
        table=df, summary=summ.round(4), figures=figs,
        settings=dict(architecture="784-" + "-".join(map(str, z["widths"])) + "-10 ReLU, PyTorch default init", optimizer="Adam lr 1e-3",
                      steps=z["steps"], batch_size=z["batch_size"], train_size=z["train_size"], test_size=z["test_size"],
                      points_per_group=z["points"], radii=radii, probes=f"{z['n_probes']} orthonormal directions (2x{z['n_probes']} vertices)",
                      chords=z["n_chords"], label_noise=z["noise"], seeds=f"{z['seeds']} clean, {z['noisy_seeds']} with corrupted labels",
                      random_points="uniform in [0, 1]^784", boundary_points="first change of the predicted class between test points of different predicted classes (exact, decision.segment_boundary)",
                      standard_errors="over seeds when several, else over points"),
    )


def _rel(a: float, b: float) -> float:
    """a / b - 1, NaN where b is not positive (printed as n/a)."""
    return float(a) / float(b) - 1.0 if b > 0 else float("nan")


def _ratio_trajectory(d: pd.DataFrame, r: float, value: str) -> pd.DataFrame:
    """Per step: ``value`` at decision-boundary points over ``value`` at training points, with its
    standard error (delta method) and the training-set fit."""
    b = _trajectory(d[(d["group"] == "boundary") & (d["radius"] == r)], value).set_index("step")
    t = _trajectory(d[(d["group"] == "train") & (d["radius"] == r)], value).set_index("step")
    j = b.index.intersection(t.index)
    ok = t.loc[j, "y"] > 0
    ratio = (b.loc[j, "y"] / t.loc[j, "y"]).where(ok)
    with np.errstate(divide="ignore", invalid="ignore"):
        rse = ratio * np.hypot(b.loc[j, "se"] / b.loc[j, "y"].where(b.loc[j, "y"] > 0), t.loc[j, "se"] / t.loc[j, "y"].where(ok))
    acc = d[(d["group"] == "train") & (d["radius"] == r)].groupby("step")["fit_accuracy"].mean()
    return pd.DataFrame({"ratio": ratio, "se": rse, "boundary": b.loc[j, "y"], "train": t.loc[j, "y"], "fit": acc.reindex(j)})


def _ratio_change(q: pd.DataFrame) -> tuple[bool | None, int, int, float, float]:
    """Judge one ratio trajectory: (holds, step fitted, last step, change, its s.e.)."""
    q = q.dropna(subset=["ratio"])
    if len(q) < 3:
        return None, -1, -1, np.nan, np.nan
    s0, s1 = q.index[q["fit"] >= 0.99 * q["fit"].max()].min(), q.index[-1]
    if s0 == s1:
        return None, s0, s1, np.nan, np.nan
    d_ratio = q.loc[s1, "ratio"] - q.loc[s0, "ratio"]
    se = float(np.hypot(q.loc[s0, "se"], q.loc[s1, "se"]))
    h = True if (d_ratio > 2 * se and q.loc[s1, "ratio"] > 1) else (False if d_ratio <= 0 else None)
    return h, s0, s1, d_ratio, se


def _migration_verdict(d: pd.DataFrame, radii) -> Verdict:
    """Boundary density (Crofton) and exact LC (neurons switching on the probes) at
    decision-boundary points over the same at training points: late phase (after the training set
    is fitted) against the value when fitted. Holds when both measures say so, departs when both
    say the opposite."""
    texts, holds = [], []
    for r in radii:
        parts, hs = [], []
        for value, what in (("density_linear", "boundary density"), ("probe_neurons", "exact LC")):
            q = _ratio_trajectory(d, r, value)
            h, s0, s1, dr, se = _ratio_change(q)
            hs.append(h)
            if s0 < 0:
                parts.append(f"{what}: too few steps with decision-boundary points")
            elif s0 == s1:
                parts.append(f"{what}: the training set is fitted only at the last step ({s1})")
            else:
                parts.append(f"{what} at the decision boundary / at training points {fmt(q.loc[s0, 'ratio'])} when the training "
                             f"set is fitted (step {s0}) -> {fmt(q.loc[s1, 'ratio'])} at step {s1} (change {fmt(dr)} ± {fmt(se, '.2g')}; "
                             f"at initialisation {fmt(q['ratio'].iloc[0])}; at training points {pct(_rel(q.loc[s1, 'train'], q.loc[s0, 'train']))}, "
                             f"at the decision boundary {pct(_rel(q.loc[s1, 'boundary'], q.loc[s0, 'boundary']))})")
        holds.append(True if all(h is True for h in hs) else (False if all(h is False for h in hs) else None))
        texts.append(f"r = {r:g}: " + "; ".join(parts))
    h = True if all(v is True for v in holds) else (False if all(v is False for v in holds) else None)
    return Verdict("Late in training, regions migrate from the data towards the decision boundary", h, ". ".join(texts) + ".",
                   "the exact boundary density in the ball (Crofton, linear regions) and the exact LC (neurons switching on the "
                   "probes) at decision-boundary points, divided by the same at training points, must both grow after the "
                   "training set is fitted (99% of its final fit) by more than 2 s.e. and end above 1; 'departs' when neither "
                   "grows at any radius")


def _noise_verdict(clean: pd.DataFrame, noisy: pd.DataFrame, radii, noise: float) -> Verdict:
    """Late-phase LC at training points, clean against corrupted labels: the final value over the
    trajectory's minimum after initialisation (how much LC comes back while labels are memorised)."""
    texts, holds = [], []
    for r in radii:
        back = {}
        for name, d in (("clean", clean), ("corrupted", noisy)):
            tr = _trajectory(d[(d["group"] == "train") & (d["radius"] == r)], "probe_neurons")
            y, se = tr["y"].to_numpy(), tr["se"].fillna(0).to_numpy()
            if y.size < 3:
                back[name] = (np.nan, np.nan, 0)
                continue
            a = 1 + int(np.argmin(y[1:]))
            ratio = y[-1] / y[a] if y[a] > 0 else np.nan
            rse = ratio * float(np.hypot(se[-1] / y[-1] if y[-1] > 0 else 0, se[a] / y[a])) if y[a] > 0 else np.nan
            back[name] = (ratio, rse, int(tr["step"].iloc[a]))
        (rc, sc_, ac), (rn, sn, an) = back["clean"], back["corrupted"]
        diff, se = rn - rc, float(np.hypot(sc_, sn))
        holds.append(None if not np.isfinite(diff) else True if diff > 2 * se else (False if diff < -2 * se else None))
        texts.append(f"r = {r:g}: LC at the end over its minimum {fmt(rc)} with clean labels (minimum at step {ac}) and "
                     f"{fmt(rn)} with {pct(noise, signed=False)} of labels corrupted (minimum at step {an}), difference "
                     f"{fmt(diff)} ± {fmt(se, '.2g')}")
    h = True if all(v is True for v in holds) else (False if any(v is False for v in holds) else None)
    return Verdict("Memorising corrupted labels brings regions back to the training points", h, "; ".join(texts) + ".",
                   "the ratio of the final LC to its minimum after initialisation must be larger with corrupted labels "
                   "by more than 2 s.e.; our reading of the paper's link between the late phase and generalisation, not a "
                   "number the paper states")


# ----------------------------------------------------------------------------------------------
# figures


def _log_steps_axis(ax) -> None:
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0)


def _lc_figure(d: pd.DataFrame, radii, title: str):
    fig, ax = _figure(w=5.2 * len(radii), h=4.2, ncols=len(radii))
    colors = {"train": "C0", "test": "C1", "random": "C2", "boundary": "C3"}
    for k, r in enumerate(radii):
        a = ax[0][k]
        for grp in ("train", "test", "random"):
            s = d[(d["group"] == grp) & (d["radius"] == r)]
            for value, style, lab in (("probe_neurons", "-", "exact"), ("proxy", "--", "proxy")):
                tr = _trajectory(s, value)
                a.plot(tr["step"], tr["y"], style, color=colors[grp], label=f"{grp}, {lab}")
        _log_steps_axis(a)
        a.set(xlabel="optimisation step (log scale; 0 = initialisation)", ylabel="neurons switching in the cross-polytope\n(solid: exact on the probes, dashed: proxy)",
              title=f"Local complexity, r = {r:g} ({title})", ylim=(0, None))
        b = a.twinx()
        acc = d[(d["group"] == "train") & (d["radius"] == r)].groupby("step")[["train_accuracy", "test_accuracy"]].mean()
        b.plot(acc.index, 100 * acc["train_accuracy"], ":", color="0.35", label="train accuracy")
        b.plot(acc.index, 100 * acc["test_accuracy"], "-.", color="0.55", label="test accuracy")
        b.set(ylabel="accuracy (%)", ylim=(0, 101))
        if k == 0:
            a.legend(fontsize=7, loc="upper left")
            b.legend(fontsize=7, loc="lower right")
    return fig


def _migration_figure(d: pd.DataFrame, radii):
    fig, ax = _figure()
    a0, a1 = ax[0]
    r = radii[0]
    colors = {"train": "C0", "test": "C1", "random": "C2", "boundary": "C3"}
    for grp in ("train", "test", "boundary"):
        tr = _trajectory(d[(d["group"] == grp) & (d["radius"] == r)], "probe_neurons")
        a0.errorbar(tr["step"], tr["y"], yerr=tr["se"], fmt="o-", ms=3, capsize=2, color=colors[grp],
                    label="decision-boundary points" if grp == "boundary" else f"{grp} points")
    _log_steps_axis(a0)
    a0.set(xlabel="optimisation step (log scale)", ylabel="neurons switching in the cross-polytope (exact)",
           title=f"LC near the data and near the decision boundary, r = {r:g}", ylim=(0, None))
    a0.legend(fontsize=8)
    for k, rr in enumerate(radii):
        q = _ratio_trajectory(d, rr, "probe_neurons")
        a1.plot(q.index, q["ratio"], "o-", ms=3, color=f"C{k}", label=f"exact LC, r = {rr:g}")
        q = _ratio_trajectory(d, rr, "density_linear")
        a1.plot(q.index, q["ratio"], "s--", ms=3, color=f"C{k}", alpha=0.6, label=f"boundary density, r = {rr:g}")
    a1.axhline(1.0, color="0.6", lw=0.8)
    _log_steps_axis(a1)
    a1.set(xlabel="optimisation step (log scale)", ylabel="at decision boundary / at training points",
           title="Migration towards the decision boundary")
    a1.legend(fontsize=7)
    return fig


def _noise_figure(clean: pd.DataFrame, noisy: pd.DataFrame, radii, noise: float):
    fig, ax = _figure()
    a0, a1 = ax[0]
    for k, r in enumerate(radii):
        for d, style, lab in ((clean, "-", "clean"), (noisy, "--", f"{pct(noise, signed=False)} labels corrupted")):
            tr = _trajectory(d[(d["group"] == "train") & (d["radius"] == r)], "probe_neurons")
            a0.plot(tr["step"], tr["y"], style, color=f"C{k}", label=f"r = {r:g}, {lab}")
    _log_steps_axis(a0)
    a0.set(xlabel="optimisation step (log scale)", ylabel="neurons switching (exact)", title="LC at training points, label noise", ylim=(0, None))
    a0.legend(fontsize=7)
    for d, style, lab in ((clean, "-", "clean"), (noisy, "--", "corrupted")):
        acc = d[d["group"] == "train"].groupby("step")[["fit_accuracy", "test_accuracy"]].mean()
        a1.plot(acc.index, 100 * acc["fit_accuracy"], style, color="C0", label=f"fit of training labels ({lab})")
        a1.plot(acc.index, 100 * acc["test_accuracy"], style, color="C1", label=f"test accuracy ({lab})")
    _log_steps_axis(a1)
    a1.set(xlabel="optimisation step (log scale)", ylabel="accuracy (%)", title="Accuracy", ylim=(0, 101))
    a1.legend(fontsize=7)
    return fig
