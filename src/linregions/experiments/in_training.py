"""Regions along fixed segments between MNIST points during training."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import PAPER_BIAS, Scale, ExperimentResult, bias_label, scale_config, _figure, _integer_x, _result, _store, _run_opts
from ._training import _train_frame
from .verdicts import Verdict, fmt, span, stays_constant

#: "Roughly constant": every epoch within this band around the value at initialisation.
CONSTANT_BAND = (0.75, 1.25)


def _seed_stats(d: pd.DataFrame, keys: list, value: str) -> pd.DataFrame:
    """Mean over seeds (networks) and the seed-to-seed standard error, per ``keys``."""
    g = d.groupby(keys)[value]
    out = g.agg(["mean", "count", "std"]).reset_index()
    out["se"] = out["std"] / np.sqrt(out["count"])
    return out.rename(columns={"mean": value, "se": f"{value}_se", "count": "seeds"}).drop(columns="std")


def accuracy_verdict(summ: pd.DataFrame, epochs: int) -> Verdict:
    """'Test accuracy reaches 95-98%' at the last epoch (mean over seeds per architecture)."""
    acc = summ[summ["epoch"] == summ["epoch"].max()]["test_accuracy"]
    holds = bool((acc >= 0.95).all()) if len(acc) else None
    text = f"Final test accuracy {span(100 * acc, '.1f')}% (mean over seeds, per architecture)."
    if holds is False:
        text += f" This scale trains only {epochs} epoch(s) of small networks (--scale full trains longer)."
    return Verdict("Test accuracy reaches 95-98%", holds, text, "every architecture at ≥ 95% after the last epoch")


def regions_in_training(scale: str | Scale = "small", *, store=None, executor="process", scheduler=None, max_workers=None, progress=True) -> ExperimentResult:
    """Regions along fixed segments between MNIST training points, once per epoch while training
    (Adam lr 1e-3, He init, biases N(0, 0.001²); other bias laws in ``Scale.train_bias_laws``),
    normalised by #neurons, with test accuracy. The verdict judges every epoch against the value
    at initialisation, per seed, with seeds as the sampling unit."""
    sc = scale_config(scale)
    df = _train_frame(sc, _store(store), _run_opts(executor, scheduler, max_workers, progress))
    d = df[(df["corrupt"] == 0) & (df["lr"] == 1e-3)].copy()
    d["bias"] = d["bias"].map(bias_label)
    cols = ["arch", "bias", "epoch"]
    summ = d.groupby(cols).agg(num_neurons=("num_neurons", "first"), test_accuracy=("test_accuracy", "mean"),
                               regions_linear=("segment_regions_linear", "mean"),
                               per_neuron_activation=("segment_boundaries_per_neuron_activation", "mean")).reset_index()
    st = _seed_stats(d, cols, "segment_boundaries_per_neuron_linear").rename(
        columns={"segment_boundaries_per_neuron_linear": "per_neuron", "segment_boundaries_per_neuron_linear_se": "per_neuron_se"})
    summ = summ.merge(st, on=cols)
    fig, ax = _figure()
    a0, a1 = ax[0]
    paper = bias_label(PAPER_BIAS)
    v = "segment_boundaries_per_neuron_linear"
    base = d[d["epoch"] == d["epoch"].min()].set_index(["arch", "bias", "seed"])[v].rename("_base")
    d = d.join(base, on=["arch", "bias", "seed"])
    d["per_neuron_vs_init"] = d[v] / d["_base"].where(d["_base"] > 0)
    rel = _seed_stats(d, cols, "per_neuron_vs_init")
    summ = summ.merge(rel.drop(columns="seeds"), on=cols)
    a0.axhspan(*CONSTANT_BAND, color="gray", alpha=0.15, label=f"tolerance {CONSTANT_BAND[0]:g}-{CONSTANT_BAND[1]:g}× (\"roughly constant\")")
    a0.axhline(1, color="gray", lw=0.8)
    for k, ((arch, law), s) in enumerate(summ.groupby(["arch", "bias"])):
        lab = arch + ("" if law == paper else f", bias {law}")
        a0.errorbar(s["epoch"], s["per_neuron_vs_init"], yerr=s["per_neuron_vs_init_se"].fillna(0), fmt="o-", color=f"C{k}", capsize=3,
                    label=f"{lab} (at init {fmt(s['per_neuron'].iloc[0], '.2f')})")
        a1.plot(s["epoch"], 100 * s["test_accuracy"], "o-", color=f"C{k}", label=lab)
    a0.set(xlabel="epoch (0 = initialisation)", ylabel="(regions − 1)/#neurons, relative to epoch 0",
           title="Regions per neuron along fixed segments (mean ± s.e. over seeds)", ylim=(0, None))
    a1.set(xlabel="epoch", ylabel="test accuracy (%)", title="MNIST test accuracy (mean over seeds)")
    a0.legend(fontsize=8)
    a1.legend(fontsize=8)
    _integer_x(a0, a1)
    verdicts = [
        stays_constant(d, "segment_boundaries_per_neuron_linear", group=["arch", "bias"], unit="seed", band=CONSTANT_BAND,
                       claim="The count per neuron stays roughly constant in training", what="(regions − 1)/#neurons"),
        accuracy_verdict(summ, sc.train_epochs),
    ]
    return _result(
        verdicts,
        name="regions_in_training", title="Regions along segments during training",
        claim="During training on MNIST, the number of regions along segments between data points, divided by the number of neurons, stays roughly constant (close to its value at initialisation), while test accuracy reaches 95-98%.",
        table=df, summary=summ.round(4), figures=(fig,),
        settings=dict(archs=sc.train_archs, epochs=sc.train_epochs, train_size=sc.train_size, test_size=sc.test_size,
                      batch_size=sc.batch_size, optimizer="Adam lr 1e-3", weights="He normal (kaiming_normal_, fan_in)",
                      bias_laws=[bias_label(b) for b in sc.train_bias_laws], seeds=sc.train_seeds, segments=sc.track_segments,
                      standard_errors="over seeds (one network per seed is the sampling unit)",
                      roughly_constant=f"every epoch within {fmt(CONSTANT_BAND[0], 'g')}-{fmt(CONSTANT_BAND[1], 'g')}× the value at "
                                       "initialisation, judged per seed and averaged"),
    )
