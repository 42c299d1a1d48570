"""``distance_to_boundary`` on torch modules (the torch-native engine, ``distance.module``) against
independent oracles: the dense path on the compiled network (``Network.from_torch(m, input_shape=...)``)
and the activation pattern sampled with forward hooks on rays from x."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import linregions as lr
from linregions import graph
from linregions.distance import Distances, distance_to_boundary
from linregions.engine import InputShapeError, compile_program, dense_to_sites


class _Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(x + self.conv(x))


def _cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.1, 0.1)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), bn, nn.ReLU(), nn.MaxPool2d(2), _Residual(4), nn.Conv2d(4, 3, 3),
        nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(12, 6), nn.Hardtanh(), nn.Linear(6, 3),
    ).eval()


SHAPE = (2, 8, 8)


def _dense(m: nn.Module, shape: tuple, X: np.ndarray, kind: str = "activation"):
    comp = graph.compile_module(m, shape)
    rd = distance_to_boundary(comp.network, X.reshape(X.shape[0], -1), kind)
    site_of, unit_of = dense_to_sites(compile_program(m, shape), comp)
    ok = rd.layer >= 0
    layer = np.where(ok, [site_of[l][u] if o else -1 for l, u, o in zip(rd.layer, rd.unit, ok)], -1)
    unit = np.where(ok, [unit_of[l][u] if o else -1 for l, u, o in zip(rd.layer, rd.unit, ok)], -1)
    return rd, layer, unit


@pytest.mark.parametrize("seed", [0, 3])
def test_module_path_equals_the_dense_path(seed):
    m = _cnn(seed)
    X = np.random.default_rng(seed).normal(size=(8,) + SHAPE)
    r = lr.distance_to_boundary(m, X)
    rd, layer, unit = _dense(m, SHAPE, X)
    assert isinstance(r, Distances) and r.kind == "activation"
    assert r.x.shape == (8,) + SHAPE and r.nearest.shape == (8,) + SHAPE
    # both paths compute u_z and ||grad u_z|| to rounding, with sums in different orders (the dense
    # path composes conv, batch norm and pooling into matrices): the distances agree to 1e-12
    # relative, or (where the nearest unit's slack |u_z - xi| is below ~1e-4 of its summand scale,
    # ~|x|, and rounding of u_z dominates) to a few ulps of that scale (over ||grad u_z||, O(1) for these weights)
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(r.distance, rd.distance, rtol=1e-12, atol=16 * eps * np.abs(X).max())
    np.testing.assert_array_equal(r.layer, layer)
    np.testing.assert_array_equal(r.unit, unit)
    np.testing.assert_array_equal(r.breakpoint, rd.breakpoint)
    scale = np.abs(X).max()
    np.testing.assert_allclose(r.nearest.reshape(8, -1), rd.nearest, rtol=0, atol=1e-12 * scale)
    np.testing.assert_array_equal(r.close, rd.close)
    assert r.exact.all() and (r.regions == 1).all() and np.array_equal(r.lower, r.distance)


def test_activation_distance_and_programs_and_inputs_shaped_like_one_sample():
    m = _cnn(1)
    X = np.random.default_rng(1).normal(size=(3,) + SHAPE)
    ref = lr.distance_to_boundary(m, X)
    from linregions.distance import activation_distance

    np.testing.assert_array_equal(activation_distance(m, X).distance, ref.distance)
    prog = compile_program(m, SHAPE)
    np.testing.assert_array_equal(distance_to_boundary(prog, X).distance, ref.distance)
    one = distance_to_boundary(m, X[1], input_shape=SHAPE)
    assert len(one) == 1 and one.distance[0] == ref.distance[1]
    flat = distance_to_boundary(m, X.reshape(3, -1), input_shape=SHAPE)
    np.testing.assert_array_equal(flat.distance, ref.distance)
    tens = distance_to_boundary(m, torch.as_tensor(X))
    np.testing.assert_array_equal(tens.distance, ref.distance)


@pytest.mark.parametrize("chunk", [7, 64, 100_000])
def test_chunk_points_bound_the_rows_not_the_result(chunk):
    m = _cnn(2)
    X = np.random.default_rng(2).normal(size=(5,) + SHAPE)
    big = distance_to_boundary(m, X, chunk_points=10**6)
    r = distance_to_boundary(m, X, chunk_points=chunk)
    # the sums of squares of the gradient are accumulated over blocks of directions: rounding only
    np.testing.assert_allclose(r.distance, big.distance, rtol=1e-14, atol=0)
    np.testing.assert_array_equal(r.layer, big.layer)
    np.testing.assert_array_equal(r.unit, big.unit)


def _hooked_pattern(m: nn.Module, X: torch.Tensor) -> np.ndarray:
    """(B, units) piece of every activation and the argmax of every 2-window max pool, by forward
    hooks on the module's own submodules (independent of the engine)."""
    recs: list = []

    def hook(mod, inp, out):
        u = inp[0].detach()
        if isinstance(mod, nn.Hardtanh):
            p = (u >= mod.min_val).long() + (u >= mod.max_val).long()
        elif isinstance(mod, (nn.ReLU, nn.LeakyReLU)):
            p = (u >= 0).long()
        else:  # max pool with windows of 2: which of the two is the larger
            _, idx = nn.functional.max_pool2d(u, mod.kernel_size, mod.stride, return_indices=True)
            p = idx
        recs.append(p.reshape(u.shape[0], -1))

    hs = [mod.register_forward_hook(hook) for mod in m.modules()
          if isinstance(mod, (nn.ReLU, nn.LeakyReLU, nn.Hardtanh, nn.MaxPool2d))]
    try:
        with torch.no_grad():
            m(X)
    finally:
        for h in hs:
            h.remove()
    return torch.cat(recs, 1).numpy()


def _ray_model() -> nn.Module:
    torch.manual_seed(5)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d((1, 2)), nn.Conv2d(3, 3, 3), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(24, 5), nn.Hardtanh(), nn.Linear(5, 2),
    ).double().eval()


def test_sampling_oracle_pattern_constant_inside_and_changes_beyond():
    m = _ray_model()
    shape = (1, 6, 8)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6,) + shape)
    r = distance_to_boundary(m, X)
    assert np.isfinite(r.distance).all() and (r.distance > 0).all()
    n = int(np.prod(shape))
    s_in = np.concatenate([np.linspace(0.05, 0.95, 19), [0.999, 1 - 1e-6]])
    for b in range(len(X)):
        x, d = X[b].reshape(-1), r.distance[b]
        p0 = _hooked_pattern(m, torch.as_tensor(x.reshape((1,) + shape)))
        V = rng.normal(size=(64, n))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        v_min = (r.nearest[b].reshape(-1) - x) / d
        assert abs(np.linalg.norm(v_min) - 1) < 1e-9  # the nearest point is at the reported distance
        V = np.vstack([V, v_min])
        pts = x[None, None] + (s_in[None, :, None] * d) * V[:, None, :]
        P = _hooked_pattern(m, torch.as_tensor(pts.reshape((-1,) + shape)))
        assert (P == p0).all(), f"input {b}: the pattern changes strictly inside the reported distance"
        beyond = x + (1 + 1e-6) * d * v_min
        p1 = _hooked_pattern(m, torch.as_tensor(beyond.reshape((1,) + shape)))
        assert (p1 != p0).any(), f"input {b}: the pattern does not change just beyond the nearest point"


def test_linear_kind_on_small_modules_equals_the_dense_search():
    torch.manual_seed(7)
    m = nn.Sequential(nn.Conv1d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    shape = (1, 6)
    X = np.random.default_rng(7).normal(size=(4,) + shape)
    r = distance_to_boundary(m, X, "linear")
    rd, layer, unit = _dense(m, shape, X, "linear")
    np.testing.assert_array_equal(r.distance, rd.distance)
    np.testing.assert_array_equal(r.layer, layer)
    np.testing.assert_array_equal(r.unit, unit)
    assert r.nearest.shape == (4,) + shape
    act = distance_to_boundary(m, X, "activation")
    assert np.all(r.distance >= act.distance * (1 - 1e-12))


def test_linear_kind_on_image_inputs_says_what_to_use():
    with pytest.raises(NotImplementedError, match="kind='activation'"):
        distance_to_boundary(_cnn(0), np.zeros((1,) + SHAPE), "linear")


def test_bad_inputs_are_refused_naming_them():
    m = _cnn(0)
    with pytest.raises(InputShapeError, match=r"\(2, 3, 8, 8\).*\(2, 8, 8\)"):
        distance_to_boundary(m, np.zeros((2, 3, 8, 8)), input_shape=SHAPE)
    with pytest.raises(ValueError, match="input shape"):
        distance_to_boundary(m, np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        distance_to_boundary(m, np.full((1,) + SHAPE, np.nan))
    with pytest.raises(TypeError, match="chunk_points"):
        distance_to_boundary(m, np.zeros((1,) + SHAPE), method="gram")
    with pytest.raises(TypeError, match="torch modules"):
        distance_to_boundary(lr.random_mlp(2, [4], seed=0), np.zeros((1, 2)), input_shape=(2,))
    with pytest.raises(ValueError, match="chunk_points"):
        distance_to_boundary(m, np.zeros((1,) + SHAPE), chunk_points=0)
    with pytest.raises(ValueError, match="training mode"):
        distance_to_boundary(_cnn(0).train(), np.zeros((1,) + SHAPE))


def test_the_module_is_not_changed():
    m = _cnn(0).float()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    distance_to_boundary(m, np.random.default_rng(0).normal(size=(2,) + SHAPE))
    after = m.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in before.items())
    assert not m.training


def test_package_keeps_its_public_names():
    import linregions.distance as D

    for name in ("Distances", "distance_to_boundary", "activation_distance", "linear_distance", "LDP_RTOL",
                 "FACET_RTOL", "TIGHT_RTOL"):
        assert name in D.__all__ and getattr(D, name) is not None
    assert lr.distance_to_boundary is D.distance_to_boundary and lr.Distances is D.Distances
