"""PyTorch interop: every supported module against PyTorch's own forward, refusals, loading."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from linregions.activations import absolute, soft_shrink
from linregions.network import Network, PiecewiseLinearModule
from linregions.torch_io import PLModule, load_model

# TorchScript is deprecated in recent torch releases but still the format load_model reads
pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.*deprecated:DeprecationWarning")


def _check_same(module: nn.Module, n_in: int, seed: int = 0, expect_depth: int | None = None) -> Network:
    torch.manual_seed(seed)
    module = module.double().eval()
    net = Network.from_torch(module)
    X = torch.randn(64, n_in, dtype=torch.float64) * 3
    with torch.no_grad():
        ref = module(X).numpy()
    np.testing.assert_allclose(net(X.numpy()), ref, rtol=1e-12, atol=1e-12)
    # to_torch gives back a module with the same function
    back = net.to_torch()
    assert not any(isinstance(c, PLModule) for c in back) or any(isinstance(c, PLModule) for c in module.modules())
    with torch.no_grad():
        np.testing.assert_allclose(back(X).numpy(), ref, rtol=1e-12, atol=1e-12)
    assert Network.from_torch(back).depth == net.depth
    if expect_depth is not None:
        assert net.depth == expect_depth
    return net


def _prelu_per_unit(n):
    p = nn.PReLU(n)
    with torch.no_grad():
        p.weight.copy_(torch.linspace(-0.5, 0.5, n))
    return p


ACTS = {
    "ReLU": nn.ReLU(), "ReLU6": nn.ReLU6(), "LeakyReLU": nn.LeakyReLU(0.2), "PReLU": nn.PReLU(init=0.3),
    "PReLU_per_unit": _prelu_per_unit(8), "RReLU_eval": nn.RReLU(0.1, 0.3), "Hardtanh": nn.Hardtanh(-2.0, 0.5),
    "Hardsigmoid": nn.Hardsigmoid(), "Softshrink": nn.Softshrink(0.4), "Threshold": nn.Threshold(0.3, 0.3),
    "PLModule_abs": PiecewiseLinearModule(absolute()),
}


@pytest.mark.parametrize("name", sorted(ACTS))
def test_every_supported_activation_round_trips(name):
    torch.manual_seed(1)
    m = nn.Sequential(nn.Linear(3, 8), ACTS[name], nn.Linear(8, 8), ACTS[name], nn.Linear(8, 2))
    _check_same(m, 3, expect_depth=2)


def test_structure_nested_flatten_dropout_identity_and_composition():
    m = nn.Sequential(
        nn.Flatten(), nn.Linear(4, 6), nn.Linear(6, 5),  # consecutive Linear layers are composed
        nn.Sequential(nn.ReLU(), nn.Dropout(0.5), nn.Sequential(nn.Linear(5, 5), nn.Identity())),
        nn.Hardtanh(), nn.AlphaDropout(0.1), nn.Linear(5, 3), nn.Linear(3, 2),
    )
    net = _check_same(m, 4, expect_depth=2)
    assert net.widths == (5, 5)
    # identity-like activations vanish: LeakyReLU(1), Hardshrink(0), Softshrink(0)
    m2 = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(1.0), nn.Hardshrink(0.0), nn.ReLU(), nn.Linear(4, 1))
    assert _check_same(m2, 3).depth == 1


def test_activation_first_and_last():
    m = nn.Sequential(nn.ReLU(), nn.Linear(3, 4), nn.ReLU())  # the input size comes from the Linear
    net = _check_same(m, 3, expect_depth=2)
    np.testing.assert_array_equal(net.weights[0], np.eye(3))
    with pytest.raises(ValueError, match="before any nn.Linear"):
        Network.from_torch(nn.Sequential(nn.ReLU()))
    m = nn.Sequential(_prelu_per_unit(3), nn.Linear(3, 4), nn.Hardtanh())
    net = _check_same(m, 3, expect_depth=2)
    assert net.n_in == 3 and net.n_out == 4  # identity layers around the activations
    np.testing.assert_array_equal(net.weights[0], np.eye(3))


def test_to_torch_float32_and_custom_activation():
    from linregions.laws import random_mlp

    net = random_mlp(3, [5, 5], activation=soft_shrink(0.2), seed=0)
    m = net.to_torch(dtype=torch.float32)
    assert m[0].weight.dtype == torch.float32
    X = np.random.default_rng(0).normal(size=(10, 3))
    with torch.no_grad():
        np.testing.assert_allclose(m(torch.tensor(X, dtype=torch.float32)).numpy(), net(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "module,err,match",
    [
        (nn.Tanh(), ValueError, r"Tanh.*smooth.*Supported: nn\.Linear"),
        (nn.Sigmoid(), ValueError, "Sigmoid.*smooth"),
        (nn.GELU(), ValueError, "GELU.*smooth"),
        (nn.SiLU(), ValueError, "SiLU"),
        (nn.ELU(), ValueError, "ELU"),
        (nn.Softplus(), ValueError, "Softplus"),
        (nn.Hardswish(), ValueError, "Hardswish"),
        (nn.Hardshrink(0.5), ValueError, "Hardshrink.*discontinuous"),
        (nn.Threshold(0.1, 20.0), ValueError, "Threshold.*discontinuous"),
        (nn.RReLU(), ValueError, "RReLU.*training"),
        (nn.BatchNorm1d(4), TypeError, r"BatchNorm1d\) is not supported\. Supported: nn\.Linear"),
        (nn.Conv1d(1, 1, 1), TypeError, "Conv1d"),
    ],
)
def test_refusals_name_the_module(module, err, match):
    m = nn.Sequential(nn.Linear(3, 4), module, nn.Linear(4, 1))
    if not isinstance(module, nn.RReLU):
        m.eval()
    with pytest.raises(err, match=match):
        Network.from_torch(m)


def test_other_refusals():
    with pytest.raises(TypeError, match="nn.Module"):
        Network.from_torch(np.eye(3))
    with pytest.raises(ValueError, match="single nn.Linear is affine"):
        Network.from_torch(nn.Linear(3, 2))
    with pytest.raises(TypeError, match="nn.Sequential"):
        Network.from_torch(nn.ModuleList([nn.Linear(2, 2)]))
    with pytest.raises(ValueError, match="no piecewise-linear activation"):
        Network.from_torch(nn.Sequential(nn.Linear(3, 2), nn.Dropout()))
    with pytest.raises(ValueError, match="expects 5 inputs"):
        Network.from_torch(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 1)))
    with pytest.raises(ValueError, match="per-unit"):
        Network.from_torch(nn.Sequential(nn.Linear(3, 4), nn.PReLU(5), nn.Linear(4, 1)))
    lin = nn.Linear(3, 4)
    with torch.no_grad():
        lin.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        Network.from_torch(nn.Sequential(lin, nn.ReLU(), nn.Linear(4, 1)))


def test_load_torchscript_pickle_and_state_dict(tmp_path):
    torch.manual_seed(2)
    m = nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.1), nn.Sequential(nn.Linear(6, 6), nn.Hardtanh(-1.5, 2.0)),
                      nn.Dropout(), nn.Linear(6, 6), nn.RReLU(0.1, 0.2), nn.Linear(6, 6), nn.Threshold(0.2, 0.2),
                      nn.Linear(6, 3), _prelu_per_unit(3), nn.Linear(3, 2)).eval()
    X = torch.randn(20, 4)
    with torch.no_grad():
        ref = m(X).double().numpy()
    p = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(m), str(p))
    net = load_model(p)
    np.testing.assert_allclose(net(X.double().numpy()), ref, rtol=1e-5, atol=1e-5)  # float32 model
    assert net.depth == 5
    # a pickled module needs trust
    q = tmp_path / "pickled.pt"
    torch.save(m, str(q))
    with pytest.raises(ValueError, match="trust=True"):
        load_model(q)
    np.testing.assert_allclose(load_model(q, trust=True)(X.double().numpy()), ref, rtol=1e-5, atol=1e-5)
    r = tmp_path / "sd.pt"
    torch.save(m.state_dict(), str(r))
    with pytest.raises(ValueError, match="state_dict"):
        load_model(r, trust=True)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


class Res(nn.Module):
    """y = b(relu(a(x)) + x): a residual block (not an nn.Sequential)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 1)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)) + x)


def test_torchscript_of_a_custom_module_is_refused(tmp_path):
    p = tmp_path / "res.pt"
    torch.jit.save(torch.jit.script(Res()), str(p))
    with pytest.raises(TypeError, match="not an nn.Sequential"):
        load_model(p)


def test_unit_kinds_round_trip_through_torch():
    """A compiled residual network (a PASSTHROUGH unit carries the skip) and a per-unit PReLU with
    slopes exactly 1 (affine units, PASSTHROUGH) compute the same function after to_torch /
    from_torch, checked against the torch module itself."""
    import linregions as lr

    torch.manual_seed(0)
    res = Res().double()
    X = np.random.default_rng(0).normal(size=(200, 3)) * 3
    net = lr.Network.from_torch(res, input_shape=(3,))
    assert (net.kinds(0) == lr.PASSTHROUGH).sum() > 0
    expect = res(torch.tensor(X)).detach().numpy()
    back = net.to_torch()
    np.testing.assert_allclose(back(torch.tensor(X)).detach().numpy(), expect, atol=1e-12)
    np.testing.assert_allclose(lr.Network.from_torch(back)(X), expect, atol=1e-12)
    p = nn.PReLU(4)
    with torch.no_grad():
        p.weight.copy_(torch.tensor([0.1, 1.0, 0.3, 1.0]))
    seq = nn.Sequential(nn.Linear(3, 4), p, nn.Linear(4, 1)).double()
    n3 = lr.Network.from_torch(seq)
    assert n3.kinds(0).tolist() == [lr.NEURON, lr.PASSTHROUGH, lr.NEURON, lr.PASSTHROUGH]
    np.testing.assert_allclose(n3(X), seq(torch.tensor(X)).detach().numpy(), atol=1e-12)
    # the affine units never switch: only units 0 and 2 cross
    assert set(lr.lines(n3, X[:20], X[20:40]).unit.tolist()) <= {0, 2}



# -- issue 12, finding 6: one device check, clear errors --------------------------------------------


def test_check_device():
    from linregions.torch_io import check_device

    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'foo'.*not a torch device"):
        check_device("foo")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda'"):
            check_device("cuda")


def test_complex_scripted_model_is_refused(tmp_path):
    from linregions.torch_io import load_model

    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    m[0].weight.data = m[0].weight.data.to(torch.complex64)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(m), str(tmp_path / "c.pt"))
    with pytest.raises(TypeError, match="complex"):
        load_model(tmp_path / "c.pt")
