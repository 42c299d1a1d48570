"""Local complexity (linregions.local_complexity) against independent computations:
exact boundary length in a disc (plane), exact crossings on each probe segment (line), a direct
re-implementation of the published proxy (torch, test-local), and Theorem 6 at small r."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings, strategies as st

import linregions as lr
from linregions.local_complexity import ALL_LAYERS, is_log_step, local_complexity, log_steps, probe_directions

FIXED = settings(derandomize=True, max_examples=12, deadline=None)


def _disc_polygon(center_s: np.ndarray, r: float, m: int) -> np.ndarray:
    a = 2 * np.pi * np.arange(m) / m
    return center_s + r * np.column_stack([np.cos(a), np.sin(a)])


@pytest.mark.parametrize("kind", ["linear", "activation"])
def test_density_matches_exact_length_in_disc(kind):
    # column 1 in 2D: vol_1(B ∩ disc) / area(disc) from the exact planar partition of a polygon
    # inscribed in the disc (m = 720 sides: area and length within 1.3e-5 of the disc's).
    net = lr.random_mlp(2, [12, 12], seed=3)
    x, r = np.array([0.3, -0.2]), 0.9
    df = local_complexity(net, x[None], r, n_chords=3000, columns=("density",), seed=5, progress=False)
    m = 720
    poly = _disc_polygon(np.zeros(2), r, m)
    part = lr.plane(net, x, np.eye(2), domain=poly)
    area = 0.5 * m * r * r * math.sin(2 * math.pi / m)
    exact_all = part.boundary_length(kind) / area
    exact_layer = part.boundary_length(kind, by="layer") / area
    for layer, exact in [(ALL_LAYERS, exact_all)] + list(enumerate(exact_layer)):
        row = df[df["layer"] == layer].iloc[0]
        est, se = row[f"density_{kind}"], row[f"density_{kind}_se"]
        assert se > 0
        assert abs(est - exact) < 4 * se + 1e-4 * exact, (layer, est, se, exact)


def _line_counts(net, x, r, Q):
    """Crossings per layer and distinct neurons crossed, probe by probe with ``line``."""
    d = net.depth
    cross_act, cross_lin = np.zeros(d, int), np.zeros(d, int)
    neurons, neurons_lin = set(), set()
    for q in Q:
        for sgn in (1.0, -1.0):
            part = lr.line(net, x, x + sgn * r * q)
            lin = part.linear[part.crossing_point]
            for l, u, is_lin in zip(part.layer, part.unit, lin):
                cross_act[l] += 1
                neurons.add((int(l), int(u)))
                if is_lin:
                    cross_lin[l] += 1
                    neurons_lin.add((int(l), int(u)))
    per = lambda S: np.bincount([l for l, _ in S], minlength=d)  # noqa: E731
    return cross_act, cross_lin, per(neurons), per(neurons_lin)


@pytest.mark.parametrize("act", [lr.relu(), lr.hard_tanh(), lr.leaky_relu(0.1)])
@pytest.mark.parametrize("n_in,widths", [(5, [10, 8, 6]), (12, [6, 5, 4])])  # n_0 < n_in: probes in u_0 coordinates
def test_probe_counts_match_line_on_each_probe(act, n_in, widths):
    net = lr.random_mlp(n_in, widths, n_out=3, activation=act, biases=lr.Normal(0.3), seed=7)
    X = np.random.default_rng(2).normal(size=(3, n_in))
    Q = probe_directions(n_in, seed=11)
    for r in (0.4, 1.5):
        df = local_complexity(net, X, r, directions=Q, columns=("probes",), progress=False)
        for i, x in enumerate(X):
            ca, cl, na, nl = _line_counts(net, x, r, Q)
            rows = df[(df["sample"] == i)].set_index("layer")
            assert rows.loc[ALL_LAYERS, "probe_crossings_activation"] == ca.sum()
            np.testing.assert_array_equal(rows.loc[list(range(net.depth)), "probe_crossings_activation"], ca)
            np.testing.assert_array_equal(rows.loc[list(range(net.depth)), "probe_crossings_linear"], cl)
            np.testing.assert_array_equal(rows.loc[list(range(net.depth)), "probe_neurons"], na)
            np.testing.assert_array_equal(rows.loc[list(range(net.depth)), "probe_neurons_linear"], nl)
            assert (rows["probe_at_center"] == 0).all()


def _published_proxy_torch(model: torch.nn.Sequential, x: np.ndarray, r: float, Q: np.ndarray) -> list[int]:
    """The published definition, written directly: the 2P vertices x ± r q_i go through the torch
    model; per ReLU layer, count the neurons whose pre-activation is > 0 at some but not all vertices."""
    V = torch.tensor(np.concatenate([x + r * Q, x - r * Q]), dtype=torch.float64)
    counts, h = [], V
    for mod in model:
        h = mod(h)
        if isinstance(mod, torch.nn.Linear) and mod is not model[-1]:
            pos = (h > 0).sum(dim=0)
            counts.append(int(((pos > 0) & (pos < V.shape[0])).sum()))
    return counts


def test_proxy_matches_published_definition_on_fixed_network():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 10), torch.nn.ReLU(),
                                torch.nn.Linear(10, 4)).double()
    X = np.random.default_rng(4).normal(size=(5, 6))
    Q = probe_directions(6, seed=3)
    for r in (0.2, 0.7, 2.0):
        df = local_complexity(model, X, r, directions=Q, columns=("proxy", "probes"), progress=False)
        for i, x in enumerate(X):
            rows = df[df["sample"] == i].set_index("layer")
            expected = _published_proxy_torch(model, x, r, Q)
            assert list(rows.loc[[0, 1], "proxy"]) == expected
            assert rows.loc[ALL_LAYERS, "proxy"] == sum(expected)
    assert (df["proxy_undercount"] >= 0).all()
    on_torch = local_complexity(model, X, 0.7, directions=Q, columns=("proxy",), device="cpu", per_neuron=True, progress=False)
    in_numpy = local_complexity(model, X, 0.7, directions=Q, columns=("proxy",), per_neuron=True, progress=False)
    np.testing.assert_array_equal(on_torch["proxy"], in_numpy["proxy"])


@FIXED
@given(seed=st.integers(0, 10**6), act=st.sampled_from(["relu", "hard_tanh", "abs"]),
       r=st.sampled_from([0.05, 0.5, 3.0]), zero_bias=st.booleans())
def test_proxy_never_exceeds_exact_distinct_neurons(seed, act, r, zero_bias):
    a = {"relu": lr.relu(), "hard_tanh": lr.hard_tanh(), "abs": lr.absolute()}[act]
    net = lr.random_mlp(4, [8, 8], activation=a, biases=lr.Zero() if zero_bias else lr.Normal(0.5), seed=seed)
    X = np.random.default_rng(seed).normal(size=(3, 4))
    X[0] = 0.0  # with zero biases every first-layer neuron sits at its breakpoint at x = 0
    df = local_complexity(net, X, r, n_chords=4, seed=seed, progress=False)
    assert (df["proxy"] <= df["probe_neurons"]).all()
    assert (df["probe_neurons"] - df["probe_at_center"] <= df["probe_crossings_activation"]).all()
    if zero_bias and act != "hard_tanh":  # every first-layer neuron has its breakpoint at x = 0 and switches there
        row = df[(df["sample"] == 0) & (df["layer"] == 0)].iloc[0]
        assert row["probe_at_center"] == row["probe_neurons"] == 8
    assert (df["probe_crossings_linear"] <= df["probe_crossings_activation"]).all()
    assert (df["density_linear"] <= df["density_activation"] + 1e-12).all()


def test_theorem6_prediction_matches_density_averaged_over_law():
    # column 4 against column 1 averaged over networks from the law at small r: paired z-score
    law = lr.NetworkLaw(3, (8, 8), biases=lr.Normal(0.5))
    X = np.random.default_rng(1).normal(scale=0.6, size=(6, 3))
    diffs = {"linear": [], "activation": []}
    for k in range(60):
        net = law.sample(np.random.default_rng([k, 99]))
        df = local_complexity(net, X, 0.15, n_chords=48, bias_law=law.biases, seed=k, progress=False)
        tot = df[df["layer"] == ALL_LAYERS]
        for kind in diffs:
            diffs[kind].append(float((tot[f"density_{kind}"] - tot[f"hr_{kind}"]).mean()))
    for kind, d in diffs.items():
        d = np.array(d)
        z = d.mean() / (d.std(ddof=1) / math.sqrt(d.size))
        assert abs(z) < 4.0, (kind, d.mean(), z)


def test_hr_activation_matches_autograd_integrand_and_is_radius_free():
    # column 4 (activation kind) per layer against Σ_z ‖∇u_z(x)‖ ρ(ξ - z̃_z(x)) written with autograd
    law = lr.Normal(0.4)
    net = lr.random_mlp(4, [6, 5, 4], biases=law, seed=2)
    X = np.random.default_rng(5).normal(size=(3, 4))
    df = local_complexity(net, X, [0.1, 1.0], n_chords=8, bias_law=law, progress=False)
    a = df[df["radius"] == 0.1]["hr_linear"].to_numpy()
    b = df[df["radius"] == 1.0]["hr_linear"].to_numpy()
    np.testing.assert_array_equal(a, b)
    for i, x in enumerate(X):
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        h, expected = xt, []
        for l in range(net.depth):
            W, bias = torch.tensor(net.weights[l]), torch.tensor(net.biases[l])
            u = W @ h + bias
            total = 0.0
            for z in range(u.shape[0]):
                (g,) = torch.autograd.grad(u[z], xt, retain_graph=True)
                total += float(g.norm()) * float(law.pdf(0.0 - (u[z].item() - bias[z].item())))
            expected.append(total)
            h = torch.relu(u)
        rows = df[(df["sample"] == i) & (df["radius"] == 0.1)].set_index("layer")
        np.testing.assert_allclose(rows.loc[[0, 1, 2], "hr_activation"], expected, rtol=1e-10)
        assert rows.loc[ALL_LAYERS, "hr_activation"] == pytest.approx(sum(expected), rel=1e-10)
        assert (rows["hr_linear"] <= rows["hr_activation"] + 1e-12).all()


def test_per_neuron_rows_add_up_to_layer_rows():
    net = lr.random_mlp(3, [5, 4], seed=1)
    X = np.random.default_rng(0).normal(size=(2, 3))
    kw = dict(n_chords=16, seed=3, progress=False)
    per = local_complexity(net, X, 0.8, per_neuron=True, **kw)
    lay = local_complexity(net, X, 0.8, **kw)
    assert len(per) == 2 * net.num_neurons
    s = per.groupby(["sample", "layer"])[["probe_crossings_activation", "probe_neurons", "proxy"]].sum()
    for (i, l), row in s.iterrows():
        ref = lay[(lay["sample"] == i) & (lay["layer"] == l)].iloc[0]
        assert row["probe_crossings_activation"] == ref["probe_crossings_activation"]
        assert row["probe_neurons"] == ref["probe_neurons"]
        assert row["proxy"] == ref["proxy"]


def test_results_do_not_depend_on_chunking():
    net = lr.random_mlp(4, [8, 8], seed=5)
    X = np.random.default_rng(1).normal(size=(7, 4))
    a = local_complexity(net, X, [0.3, 1.0], n_chords=8, seed=2, batch_size=2, progress=False)
    b = local_complexity(net, X, [0.3, 1.0], n_chords=8, seed=2, progress=False)
    c = local_complexity(net, X[3:5], [0.3, 1.0], n_chords=8, seed=2, progress=False)
    pd.testing.assert_frame_equal(a, b)
    d = b[b["sample"].isin([3, 4])].reset_index(drop=True)
    np.testing.assert_array_equal(d["probe_crossings_activation"], c["probe_crossings_activation"])
    assert not np.array_equal(d["density_linear"], c["density_linear"])  # chords follow the sample's index


def test_bad_input_messages():
    net = lr.random_mlp(3, [4], seed=0)
    with pytest.raises(ValueError, match="radius"):
        local_complexity(net, np.zeros((1, 3)), -1.0)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 3\)"):
        local_complexity(net, np.zeros((1, 4)), 1.0)
    with pytest.raises(ValueError, match="columns"):
        local_complexity(net, np.zeros((1, 3)), 1.0, columns=("bogus",))
    with pytest.raises(ValueError, match="bias_law"):
        local_complexity(net, np.zeros((1, 3)), 1.0, columns=("theory",))
    with pytest.raises(ValueError, match="n_probes"):
        local_complexity(net, np.zeros((1, 3)), 1.0, n_probes=5)
    with pytest.raises(TypeError, match="model"):
        local_complexity("net", np.zeros((1, 3)), 1.0)
    with pytest.raises(lr.AssumptionError):
        local_complexity(net, np.zeros((1, 3)), 1.0, bias_law=lr.Zero())


def test_log_schedule():
    s = log_steps(12_000)
    assert s[:30] == list(range(30))
    assert [v for v in s if 30 <= v < 150] == list(range(30, 150, 10))
    assert [v for v in s if 150 <= v < 1000] == list(range(200, 1000, 100))
    assert [v for v in s if v >= 1000] == list(range(1000, 10_000, 1000)) + [10_000]
    assert not is_log_step(155) and is_log_step(3000) and not is_log_step(3500)


def test_proxy_and_probes_on_a_small_cnn():
    # a conv net compiled by linregions.graph: the proxy against the published definition written
    # with torch's own conv, and the exact count on the probes against line
    torch.manual_seed(1)
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(72, 8),
                               torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    X = np.random.default_rng(3).random((2, 64))
    Q = probe_directions(64, n_probes=6, seed=2)
    df = local_complexity(conv, X, 0.5, directions=Q, columns=("probes", "proxy"), input_shape=(1, 8, 8), progress=False)
    net = lr.Network.from_torch(conv, input_shape=(1, 8, 8))
    for i, x in enumerate(X):
        V = torch.tensor(np.concatenate([x + 0.5 * Q, x - 0.5 * Q]), dtype=torch.float64)
        with torch.no_grad():
            u0 = conv[0](V.reshape(-1, 1, 8, 8)).reshape(len(V), -1)
            u1 = conv[3](torch.relu(u0))
        expected = [int(((u > 0).any(0) & ~(u > 0).all(0)).sum()) for u in (u0, u1)]
        rows = df[df["sample"] == i].set_index("layer")
        assert list(rows.loc[[0, 1], "proxy"]) == expected
        _, _, na, _ = _line_counts(net, x, 0.5, Q)
        np.testing.assert_array_equal(rows.loc[[0, 1], "probe_neurons"], na)
