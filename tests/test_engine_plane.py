"""Planar slices of torch modules (``lr.plane`` / ``lr.plane_through`` on an ``nn.Module``).

Oracles, independent of the module path:
- the dense path (``graph.compile_module`` + ``lr.plane`` on the compiled ``Network``) on every model
  small enough for it: identical complexes (vertices, edges, faces), edge units mapped by node name
  and position (``dense_to_sites``), breakpoints, kinds, goodness, linear flags, close-decision
  counts and affine maps;
- on a model treated as too large for it (a ResNet of torchvision BasicBlocks): the module's own
  activation pattern read with forward pre-hooks on a fine grid of the slice (equal to the pattern
  of the face that contains each grid point, away from the edges), and every face's affine map
  reproducing the module's float64 output at its interior point and at the grid points inside it
  to 1e-9 relative; the complex is watertight (areas sum to the domain's, Euler characteristic 1).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import linregions as lr
from linregions import graph
from linregions.engine import InputShapeError, compile_program, dense_to_sites
from linregions.network import ARGMAX, NEURON
from linregions.plane.partition import AREA_RTOL
from _models import randomize_bn as _randomize_bn, Residual, Functional









def _models():
    torch.manual_seed(0)
    yield "mlp-3-outputs", nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3)), (4,)
    yield "conv-relu-maxpool", nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 3)), (1, 6, 6)
    yield "conv1d-bn-leaky-prelu", nn.Sequential(
        nn.Conv1d(2, 3, 3, padding=1), _randomize_bn(nn.BatchNorm1d(3)), nn.LeakyReLU(0.1), nn.AvgPool1d(2),
        nn.Conv1d(3, 2, 3), nn.PReLU(2), nn.Flatten(), nn.Linear(4, 2)).eval(), (2, 8)
    yield "residual-adaptive-maxpool", nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), Residual(2),
                                                     nn.AdaptiveMaxPool2d(2), nn.Flatten(), nn.Linear(8, 10)).eval(), (1, 5, 5)
    yield "functional", Functional(), (5,)


MODELS = list(_models())


def _slice(n, seed):
    g = np.random.default_rng(seed)
    return g.normal(size=n), np.linalg.qr(g.normal(size=(n, 2)))[0]


def _assert_same(pm, pd, so, uo):
    """The module's partition equals the dense one (dense units mapped to (site, unit))."""
    assert pm.num_faces == pd.num_faces > 1
    np.testing.assert_array_equal(pm.edges, pd.edges)
    np.testing.assert_allclose(pm.vertices, pd.vertices, rtol=0, atol=1e-12 * (1 + np.abs(pd.vertices).max()))
    np.testing.assert_array_equal(pm.face_ptr, pd.face_ptr)
    np.testing.assert_array_equal(pm.face_vertices, pd.face_vertices)
    inner = pd.edge_layer >= 0
    dl = np.array([so[l][u] if l >= 0 else -1 for l, u in zip(pd.edge_layer, pd.edge_unit)], np.int64)
    du = np.array([uo[l][u] if l >= 0 else -1 for l, u in zip(pd.edge_layer, pd.edge_unit)], np.int64)
    np.testing.assert_array_equal(pm.edge_layer, dl)
    np.testing.assert_array_equal(pm.edge_unit, du)
    np.testing.assert_array_equal(pm.edge_breakpoint, pd.edge_breakpoint)
    np.testing.assert_array_equal(pm.edge_kind, pd.edge_kind)
    np.testing.assert_array_equal(pm.edge_good[inner], pd.edge_good[inner])
    np.testing.assert_array_equal(pm.linear_edges, pd.linear_edges)
    assert pm.num_regions("linear") == pd.num_regions("linear")
    assert pm.close_decisions == pd.close_decisions
    assert pm.watertight and pm.euler_characteristic() == 1
    gm, om = pm.affine_maps()
    gd, od = pd.affine_maps()
    tol = 1e-11 * (1 + np.abs(od).max())
    np.testing.assert_allclose(gm, gd, rtol=0, atol=tol)
    np.testing.assert_allclose(om, od, rtol=0, atol=tol)


@pytest.mark.parametrize("name,module,shape", MODELS, ids=[m[0] for m in MODELS])
def test_identical_to_dense_path(name, module, shape):
    n = int(np.prod(shape))
    origin, B = _slice(n, 0)
    pm = lr.plane(module, origin.reshape(shape), B, (-3, 3, -3, 3))
    comp = graph.compile_module(module, shape)
    pd = lr.plane(comp.network, origin, B, (-3, 3, -3, 3))
    so, uo = dense_to_sites(compile_program(module, shape), comp)
    _assert_same(pm, pd, so, uo)
    if name == "conv-relu-maxpool":  # argmax units keep their kind, and switch
        assert {NEURON, ARGMAX} <= set(pm.edge_kind[pm.interior].tolist())


def test_zero_bias_plane_through_the_origin_matches_dense():
    """Degenerate: no biases, the plane through 0 (every first-layer line passes through 0)."""
    torch.manual_seed(3)
    m = nn.Sequential(nn.Conv2d(1, 3, 3, bias=False), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 2, bias=False))
    shape = (1, 6, 6)
    _, B = _slice(36, 4)
    pm = lr.plane(m, np.zeros(shape), B, (-1, 1, -1, 1))
    comp = graph.compile_module(m, shape)
    pd = lr.plane(comp.network, np.zeros(36), B, (-1, 1, -1, 1))
    _assert_same(pm, pd, *dense_to_sites(compile_program(m, shape), comp))
    at0 = np.nonzero(np.all(np.abs(pm.vertices) < 1e-12, axis=1))[0]
    assert at0.size == 1  # the origin is one vertex


def test_chunk_points_and_device_do_not_change_the_partition():
    name, module, shape = MODELS[3]
    origin, B = _slice(int(np.prod(shape)), 1)
    ref = lr.plane(module, origin.reshape(shape), B, (-1, 1, -1, 1))
    assert ref.num_faces > 50
    for kw in (dict(chunk_points=7), dict(device="cpu")):
        got = lr.plane(module, origin.reshape(shape), B, (-1, 1, -1, 1), **kw)
        np.testing.assert_array_equal(got.vertices, ref.vertices)
        np.testing.assert_array_equal(got.edges, ref.edges)
        np.testing.assert_array_equal(got.linear_edges, ref.linear_edges)
        np.testing.assert_array_equal(got.edge_good, ref.edge_good)


def test_plane_through_module_inputs_shaped_like_samples():
    name, module, shape = MODELS[1]
    g = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(shape, generator=g) for _ in range(3))
    part = lr.plane_through(module, a, b, c)
    flat = torch.stack([a, b, c]).reshape(3, -1).double().numpy()
    np.testing.assert_allclose(part.to_input(part.marks), flat, rtol=0, atol=1e-12)
    # the same slice, given flat with input_shape
    again = lr.plane_through(module, *flat, input_shape=shape)
    np.testing.assert_array_equal(again.vertices, part.vertices)
    # and through the dense network
    dense = lr.plane_through(graph.network_from_module(module, shape), *flat)
    assert dense.num_faces == part.num_faces and dense.num_regions("linear") == part.num_regions("linear")


# ------------------------------------------------------------------------------------------------
# a model treated as too large for the dense path: hooks and the module's own output


def _relu_patterns(module, X):
    """Sign of every ReLU's input (forward pre-hooks, so in-place ReLUs are read before they act),
    in call order, concatenated per row."""
    rec = []
    hs = [m.register_forward_pre_hook(lambda mod, inp: rec.append((inp[0] > 0).flatten(1)))
          for m in module.modules() if isinstance(m, nn.ReLU)]
    margin = []
    hs += [m.register_forward_pre_hook(lambda mod, inp: margin.append(inp[0].abs().flatten(1)))
           for m in module.modules() if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            out = module(X)
    finally:
        for h in hs:
            h.remove()
    return torch.cat(rec, 1).numpy(), torch.cat(margin, 1).numpy(), out.reshape(X.shape[0], -1).numpy()


def test_small_resnet_against_hooks_and_outputs():
    """A width-2 ResNet-18 (torchvision BasicBlocks, CIFAR stem) on a small slice around one input."""
    models = pytest.importorskip("linregions.engine.models")
    try:
        torch.manual_seed(0)
        net = models.cifar_resnet18(width=2, num_classes=10)
    except ImportError:
        pytest.skip("torchvision not installed")
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            _randomize_bn(m)
    shape = (3, 8, 8)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    d = torch.randn((2,) + shape, generator=g, dtype=torch.float64)
    part = lr.plane_through(net, x, x + 1.5 * d[0] / d[0].norm(), x + 1.5 * d[1] / d[1].norm())
    # watertight: areas sum to the domain, Euler characteristic 1
    dom = part.domain
    area = 0.5 * abs(np.sum(dom[:, 0] * np.roll(dom[:, 1], -1) - np.roll(dom[:, 0], -1) * dom[:, 1]))
    assert part.watertight and part.euler_characteristic() == 1
    assert abs(part.face_areas.sum() - area) <= AREA_RTOL * area
    assert part.num_faces > 20 and part.certified
    m = copy.deepcopy(net).double().eval()
    # the grid's patterns equal the pattern of the face containing each point
    (u0, u1, v0, v1) = dom[:, 0].min(), dom[:, 0].max(), dom[:, 1].min(), dom[:, 1].max()
    uu, vv = np.meshgrid(np.linspace(u0, u1, 61)[1:-1], np.linspace(v0, v1, 61)[1:-1])
    S = np.stack([uu.ravel(), vv.ravel()], 1)
    X = torch.as_tensor(part.to_input(S)).reshape((-1,) + shape)
    pats, mag, out = _relu_patterns(m, X)
    face = part.locate(S)
    assert np.all(face >= 0)
    codes = np.concatenate([c.astype(np.int64) for c in part.activation_codes(face)], 1)
    assert codes.shape == pats.shape
    away = np.all(mag > 1e-9 * (1 + mag.max(axis=1, keepdims=True)), axis=1)  # no pre-activation near 0
    assert away.mean() > 0.9
    np.testing.assert_array_equal(codes[away] >= 2, pats[away])
    assert len({p.tobytes() for p in pats}) > 10  # the grid sees many activation regions
    # every face's affine map reproduces the module at the grid points inside it and at its interior point
    grad, off = part.affine_maps()
    got = off[face] + np.einsum("fij,fj->fi", grad[face], S)
    np.testing.assert_allclose(got, out, rtol=1e-9, atol=1e-9 * np.abs(out).max())
    Xi = torch.as_tensor(part.to_input(part.interior_points)).reshape((-1,) + shape)
    with torch.no_grad():
        ref = m(Xi).numpy()
    got = off + np.einsum("fij,fj->fi", grad, part.interior_points)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    # generic weights: linear boundaries are the edges of good neurons (Prop. 9)
    np.testing.assert_array_equal(part.linear_edges[part.interior], part.edge_good[part.interior])


# ------------------------------------------------------------------------------------------------
# bad input


def test_training_mode_is_refused():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1))
    with pytest.raises(ValueError, match="training mode"):
        lr.plane(m, np.zeros((1, 4, 4)), np.eye(16)[:, :2], (-1, 1, -1, 1))


def test_unsupported_op_names_the_node():
    m = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1))
    with pytest.raises(graph.GraphError, match=r"node '_1' \(call_module GELU '1'\).*not piecewise linear"):
        lr.plane(m, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))


def test_input_shape_mismatch_names_both_shapes():
    m = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 1))
    with pytest.raises(InputShapeError, match=r"\(1, 8, 8\).*\(3, \*, \*\)"):
        lr.plane(m, np.zeros((1, 8, 8)), np.eye(64)[:, :2], (-1, 1, -1, 1))
    with pytest.raises(InputShapeError, match=r"\(3, 7, 7\).*\(3, 8, 8\)"):
        lr.plane(m, np.zeros((3, 7, 7)), np.eye(147)[:, :2], (-1, 1, -1, 1), input_shape=(3, 8, 8))
    with pytest.raises(InputShapeError, match=r"basis of shape \(10, 2\).*\(3, 8, 8\)"):
        lr.plane(m, np.zeros((3, 8, 8)), np.eye(10)[:, :2], (-1, 1, -1, 1))
    with pytest.raises(InputShapeError, match=r"p1 of shape \(3, 7, 7\).*\(3, 8, 8\)"):
        lr.plane_through(m, np.zeros((3, 8, 8)), np.ones((3, 7, 7)), np.ones((3, 8, 8)))


def test_module_options_on_a_network_are_refused():
    net = graph.network_from_module(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), (2,))
    with pytest.raises(TypeError, match="input_shape and chunk_points apply to torch modules"):
        lr.plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1), input_shape=(2,))


def test_saving_a_module_partition_says_what_to_do(tmp_path):
    """A module's partition cannot carry the module's ops into .npz: a clear error, not AttributeError."""
    name, module, shape = MODELS[1]
    origin, B = _slice(int(np.prod(shape)), 1)
    part = lr.plane(module, origin.reshape(shape), B, (-0.5, 0.5, -0.5, 0.5))
    with pytest.raises(TypeError, match="torch module"):
        part.save(tmp_path / "p.npz")
    assert len(part.to_frame()) == part.num_faces
