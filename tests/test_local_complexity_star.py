"""The probe-star certificate of local complexity (``local_complexity.probes``): diameters whose vertices share x's
activation pattern hold no crossing, so skipping them must not change any count. Oracle: the same
table with every diameter run through the exact 1D engine."""
import numpy as np
import pytest
import torch
from torch import nn

import linregions as lr

from linregions.local_complexity import local_complexity

lcm = __import__("sys").modules["linregions.local_complexity"]
lc_columns = __import__("sys").modules["linregions.local_complexity.columns"]  # the paths' switches


def _both(monkeypatch, model, X, radii, **kw):
    a = local_complexity(model, X, radii, progress=False, **kw)
    monkeypatch.setattr(lc_columns, "_SKIP_EMPTY_PROBES", False)
    b = local_complexity(model, X, radii, progress=False, **kw)
    monkeypatch.setattr(lc_columns, "_SKIP_EMPTY_PROBES", True)
    return a, b


@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("case", ["mlp", "hard_tanh", "zero_bias", "cnn"])
def test_skipping_empty_diameters_changes_nothing(monkeypatch, case, per_neuron):
    rng = np.random.default_rng(7)
    if case == "mlp":
        model, X = lr.random_mlp(12, [24, 24, 24], seed=1), rng.normal(size=(5, 12))
    elif case == "hard_tanh":
        model, X = lr.random_mlp(6, [10, 10], activation=lr.hard_tanh(), seed=2), rng.normal(size=(4, 6))
    elif case == "zero_bias":  # every first-layer neuron switches at x = 0 (probe_at_center)
        model, X = lr.random_mlp(5, [8, 8], biases=lr.Zero(), seed=3), np.vstack([np.zeros(5), rng.normal(size=(2, 5))])
    else:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3)).eval()
        X = rng.normal(size=(3, 1, 6, 6))
    a, b = _both(monkeypatch, model, X, [0.05, 0.3, 2.0], n_chords=4, per_neuron=per_neuron,
                 columns=("probes", "proxy"), seed=1)
    assert list(a.columns) == list(b.columns)
    for c in a.columns:
        np.testing.assert_array_equal(a[c].to_numpy(), b[c].to_numpy(), err_msg=c)
    assert b["probe_crossings_activation"].sum() > 0  # not vacuous
    if case == "zero_bias" and not per_neuron:
        assert b["probe_at_center"].sum() > 0


def test_some_diameters_are_skipped():
    # the certificate is not vacuous at a small radius: most diameters are empty
    net = lr.random_mlp(12, [24, 24], seed=1)
    X = np.random.default_rng(0).normal(size=(3, 12))
    Q = lcm.probe_directions(12, seed=0)
    _, busy = lcm._star(net, X, 0.05, Q, None, False, True)
    assert busy.shape == (3, 12) and 0 < busy.sum() < busy.size


def test_torch_segment_engine_gives_the_same_table(monkeypatch):
    # chords and probes of a Network through the torch-native engine (Network.to_torch()) instead of
    # the per-segment kernel: the same exact counts; densities equal to rounding
    net = lr.random_mlp(20, [16, 16, 16], seed=4)
    X = np.random.default_rng(4).normal(size=(4, 20))
    kw = dict(n_chords=8, seed=2, progress=False)
    a = local_complexity(net, X, [0.1, 1.0], **kw)
    monkeypatch.setattr(lc_columns, "_SEGMENT_ENGINE", "torch")
    b = local_complexity(net, X, [0.1, 1.0], **kw)
    assert a["probe_crossings_activation"].sum() > 0 and a["density_activation"].sum() > 0
    for c in a.columns:
        if c.startswith("density"):
            np.testing.assert_allclose(b[c].to_numpy(), a[c].to_numpy(), rtol=1e-12, err_msg=c)
        else:
            np.testing.assert_array_equal(b[c].to_numpy(), a[c].to_numpy(), err_msg=c)
