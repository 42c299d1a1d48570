"""lr.line / lr.lines / lr.real_line take torch modules directly (the torch-native engine) and give
the dense path's partition wherever both apply."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import linregions as lr


def _cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 2 * 2, 3))


def test_line_on_a_module_equals_the_dense_path():
    m = _cnn()
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(1, 6, 6, generator=g), torch.randn(1, 6, 6, generator=g)
    mod = lr.line(m, x0, x1)
    dense = lr.line(lr.Network.from_torch(m, input_shape=(1, 6, 6)), x0.flatten(), x1.flatten())
    np.testing.assert_allclose(mod.t, dense.t, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mod.linear, dense.linear)
    np.testing.assert_array_equal(mod.unit_kind, dense.unit_kind)
    assert mod.num_regions("linear") < mod.num_regions("activation") or mod.unit_kind.max() == 0


def test_lines_on_a_module_batches_samples_and_refuses_wrong_shapes():
    m = _cnn()
    X = torch.randn(3, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    batch = lr.lines(m, X, X.roll(1, 0))
    assert len(batch) == 3
    for i, part in enumerate(batch):
        np.testing.assert_array_equal(part.t, lr.line(m, X[i], X.roll(1, 0)[i]).t)
    with pytest.raises(ValueError, match=r"\(1, 5, 5\)"):
        lr.line(m, torch.zeros(1, 5, 5), torch.ones(1, 5, 5))


def test_real_line_on_a_module_and_network_only_options():
    torch.manual_seed(3)
    m = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    a, b = lr.real_line(m), lr.real_line(lr.Network.from_torch(m))
    assert a.num_regions("activation") == b.num_regions("activation")
    np.testing.assert_allclose(np.sort(a.points[:, 0]), np.sort(b.points[:, 0]), rtol=1e-9, atol=1e-12)
    with pytest.raises(TypeError, match="torch modules"):
        lr.line(lr.Network.from_torch(m), [0.0], [1.0], device="cpu")
