"""The torch-native engine (linregions.engine): segments through modules with their own ops.

Oracles, independent of the engine:
- the dense path (``graph.compile_module`` + ``linregions.lines``) on every model small enough:
  identical crossing points, crossing units (mapped by node name and position), breakpoints,
  kinds, good flags and linear flags, and the same affine pieces;
- on models treated as too large for it (a ResNet of torchvision BasicBlocks, a wider CNN):
  the module's own activation pattern read with forward hooks on a dense grid along the segment
  (constant inside every reported interval; every change of the sampled pattern lies at a
  reported point), and the reported affine pieces reproducing the module's float64 output at
  interval midpoints to 1e-9 relative.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import linregions as lr
from linregions import graph
from linregions.engine import InputShapeError, compile_program, dense_to_sites, line, lines, real_line
from linregions.network import ARGMAX, NEURON
from _models import randomize_bn as _randomize_bn, Residual, Functional

FIELDS = ("t", "linear", "point_offsets", "crossing_point", "layer", "unit", "breakpoint", "good", "crossing_offsets", "unit_kind")









def _models():
    torch.manual_seed(0)
    yield "conv-relu-maxpool", nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 3)), (1, 6, 6)
    yield "conv1d-bn-leaky-avgpool", nn.Sequential(
        nn.Conv1d(2, 3, 3, padding=1), _randomize_bn(nn.BatchNorm1d(3)), nn.LeakyReLU(0.1), nn.AvgPool1d(2),
        nn.Conv1d(3, 2, 3), nn.PReLU(2), nn.Flatten(), nn.Linear(4, 2)).eval(), (2, 8)
    yield "residual", nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), Residual(2), nn.AdaptiveMaxPool2d(2),
                                    nn.Flatten(), nn.Linear(8, 10)).eval(), (1, 5, 5)
    yield "functional", Functional(), (5,)
    yield "mlp-relu6-abs", nn.Sequential(nn.Linear(3, 8), nn.ReLU6(), nn.Linear(8, 8), nn.Hardsigmoid(), nn.Linear(8, 1)), (3,)


MODELS = list(_models())


def _ends(shape, S, seed, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn((S,) + shape, generator=g, dtype=torch.float64), scale * torch.randn((S,) + shape, generator=g, dtype=torch.float64)


def _mapped(batch, so, uo):
    layer = np.array([so[l][u] for l, u in zip(batch.layer, batch.unit)], np.int64)
    unit = np.array([uo[l][u] for l, u in zip(batch.layer, batch.unit)], np.int64)
    return layer, unit


@pytest.mark.parametrize("name,module,shape", MODELS, ids=[m[0] for m in MODELS])
def test_identical_to_dense_path(name, module, shape):
    X0, X1 = _ends(shape, 4, 1)
    eng = lines(module, X0, X1)
    comp = graph.compile_module(module, shape)
    dense = lr.lines(comp.network, X0.reshape(4, -1).numpy(), X1.reshape(4, -1).numpy())
    assert eng.t.size > 4 * 3  # something to compare
    np.testing.assert_array_equal(eng.point_offsets, dense.point_offsets)
    np.testing.assert_allclose(eng.t, dense.t, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(eng.linear, dense.linear)
    prog = compile_program(module, shape)
    so, uo = dense_to_sites(prog, comp)
    dl, du = _mapped(dense, so, uo)
    key = lambda cp, l, u, bp, g, k: sorted(zip(cp.tolist(), l.tolist(), u.tolist(), bp.tolist(), g.tolist(), k.tolist()))  # noqa: E731
    assert key(eng.crossing_point, eng.layer, eng.unit, eng.breakpoint, eng.good, eng.unit_kind) == \
        key(dense.crossing_point, dl, du, dense.breakpoint, dense.good, dense.unit_kind)
    tol = 1e-12 * (1 + np.abs(dense.intercepts).max())
    np.testing.assert_allclose(eng.slopes, dense.slopes, rtol=0, atol=tol)
    np.testing.assert_allclose(eng.intercepts, dense.intercepts, rtol=0, atol=tol)


def test_zero_bias_segment_through_the_origin_matches_dense():
    """Degenerate: no biases, a segment through 0 (all first-layer units switch at one point)."""
    torch.manual_seed(3)
    m = nn.Sequential(nn.Conv2d(1, 3, 3, bias=False), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 2, bias=False))
    x = torch.randn(1, 6, 6, dtype=torch.float64)
    eng = line(m, -x, x)
    net = graph.network_from_module(m, (1, 6, 6))
    dense = lr.line(net, -x.reshape(-1).numpy(), x.reshape(-1).numpy())
    np.testing.assert_allclose(eng.t, dense.t, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(eng.linear, dense.linear)
    assert np.sum(np.abs(eng.t - 0.5) < 1e-12) == 1  # the origin is one point
    assert eng.layer.size == dense.layer.size


def test_chunk_size_does_not_change_the_partition():
    name, module, shape = MODELS[2]
    X0, X1 = _ends(shape, 3, 5)
    ref = lines(module, X0, X1)
    for cp in (2, 7):
        got = lines(module, X0, X1, chunk_points=cp)
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(got, f), getattr(ref, f), err_msg=f"{f} (chunk_points={cp})")
        np.testing.assert_allclose(got.slopes, ref.slopes, rtol=0, atol=1e-13)


@pytest.mark.parametrize("name,module,shape", MODELS[:3], ids=[m[0] for m in MODELS[:3]])
def test_reach_units_agrees_with_the_backward_pass(name, module, shape):
    """``reach_units`` (a forward pass of a one-hot from the unit's site) answers the goodness
    question of ``reach`` (autograd through the whole program from the input) on random
    patterns, for every unit of every site, including patterns where paths are cut."""
    prog = compile_program(module, shape)
    g = torch.Generator().manual_seed(3)
    K = 6
    masks = [(torch.rand((K, s.n), generator=g, dtype=torch.float64) < p).to(torch.float64)
             for s, p in zip(prog.sites, np.linspace(0.05, 0.5, len(prog.sites)))]
    R = prog.reach(masks, 4)
    layer, unit, row = [], [], []
    for l, s in enumerate(prog.sites):
        for r in range(K):
            layer.append(torch.full((s.n,), l))
            unit.append(torch.arange(s.n))
            row.append(torch.full((s.n,), r))
    layer, unit, row = torch.cat(layer), torch.cat(unit), torch.cat(row)
    got = prog.reach_units(layer, unit, lambda l, idx: masks[l][row[idx]], 5)
    want = torch.stack([R[l][r, z] for l, z, r in zip(layer.tolist(), unit.tolist(), row.tolist())])
    assert bool(want.any()) and not bool(want.all())  # both answers occur
    assert torch.equal(got, want)


def test_inplace_apply_matches_apply():
    """The driver's in-place ``apply`` (its own copies of u_l, du_l) gives the values and tangents
    of the plain ``apply`` at every site, ReLU and max-pool tournament rounds alike."""
    name, module, shape = MODELS[2]
    prog = compile_program(module, shape)
    g = torch.Generator().manual_seed(4)
    X = torch.randn((5,) + shape, generator=g, dtype=torch.float64)
    V = torch.randn((5,) + shape, generator=g, dtype=torch.float64)
    live = prog.start(X, V)
    for l, s in enumerate(prog.sites):
        U, dU = prog.advance(l, live, 3)
        codes = torch.randint(0, 2 * s.act.T + 1, U.shape, generator=g).to(torch.int8)
        a = type(live)(dict(live.values), dict(live.tangents), live.pc)
        prog.apply(l, a, U.clone(), dU.clone(), codes)
        prog.apply(l, live, U.clone(), dU.clone(), codes, inplace=True)
        for key in a.values:
            assert torch.equal(a.values[key], live.values[key]) and torch.equal(a.tangents[key], live.tangents[key]), (l, key)


def test_row_blocks_do_not_change_the_partition(monkeypatch):
    """The element-wise passes run in row blocks on CPU with one thread; blocks of one row give the
    partition of one block."""
    import linregions.engine.rows as seg  # the driver's row passes

    name, module, shape = MODELS[2]
    X0, X1 = _ends(shape, 3, 6)
    monkeypatch.setattr(seg, "_BLOCK_ELEMS", 1 << 40)
    ref = lines(module, X0, X1)
    monkeypatch.setattr(seg, "_BLOCK_ELEMS", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # blocks are used with one thread only
    try:
        got = lines(module, X0, X1)
    finally:
        torch.set_num_threads(threads)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(got, f), getattr(ref, f), err_msg=f)
    np.testing.assert_array_equal(got.slopes, ref.slopes)


# ------------------------------------------------------------------------------------------------
# models too large for the dense path: hooks and the module's own output


class _Hooks:
    """The module's activation pattern (sign of each ReLU input, argmax of each max-pool window),
    recorded with forward hooks in call order."""

    def __init__(self, module):
        self.rec, self.handles = [], []
        for m in module.modules():
            if isinstance(m, nn.ReLU):
                self.handles.append(m.register_forward_hook(lambda mod, inp, out: self.rec.append((inp[0] > 0).flatten(1))))
            if isinstance(m, nn.MaxPool2d):
                def hook(mod, inp, out):
                    _, idx = F.max_pool2d(inp[0], mod.kernel_size, mod.stride, mod.padding, mod.dilation, return_indices=True)
                    self.rec.append(idx.flatten(1))
                self.handles.append(m.register_forward_hook(hook))

    def pattern(self, module, X):
        self.rec = []
        with torch.no_grad():
            module(X)
        return torch.cat([r.to(torch.int64) for r in self.rec], 1)


def _check_against_module(module, x0, x1, part, n_grid=1500):
    m = copy.deepcopy(module).double().eval()
    hooks = _Hooks(m)
    shape = tuple(x0.shape)
    t_grid = torch.linspace(0, 1, n_grid, dtype=torch.float64)
    X = x0[None] + t_grid.reshape(-1, *([1] * len(shape))) * (x1 - x0)[None]
    pats = hooks.pattern(m, X)
    change = torch.nonzero((pats[1:] != pats[:-1]).any(1)).reshape(-1).numpy()
    # every sampled change of pattern has a reported point between the two samples
    t = part.t
    tg = t_grid.numpy()
    for i in change:
        assert np.any((t >= tg[i] - 1e-12) & (t <= tg[i + 1] + 1e-12)), f"pattern change in ({tg[i]}, {tg[i + 1]}) not reported"
    # constant pattern inside each reported interval (samples strictly inside)
    ends = np.concatenate([[0.0], t, [1.0]])
    for a, b in zip(ends[:-1], ends[1:]):
        inside = (tg > a + 1e-9) & (tg < b - 1e-9)
        if inside.sum() > 1:
            p = pats[torch.as_tensor(inside)]
            assert bool((p == p[0]).all()), f"pattern not constant on ({a}, {b})"
    # the affine pieces reproduce the module at interval midpoints
    mids = torch.as_tensor((ends[:-1] + ends[1:]) / 2)
    Xm = x0[None] + mids.reshape(-1, *([1] * len(shape))) * (x1 - x0)[None]
    with torch.no_grad():
        ref = m(Xm).reshape(mids.numel(), -1).numpy()
    got = part.intercepts + part.slopes * mids.numpy()[:, None]
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    return change.size


def test_small_resnet_against_hooks_and_outputs():
    """A width-4 ResNet-18 (torchvision BasicBlocks, CIFAR stem) on a short segment."""
    models = pytest.importorskip("linregions.engine.models")
    try:
        torch.manual_seed(0)
        net = models.cifar_resnet18(width=4, num_classes=10)
    except ImportError:
        pytest.skip("torchvision not installed")
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            _randomize_bn(m)
    x0 = torch.randn(3, 16, 16, dtype=torch.float64)
    x1 = x0 + 0.05 * torch.randn(3, 16, 16, dtype=torch.float64)
    part = line(net, x0, x1, chunk_points=256)
    assert part.num_regions("activation") > 5
    changes = _check_against_module(net, x0, x1, part)
    assert changes > 0
    assert set(np.unique(part.unit_kind)) <= {NEURON}
    assert part.slopes.shape[1] == 10
    assert part.num_regions("linear") <= part.num_regions("activation")


def test_resnet34_standard_stem_against_hooks_and_outputs():
    """torchvision's ResNet-34 layout (width 4) with the standard stem: 7x7 stride-2 conv and a 3x3
    stride-2 padded max-pool, whose argmax changes are ARGMAX crossings."""
    models = pytest.importorskip("linregions.engine.models")
    try:
        torch.manual_seed(0)
        net = models.resnet((3, 4, 6, 3), width=4, cifar_stem=False)
    except ImportError:
        pytest.skip("torchvision not installed")
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            _randomize_bn(m)
    x0 = torch.randn(3, 32, 32, dtype=torch.float64)
    x1 = x0 + 0.02 * torch.randn(3, 32, 32, dtype=torch.float64)
    part = line(net, x0, x1, chunk_points=256)
    assert (part.unit_kind == ARGMAX).any() and (part.unit_kind == NEURON).any()
    assert _check_against_module(net, x0, x1, part, n_grid=800) > 0


def test_cnn_with_maxpool_against_hooks_and_outputs():
    torch.manual_seed(1)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    x0 = torch.randn(3, 16, 16, dtype=torch.float64)
    x1 = x0 + 0.1 * torch.randn(3, 16, 16, dtype=torch.float64)
    part = line(m, x0, x1)
    assert (part.unit_kind == ARGMAX).any() and (part.unit_kind == NEURON).any()
    _check_against_module(m, x0, x1, part)


# ------------------------------------------------------------------------------------------------
# inputs, errors, the caller's module


def test_one_sample_and_batches_agree():
    name, module, shape = MODELS[0]
    X0, X1 = _ends(shape, 2, 9)
    batch = lines(module, X0, X1)
    one = line(module, X0[1], X1[1])
    np.testing.assert_array_equal(one.t, batch[1].t)
    assert one.x0.shape == (int(np.prod(shape)),)
    flat = lines(module, X0.reshape(2, -1), X1.reshape(2, -1), input_shape=shape)
    np.testing.assert_array_equal(flat.t, batch.t)


def test_module_is_not_changed():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 2, 3), _randomize_bn(nn.BatchNorm2d(2)), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)).eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    line(m, torch.zeros(1, 4, 4), torch.ones(1, 4, 4))
    assert all(p.dtype == torch.float32 for p in m.parameters()) and not m.training
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k])


def test_training_mode_is_refused():
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1))
    with pytest.raises(ValueError, match="training mode"):
        line(m, torch.zeros(1, 4, 4), torch.ones(1, 4, 4))
    d = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.5), nn.Linear(3, 1))
    with pytest.raises(ValueError, match="Dropout.*training mode"):
        line(d, [0.0, 0.0], [1.0, 1.0])


def test_unsupported_op_names_the_node():
    m = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1))
    with pytest.raises(graph.GraphError, match=r"node '_1' \(call_module GELU '1'\).*not piecewise linear"):
        line(m, [0.0, 0.0], [1.0, 1.0])

    class Sig(nn.Module):
        def forward(self, x):
            return torch.sigmoid(x).sum(1, keepdim=True) + F.relu(x).sum(1, keepdim=True)

    with pytest.raises(graph.GraphError, match=r"node 'sigmoid'"):
        line(Sig(), [0.0, 0.0], [1.0, 1.0])


def test_input_shape_mismatch_names_both_shapes():
    m = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 30 * 30, 1))
    with pytest.raises(InputShapeError, match=r"\(1, 32, 32\).*\(3, \*, \*\)"):
        line(m, torch.zeros(1, 32, 32), torch.ones(1, 32, 32))
    with pytest.raises(InputShapeError, match=r"\(2, 3, 32, 32\).*\(3, 28, 28\)"):
        lines(m, torch.zeros(2, 3, 32, 32), torch.ones(2, 3, 32, 32), input_shape=(3, 28, 28))
    with pytest.raises(ValueError, match="zero length"):
        line(m, torch.ones(3, 32, 32), torch.ones(3, 32, 32))


def test_real_line_matches_dense():
    torch.manual_seed(4)
    m = nn.Sequential(nn.Linear(1, 6), nn.ReLU(), nn.Linear(6, 6), nn.LeakyReLU(0.2), nn.Linear(6, 1))
    got = real_line(m)
    ref = lr.real_line(graph.network_from_module(m, (1,)))
    np.testing.assert_array_equal(got.t, ref.t)
    np.testing.assert_array_equal(got.linear, ref.linear)
    assert got.num_regions("activation") == ref.num_regions("activation")
    # its crossings read as the engine's: the same units as lines reports on a segment inside
    seg = line(m, got.x0 * 0.999, got.x1 * 0.999)
    assert sorted(zip(seg.layer.tolist(), seg.unit.tolist())) == sorted(zip(got.layer.tolist(), got.unit.tolist()))


def test_plane_vertex_values_match_dense():
    """ModuleVertexValues (plane builder interface) against the dense restricted network's."""
    from linregions.engine.plane import ModuleVertexValues
    from linregions.plane.values import DenseVertexValues

    torch.manual_seed(2)
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    shape = (1, 6, 6)
    net = graph.network_from_module(m, shape)
    g = np.random.default_rng(0)
    origin, basis = g.normal(size=36), g.normal(size=(2, 36))
    dense = DenseVertexValues(net.restrict(origin, basis.T))
    mod = ModuleVertexValues(compile_program(m, shape), origin, basis)
    pts = g.normal(size=(50, 2))
    prev = pts
    for l in range(net.depth):
        u_d, u_m = np.empty((50, net.widths[l])), np.empty((50, net.widths[l]))
        s_d = dense.preactivations(l, pts, prev, u_d)
        s_m = mod.preactivations(l, pts, prev, u_m)
        np.testing.assert_allclose(u_m, u_d, rtol=0, atol=1e-12 * np.abs(u_d).max())
        assert s_m.shape == s_d.shape and np.all(s_m >= s_d * (1 - 1e-12))  # |W_2||W_1| >= |W_2 W_1|: a bound
        prev = u_d


@pytest.mark.parametrize("which", [0, 2], ids=["conv-relu-maxpool", "residual"])
def test_row_blocks_on_worker_threads_do_not_change_the_partition(monkeypatch, which):
    """With several torch threads the blocks run on worker threads (``engine.blocks``); tiny
    blocks (many per pass, out of order across threads) give the partition of one block, for the
    driver's passes and the program's (segment maxima of |a|, in-place activation, max-pool candidates)."""
    import linregions.engine.blocks as blocks
    import linregions.engine.program as program
    import linregions.engine.rows as seg  # the driver's row passes
    import linregions.engine.trace as trace

    name, module, shape = MODELS[which]
    X0, X1 = _ends(shape, 3, 6)
    monkeypatch.setattr(seg, "_BLOCK_ELEMS", 1 << 40)
    ref = lines(module, X0, X1)
    monkeypatch.setattr(seg, "_BLOCK_ELEMS", 3)
    monkeypatch.setattr(program, "blockwise", lambda fn, n, w, d: blocks.blockwise(fn, n, w, d, 5))
    monkeypatch.setattr(trace, "blockwise", lambda fn, n, w, d: blocks.blockwise(fn, n, w, d, 5))
    caller = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got = lines(module, X0, X1)
        assert torch.get_num_threads() == 2  # the driver restores the caller's setting
    finally:
        torch.set_num_threads(caller)
    for field in list(FIELDS) + ["slopes", "intercepts"]:
        np.testing.assert_array_equal(getattr(got, field), getattr(ref, field), err_msg=field)
