"""Local complexity on torch modules through the torch-native engine, against the dense path:
the same module compiled by ``Network.from_torch(m, input_shape=...)`` gets the same chords and
probes (same seed), so every column must agree (counts exactly; densities and the Theorem 6
integrand to rounding)."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import linregions as lr
from linregions.laws import AssumptionError
from linregions.local_complexity import local_complexity

SHAPE = (1, 6, 6)
#: floats of the two paths are the same sums in a different order of operations (conv vs dense
#: matmul): rounding only
REL = 1e-10


def _cnn(seed=0, pool=False):
    torch.manual_seed(seed)
    body = [nn.Conv2d(1, 3, 3), nn.ReLU()]
    if pool:
        body += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 5)]
    else:
        body += [nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 5)]
    m = nn.Sequential(*body, nn.ReLU(), nn.Linear(5, 3))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(2.0)  # larger biases: boundaries near the samples
        for b in m.modules():
            if isinstance(b, nn.BatchNorm2d):
                b.running_mean.normal_()
                b.running_var.uniform_(0.5, 2.0)
    return m.eval()


def _assert_frames_equal(a: pd.DataFrame, b: pd.DataFrame):
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for c in a.columns:
        x, y = a[c].to_numpy(np.float64), b[c].to_numpy(np.float64)
        if pd.api.types.is_integer_dtype(b[c]):
            np.testing.assert_array_equal(x, y, err_msg=c)
        else:
            np.testing.assert_allclose(x, y, rtol=REL, atol=0, equal_nan=True, err_msg=c)


def _quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


@pytest.mark.parametrize("per_neuron", [False, True])
def test_cnn_module_equals_dense_path(per_neuron):
    m = _cnn()
    net = lr.Network.from_torch(m, input_shape=SHAPE)
    X = np.random.default_rng(0).normal(size=(4, 36))
    kw = dict(n_chords=24, bias_law=lr.Normal(0.5), per_neuron=per_neuron, seed=3, progress=False)
    a = _quiet(local_complexity, m, X.reshape((4,) + SHAPE), [0.5, 2.0], **kw)
    b = _quiet(local_complexity, net, X, [0.5, 2.0], **kw)
    _assert_frames_equal(a, b)
    tot = b[b["layer"] == -1] if not per_neuron else b
    assert tot["probe_crossings_activation"].sum() > 0 and tot["density_linear"].sum() > 0  # not vacuous
    assert (a["proxy"] <= a["probe_neurons"]).all()
    if not per_neuron:  # column 4: activation kind computed, linear kind NaN (conv biases are shared: A2)
        assert np.all(np.isfinite(a["hr_activation"])) and a["hr_activation"].gt(0).all()
        assert a["hr_linear"].isna().all()


def test_cnn_module_flat_inputs_and_chunking():
    # flattened X with input_shape, and a small chunk_points (windows of the engine): same table
    m = _cnn(1)
    X = np.random.default_rng(1).normal(size=(3, 36))
    kw = dict(n_chords=8, seed=0, progress=False)
    a = local_complexity(m, X, 1.0, input_shape=SHAPE, chunk_points=16, **kw)
    b = local_complexity(m, X.reshape((3,) + SHAPE), 1.0, **kw)
    _assert_frames_equal(a, b)


def test_maxpool_module_columns_1_to_3_and_a2():
    m = _cnn(2, pool=True)
    net = lr.Network.from_torch(m, input_shape=SHAPE)
    X = np.random.default_rng(2).normal(size=(3, 36))
    kw = dict(n_chords=16, seed=1, progress=False)
    _assert_frames_equal(local_complexity(m, X, 1.0, input_shape=SHAPE, **kw), local_complexity(net, X, 1.0, **kw))
    with pytest.raises(AssumptionError, match="maximum units"):
        local_complexity(m, X, 1.0, input_shape=SHAPE, bias_law=lr.Normal(0.5), **kw)


def test_mlp_module_engine_equals_dense():
    # an nn.Sequential MLP is converted (dense path); chunk_points sends it through the engine
    torch.manual_seed(3)
    m = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)).double()
    X = np.random.default_rng(3).normal(size=(3, 5))
    kw = dict(n_chords=16, seed=2, progress=False, bias_law=lr.Normal(0.3))
    dense = local_complexity(m, X, [0.3, 1.0], **kw)
    _assert_frames_equal(dense, local_complexity(lr.Network.from_torch(m), X, [0.3, 1.0], **kw))
    eng = _quiet(local_complexity, m, X, [0.3, 1.0], chunk_points=512, **kw)
    assert eng["hr_linear"].isna().all()
    _assert_frames_equal(eng.drop(columns="hr_linear"), dense.drop(columns="hr_linear"))


def test_module_bad_input():
    m = _cnn()
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 36\)"):
        local_complexity(m, np.zeros((2, 35)), 1.0, input_shape=SHAPE, progress=False)
    with pytest.raises(TypeError, match="apply to torch modules"):
        local_complexity(lr.random_mlp(3, [4]), np.zeros((1, 3)), 1.0, input_shape=(3,), progress=False)


def test_mlp_module_with_image_shaped_samples():
    # nn.Flatten first: image-shaped X goes to the dense conversion, flattened
    torch.manual_seed(4)
    m = nn.Sequential(nn.Flatten(), nn.Linear(36, 8), nn.ReLU(), nn.Linear(8, 2))
    X = np.random.default_rng(4).normal(size=(2,) + SHAPE)
    kw = dict(n_chords=4, seed=0, progress=False)
    a = local_complexity(m, X, 0.5, **kw)
    b = local_complexity(lr.Network.from_torch(m), X.reshape(2, -1), 0.5, **kw)
    _assert_frames_equal(a, b)
