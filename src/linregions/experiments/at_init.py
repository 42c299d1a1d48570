"""Regions along segments between MNIST points at initialisation (Figure 2 of the paper)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ._common import (
    PAPER_BIAS,
    Pair,
    Scale,
    ExperimentResult,
    scale_config,
    bias_label,
    _N_IN,
    _N_OUT,
    _figure,
    _result,
    _store,
    _sweep,
    _run_opts,
    _data,
    _pairs,
    _law,
    _widths,
    _theorem6_segment_exact,
    _distances,
)
from .verdicts import agrees, cluster_mean, flat_across, fmt, power_law, span, t_to_z


def init_cell(depth: int, neurons: int, seed: int, bias: str, n_segments: int, n_points: int, n_predicted: int | None = None,
              pred_samples: int = 256, data_limit: int = 10000) -> list[dict]:
    """One random He-initialised 784-(neurons/depth)^depth-10 ReLU net: exact regions on
    segments between random pairs of MNIST training points (with the Theorem 6 prediction and
    the angle between the ends), and exact distances from training points to the nearest
    activation-region boundary. The Theorem 6 prediction is computed in closed form on the first
    ``n_predicted`` segments (default: all, so that prediction and measurement average the same
    segments; ``pred_samples`` is kept for compatibility).
    Rows have ``what`` = 'segment' or 'point'."""
    from ..laws import random_mlp
    from ..line import lines

    law = _law(bias)
    net = random_mlp(_N_IN, _widths(depth, neurons), _N_OUT, biases=law, seed=seed)
    X = _data("train", data_limit).images
    i, j = _pairs(len(X), n_segments, 10_000 + seed)
    X0, X1 = X[i].astype(np.float64), X[j].astype(np.float64)
    batch = lines(net, X0, X1)
    lin, act = batch.num_regions("linear"), batch.num_regions("activation")
    cos = np.sum(X0 * X1, 1) / (np.linalg.norm(X0, axis=1) * np.linalg.norm(X1, axis=1))
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    pred = np.full((len(batch), 2), np.nan)
    for s in range(len(batch) if n_predicted is None else min(n_predicted, len(batch))):
        pred[s] = (_theorem6_segment_exact(net, X0[s], X1[s], law), 0.0)
    rows = [
        {"what": "segment", "index": int(s), "start": int(i[s]), "end": int(j[s]), "regions_linear": int(lin[s]), "regions_activation": int(act[s]),
         "length": float(batch.lengths()[s]), "angle": float(theta[s]),
         "theorem6_regions": 1.0 + pred[s, 0], "theorem6_se": pred[s, 1]}
        for s in range(len(batch))
    ]
    pi = np.random.default_rng(20_000 + seed).choice(len(X), size=n_points, replace=False)
    P = X[pi].astype(np.float64)
    d = _distances(net, P, "activation")
    if d is not None:
        norms = np.linalg.norm(P, axis=1)
        rows += [{"what": "point", "index": int(p), "image": int(pi[p]), "distance": float(d[p]), "norm": float(norms[p])} for p in range(len(P))]
    return rows



def _init_frame(sc: Scale, store, run) -> pd.DataFrame:
    cells = [dict(depth=d, neurons=n, seed=s, bias=PAPER_BIAS, n_segments=sc.init_segments, n_points=sc.init_points,
                  n_predicted=sc.init_segments)
             for d in sc.init_depths for n in sc.init_neurons for s in range(sc.init_seeds) if n % d == 0]
    cells.sort(key=lambda c: -c["neurons"] * (1 + c["depth"]))  # costly cells first: the pool ends together
    return _sweep(init_cell, cells, store, run, "init")


#: Theorem 6 against the exact activation-region count, on the same segments.
INIT_PAIR = Pair("theorem6", "regions_activation", "theorem6_regions", "regions_activation", ("depth", "neurons"), "segments")


def regions_at_init(scale: str | Scale = "small", *, store=None, executor="process", scheduler=None, max_workers=None, progress=True) -> ExperimentResult:
    """Regions along segments between MNIST training points at initialisation, against the total
    number of neurons, for depths 1-4 (paper: linear in #neurons, independent of depth), with the
    Theorem 6 prediction (k = 1 closed form on segments, on the same segments) on the same axes.
    Standard errors take the network as the sampling unit (cluster-robust over segments)."""
    sc = scale_config(scale)
    df = _init_frame(sc, _store(store), _run_opts(executor, scheduler, max_workers, progress))
    seg = df[df["what"] == "segment"].copy()
    seg["boundaries_per_neuron"] = (seg["regions_linear"] - 1) / seg["neurons"]
    seg["network"] = seg["seed"]  # within a (depth, neurons) group, the seed names the network
    seg["theorem6_minus_measured"] = seg["theorem6_regions"] - seg["regions_activation"]
    rows = []
    for (d, n), s in seg.groupby(["depth", "neurons"]):
        both = s.dropna(subset=["theorem6_regions"])
        ra, ra_se, G = cluster_mean(both["regions_activation"], both["network"])
        t6, t6_se, _ = cluster_mean(both["theorem6_regions"], both["network"])
        dif, dif_se, _ = cluster_mean(both["theorem6_minus_measured"], both["network"])
        pn, pn_se, _ = cluster_mean(s["boundaries_per_neuron"], s["network"])
        rl, rl_se, _ = cluster_mean(s["regions_linear"], s["network"])
        rows.append(dict(depth=d, neurons=n, networks=G, segments=len(both), regions_activation=ra, regions_activation_se=ra_se,
                         theorem6=t6, theorem6_se=t6_se, z=t_to_z(dif / dif_se, G - 1) if dif_se > 0 else np.nan,
                         resolution=2 * dif_se / t6 if t6 > 0 else np.nan,
                         regions_linear=rl, regions_linear_se=rl_se, per_neuron=pn, per_neuron_se=pn_se,
                         mean_angle_over_pi=float(np.mean(s["angle"]) / np.pi)))
    summ = pd.DataFrame(rows)

    fig, ax = _figure()
    a0, a1 = ax[0]
    colors = {d: f"C{k}" for k, d in enumerate(sorted(summ["depth"].unique()))}
    has_pred = bool(summ["theorem6"].notna().any())
    for d, s in summ.groupby("depth"):
        a0.errorbar(s["neurons"], s["regions_activation"], yerr=s["regions_activation_se"], fmt="o", color=colors[d], capsize=3, label=f"measured, depth {d}")
        if has_pred:
            a0.errorbar(s["neurons"] * 1.02, s["theorem6"], yerr=s["theorem6_se"], fmt="x--", color=colors[d], alpha=0.6,
                        capsize=2, label=f"Theorem 6, depth {d}")
        a1.errorbar(s["neurons"], s["per_neuron"], yerr=s["per_neuron_se"], fmt="o-", color=colors[d], capsize=3, label=f"depth {d}")
    theta = float(summ["mean_angle_over_pi"].mean())
    a1.axhline(theta, color="gray", ls=":", label=f"mean angle/π = {theta:.2f}")
    a0.set(xlabel="total number of neurons", ylabel="regions along the segment (mean ± s.e., per network)",
           title="Regions on segments between MNIST points, at init")
    a1.set(xlabel="total number of neurons", ylabel="(regions − 1) / #neurons", title="Boundaries per neuron against width and depth", ylim=(0, None))
    a0.legend(fontsize=7, ncol=2)
    a1.legend(fontsize=8)

    per_net = seg.groupby(["depth", "neurons", "seed"]).agg(boundaries=("regions_linear", lambda r: float(np.mean(r) - 1)),
                                                           per_neuron=("boundaries_per_neuron", "mean")).reset_index()
    per_net["network"] = per_net["neurons"].astype(str) + "/" + per_net["seed"].astype(str)
    verdicts = [
        power_law(per_net, "neurons", "boundaries", unit="seed", group=["depth"], expected=1.0, tol=0.15,
                  claim="Regions grow linearly in #neurons", what="(regions − 1) against #neurons"),
        flat_across(per_net, "per_neuron", "depth", unit="network", tol=0.15,
                    claim="The count per neuron does not depend on depth", what="(regions − 1)/#neurons"),
    ]
    if has_pred:
        labels = [f"depth {d}, {n} neurons" for d, n in zip(summ["depth"], summ["neurons"])]
        both = seg.dropna(subset=["theorem6_regions"])
        ratio = float(both["regions_activation"].sum() / both["theorem6_regions"].sum())
        both = both.assign(net=both["depth"].astype(str) + "/" + both["neurons"].astype(str) + "/" + both["seed"].astype(str))
        pd_, pse, pG = cluster_mean(both["theorem6_minus_measured"] / both["neurons"], both["net"])
        pooled = t_to_z(pd_ / pse, pG - 1) if pse > 0 else np.nan
        v = agrees([*summ["z"], pooled], [*labels, f"all {pG} networks pooled"], claim="Theorem 6 predicts the count",
                   resolution=summ["resolution"])
        verdicts.append(dataclasses.replace(v, text=(
            f"On the same {len(both)} segments ({int(summ['networks'].min())} network(s) per row), measured/predicted = "
            f"{fmt(ratio, '.3f')} overall, {span(summ['regions_activation'] / summ['theorem6'], '.3f')} per row; pooled over all "
            f"{pG} networks, (Theorem 6 − measured)/#neurons = {fmt(pd_, '.2g')} ± {fmt(pse, '.2g')} (z = {fmt(pooled, '.1f')}). " + v.text)))
    text = (f"The per-neuron rate is close to the mean angle/π = {fmt(theta, '.2f')} between the ends of the segments "
            "(an independent simulation in R^100 found ≈ θ/π as well).")
    return _result(
        verdicts, text,
        name="regions_at_init", title="Regions along segments at initialisation",
        claim="The number of regions along a 1D segment grows linearly in the total number of neurons and does not depend on depth (Theorem 6 / Corollary 7, Figure 2 of the paper).",
        table=seg.reset_index(drop=True), summary=summ, figures=(fig,), pairs=(INIT_PAIR,),
        settings=dict(depths=sc.init_depths, neurons=sc.init_neurons, networks_per_size=sc.init_seeds, segments_per_net=sc.init_segments,
                      bias=bias_label(PAPER_BIAS), weights="He normal", data="MNIST train, first 10000 images, random pairs",
                      theorem6="closed form (k = 1) on every segment, for each network's weights, integrating each neuron's bias over its law",
                      standard_errors="network as the sampling unit: cluster-robust over the segments of a network",
                      z="paired t-statistic of Theorem 6 − measured (cluster-robust), converted to the normal z with the same tail "
                        "probability at networks − 1 degrees of freedom",
                      resolution="2 s.e. of the paired difference / prediction: the smallest departure a row can detect"),
    )
