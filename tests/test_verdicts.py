"""linregions.experiments.verdicts on synthetic tables: every claim is judged on the whole
trajectory with seeds as the sampling unit, tolerances are stated, and no NaN or inf reaches a
sentence."""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from linregions.experiments.verdicts import (
    Verdict,
    agrees,
    cluster_mean,
    flat_across,
    fmt,
    overall,
    pct,
    power_law,
    span,
    stays_constant,
    t_to_z,
)

_BAD = re.compile(r"\b(nan|inf|NaN|Inf|None)\b|-0%")


def _trajectory(values, seeds=3, noise=0.01, groups=("a",), seed=0):
    """A tidy table: one row per (group, seed, epoch), value = values[epoch] × (1 + noise·ε)."""
    rng = np.random.default_rng(seed)
    rows = [dict(arch=g, seed=s, epoch=e, v=v * (1 + noise * rng.normal()))
            for g in groups for s in range(seeds) for e, v in enumerate(values)]
    return pd.DataFrame(rows)


def _clean(v: Verdict) -> None:
    assert not _BAD.search(v.sentence()), v.sentence()


def test_drop_then_recover_is_not_called_constant():
    """Endpoints equal, a 40% drop in between: the claim 'stays constant' departs, and the text
    says that the trajectory dropped and recovered."""
    t = _trajectory([1.0, 0.6, 0.8, 1.0])
    v = stays_constant(t, "v", group=["arch"], band=(0.75, 1.25), claim="stays constant")
    assert v.holds is False
    assert "drops to 0.6" in v.text and "recovers" in v.text
    _clean(v)
    # the same endpoints with a flat path in between hold
    flat = stays_constant(_trajectory([1.0, 1.02, 0.97, 1.0]), "v", group=["arch"], band=(0.75, 1.25))
    assert flat.holds is True
    _clean(flat)


def test_stays_constant_judges_every_group_and_the_worst_epoch():
    t = pd.concat([_trajectory([1.0, 1.0, 1.0], groups=("a",)), _trajectory([1.0, 1.1, 1.6], groups=("b",), seed=1)])
    v = stays_constant(t, "v", group=["arch"], band=(0.75, 1.25))
    assert v.holds is False and "(b)" in v.text


def test_stays_constant_undecided_within_noise_and_single_seed_has_no_nan():
    # just outside the band, but the seeds disagree a lot: not a clear departure
    t = _trajectory([1.0, 1.3], seeds=3, noise=0.3, seed=4)
    t.loc[t["epoch"] == 0, "v"] = 1.0
    t.loc[t["epoch"] == 1, "v"] = [0.9, 1.3, 1.7]
    v = stays_constant(t, "v", group=["arch"], band=(0.75, 1.25))
    assert v.holds is None
    one = stays_constant(_trajectory([1.0, 0.5], seeds=1), "v", group=["arch"])
    assert one.holds is False and "one seed" in one.text
    _clean(one)
    # a zero initial value gives no ratio: undecided, said in words
    z = stays_constant(_trajectory([0.0, 1.0]), "v", group=["arch"])
    assert z.holds is None
    _clean(z)


def test_power_law_recovers_the_exponent_per_seed():
    rng = np.random.default_rng(1)
    rows = [dict(depth=d, seed=s, n=n, y=3.0 * n ** -1.0 * (1 + 0.02 * rng.normal())) for d in (1, 2) for s in range(3) for n in (16, 32, 64, 128)]
    t = pd.DataFrame(rows)
    v = power_law(t, "n", "y", group=["depth"], expected=-1.0, tol=0.1)
    assert v.holds is True and "α = -1.0" in v.text and "α = -0.9" in v.text
    w = power_law(t, "n", "y", group=["depth"], expected=1.0, tol=0.1)
    assert w.holds is False
    _clean(v)
    none = power_law(t[t["n"] == 16], "n", "y")
    assert none.holds is None
    _clean(none)


def test_flat_across_and_agrees():
    rows = [dict(depth=d, seed=s, v=(1.0 if d < 3 else 1.5) + 0.01 * s) for d in (1, 2, 3) for s in range(3)]
    v = flat_across(pd.DataFrame(rows), "v", "depth", tol=0.15)
    assert v.holds is False and "depth 3" in v.text
    ok = flat_across(pd.DataFrame([dict(depth=d, seed=s, v=1.0 + 0.01 * s) for d in (1, 2) for s in range(3)]), "v", "depth")
    assert ok.holds is True
    a = agrees([0.5, -3.5, np.nan], ["x", "y", "z"], resolution=[0.01, 0.02, np.nan])
    assert a.holds is False and "y (z = -3.5)" in a.text and "without a standard error" in a.text
    _clean(a)
    assert agrees([np.nan]).holds is None
    assert overall([a, ok]) is False and overall([ok, ok]) is True and overall([ok, agrees([np.nan])]) is None


def test_cluster_mean_is_the_se_of_network_means_for_equal_clusters():
    """With equal cluster sizes the cluster-robust SE equals the SE of the per-cluster means
    (written out here), and it exceeds the naive SE when segments of a network are correlated."""
    rng = np.random.default_rng(0)
    G, m = 6, 25
    net_effect = rng.normal(size=G)
    y = np.repeat(net_effect, m) + 0.1 * rng.normal(size=G * m)
    c = np.repeat(np.arange(G), m)
    mean, se, g = cluster_mean(y, c)
    means = y.reshape(G, m).mean(axis=1)
    assert g == G and mean == pytest.approx(y.mean())
    assert se == pytest.approx(means.std(ddof=1) / math.sqrt(G), rel=1e-12)
    naive = y.std(ddof=1) / math.sqrt(y.size)
    assert se > 3 * naive
    assert math.isnan(cluster_mean([1.0, 2.0], [0, 0])[1])


def test_t_to_z_and_number_formatting():
    assert t_to_z(2.0, 1e7) == pytest.approx(2.0, abs=1e-4)
    assert t_to_z(-2.0, 1e7) == pytest.approx(-2.0, abs=1e-4)
    assert abs(t_to_z(10.0, 2)) < 3  # a t of 10 from 3 networks is not a 10-sigma event
    assert math.isnan(t_to_z(np.nan, 5))
    assert fmt(float("nan")) == "n/a" and fmt(float("inf")) == "n/a" and fmt(None) == "n/a"
    assert fmt(-1e-9, ".2f") == "0" and fmt(10040.0) == "10,040" and fmt(0.5) == "0.5"
    assert pct(-0.001) == "0%" and pct(0.123) == "+12%" and pct(np.inf) == "n/a"
    assert span([np.nan, np.inf]) == "n/a" and span([1.0, 2.0]) == "1.00-2.00" and span([1.0, 1.001]) == "1.00"
