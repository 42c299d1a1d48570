"""Compiling conv / residual / pooling modules into Networks (linregions.graph).

Oracles, all independent of graph.py:
- the module itself (float64 forward, autograd slopes, forward hooks on its ReLUs, its pools'
  windows via F.unfold) sampled densely along segments;
- the same map written by hand as an explicit MLP (affine blocks unrolled with torch.func.jacrev
  of the block, max(a, b) = relu(a - b) + relu(b) - relu(-b), a carried x = relu(x) - relu(-x)),
  read by the core's Network.from_torch; its linear-region breakpoints (slope jumps) must be the
  compiled network's ones exactly, and the crossings of the real neurons too.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from linregions.graph import (
    CompiledNetwork,
    GraphError,
    check_independent_biases,
    compile_module,
    compiled_from,
    crossing_kinds,
    network_from_module,
    shared_bias_groups,
)
from linregions.laws import AssumptionError
from linregions.line import lines
from linregions.network import ARGMAX, NEURON, PASSTHROUGH, Network
from _models import randomize_bn as _randomize_bn

GRID = 6001  # dense samples per segment


def _seed(s):
    torch.manual_seed(s)
    return np.random.default_rng(s)


def _outputs_agree(module, compiled: CompiledNetwork, n=40):
    X = torch.randn((n,) + compiled.input_shape, dtype=torch.float64)
    with torch.no_grad():
        ref = module(X).reshape(n, -1).numpy()
    got = compiled.network(X.reshape(n, -1).numpy())
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * (1 + np.abs(ref).max()))


def _affine(fn, n_in):
    """(W, b) of an affine map of flat vectors, by autograd (independent of graph.py)."""
    x0 = torch.zeros(n_in, dtype=torch.float64)
    W = torch.func.jacrev(fn)(x0).reshape(-1, n_in)
    return W.detach().numpy(), fn(x0).reshape(-1).detach().numpy()


def _mlp(layers, acts=None):
    """Network from a list of (W, b) with ReLU between them (through the core's from_torch)."""
    mods = []
    for i, (W, b) in enumerate(layers):
        lin = nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W))
            lin.bias.copy_(torch.as_tensor(b))
        mods.append(lin)
        if i < len(layers) - 1:
            mods.append(nn.ReLU())
    return Network.from_torch(nn.Sequential(*mods))


def _max_mlp_layer(n, pairs, carry=None):
    """Affine map to units [relu(a-b), relu(b), relu(-b)] per pair (a, b) of n inputs, plus
    relu(x), relu(-x) for each input index in ``carry``; and the map back m = r1 + r2 - r3."""
    carry = [] if carry is None else list(carry)
    W = np.zeros((3 * len(pairs) + 2 * len(carry), n))
    back = np.zeros((len(pairs) + len(carry), W.shape[0]))
    for i, (a, b) in enumerate(pairs):
        W[3 * i, a], W[3 * i, b] = 1, -1
        W[3 * i + 1, b], W[3 * i + 2, b] = 1, -1
        back[i, 3 * i : 3 * i + 3] = (1, 1, -1)
    o = 3 * len(pairs)
    for j, c in enumerate(carry):
        W[o + 2 * j, c], W[o + 2 * j + 1, c] = 1, -1
        back[len(pairs) + j, o + 2 * j : o + 2 * j + 2] = (1, -1)
    return W, back


def _segments(rng, shape, S):
    n = int(np.prod(shape))
    return rng.normal(size=(S, n)), rng.normal(size=(S, n))


def _cells(t):
    """Grid cell (between samples k and k+1) of each t in (0, 1)."""
    return np.floor(np.asarray(t) * (GRID - 1)).astype(np.int64)


def _slope_change_cells(module, x0, x1, shape):
    """Cells where d/dt module(x(t)) changes (dense sampling of the module's own slopes)."""
    tm = np.linspace(0, 1, GRID)
    X = torch.as_tensor(x0[None] + tm[:, None] * (x1 - x0)[None]).reshape((-1,) + shape)
    V = torch.as_tensor(np.broadcast_to(x1 - x0, (tm.size, x0.size)).copy()).reshape((-1,) + shape)
    X.requires_grad_(True)
    out = module(X).reshape(tm.size, -1)  # samples are independent: grad of a column sum = per-sample rows
    rows = [torch.autograd.grad(out[:, k].sum(), X, retain_graph=True)[0] for k in range(out.shape[1])]
    dN = torch.stack([(r * V).reshape(tm.size, -1).sum(1) for r in rows], 1).numpy()
    jump = np.linalg.norm(np.diff(dN, axis=0), axis=1) > 1e-8 * (np.linalg.norm(dN[1:], axis=1) + np.linalg.norm(dN[:-1], axis=1))
    return set(np.nonzero(jump)[0].tolist())  # sample k differs from k+1: a boundary in cell k


def _hook_patterns(module, relus, x0, x1, shape, pools=()):
    """Sign patterns of the inputs of the given ReLU modules, and the argmax *sets* of the given
    max-pool modules (all tied maxima), at the grid points."""
    rec = {}
    hs = [m.register_forward_hook(lambda m, i, o, k=k: rec.__setitem__(k, i[0].detach().clone())) for k, m in enumerate(relus + list(pools))]
    t = np.linspace(0, 1, GRID)
    with torch.no_grad():
        module(torch.as_tensor(x0[None] + t[:, None] * (x1 - x0)[None]).reshape((-1,) + shape))
    for h in hs:
        h.remove()
    pats = [(rec[k] > 0).reshape(GRID, -1).numpy() for k in range(len(relus))]
    sets = []
    for j, p in enumerate(pools):  # non-overlapping k x k windows (stride == kernel): a reshape
        inp = rec[len(relus) + j]
        k = p.kernel_size
        G, C, H, W = inp.shape
        cols = inp.reshape(G, C, H // k, k, W // k, k).permute(0, 1, 2, 4, 3, 5).reshape(G, C * (H // k) * (W // k), k * k)
        top = cols.max(dim=2, keepdim=True).values
        sets.append((cols == top).numpy())
    return pats, sets


def _changes(p):
    """{(cell, unit)} where the sampled pattern differs between consecutive samples."""
    d = np.any(p[1:] != p[:-1], axis=-1) if p.ndim == 3 else p[1:] != p[:-1]
    k, u = np.nonzero(d)
    return set(zip(k.tolist(), u.tolist()))


# ----------------------------------------------------------------------------------------------
# CNN with max-pooling


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


def _cnn_by_hand(m: SmallCNN) -> Network:
    """The CNN as an explicit MLP: conv unrolled, each 2x2 max as two rounds of pairs."""
    W1, b1 = _affine(lambda v: m.conv(v.reshape(1, 1, 6, 6)), 36)  # 32 units, (c, h, w) order
    win = F.unfold(torch.arange(32, dtype=torch.float64).reshape(1, 2, 4, 4), 2, stride=2)  # (1, 2*4, 4)
    win = win.reshape(2, 4, 4).permute(0, 2, 1).reshape(8, 4).long().numpy()  # window of pooled unit c*4+l
    Wa, back_a = _max_mlp_layer(32, [(w[0], w[1]) for w in win] + [(w[2], w[3]) for w in win])
    # round 2 inputs: first 8 are max(w0, w1), next 8 are max(w2, w3)
    Wb, back_b = _max_mlp_layer(16, [(i, 8 + i) for i in range(8)])
    Wfc, bfc = m.fc.weight.detach().numpy(), m.fc.bias.detach().numpy()
    return _mlp([(W1, b1), (Wa, np.zeros(Wa.shape[0])), (Wb @ back_a, np.zeros(Wb.shape[0])), (Wfc @ back_b, bfc)])


def test_cnn_maxpool_matches_module_mlp_and_sampling():
    rng = _seed(0)
    m = SmallCNN().double()
    c = compile_module(m, (1, 6, 6))
    net = c.network
    _outputs_agree(m, c)
    kinds = np.concatenate([net.kinds(l) for l in range(net.depth)])
    assert (kinds == NEURON).sum() == 32 and (kinds == ARGMAX).sum() == 8 * 3  # 3 comparisons per window of 4
    hand = _mlp_ok = _cnn_by_hand(m)
    X0, X1 = _segments(rng, (1, 6, 6), 3)
    np.testing.assert_allclose(hand(X0), net(X0), atol=1e-12)
    got, ref = lines(net, X0, X1), lines(hand, X0, X1)
    n_arg = n_change = 0
    for i in range(3):
        g, r = got[i], ref[i]
        # linear regions: identical breakpoints (the function is the same)
        np.testing.assert_allclose(g.breakpoints("linear"), r.breakpoints("linear"), atol=1e-9)
        # the conv neurons: same crossings, same units (both in (c, h, w) order)
        gk = crossing_kinds(net, g)
        assert np.array_equal(g.unit_kind, gk)  # lines reports the kind of every crossing
        gn = sorted(zip(np.round(g.t[g.crossing_point[gk == NEURON]], 9), g.unit[gk == NEURON]))
        rm = r.layer == 0
        rn = sorted(zip(np.round(r.t[r.crossing_point[rm]], 9), r.unit[rm]))
        assert gn == rn and len(gn) > 5
        # dense sampling of the module: relu pattern changes, argmax-set changes, slope changes
        pats, sets = _hook_patterns(m, [m.relu], X0[i], X1[i], (1, 6, 6), [m.pool])
        assert _changes(pats[0]) == set(zip(_cells(g.t[g.crossing_point[gk == NEURON]]).tolist(), g.unit[gk == NEURON].tolist()))
        am = c.argmax_changes(g)
        assert np.all(gk[am] == ARGMAX)
        pos = np.array([c.unit_position[l][u] for l, u in zip(g.layer[am], g.unit[am])], np.int64)
        assert _changes(sets[0]) == set(zip(_cells(g.t[g.crossing_point[am]]).tolist(), pos.tolist()))
        assert _slope_change_cells(m, X0[i], X1[i], (1, 6, 6)) == set(_cells(g.breakpoints("linear")).tolist())
        n_arg += int((gk == ARGMAX).sum())
        n_change += int(am.sum())
    assert n_change > 3 and n_arg >= n_change  # argmax crossings exist and are labelled
    assert np.array_equal(c.argmax_changes(got), np.concatenate([c.argmax_changes(p) for p in got]))  # LineBatch too


def test_plane_and_distance_on_compiled_cnn_match_the_explicit_mlp():
    """plane / distance_to_boundary see the same function (linear regions) as on the hand MLP."""
    from linregions.distance import distance_to_boundary
    from linregions.plane import plane

    rng = _seed(6)
    m = SmallCNN().double()
    c = compile_module(m, (1, 6, 6))
    hand = _cnn_by_hand(m)
    x0, B = rng.normal(size=36), np.linalg.qr(rng.normal(size=(36, 2)))[0]
    pc, ph = plane(c.network, x0, B, (-2, 2, -2, 2)), plane(hand, x0, B, (-2, 2, -2, 2))
    assert pc.num_regions("linear") == ph.num_regions("linear") > 10
    np.testing.assert_allclose(np.sort(pc.areas("linear")), np.sort(ph.areas("linear")), atol=1e-9)
    assert set(np.unique(pc.edge_kind[pc.edge_layer >= 0]).tolist()) == {NEURON, ARGMAX}
    X = rng.normal(size=(3, 36))
    dc, dh = distance_to_boundary(c.network, X, kind="linear"), distance_to_boundary(hand, X, kind="linear")
    np.testing.assert_allclose(dc.distance, dh.distance, rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# ResNet-style block


class ResBlock(nn.Module):
    """y = relu(x + conv2(relu(conv1(x)))) -> linear; the skip connection is an fx add node."""

    def __init__(self, ch=2):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.fc = nn.Linear(ch * 16, 1)

    def forward(self, x):
        y = self.relu2(x + self.conv2(self.relu1(self.conv1(x))))
        return self.fc(torch.flatten(y, 1))


def test_resnet_block_matches_module_mlp_and_sampling():
    rng = _seed(1)
    m = ResBlock().double()
    shape = (2, 4, 4)
    c = compile_module(m, shape)
    net = c.network
    _outputs_agree(m, c)
    assert net.depth == 2 and int((net.kinds(0) == PASSTHROUGH).sum()) == 32  # x carried through layer 0
    assert not np.any(net.kinds(1) == PASSTHROUGH)
    # by hand: layer 0 = relu(conv1 x), relu(x), relu(-x); layer 1 = relu(x + conv2 h)
    W1, b1 = _affine(lambda v: m.conv1(v.reshape((1,) + shape)), 32)
    Wc2, bc2 = _affine(lambda v: m.conv2(v.reshape((1,) + shape)), 32)
    L0 = (np.concatenate([W1, np.eye(32), -np.eye(32)]), np.concatenate([b1, np.zeros(64)]))
    L1 = (np.concatenate([Wc2, np.eye(32), -np.eye(32)], axis=1), bc2)
    hand = _mlp([L0, L1, (m.fc.weight.detach().numpy(), m.fc.bias.detach().numpy())])
    X0, X1 = _segments(rng, shape, 3)
    got, ref = lines(net, X0, X1), lines(hand, X0, X1)
    names = {n: i for i, n in enumerate(c.node_names)}
    for i in range(3):
        g, r = got[i], ref[i]
        np.testing.assert_allclose(g.breakpoints("linear"), r.breakpoints("linear"), atol=1e-9)
        # real neurons of the hand MLP: layer 0 units < 32 and all of layer 1
        real = ((r.layer == 0) & (r.unit < 32)) | (r.layer == 1)
        rn = sorted(zip(np.round(r.t[r.crossing_point[real]], 9), r.layer[real], r.unit[real]))
        gn = sorted(zip(np.round(g.t[g.crossing_point], 9), g.layer, [c.unit_position[l][u] for l, u in zip(g.layer, g.unit)]))
        assert gn == rn and len(gn) > 10
        pats, _ = _hook_patterns(m, [m.relu1, m.relu2], X0[i], X1[i], shape)
        for p, relu_name in zip(pats, ("relu1", "relu2")):
            mask = np.array([c.unit_node[l][u] == names[relu_name] for l, u in zip(g.layer, g.unit)], bool)
            pos = [c.unit_position[l][u] for l, u in zip(g.layer[mask], g.unit[mask])]
            assert _changes(p) == set(zip(_cells(g.t[g.crossing_point[mask]]).tolist(), pos))
        assert _slope_change_cells(m, X0[i], X1[i], shape) == set(_cells(g.breakpoints("linear")).tolist())


# ----------------------------------------------------------------------------------------------
# AvgPool + BatchNorm (all affine between activations)


def test_avgpool_batchnorm_net_matches_unrolled_mlp():
    rng = _seed(2)
    m = nn.Sequential(
        nn.Conv2d(1, 3, 3), _randomize_bn(nn.BatchNorm2d(3)), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(12, 6), nn.BatchNorm1d(6), nn.Hardtanh(), nn.Linear(6, 1),
    ).double().eval()
    with torch.no_grad():
        m[6].running_mean.normal_(), m[6].running_var.uniform_(0.5, 2.0)
    c = compile_module(m, (1, 6, 6))
    net = c.network
    _outputs_agree(m, c)
    assert net.widths == (48, 6) and not net.has_special_units
    W1, b1 = _affine(lambda v: m[1](m[0](v.reshape(1, 1, 6, 6))), 36)
    W2, b2 = _affine(lambda v: m[6](m[5](m[4](m[3](v.reshape(1, 3, 4, 4))))), 48)
    hand_seq = nn.Sequential(nn.Linear(36, 48), nn.ReLU(), nn.Linear(48, 6), nn.Hardtanh(), nn.Linear(6, 1)).double()
    with torch.no_grad():
        for lin, (W, b) in zip(hand_seq[::2], [(W1, b1), (W2, b2), (m[8].weight.numpy(), m[8].bias.numpy())]):
            lin.weight.copy_(torch.as_tensor(W))
            lin.bias.copy_(torch.as_tensor(b))
    hand = Network.from_torch(hand_seq)
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], hand.weights[l], atol=1e-12)
        np.testing.assert_allclose(net.biases[l], hand.biases[l], atol=1e-12)
    X0, X1 = _segments(rng, (1, 6, 6), 4)
    got, ref = lines(net, X0, X1), lines(hand, X0, X1)
    assert np.array_equal(got.num_regions("activation"), ref.num_regions("activation"))
    np.testing.assert_allclose(got.t, ref.t, atol=1e-9)
    assert np.array_equal(got.layer, ref.layer) and np.array_equal(got.unit, ref.unit)
    assert np.array_equal(got.good, ref.good) and np.array_equal(got.linear, ref.linear)


# ----------------------------------------------------------------------------------------------
# other graphs: functional maxima, strided/padded/ceil pooling, 1-d


class Mixed(nn.Module):
    def forward(self, x):
        a, b = x[:, :3], x[:, 3:]
        return torch.maximum(a, b) + torch.minimum(a, -b) + torch.amax(x, dim=1, keepdim=True) + 0.5 * x.clamp(min=0.5)[:, :3] - 1.0


class BasicBlock(nn.Module):
    """torchvision-style basic block with batch norm and a strided 1x1 shortcut."""

    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False), _randomize_bn(nn.BatchNorm2d(3))
        self.c2, self.b2 = nn.Conv2d(3, 3, 3, padding=1, bias=False), _randomize_bn(nn.BatchNorm2d(3))
        self.down = nn.Sequential(nn.Conv2d(2, 3, 1, stride=2, bias=False), _randomize_bn(nn.BatchNorm2d(3)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        out = F.relu(self.b1(self.c1(x)))
        out = self.b2(self.c2(out))
        out = F.relu(out + self.down(x))
        return self.fc(torch.flatten(self.pool(out), 1))


@pytest.mark.parametrize(
    "module, shape",
    [
        (BasicBlock(), (2, 6, 6)),
        (Mixed(), (6,)),
        (nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.LeakyReLU(0.1), nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True),
                       nn.Flatten(), nn.Linear(15, 2)), (2, 9)),
        (nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d((2, 3)), nn.Flatten(),
                       nn.Linear(12, 1)), (1, 7, 6)),
        (nn.Sequential(nn.Conv2d(1, 2, 2), nn.PReLU(2), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(8, 3), nn.ReLU6(),
                       nn.Linear(3, 1)), (1, 5, 5)),
    ],
)
def test_outputs_match_module(module, shape):
    _seed(3)
    module = module.double().eval()
    if isinstance(module, nn.Sequential) and isinstance(module[1], nn.PReLU):
        with torch.no_grad():
            module[1].weight.copy_(torch.tensor([0.2, -0.5]))
    c = compile_module(module, shape)
    _outputs_agree(module, c, n=200)
    # the Jacobian of the compiled network is the module's (autograd) at generic points
    X = torch.randn((5,) + shape, dtype=torch.float64)
    J = torch.stack([torch.autograd.functional.jacobian(lambda v: module(v[None]).reshape(-1), x) for x in X])
    J = J.reshape(5, -1, int(np.prod(shape)))
    np.testing.assert_allclose(c.network.jacobian(X.reshape(5, -1).numpy()), J.detach().numpy(), atol=1e-10)


def test_network_from_module_mlp_equals_from_torch():
    _seed(4)
    seq = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    a, b = network_from_module(seq, (3,)), Network.from_torch(seq)
    assert a.widths == b.widths and not a.has_special_units
    assert compiled_from(a).network is a and compiled_from(b) is None
    for Wa, Wb in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_allclose(Wa, Wb, atol=1e-14)


# ----------------------------------------------------------------------------------------------
# refusals


class _Gelu(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return F.gelu(self.fc(x)).sum(1)


class _Square(nn.Module):
    def forward(self, x):
        return (torch.relu(x) * x).sum(1)


class _Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return torch.relu(x)
        return x


@pytest.mark.parametrize(
    "module, shape, words",
    [
        (nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1)), (4,), ["node '_1'", "Tanh", "smooth"]),
        (_Gelu(), (4,), ["node 'gelu'", "torch.nn.functional.gelu", "not piecewise linear"]),
        (_Square(), (4,), ["node 'mul'", "product of two input-dependent"]),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).train(), (1, 5, 5), ["node '_1'", "BatchNorm2d", "eval"]),
        (nn.Sequential(nn.Linear(4, 4), nn.Hardshrink(0.5)), (4,), ["node '_1'", "discontinuous"]),
        (nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=1)), (4,), ["node '_1'", "Softmax"]),
        (nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.LayerNorm(4)), (4,), ["node '_2'", "LayerNorm", "not supported"]),
        (nn.Sequential(nn.Conv2d(1, 1, 2), nn.ReLU(), nn.MaxPool2d(2, return_indices=True)), (1, 5, 5), ["node '_2'", "indices"]),
        (_Branchy(), (4,), ["torch.fx could not trace", "control flow"]),
        (nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1)), (4,), ["affine", "one linear region"]),
    ],
)
def test_unsupported_modules_refused_by_name(module, shape, words):
    with pytest.raises(ValueError) as e:
        compile_module(module.double(), shape)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_bad_arguments():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        compile_module(lambda x: x, (3,))
    with pytest.raises(ValueError, match="input_shape"):
        compile_module(nn.Linear(3, 1), (0, 3))
    with pytest.raises(TypeError, match="input_shape"):
        compile_module(nn.Linear(3, 1), None)
    with pytest.raises(ValueError, match="shape"):
        compile_module(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), (5,))


# ----------------------------------------------------------------------------------------------
# shared biases (assumption A2)


def test_shared_bias_groups_and_a2_check():
    _seed(5)
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    c = compile_module(cnn, (1, 6, 6))
    g = shared_bias_groups(c)
    # conv units: one group per channel (16 positions each); linear units: one group each
    assert len(np.unique(g[0][:16])) == 1 and len(np.unique(g[0][16:])) == 1 and g[0][0] != g[0][16]
    assert len(np.unique(g[1])) == 3 and not set(g[1]) & set(g[0])
    assert c.bias_names[:2] == ("0.bias[0]", "0.bias[1]")
    with pytest.raises(AssumptionError, match=r"share a bias \(0\.bias\[0\]\)"):
        check_independent_biases(c)
    check_independent_biases(c, [[0, 0], [0, 16], [1, 0], [1, 2]])  # one per group: fine
    with pytest.raises(AssumptionError, match="A2 fails"):
        check_independent_biases(c, [[0, 3], [0, 4]])
    # an MLP compiled through the graph path has independent biases
    mlp = compile_module(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).double(), (3,))
    check_independent_biases(mlp)
    # argmax units have no bias parameter (a - b cancels the shared bias)
    pc = compile_module(SmallCNN().double(), (1, 6, 6))
    am = [(l, u) for l in range(pc.network.depth) for u in np.nonzero(pc.network.kinds(l) == ARGMAX)[0]]
    assert all(shared_bias_groups(pc)[l][u] == -2 for l, u in am)
    with pytest.raises(AssumptionError, match="argmax unit"):
        check_independent_biases(pc, [am[0]])
    # BatchNorm's shift joins the conv channel's group
    bn = compile_module(nn.Sequential(nn.Conv2d(1, 2, 3), _randomize_bn(nn.BatchNorm2d(2)), nn.ReLU(), nn.Flatten(),
                                      nn.Linear(32, 1)).double().eval(), (1, 6, 6))
    assert bn.bias_sources[0][0].sum() == 2 and len(np.unique(shared_bias_groups(bn)[0])) == 2


def test_theory_refuses_shared_biases_and_argmax_units():
    """Theorem 6 on compiled conv nets: A2 fails for shared conv biases (refused, except the
    per-neuron k = 1 activation estimator, which warns) and for argmax units (refused)."""
    from linregions import Normal
    from linregions.theory import Segment, theorem6

    _seed(5)
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    net = compile_module(cnn, (1, 6, 6)).network
    seg = Segment(np.zeros(36), np.ones(36))
    with pytest.raises(AssumptionError, match="share a bias"):
        theorem6(net, seg, k=1, bias_law=Normal(0.1), kind="linear", n_samples=8)
    with pytest.warns(UserWarning, match="share a bias"):
        est = theorem6(net, seg, k=1, bias_law=Normal(0.1), kind="activation", n_samples=8)
    assert np.isfinite(est.value)
    pooled = compile_module(SmallCNN().double(), (1, 6, 6)).network
    with pytest.raises(AssumptionError, match="ARGMAX"):
        theorem6(pooled, seg, k=1, bias_law=Normal(0.1), kind="activation", n_samples=8)
