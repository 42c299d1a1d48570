"""linregions.tracker.RegionTracker inside a real PyTorch training loop, checked against
independent oracles (dense sampling of activation patterns, autograd distances)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from linregions.network import Network
from linregions.tracker import RegionTracker


def _model(seed=0, widths=(12, 12)):
    torch.manual_seed(seed)
    layers, a = [], 2
    for w in widths:
        layers += [nn.Linear(a, w), nn.ReLU()]
        a = w
    return nn.Sequential(*layers, nn.Linear(a, 3))


def _patterns(model, X):
    """Activation pattern (sign of every hidden pre-activation) at each input, with torch."""
    out, h = [], torch.as_tensor(X, dtype=torch.float64)
    with torch.no_grad():
        for m in model:
            h = m.double()(h) if isinstance(m, nn.Linear) else m(h)
            if isinstance(m, nn.Linear):
                out.append(h > 0)
    model.float()
    return torch.cat(out[:-1], dim=1).numpy()


def _dense_segment_regions(model, x0, x1, n=20001):
    t = np.linspace(0, 1, n)[:, None]
    P = _patterns(model, x0 + t * (x1 - x0))
    return 1 + int(np.any(P[1:] != P[:-1], axis=1).sum())


def _autograd_distance(model, x):
    """min over hidden neurons of |u(x)| / ||grad u(x)|| (ReLU: the breakpoint is 0), via autograd."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    best, h = np.inf, xt
    mods = list(model.double())
    for i, m in enumerate(mods[:-1]):
        h = m(h)
        if isinstance(m, nn.Linear):
            for k in range(h.shape[0]):
                (g,) = torch.autograd.grad(h[k], xt, retain_graph=True)
                best = min(best, abs(h[k].item()) / g.norm().item())
    model.float()
    return best


def test_tracker_in_a_training_loop_matches_oracles():
    rng = np.random.default_rng(1)
    X0, X1 = rng.normal(size=(4, 2)) * 2, rng.normal(size=(4, 2)) * 2
    P = rng.normal(size=(5, 2))
    # axis-aligned: plane_through's basis is then e1, e2 and its rectangle (margin 0) is [-2, 2]^2
    tri = (np.array([-2.0, -2.0]), np.array([2.0, -2.0]), np.array([-2.0, 2.0]))
    model = _model()
    tr = RegionTracker(segments=(X0, X1), planes=[tri], points=P, every=10, margin=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Xd = torch.randn(256, 2)
    yd = (Xd[:, 0] * Xd[:, 1] > 0).long() + (Xd[:, 0] > 1).long()
    recorded = []
    for epoch in range(3):
        for s in range(0, 256, 32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(Xd[s : s + 32]), yd[s : s + 32]).backward()
            opt.step()
            row = tr.step(model, epoch=epoch)
            if row is not None:
                # oracle at this very moment of training
                dense = np.mean([_dense_segment_regions(model, a, b) for a, b in zip(X0, X1)])
                assert row["segment_regions_activation"] == pytest.approx(dense)
                dist = [_autograd_distance(model, p) for p in P]
                assert row["distance_mean"] == pytest.approx(np.mean(dist), rel=1e-9)
                # the plane through the triangle: dense grid patterns never exceed the exact count
                part_count = row["plane0_regions_activation"]
                g = np.linspace(0, 1, 300)
                U, V = np.meshgrid(g, g)
                grid = np.stack([-2 + 4 * U.ravel(), -2 + 4 * V.ravel()], 1)
                seen = len({p.tobytes() for p in _patterns(model, grid)})
                assert seen <= part_count <= seen * 1.3 + 5
                recorded.append(row)
    df = tr.frame()
    assert list(df["step"]) == [10, 20]  # 24 steps, every 10
    assert list(df["epoch"]) == [1, 2]
    assert len(recorded) == 2
    assert (df["num_neurons"] == 24).all()
    np.testing.assert_allclose(df["segment_boundaries_per_neuron_linear"],
                               (df["segment_regions_linear"] - 1) / 24, rtol=1e-12)  # mean is linear
    assert "RegionTracker(segments=4, planes=1, points=5" in repr(tr)


def test_record_does_not_change_the_model_and_accepts_networks():
    model = _model(3)
    before = [p.detach().clone() for p in model.parameters()]
    tr = RegionTracker(segments=(np.zeros((1, 2)), np.ones((1, 2))), every=1)
    r1 = tr.record(model, step=5)
    for a, b in zip(before, model.parameters()):
        assert torch.equal(a, b)
    r2 = tr.record(Network.from_torch(model), step=6)
    assert r1["segment_regions_linear"] == r2["segment_regions_linear"]
    assert list(tr.frame()["step"]) == [5, 6]


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        RegionTracker()
    with pytest.raises(ValueError, match="every"):
        RegionTracker(points=np.zeros((1, 2)), every=0)
    with pytest.raises(ValueError, match="distance_kind"):
        RegionTracker(points=np.zeros((1, 2)), distance_kind="euclid")
    with pytest.raises(ValueError, match="same shape"):
        RegionTracker(segments=(np.zeros((2, 2)), np.zeros((3, 2))))
    with pytest.raises(ValueError, match="three points"):
        RegionTracker(planes=[(np.zeros(2), np.ones(2))])
    tr = RegionTracker(points=np.zeros((1, 2)))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        tr.record("not a model")


def _dense_star_pattern_changes(model, x, r, Q, n=801):
    """Neurons whose sign changes on the star of probes x + s q (s in [-r, r]), by dense sampling."""
    s = np.linspace(-r, r, n)
    changed = None
    for q in Q:
        P = _patterns(model, x + s[:, None] * q)
        c = np.any(P != P[:1], axis=0)
        changed = c if changed is None else changed | c
    return changed


def test_local_complexity_at_log_steps_matches_direct_computation():
    from linregions.local_complexity import log_steps, probe_directions

    rng = np.random.default_rng(3)
    groups = {"train": rng.normal(size=(3, 2)), "random": rng.normal(size=(2, 2)) * 2}
    Q = probe_directions(2, seed=1)
    model = _model(1, widths=(8, 8))
    tr = RegionTracker(lc_points=groups, lc_radii=(0.3, 1.0), every=10**9,
                       lc_options=dict(directions=Q, n_chords=8))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Xd = torch.randn(64, 2)
    yd = (Xd[:, 0] > Xd[:, 1]).long()
    for step in range(1, 161):
        opt.zero_grad()
        nn.functional.cross_entropy(model(Xd), yd).backward()
        opt.step()
        tr.step(model, loss=0.0)
        if step == 140:  # an LC step: compare with dense sampling of this very model
            df = tr.lc_frame()
            now = df[(df["step"] == 140) & (df["layer"] == -1)].set_index(["group", "radius"])
            for name, X in groups.items():
                for r in (0.3, 1.0):
                    dense = np.mean([_dense_star_pattern_changes(model, x, r, Q).sum() for x in X])
                    # dense sampling sees at most the exact count, and all of it on these tiny nets
                    assert now.loc[(name, r), "probe_neurons"] == pytest.approx(dense)
                    assert now.loc[(name, r), "proxy"] <= now.loc[(name, r), "probe_neurons"]
    lc = tr.lc_frame()
    assert sorted(lc["step"].unique()) == [s for s in log_steps(160) if s >= 1]
    assert set(lc["group"]) == {"train", "random"}
    assert set(lc["layer"]) == {-1, 0, 1}
    assert {"density_linear", "density_linear_sem", "proxy", "probe_crossings_activation", "loss"} <= set(lc.columns)
    assert (lc.groupby(["step", "group", "radius"]).size() == 3).all()
    assert tr.frame().empty  # no full record was due
    assert "lc_groups=2" in repr(tr)


def test_record_includes_local_complexity_once_per_step():
    tr = RegionTracker(points=np.zeros((1, 2)), lc_points={"a": np.zeros((2, 2))}, lc_radii=0.5,
                       lc_options=dict(n_chords=4))
    model = _model(2)
    tr.record(model, step=0)
    tr.record_lc(model, step=0)  # already measured at this step
    assert list(tr.lc_frame()["step"].unique()) == [0]
    assert len(tr.lc_frame()) == 3  # one radius x (all layers, layer 0, layer 1)
    with pytest.raises(ValueError, match="lc_radii"):
        RegionTracker(lc_points={"a": np.zeros((1, 2))})
    with pytest.raises(ValueError, match="lc_every"):
        RegionTracker(lc_points={"a": np.zeros((1, 2))}, lc_radii=1.0, lc_every=0)
