"""The torch engine's goodness flags and row bookkeeping on models with max-pooling, residual adds
and an activation with several breakpoints (hard tanh).

Oracles, independent of the engine's driver:
- the dense path (``graph.compile_module`` + ``linregions.lines``): identical points, crossings
  (mapped by node name and position), breakpoints, kinds, good flags and linear flags;
- the backward pass ``ModuleProgram.reach`` (autograd through the whole program from the input):
  for every reported crossing, the good flag equals the reach of its unit under the pattern that is
  open on either side of its point (read by a plain value pass at the midpoints of the two
  neighbouring intervals; a unit on a breakpoint counts as open);
- the same segments with tiny windows (``chunk_points``), with one and with two torch threads:
  bit-identical results.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import linregions as lr
from linregions import graph
from linregions.engine import compile_program, dense_to_sites, lines
from _models import Residual

FIELDS = ("t", "linear", "point_offsets", "crossing_point", "layer", "unit", "breakpoint", "good", "crossing_offsets",
          "unit_kind", "slopes", "intercepts")


def _models():
    torch.manual_seed(7)
    # two full tournament rounds per 2x2 pool, twice; ReLUs whose crossings may be cut by the pools
    yield "cnn-two-maxpools", nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)).eval(), (1, 8, 8)
    # 3x3 windows with stride 2: rounds that do not compare every pair (partial rounds)
    yield "cnn-3x3-pool", nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(), nn.Linear(12, 2)).eval(), (1, 7, 7)
    yield "residual-maxpool", nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), Residual(2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)).eval(), (1, 4, 4)
    # two breakpoints per unit, saturated units tied in a max-pool
    yield "hardtanh-maxpool", nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.Hardtanh(-0.5, 0.5), nn.MaxPool2d(2), nn.Conv2d(3, 2, 3, padding=1),
        nn.Hardtanh(), nn.Flatten(), nn.Linear(32, 2)).eval(), (1, 8, 8)


MODELS = list(_models())
IDS = [m[0] for m in MODELS]


def _ends(shape, S, seed):
    g = torch.Generator().manual_seed(seed)
    return 2 * torch.randn((S,) + shape, generator=g, dtype=torch.float64), 2 * torch.randn((S,) + shape, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("name,module,shape", MODELS, ids=IDS)
def test_identical_to_dense_path(name, module, shape):
    X0, X1 = _ends(shape, 3, 11)
    eng = lines(module, X0, X1)
    comp = graph.compile_module(module, shape)
    dense = lr.lines(comp.network, X0.reshape(3, -1).numpy(), X1.reshape(3, -1).numpy())
    assert eng.t.size > 3 * 5 and 0 < eng.good.sum() < eng.good.size  # good and not good crossings occur
    np.testing.assert_array_equal(eng.point_offsets, dense.point_offsets)
    np.testing.assert_allclose(eng.t, dense.t, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(eng.linear, dense.linear)
    so, uo = dense_to_sites(compile_program(module, shape), comp)
    dl = np.array([so[l][u] for l, u in zip(dense.layer, dense.unit)], np.int64)
    du = np.array([uo[l][u] for l, u in zip(dense.layer, dense.unit)], np.int64)
    key = lambda cp, l, u, bp, g, k: sorted(zip(cp.tolist(), l.tolist(), u.tolist(), bp.tolist(), g.tolist(), k.tolist()))  # noqa: E731
    assert key(eng.crossing_point, eng.layer, eng.unit, eng.breakpoint, eng.good, eng.unit_kind) == \
        key(dense.crossing_point, dl, du, dense.breakpoint, dense.good, dense.unit_kind)


def _site_open(prog, X):
    """Per site, (rows, n_l) bool: the units open at inputs X by a plain value pass; a unit within
    1e-9 (relative) of a breakpoint counts as open (on a breakpoint, as the engine's snapped
    interval states: e.g. two saturated units tied in a max-pool)."""
    env, out = {prog.input_key: X}, []

    def site(l, u):
        near = torch.zeros(u.shape, dtype=torch.bool)
        for x in prog.sites[l].act.breakpoints:
            near |= (u - float(x)).abs() <= 1e-9 * (1 + u.abs().amax(1, keepdim=True))
        out.append(prog.opens(l, 2 * prog.pieces(l, u)) | near)
        return prog.activate(l, u)

    with torch.no_grad():
        prog._run("value", env, 0, len(prog.steps), site)
    return out


@pytest.mark.parametrize("name,module,shape", MODELS, ids=IDS)
def test_good_flags_match_the_backward_pass(name, module, shape):
    prog = compile_program(module, shape)
    S = 3
    X0, X1 = _ends(shape, S, 12)
    b = lines(prog, X0, X1)
    assert b.layer.size > 10
    seg = np.searchsorted(b.point_offsets, np.arange(b.t.size), side="right") - 1
    cp = b.crossing_point
    ends = lambda i, d: np.where((i + d >= b.point_offsets[seg[i]]) & (i + d < b.point_offsets[seg[i] + 1]), b.t[np.clip(i + d, 0, b.t.size - 1)], float(d > 0))  # noqa: E731
    t_left = (ends(cp, -1) + b.t[cp]) / 2  # midpoints of the intervals on either side of each crossing's point
    t_right = (ends(cp, 1) + b.t[cp]) / 2
    sg = torch.as_tensor(seg[cp])
    at = lambda t: X0[sg] + torch.as_tensor(t).reshape((-1,) + (1,) * len(shape)) * (X1[sg] - X0[sg])  # noqa: E731
    masks = [(a | c).to(torch.float64) for a, c in zip(_site_open(prog, at(t_left)), _site_open(prog, at(t_right)))]
    R = prog.reach(masks, 7)
    want = np.array([bool(R[l][e, z]) for e, (l, z) in enumerate(zip(b.layer, b.unit))])
    assert 0 < want.sum() < want.size
    np.testing.assert_array_equal(b.good, want)


@pytest.mark.parametrize("name,module,shape", MODELS, ids=IDS)
@pytest.mark.parametrize("threads", [1, 2])
def test_windows_and_threads_do_not_change_the_partition(name, module, shape, threads):
    """Tiny windows (rows shared at their ends, interval states kept as row maps of earlier sites,
    max-pool candidates gathered in part) and worker threads (blocks and goodness passes) give the
    partition of one window on one thread (the affine pieces to rounding: the module's ops run on
    other batches)."""
    prog = compile_program(module, shape)
    X0, X1 = _ends(shape, 3, 13)
    ref = lines(prog, X0, X1)
    caller = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for cp in (3, 8, 4096):
            got = lines(prog, X0, X1, chunk_points=cp)
            for f in FIELDS[:-2]:
                np.testing.assert_array_equal(getattr(got, f), getattr(ref, f), err_msg=f"{f} (chunk_points={cp})")
            for f in FIELDS[-2:]:  # the module's ops on other batches: the last bits of the pieces may differ
                np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=1e-12, atol=1e-13, err_msg=f)
    finally:
        torch.set_num_threads(caller)


def test_gather_and_row_maps_match_the_row_formulas(monkeypatch):
    """``_gather``: old rows copied, new rows X[k] + lam (X[k + 1] - X[k]) bit for bit (several new
    rows in one interval, rows over several blocks); ``_States``: row maps give the rows of a
    gathered copy and the changes of the copy's consecutive rows."""
    import linregions.engine.rows as seg
    from linregions.engine.protocol import insert_rows

    g = torch.Generator().manual_seed(5)
    X = torch.randn((6, 3, 5), generator=g, dtype=torch.float64)
    k = torch.tensor([0, 0, 0, 2, 4, 4])
    lam = torch.rand(6, generator=g, dtype=torch.float64)
    ids = insert_rows(torch.arange(6), k, -1 - torch.arange(6))
    want = torch.cat([X[i][None] if i >= 0 else (X[k[-1 - i]] + lam[-1 - i] * (X[k[-1 - i] + 1] - X[k[-1 - i]]))[None]
                      for i in ids.tolist()])
    for elems in (1, 31, 1 << 20):  # one row per block, two rows, one block
        monkeypatch.setattr(seg, "_BLOCK_ELEMS", elems)
        got = seg._gather(X, ids, k, lam, True)
        inherited = seg._gather(X, ids, k, lam, False)
        assert torch.equal(got, want) and torch.equal(got.view(torch.int64), want.view(torch.int64))
        assert torch.equal(inherited, X[torch.where(ids >= 0, ids, k[(-1 - ids).clamp(min=0)])])
    s = torch.randint(0, 3, (6, 4), generator=g, dtype=torch.int8)
    st = seg._States(s).split(ids, k)
    full = s[torch.where(ids >= 0, ids, k[(-1 - ids).clamp(min=0)])]
    assert torch.equal(st.rows(slice(None)), full)
    left = torch.ones(ids.numel() - 1, dtype=torch.bool)
    left[3] = False
    r, z = st.changes(left)
    rw, zw = torch.nonzero((full[:-1] != full[1:]) & left[:, None], as_tuple=True)
    assert torch.equal(r, rw) and torch.equal(z, zw)


def test_zero_unless_is_masked_fill():
    from linregions.engine.program import _zero_unless

    x = torch.tensor([1.5, -2.0, -0.0, 0.0, -0.0, 3.0, -1e-300, float("inf")], dtype=torch.float64)
    keep = torch.tensor([True, False, True, False, False, True, False, True])
    want = x.clone().masked_fill_(~keep, 0.0)
    _zero_unless(x, keep)
    assert torch.equal(x.view(torch.int64), want.view(torch.int64))  # the bits: -0.0 kept where kept
