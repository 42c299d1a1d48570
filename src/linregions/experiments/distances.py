"""Distance from data points to the nearest boundary (Corollary 8, Figure 3 of the paper)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import PAPER_BIAS, Scale, ExperimentResult, bias_label, scale_config, _figure, _integer_x, _result, _store, _run_opts
from ._training import _train_frame
from .at_init import _init_frame
from .verdicts import Verdict, cluster_mean, flat_across, fmt, overall, pct, power_law, span, stays_constant

#: Tolerances of the distance claims (stated in the verdicts).
EXPONENT_TOL = 0.25
ACROSS_ARCH_TOL = 0.25
CONSTANT_BAND = (0.75, 1.25)


def across_architectures(tr: pd.DataFrame, value: str, *, tol: float = ACROSS_ARCH_TOL) -> Verdict:
    """At every epoch, ``value`` (#neurons × distance) agrees across architectures within ``tol``
    (seeds as the sampling unit): the 1/#neurons scaling holds during training."""
    per = [(e, flat_across(s, value, "arch", unit="seed", tol=tol)) for e, s in tr.groupby("epoch")]
    holds = overall(v for _, v in per)
    spread = {e: float(s.groupby("arch")[value].mean().agg(lambda m: m.max() / m.min() - 1)) for e, s in tr.groupby("epoch")}
    worst = max(spread, key=spread.get) if spread else None
    text = ("Spread of #neurons × distance across architectures (largest / smallest − 1, mean over seeds): "
            + ", ".join(f"{pct(v, signed=False)} (epoch {e})" for e, v in spread.items()) + ".") if worst is not None else "No epochs to compare."
    if tr["arch"].nunique() < 2:
        holds, text = None, "Only one architecture was trained: the scaling across #neurons cannot be judged in training."
    return Verdict("The 1/#neurons scaling holds during training (same #neurons × distance across architectures)", holds, text,
                   f"every epoch: every architecture within ±{fmt(100 * tol, '.0f')}% of the mean over architectures")


def distance_to_boundary(scale: str | Scale = "small", *, store=None, executor="process", scheduler=None, max_workers=None, progress=True) -> ExperimentResult:
    """Mean exact distance from MNIST training points to the nearest activation-region boundary
    against 1/#neurons, at initialisation (depths 1-4) and once per epoch during training
    (Corollary 8: the distance is of order 1/#neurons). Standard errors over networks."""
    sc = scale_config(scale)
    st = _store(store)
    run = _run_opts(executor, scheduler, max_workers, progress)
    init = _init_frame(sc, st, run)
    pts = init[init["what"] == "point"] if "what" in init else init.iloc[0:0]
    if pts.empty or "distance" not in pts:
        raise ImportError("distance_to_boundary needs linregions.distance (the distance module has not landed)")
    rows = []
    for (dep, n), s in pts.groupby(["depth", "neurons"]):
        m, se, G = cluster_mean(s["distance"], s["seed"])
        rows.append(dict(depth=dep, neurons=n, networks=G, points=len(s), distance=m, distance_se=se))
    summ = pd.DataFrame(rows)
    summ["neurons_times_distance"] = summ["neurons"] * summ["distance"]
    tr = _train_frame(sc, st, run)
    tr = tr[(tr["corrupt"] == 0) & (tr["lr"] == 1e-3) & (tr["bias"] == PAPER_BIAS)].copy()
    tr["neurons_times_distance"] = tr["num_neurons"] * tr["distance_mean"]
    g = tr.groupby(["arch", "epoch"])
    tsum = g.agg(num_neurons=("num_neurons", "first"), seeds=("seed", "nunique"), distance=("distance_mean", "mean"),
                 neurons_times_distance=("neurons_times_distance", "mean")).reset_index()
    tsum["neurons_times_distance_se"] = g["neurons_times_distance"].agg(lambda v: v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else np.nan).values

    fig, ax = _figure()
    a0, a1 = ax[0]
    for k, (dep, s) in enumerate(summ.groupby("depth")):
        a0.errorbar(1 / s["neurons"], s["distance"], yerr=s["distance_se"].fillna(0), fmt="o-", color=f"C{k}", capsize=3, label=f"depth {dep}")
    x = 1 / summ["neurons"].to_numpy(float)
    c = float(np.sum(x * summ["distance"]) / np.sum(x * x))
    xs = np.linspace(0, x.max() * 1.05, 50)
    a0.plot(xs, c * xs, "k:", label=f"fit c/#neurons, c = {fmt(c, '.2f')}")
    a0.set(xlabel="1 / #neurons", ylabel="mean distance to nearest boundary (± s.e. over networks)",
           title="Distance from MNIST points at init (pixels in [0, 1])", xlim=(0, None), ylim=(0, None))
    a0.legend(fontsize=8)
    for k, (arch, s) in enumerate(tsum.groupby("arch")):
        a1.errorbar(s["epoch"], s["neurons_times_distance"], yerr=s["neurons_times_distance_se"].fillna(0), fmt="o-", color=f"C{k}", capsize=3, label=arch)
    a1.set(xlabel="epoch (0 = initialisation)", ylabel="#neurons × mean distance (± s.e. over seeds)", title="Distance × #neurons during training", ylim=(0, None))
    a1.legend(fontsize=8)
    _integer_x(a1)
    per_net = pts.groupby(["depth", "neurons", "seed"])["distance"].mean().reset_index()
    verdicts = [
        power_law(per_net, "neurons", "distance", unit="seed", group=["depth"], expected=-1.0, tol=EXPONENT_TOL,
                  claim="At initialisation the distance scales like 1/#neurons", what="the mean distance against #neurons"),
        across_architectures(tr, "neurons_times_distance"),
        stays_constant(tr, "neurons_times_distance", group=["arch"], unit="seed", band=CONSTANT_BAND,
                       claim="#neurons × distance keeps its initial value during training", what="#neurons × distance"),
    ]
    text = (f"At initialisation #neurons × distance = {span(summ['neurons_times_distance'], '.2f')} (fit c = {fmt(c, '.2f')} "
            "in pixel units).")
    both = pd.concat([summ.assign(phase="init"), tsum.rename(columns={"num_neurons": "neurons"}).assign(phase="training")], ignore_index=True)
    return _result(
        verdicts, text,
        name="distance_to_boundary", title="Distance from data points to the nearest boundary",
        claim="The average distance from a data point to the nearest region boundary scales like 1/#neurons, at initialisation and during training (Corollary 8, Figure 3 of the paper, where #neurons × distance stays near its initial value through training).",
        table=pd.concat([pts.assign(phase="init"), tr.assign(phase="training")], ignore_index=True),
        summary=both.round(5), figures=(fig,),
        settings=dict(points_per_net_init=sc.init_points, points_per_net_training=sc.track_points, seeds_training=sc.train_seeds,
                      bias=bias_label(PAPER_BIAS), distance="exact, to the activation-region boundary",
                      standard_errors="network as the sampling unit (cluster-robust over a network's points at init; over seeds in training)"),
    )
