"""Theorem 6 against exact measurement (``theory.compare``) for several laws and domains."""
from __future__ import annotations


import numpy as np

from ._common import PAPER_BIAS, Scale, ExperimentResult, scale_config, _result, _store, _sweep, _run_opts, _data, _law
from .verdicts import agrees, t_to_z


#: Configurations of the formula-against-measurement table: (label, n_in, widths, activation, bias law,
#: domain, ks). Domains: "square" = [-1, 1]^2, "line" = the whole real line, "mnist segment" = the segment
#: between the first two MNIST training images.
THEORY_CONFIGS = (
    ("ReLU 2-16-16-1, N(0, 0.5²), square", 2, (16, 16), "relu", "normal:0.5", "square", (1, 2)),
    ("hard tanh 2-6-6-6-1, U(-0.5, 0.5), square", 2, (6, 6, 6), "hard_tanh", "uniform:-0.5,0.5", "square", (1, 2)),
    ("leaky ReLU 1-16-16-16-1, Laplace(0, 0.3), real line", 1, (16, 16, 16), "leaky_relu:0.1", "laplace:0.3", "line", (1,)),
    ("ReLU 784-24-24-10, N(0, 0.001²), MNIST segment", 784, (24, 24), "relu", PAPER_BIAS, "mnist segment", (1,)),
)


def theory_cell(label: str, n_in: int, widths: list, activation: str, bias: str, domain: str, ks: list,
                n_networks: int, n_samples: int) -> list[dict]:
    """``theory.compare`` (Theorem 6 against exact counts, on the same sampled networks) for one
    configuration of ``THEORY_CONFIGS``; one row per k."""
    from ..commands._common import parse_activation
    from ..theory import NetworkLaw, Rectangle, Segment, WholeSpace, compare

    law = NetworkLaw(n_in, tuple(widths), 10 if n_in == 784 else 1, activation=parse_activation(activation), biases=_law(bias))
    if domain == "square":
        dom = Rectangle.square(1.0)
    elif domain == "line":
        dom = WholeSpace(1)
    elif domain == "mnist segment":
        X = _data("train", 100).images.astype(np.float64)
        dom = Segment(X[0], X[1])
    else:
        raise ValueError(f"unknown domain {domain!r}")
    table = compare(law, dom, ks=tuple(ks), n_networks=n_networks, n_samples=n_samples, seed=0)
    return [dict(r.__dict__) for r in table.rows]


def formula_vs_measurement(scale: str | Scale = "small", *, store=None, executor="process", scheduler=None, max_workers=None, progress=True) -> ExperimentResult:
    """Theorem 6 (the exact "substituted" estimator, closed form on segments and lines) against
    exact measurements on the same sampled networks (``theory.compare``), for several activations,
    bias laws and domains; k = 1 is boundary length (or points), k = 2 the number of vertices.
    Each row also says the smallest relative departure it could detect (``resolution``)."""
    sc = scale_config(scale)
    n_samples = {"tiny": 256, "small": 768}.get(sc.name, 4096)
    cells = [dict(label=c[0], n_in=c[1], widths=list(c[2]), activation=c[3], bias=c[4], domain=c[5], ks=list(c[6]),
                  n_networks=sc.theory_nets, n_samples=n_samples) for c in THEORY_CONFIGS]
    if sc.name == "tiny":
        cells = [c for c in cells if c["n_in"] <= 2]
        for c in cells:
            c["widths"] = [4] * len(c["widths"])
    df = _sweep(theory_cell, cells, _store(store), _run_opts(executor, scheduler, max_workers, progress), "theory")
    if "diff_se" not in df:
        df["diff_se"] = np.nan
    df = df.assign(ratio=df["measured"] / df["predicted"], t=df["z"])
    df["z"] = t_to_z(df["t"], df["n_networks"] - 1)
    df["resolution"] = 2 * df["diff_se"] / df["predicted"].abs()
    summ = df[["label", "k", "kind", "n_networks", "predicted", "predicted_se", "measured", "measured_se", "z", "resolution",
               "approx", "approx_z", "method", "measured_by"]]
    lab = [f"{l}\nk = {k}" for l, k in zip(df["label"], df["k"])]
    y = np.arange(len(df))[::-1]
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 2.2 + 0.62 * len(df)), layout="constrained")
    a0, a1 = fig.subplots(1, 2, sharey=True, gridspec_kw=dict(width_ratios=[2.2, 1]))
    for yy, r in zip(y, df["resolution"]):
        if np.isfinite(r):
            a0.plot([1 - r, 1 + r], [yy, yy], color="C0", lw=7, alpha=0.22, solid_capstyle="butt")
    a0.plot([], [], color="C0", lw=7, alpha=0.22, label="departure this row can detect (± 2 s.e. of the difference)")
    a0.errorbar(df["ratio"], y + 0.15, xerr=df["measured_se"] / df["predicted"], fmt="o", color="C1", capsize=3, label="measured (exact counts) / Theorem 6")
    a0.errorbar(df["approx"] / df["predicted"], y - 0.15, xerr=df["approx_se"] / df["predicted"], fmt="^", color="C2", capsize=3, alpha=0.7,
                label="'unmodified' approximation / Theorem 6")
    a0.axvline(1, color="gray", lw=0.8)
    a0.set_yticks(y, lab, fontsize=10)
    a0.tick_params(axis="x", labelsize=10)
    a0.set(xlabel="value / Theorem 6 prediction (± 1 s.e.)", ylabel="configuration (k = 1: length or points, k = 2: vertices)",
           title="Theorem 6 against exact measurement")
    a0.set_ylim(-0.6, len(df) - 0.4)
    a1.barh(y, df["z"].fillna(0), color=["C3" if abs(z) > 3 else "C0" for z in df["z"].fillna(0)])
    a1.axvspan(-2, 2, color="gray", alpha=0.2, label="|z| < 2")
    a1.axvline(0, color="gray", lw=0.8)
    a1.tick_params(axis="x", labelsize=10)
    a1.set(xlabel="z = (predicted − measured)/s.e., paired", ylabel="(same rows as on the left)", title="z-scores")
    fig.legend(*a0.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=9)
    a1.legend(fontsize=9, loc="upper right")
    labels = [f"{l} k={k}" for l, k in zip(df["label"], df["k"])]
    v = agrees(df["z"], labels, claim="Theorem 6 gives the expected boundary volume", resolution=df["resolution"])
    nets = int(df["n_networks"].min())
    text = (f"Each row averages {nets} sampled networks"
            + (" (z from a t-statistic with networks − 1 degrees of freedom)." if nets > 1 else "; with one network there is no standard error and the rows test nothing."))
    return _result(
        [v], text,
        name="formula_vs_measurement", title="Theorem 6 against exact measurement",
        claim="Theorem 6 gives the expected (n_in − k)-volume of the k-fold boundary B_{N,k} exactly: the expected boundary length (k = 1) and number of vertices (k = 2) in a 2D domain, and the expected number of breakpoints on a line.",
        table=df, summary=summ.round(4), figures=(fig,),
        settings=dict(configs=[c[0] for c in THEORY_CONFIGS], n_networks=sc.theory_nets, n_samples=n_samples,
                      estimator="substituted (exact); closed form on segments and the real line",
                      z="paired over the same networks; t-statistic converted to the normal z at networks − 1 degrees of freedom",
                      resolution="2 s.e. of the paired difference / prediction: the smallest relative departure a row can detect"),
    )
