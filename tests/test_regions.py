"""Region tables, dual graphs, decision topology, point location and local maps
(linregions.regions) against independent oracles: LPs, closed forms, pixel flood fills,
forward-pass activation patterns."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from scipy.optimize import linprog

from linregions import Network, line, plane, random_mlp, relu
from linregions.activations import hard_tanh
from linregions.laws import Normal
from linregions.regions import (class_components, decision_betti, dual_graph, local_maps, locate,
                                packed_patterns, region_table)

BOX = (-2.0, 2.0, -2.0, 2.0)


@pytest.fixture(scope="module")
def part3():
    net = random_mlp(2, [16, 16], 3, biases=Normal(0.5), seed=3)
    return plane(net, [0.0, 0.0], np.eye(2), BOX)


def _rings(part):
    return [part.vertices[part.face_vertices[part.face_ptr[f]: part.face_ptr[f + 1]]] for f in range(part.num_faces)]


def test_table_sizes_sum_to_the_domain(part3):
    df = region_table(part3)
    assert len(df) == part3.num_faces
    assert df["area"].sum() == pytest.approx(16.0, rel=1e-12)
    interior = part3.edge_layer >= 0
    L = np.hypot(*(part3.vertices[part3.edges[:, 1]] - part3.vertices[part3.edges[:, 0]]).T)
    assert df["perimeter"].sum() == pytest.approx(2 * L[interior].sum() + 16.0, rel=1e-12)
    lin = region_table(part3, "linear")
    assert len(lin) == part3.num_regions("linear")
    assert lin["area"].sum() == pytest.approx(16.0, rel=1e-12)
    assert lin["n_faces"].sum() == part3.num_faces
    # centroids: area-weighted mean of all centroids is the domain's centre
    assert np.average(df["centroid_x"], weights=df["area"]) == pytest.approx(0.0, abs=1e-12)
    assert np.average(lin["centroid_y"], weights=lin["area"]) == pytest.approx(0.0, abs=1e-12)


def test_inradius_against_an_lp(part3):
    df = region_table(part3, columns=["chebyshev"])
    rng = np.random.default_rng(0)
    for f in rng.choice(part3.num_faces, 40, replace=False):
        ring = _rings(part3)[f]
        E = np.roll(ring, -1, axis=0) - ring
        L = np.hypot(*E.T)
        keep = L > 0
        n = np.stack([E[keep, 1], -E[keep, 0]], 1) / L[keep, None]
        b = (n * ring[keep]).sum(1)
        res = linprog([0, 0, -1], A_ub=np.c_[n, np.ones(n.shape[0])], b_ub=b, bounds=[(None, None)] * 2 + [(0, None)])
        assert res.success
        assert df["inradius"][f] == pytest.approx(-res.fun, rel=1e-9, abs=1e-13)
        c = np.array([df["chebyshev_x"][f], df["chebyshev_y"][f]])
        assert np.all(b - n @ c >= df["inradius"][f] * (1 - 1e-9) - 1e-13)


def test_shape_columns_closed_forms():
    # one neuron x = 0.5 cuts the square [-1, 1]^2 into rectangles 1.5 x 2 and 0.5 x 2
    net = Network((np.array([[1.0, 0.0]]), np.array([[1.0]])), (np.array([-0.5]), np.zeros(1)), (relu(),))
    part = plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    df = region_table(part).sort_values("area").reset_index(drop=True)
    np.testing.assert_allclose(df["area"], [1.0, 3.0])
    np.testing.assert_allclose(df["perimeter"], [5.0, 7.0])
    np.testing.assert_array_equal(df["vertex_count"], [4, 4])
    np.testing.assert_allclose(df["centroid_x"], [0.75, -0.25])
    np.testing.assert_allclose(df["inradius"], [0.25, 0.75])
    # rectangle w x h: covariance eigenvalues w^2/12, h^2/12
    np.testing.assert_allclose(df["eccentricity"], [np.sqrt(1 - 0.25 / 4), np.sqrt(1 - 2.25 / 4)])
    np.testing.assert_allclose(df["grad_norm"], [1.0, 0.0])
    assert df["layer"].tolist() == [0, 0]
    np.testing.assert_array_equal(df["class"], [1, 0])  # N = relu(x - 0.5) > 0 on the right only


def test_map_and_pattern_columns_against_the_network(part3):
    net = part3.net
    df = region_table(part3)
    C = df[["chebyshev_x", "chebyshev_y"]].to_numpy()
    X = part3.to_input(C)
    np.testing.assert_array_equal(df["class"], net(part3.to_input(df[["centroid_x", "centroid_y"]].to_numpy())).argmax(1))
    J = net.jacobian(X) @ part3.basis
    np.testing.assert_allclose(df["grad_norm"], np.sqrt((J ** 2).sum(axis=(1, 2))), rtol=1e-10)
    np.testing.assert_allclose(df["lipschitz"], np.linalg.norm(J, ord=2, axis=(1, 2)), rtol=1e-10)
    pat = net.activation_pattern(X)  # the Chebyshev centre is strictly inside its face
    expect = np.packbits(np.concatenate(pat, axis=1).astype(bool), axis=1)
    hexes = ["".join(f"{x:02x}" for x in row) for row in expect]
    assert df["pattern"].tolist() == hexes
    assert set(df["layer"]) <= {0, 1}
    assert packed_patterns(part3.activation_codes()).shape == (part3.num_faces, 4)


def test_linear_regions_glue_faces():
    net = random_mlp(2, [3, 3, 3, 3], 1, activation=hard_tanh(), biases=Normal(0.5), seed=1)
    part = plane(net, [0.0, 0.0], np.eye(2), (-3, 3, -3, 3))
    assert part.num_regions("linear") < part.num_regions("activation")
    act, lin = region_table(part), region_table(part, "linear")
    np.testing.assert_allclose(lin["area"], np.bincount(act["linear_region"], weights=act["area"]))
    for r in lin.index[lin["n_faces"] > 1][:5]:
        assert sorted(lin["faces"][r]) == sorted(np.nonzero(part.region_labels == r)[0])
        # one affine map on the whole linear region
        assert np.ptp(act["grad_norm"][lin["faces"][r]]) <= 1e-9 * (1 + act["grad_norm"][lin["faces"][r]].max())
    single = lin["n_faces"] == 1
    f = np.array([fs[0] for fs in lin["faces"][single]])
    np.testing.assert_array_equal(lin["vertex_count"][single].to_numpy(), act["vertex_count"][f].to_numpy())
    np.testing.assert_allclose(lin["perimeter"][single].to_numpy(), act["perimeter"][f].to_numpy())


def test_dual_graph_degrees_against_shared_sides(part3):
    g = dual_graph(part3)
    # oracle: faces sharing a ring side (two consecutive ring vertices), from the rings alone
    owner: dict[tuple, set] = {}
    for f in range(part3.num_faces):
        ring = part3.face_vertices[part3.face_ptr[f]: part3.face_ptr[f + 1]]
        for a, b in zip(ring, np.roll(ring, -1)):
            owner.setdefault((min(a, b), max(a, b)), set()).add(f)
    nb = [set() for _ in range(part3.num_faces)]
    for fs in owner.values():
        for f in fs:
            nb[f] |= fs - {f}
    np.testing.assert_array_equal(g.degrees(), [len(s) for s in nb])
    A = g.adjacency()
    assert (A != A.T).nnz == 0 and A.shape == (part3.num_faces,) * 2
    # each adjacency's neuron is the one whose sign differs between the two faces
    pats = np.concatenate(part3.net.activation_pattern(part3.to_input(part3.interior_points)), axis=1)
    flat = np.cumsum([0] + list(part3.net.widths))[g.layer] + g.unit
    assert np.all(pats[g.a, flat] != pats[g.b, flat])
    nxg = g.to_networkx()
    assert nxg.number_of_edges() == g.num_edges and dict(nxg.degree()) == dict(enumerate(g.degrees()))
    gl = dual_graph(part3, "linear")
    assert gl.num_regions == part3.num_regions("linear")
    df = g.to_frame()
    assert df["measure"].sum() == pytest.approx(np.hypot(*(part3.vertices[part3.edges[part3.edge_layer >= 0, 1]] - part3.vertices[part3.edges[part3.edge_layer >= 0, 0]]).T).sum())


def _pixel_betti(cls_img, k):
    mask = cls_img == k
    _, b0 = ndimage.label(mask)
    lab, n = ndimage.label(~mask, structure=np.ones((3, 3)))
    border = set(np.unique(np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]])) - {0}
    return b0, n - len(border)


@pytest.mark.parametrize("n_out,seed,width", [(3, 3, 12), (1, 5, 10), (4, 1, 8)])
def test_betti_numbers_against_a_flood_fill(n_out, seed, width):
    net = random_mlp(2, [width, width], n_out, biases=Normal(0.5), seed=seed)
    level = float(net(np.zeros((1, 2)))[0, 0]) if n_out == 1 else None
    part = plane(net, [0.0, 0.0], np.eye(2), BOX)
    topo = decision_betti(part, level)
    n = 1201  # converged: 1201, 2001 and 3001 pixels give the same counts for these nets
    u = np.linspace(-2, 2, n)
    UU, VV = np.meshgrid(u, u)
    N = net(np.stack([UU.ravel(), VV.ravel()], 1))
    img = ((N[:, 0] > level) if n_out == 1 else N.argmax(1)).reshape(n, n).astype(int)
    assert set(topo.classes) == set(np.unique(img))
    for k, b0, b1 in zip(topo.classes, topo.betti0, topo.betti1):
        assert (b0, b1) == _pixel_betti(img, k), k


def test_betti_with_a_hole():
    # N = |x| + |y| (ReLU net) - 1: class 1 is the outside of a diamond: one component with a hole
    W0 = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    net = Network((W0, np.ones((1, 4))), (np.zeros(4), np.array([-1.0])), (relu(),))
    part = plane(net, [0.0, 0.0], np.eye(2), BOX)
    topo = decision_betti(part)
    d = dict(zip(topo.classes.tolist(), zip(topo.betti0.tolist(), topo.betti1.tolist())))
    assert d == {0: (1, 0), 1: (1, 1)}


def test_class_components(part3):
    cc = class_components(part3, 1)
    df = region_table(part3, columns=["map"])
    assert np.all((cc >= 0) == (df["class"] == 1))
    g = dual_graph(part3)
    same = (cc[g.a] >= 0) & (cc[g.b] >= 0)
    assert np.all(cc[g.a][same] == cc[g.b][same])


def test_locate_against_each_points_pattern(part3):
    rng = np.random.default_rng(1)
    S = rng.uniform(-2, 2, size=(3000, 2))
    f = locate(part3, S)
    assert np.all(f >= 0)
    pats = np.concatenate(part3.net.activation_pattern(part3.to_input(S)), axis=1)
    face_pats = np.concatenate([c // 2 + c % 2 for c in part3.activation_codes()], axis=1)
    np.testing.assert_array_equal(face_pats[f], pats)
    np.testing.assert_array_equal(locate(part3, S, "linear"), part3.region_labels[f])
    assert locate(part3, [[3.0, 0.0]])[0] == -1
    with pytest.raises(ValueError, match="plane coordinates"):
        locate(part3, np.zeros((3, 3)))


def test_line_table_locate_and_maps():
    net = random_mlp(3, [10, 10], 2, biases=Normal(0.5), seed=2)
    x0, x1 = np.array([-2.0, -1.0, 0.5]), np.array([2.0, 1.5, -1.0])
    part = line(net, x0, x1)
    df = region_table(part)
    assert df["length"].sum() == pytest.approx(np.linalg.norm(x1 - x0))
    mid = df["t_mid"].to_numpy()
    X = x0 + mid[:, None] * (x1 - x0)
    np.testing.assert_array_equal(df["class"], net(X).argmax(1))
    J = net.jacobian(X) @ ((x1 - x0) / np.linalg.norm(x1 - x0))
    np.testing.assert_allclose(df["grad_norm"], np.linalg.norm(J, axis=1), rtol=1e-9)
    # locate: each sampled t lands in the interval with its pattern
    t = np.random.default_rng(0).uniform(0, 1, 500)
    iv = locate(part, t)
    Xt = x0 + t[:, None] * (x1 - x0)
    P = np.concatenate(net.activation_pattern(Xt), axis=1)
    Pm = np.concatenate(net.activation_pattern(X), axis=1)
    np.testing.assert_array_equal(Pm[iv], P)
    np.testing.assert_array_equal(locate(part, Xt), iv)
    lm = local_maps(part)
    np.testing.assert_allclose(lm(iv, t[:, None]), net(Xt), rtol=1e-9, atol=1e-12)
    lin = region_table(part, "linear")
    assert lin["length"].sum() == pytest.approx(np.linalg.norm(x1 - x0))
    assert dual_graph(part).num_edges == part.t.size


def test_plane_local_maps(part3):
    lm = local_maps(part3)
    S = np.random.default_rng(2).uniform(-2, 2, size=(500, 2))
    f = locate(part3, S)
    np.testing.assert_allclose(lm(f, S), part3.net(part3.to_input(S)), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lm.lipschitz, region_table(part3, columns=["map"])["lipschitz"])
    assert len(lm.to_frame()) == part3.num_faces


def test_complex_table_and_locate():
    from linregions.enumerate import complex_in_box

    net = random_mlp(3, [6, 6], 2, biases=Normal(0.5), seed=0)
    cx = complex_in_box(net, -1.0, 1.0)
    df = region_table(cx)
    assert df["volume"].sum() == pytest.approx(8.0, rel=1e-9)
    X = np.random.default_rng(0).uniform(-1, 1, size=(400, 3))
    r = locate(cx, X)
    assert np.all(r >= 0)
    np.testing.assert_array_equal(cx.region_patterns()[r], np.concatenate(net.activation_pattern(X), axis=1))
    # centroid: Monte Carlo mean of the points in each big cell (SE-based tolerance)
    Y = np.random.default_rng(1).uniform(-1, 1, size=(40000, 3))
    ry = locate(cx, Y)
    big = np.argmax(df["volume"].to_numpy())
    pts = Y[ry == big]
    se = pts.std(axis=0) / np.sqrt(pts.shape[0])
    c = df.loc[big, ["centroid_0", "centroid_1", "centroid_2"]].to_numpy(float)
    assert np.all(np.abs(pts.mean(axis=0) - c) <= 5 * se)
    assert np.all(df["inradius"] > 0)
    lin = region_table(cx, "linear")
    assert lin["volume"].sum() == pytest.approx(8.0, rel=1e-9)


@settings(derandomize=True, max_examples=12, deadline=None, database=None)
@given(seed=st.integers(0, 10_000), width=st.integers(2, 10), n_out=st.integers(1, 3), zero_bias=st.booleans())
def test_properties_on_random_networks(seed, width, n_out, zero_bias):
    """Any net, including zero biases (every first-layer line through the origin): areas add up
    to the domain, located points carry their face's pattern, every face's Chebyshev disc is
    inside it, degrees add up to twice the adjacencies."""
    from linregions.laws import Zero

    net = random_mlp(2, [width, width], n_out, biases=Zero() if zero_bias else Normal(0.5), seed=seed)
    part = plane(net, [0.0, 0.0], np.eye(2), (-1.0, 1.0, -1.0, 1.0))
    df = region_table(part)
    assert df["area"].sum() == pytest.approx(4.0, rel=1e-12)
    assert np.all(df["inradius"] > 0) and np.all(df["inradius"] <= np.sqrt(df["area"] / np.pi) * (1 + 1e-9))
    S = np.random.default_rng(seed).uniform(-1, 1, size=(300, 2))
    f = locate(part, S)
    pats = np.concatenate(net.activation_pattern(S), axis=1)
    face_pats = np.concatenate([c // 2 + c % 2 for c in part.activation_codes()], axis=1)
    # a point exactly on a boundary may go to either side; random points are not
    np.testing.assert_array_equal(face_pats[f], pats)
    g = dual_graph(part)
    assert g.degrees().sum() == 2 * g.num_edges
