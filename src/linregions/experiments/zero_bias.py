"""Zero-bias control: why assumption A2 (a bounded bias density) is needed."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._common import (
    PAPER_BIAS,
    Scale,
    ExperimentResult,
    scale_config,
    _N_IN,
    _N_OUT,
    _figure,
    _plain_log_x,
    _plain_log_y,
    _store,
    _sweep,
    _run_opts,
    _data,
    _law,
    _widths,
    _theorem6_segment,
    _result,
    bias_label,
)
from .verdicts import Verdict, fmt, power_law, span


def zero_bias_cell(neurons: int, depth: int, bias: str, seed: int) -> list[dict]:
    """Zero-bias control: one He-initialised 784-(neurons/depth)^depth-10 net with biases from
    ``bias``; exact regions in the plane through the origin and the first 0 and 1 of the training
    set, on the segment [-x, x] through the origin, and on a segment between two data points; and
    whether Theorem 6 accepts the bias law."""
    from ..data import first_of_each_digit
    from ..laws import AssumptionError, random_mlp
    from ..line import line

    law = _law(bias)
    net = random_mlp(_N_IN, _widths(depth, neurons), _N_OUT, biases=law, seed=seed)
    train = _data("train", 10000)
    d0, d1 = first_of_each_digit(train, (0, 1)).astype(np.float64)
    row: dict[str, Any] = {}
    try:
        from ..plane import plane_through

        part = plane_through(net, np.zeros(_N_IN), d0, d1, margin=0.1)
        row["plane_regions_linear"] = int(part.num_regions("linear"))
        row["plane_regions_activation"] = int(part.num_regions("activation"))
    except ImportError:
        pass
    through = line(net, -d1, d1)
    away = line(net, d0, d1)
    row.update(
        through_origin_regions_activation=through.num_regions("activation"),
        through_origin_regions_linear=through.num_regions("linear"),
        through_origin_crossings=int(through.layer.size),
        data_segment_regions_linear=away.num_regions("linear"),
    )
    try:
        with warnings.catch_warnings():  # the refusal below says it; no second warning about zero biases
            warnings.simplefilter("ignore", UserWarning)
            _theorem6_segment(net, d0, d1, law, 16)
        row["theorem6"] = "applies"
    except AssumptionError as e:
        row["theorem6"] = f"refused (AssumptionError): {e}"
    return [row]



def zero_bias_control(scale: str | Scale = "small", *, store=None, executor="process", scheduler=None, max_workers=None, progress=True) -> ExperimentResult:
    """Why assumption A2 (a bounded bias density) is needed: with zero biases every boundary is a
    cone through the origin, so a plane through the origin is cut into sectors (count linear in
    #neurons, not quadratic) and Theorem 6 does not apply; tiny biases N(0, 0.001²) restore it."""
    sc = scale_config(scale)
    cells = [dict(neurons=n, depth=sc.zero_depth, bias=b, seed=s) for b in ("zero", PAPER_BIAS) for n in sc.zero_neurons for s in range(sc.zero_seeds)]
    df = _sweep(zero_bias_cell, cells, _store(store), _run_opts(executor, scheduler, max_workers, progress), "zero_bias")
    agg = {c: (c, "mean") for c in ("plane_regions_activation", "plane_regions_linear", "through_origin_regions_activation",
                                     "through_origin_crossings", "data_segment_regions_linear") if c in df}
    summ = df.groupby(["bias", "neurons"]).agg(**agg, theorem6=("theorem6", "first"), seeds=("seed", "nunique")).reset_index()
    refusals = sorted({t.split(": ", 1)[1] for t in df["theorem6"] if t.startswith("refused")})
    summ["theorem6"] = summ["theorem6"].map(lambda t: "refused (A2 fails) ¹" if t.startswith("refused") else t)
    summ["bias"] = summ["bias"].map(bias_label)
    zero, tiny = "zero", bias_label(PAPER_BIAS)
    fig, ax = _figure()
    a0, a1 = ax[0]
    for k, (b, s) in enumerate(summ.groupby("bias")):
        lab = "zero biases" if b == zero else f"biases {b}"
        if "plane_regions_activation" in s:
            a0.loglog(s["neurons"], s["plane_regions_activation"], "o-", color=f"C{k}", label=lab)
        a1.plot(s["neurons"], s["through_origin_regions_activation"], "o-", color=f"C{k}", label=f"{lab}: segment through 0")
        a1.plot(s["neurons"], s["data_segment_regions_linear"], "s--", color=f"C{k}", alpha=0.7, label=f"{lab}: segment between digits")
    n = np.array(sc.zero_neurons, float)
    a0.loglog(n, n ** 2 / 2, "k:", label="#neurons²/2")
    a0.loglog(n, 2 * n, "k--", alpha=0.5, label="2 · #neurons")
    _plain_log_x(a0, n)
    _plain_log_y(a0)
    a0.set(xlabel="total number of neurons", ylabel="activation regions in the slice", title="Plane through the origin, a 0 and a 1")
    a0.legend(fontsize=8)
    a1.set(xlabel="total number of neurons", ylabel="regions on the segment", title="Segments through / away from the origin", ylim=(0, None))
    a1.legend(fontsize=7)
    verdicts = []
    if "plane_regions_activation" in df:
        t = df.assign(bias=df["bias"].map(bias_label))
        verdicts.append(power_law(t[t["bias"] == zero], "neurons", "plane_regions_activation", unit="seed", expected=1.0, tol=0.3,
                                  claim="With zero biases the plane through the origin is cut into cones (count linear in #neurons, not quadratic)",
                                  what="the slice count against #neurons"))
        verdicts.append(power_law(t[t["bias"] == tiny], "neurons", "plane_regions_activation", unit="seed", expected=2.0, tol=0.3,
                                  claim=f"Biases {tiny} restore the quadratic count", what="the slice count against #neurons"))
    z_rows = df[df["bias"] == "zero"]["theorem6"]
    verdicts.append(Verdict("Theorem 6 refuses zero biases (assumption A2)", bool(z_rows.str.startswith("refused").all()) if len(z_rows) else None,
                            f"Zero biases: refused in {int(z_rows.str.startswith('refused').sum())} of {len(z_rows)} networks (note ¹); "
                            f"biases {tiny}: applies.", "every zero-bias network refused"))
    zt = summ[summ["bias"] == zero]
    tt = summ[summ["bias"] != zero]
    text = (f"On the segment [−x, x] through the origin, zero biases give {span(zt['through_origin_regions_activation'], '.0f')} regions "
            f"at every width (every neuron switches at the origin at once, up to {fmt(zt['through_origin_crossings'].max(), '.0f')} "
            f"crossings at one point, counted exactly), biases {tiny} give {span(tt['through_origin_regions_activation'], '.0f')}; on the "
            "segment between two digits, away from the origin, both give about the same counts.")
    notes = tuple(f"¹ Theorem 6 refused with AssumptionError: {m}" for m in refusals[:1])
    return _result(
        verdicts, text,
        name="zero_bias_control", title="Zero-bias control: why assumption A2 is needed",
        claim="Theorem 6 assumes the biases have a bounded density (A2). With zero biases all first-layer hyperplanes pass through the origin and regions are cones: the counting law fails near the origin.",
        table=df, summary=summ.round(3), figures=(fig,), notes=notes,
        settings=dict(neurons=sc.zero_neurons, depth=sc.zero_depth, seeds=sc.zero_seeds, biases=f"zero and {tiny}",
                      plane="origin, first 0, first 1 of MNIST train, margin 0.1"),
    )
