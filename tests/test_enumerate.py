"""Tests of linregions.enumerate (exact polyhedral complexes for n <= 4) against independent oracles.

Oracles:
- an LP brute force (scipy.optimize.linprog): activation patterns are enumerated neuron by neuron,
  a pattern is a region when its polytope has an inscribed ball of positive radius; each region is
  rebuilt from its inequalities with scipy's HalfspaceIntersection (qhull), which gives its
  volume, its surface area (qhull), its vertices and, from the tight inequalities, its edges.
  Nothing of the splitting, the face lattice or the pyramid volumes is shared.
- closed forms for one hidden layer: hyperplane sections of the box, their pairwise flats and
  n-fold intersection points (and central arrangements for zero biases);
- Monte Carlo: activation patterns of uniform points, region volumes within standard errors;
- Crofton (linregions.crofton.boundary_volume, exact crossings on random chords);
- linregions.line on segments (1-D).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.spatial import ConvexHull, HalfspaceIntersection

from linregions import Network, Normal, Zero, hard_tanh, leaky_relu, line, random_mlp, relu
from linregions.enumerate import PolyhedralComplex, complex_in_box

# ----------------------------------------------------------------------------------------------
# LP brute-force oracle

_RADIUS = 1e-7  # a region must contain a ball of this radius (test-side threshold)


def _chebyshev(A, c, low, high):
    """Largest ball in {x : A x + c >= 0} ∩ box: (radius, center)."""
    n = low.size
    box_A = np.vstack([np.eye(n), -np.eye(n)])
    box_c = np.concatenate([-low, high])
    AA = np.vstack([A, box_A]) if A.size else box_A
    cc = np.concatenate([c, box_c]) if A.size else box_c
    norms = np.linalg.norm(AA, axis=1)
    # maximise t: -(AA x) + t |a| <= cc
    res = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.c_[-AA, norms], b_ub=cc,
                  bounds=[(None, None)] * n + [(0, 1)], method="highs")
    if res.status != 0:
        return 0.0, None
    return -res.fun, res.x[:n]


def _lp_regions(net: Network, low, high):
    """All activation regions of ``net`` in the box by LP brute force: list of (pattern, A, c, center)
    with the region {x : A x + c >= 0} ∩ box."""
    n = net.n_in
    low, high = np.broadcast_to(low, (n,)).astype(float), np.broadcast_to(high, (n,)).astype(float)
    # a partial state: affine map (M, m0) of the current layer's inputs, constraints, pattern so far
    states = [(np.eye(n), np.zeros(n), np.zeros((0, n)), np.zeros(0), [])]
    for l, act in enumerate(net.activations):
        W, b, xi, q = net.weights[l], net.biases[l], act.breakpoints, act.slopes
        phis = act.values_at_breakpoints
        new_states = []
        for M, m0, A, c, pat in states:
            G, g0 = W @ M, W @ m0 + b  # u = G x + g0
            partial = [(A, c, [])]
            for z in range(W.shape[0]):
                nxt = []
                for A_, c_, pz in partial:
                    if np.linalg.norm(G[z]) <= 1e-12 * (1 + np.abs(g0[z])):  # constant on the region
                        nxt.append((A_, c_, pz + [int(np.searchsorted(xi, g0[z], side="right"))]))
                        continue
                    for p in range(xi.size + 1):
                        rows, cs = [], []
                        if p > 0:  # u >= xi[p-1]
                            rows.append(G[z]); cs.append(g0[z] - xi[p - 1])
                        if p < xi.size:  # u <= xi[p]
                            rows.append(-G[z]); cs.append(xi[p] - g0[z])
                        A2, c2 = np.vstack([A_] + rows), np.concatenate([c_, cs])
                        r, _ = _chebyshev(A2, c2, low, high)
                        if r > _RADIUS:
                            nxt.append((A2, c2, pz + [p]))
                partial = nxt
            for A_, c_, pz in partial:
                p = np.array(pz)
                slope = q[p]
                off = np.where(p > 0, phis[np.maximum(p - 1, 0)] - slope * xi[np.maximum(p - 1, 0)], 0.0)
                if xi.size and np.any(p == 0):
                    # on piece 0 phi(u) = phi(xi_0) + q_0 (u - xi_0)
                    off = np.where(p == 0, phis[0] - q[0] * xi[0], off)
                new_states.append((slope[:, None] * G, slope * g0 + off, A_, c_, pat + pz))
        states = new_states
    out = []
    for M, m0, A, c, pat in states:
        r, x = _chebyshev(A, c, low, high)
        out.append((tuple(pat), A, c, x))
    return out, low, high


def _polytope(A, c, center, low, high):
    """Vertices of {A x + c >= 0} ∩ box (qhull), the hull, and the inequality list (G x + h <= 0)."""
    n = low.size
    Gs = np.vstack([-A, -np.eye(n), np.eye(n)]) if A.size else np.vstack([-np.eye(n), np.eye(n)])
    hs = np.concatenate([-c, low, -high]) if A.size else np.concatenate([low, -high])
    hsi = HalfspaceIntersection(np.c_[Gs, hs], center)
    P = hsi.intersections
    # merge duplicate vertices produced for degenerate (non-simple) vertices
    keep = []
    for i, p in enumerate(P):
        if all(np.linalg.norm(p - P[j]) > 1e-9 for j in keep):
            keep.append(i)
    P = P[keep]
    return P, ConvexHull(P), Gs, hs


def _oracle(net, low=-1.0, high=1.0):
    """Region count, {pattern: volume}, interior surface (k=1), interior edges' length (k=n-1),
    interior vertices (k=n) of the activation complex, all from the LP/qhull brute force."""
    regs, lo, hi = _lp_regions(net, low, high)
    n = net.n_in
    vols, area_sum = {}, 0.0
    verts, edges = [], {}
    for pat, A, c, x in regs:
        P, hull, Gs, hs = _polytope(A, c, x, lo, hi)
        vols[pat] = hull.volume
        area_sum += hull.area if n > 1 else 2.0
        verts.append(P)
        if n >= 2:
            scale = np.abs(Gs) @ (np.abs(P).T + 1.0) + np.abs(hs)[:, None]
            tight = np.abs(Gs @ P.T + hs[:, None]) <= 1e-9 * scale  # (constraints, vertices)
            for i, j in itertools.combinations(range(P.shape[0]), 2):
                both = tight[:, i] & tight[:, j]
                if both.sum() >= n - 1 and np.linalg.matrix_rank(Gs[both], tol=1e-9) == n - 1:
                    mid = 0.5 * (P[i] + P[j])
                    on_box = np.any(np.isclose(mid, lo, atol=1e-12) | np.isclose(mid, hi, atol=1e-12))
                    if not on_box:
                        edges[tuple(np.round(mid, 7))] = np.linalg.norm(P[i] - P[j])
    V = np.concatenate(verts)
    V = V[~np.any(np.isclose(V, lo, atol=1e-12) | np.isclose(V, hi, atol=1e-12), axis=1)]
    uniq = []
    for v in V:
        if all(np.linalg.norm(v - u) > 1e-7 for u in uniq):
            uniq.append(v)
    box_surface = sum(2 * np.prod(np.delete(hi - lo, i)) for i in range(n)) if n > 1 else 2.0
    return dict(count=len(regs), volumes=vols, boundary=(area_sum - box_surface) / 2,
                edges=sum(edges.values()), vertices=len(uniq))


def _by_pattern(cx: PolyhedralComplex) -> dict:
    return {tuple(p): v for p, v in zip(cx.region_patterns().tolist(), cx.region_volume)}


# ----------------------------------------------------------------------------------------------
# tests against the LP brute force


def _duplicated(net: Network) -> Network:
    """Unit 1 of each hidden layer made a positive multiple of unit 0 (one hyperplane for two
    neurons; same function), and unit 2 of the first layer the negative of unit 0."""
    Ws, bs = [W.copy() for W in net.weights], [b.copy() for b in net.biases]
    for l in range(net.depth):
        Ws[l][1], bs[l][1] = 2.5 * Ws[l][0], 2.5 * bs[l][0]
    Ws[0][2], bs[0][2] = -Ws[0][0], -bs[0][0]
    return Network(tuple(Ws), tuple(bs), net.activations)


NETS_LP = [
    pytest.param(lambda: _duplicated(random_mlp(3, [5, 4], seed=8)), id="relu-3d-duplicate-hyperplanes"),
    pytest.param(lambda: _duplicated(random_mlp(4, [4, 3], biases=Zero(), seed=9)), id="relu-4d-duplicates-zero-bias"),
    pytest.param(lambda: random_mlp(3, [4, 3], seed=3), id="relu-3d"),
    pytest.param(lambda: random_mlp(3, [3, 3], biases=Zero(), seed=4), id="relu-3d-zero-bias"),
    pytest.param(lambda: random_mlp(3, [3, 2], activation=hard_tanh(-0.3, 0.3), seed=5), id="hardtanh-3d"),
    pytest.param(lambda: random_mlp(4, [4, 2], seed=6), id="relu-4d"),
    pytest.param(lambda: random_mlp(4, [3, 3], activation=leaky_relu(0.2), biases=Zero(), seed=7), id="leaky-4d-zero-bias"),
]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # exact degeneracies must not look near-degenerate
@pytest.mark.parametrize("make", NETS_LP)
def test_against_lp_brute_force(make):
    net = make()
    cx = complex_in_box(net, -1.0, 1.0)
    ref = _oracle(net)
    n = net.n_in
    assert cx.num_regions("activation") == ref["count"]
    got = _by_pattern(cx)
    assert set(got) == set(ref["volumes"])
    for p, v in ref["volumes"].items():
        assert got[p] == pytest.approx(v, rel=1e-7, abs=1e-12)
    assert cx.region_volume.sum() == pytest.approx(2.0 ** n, rel=1e-12)
    assert cx.volume(1, "activation") == pytest.approx(ref["boundary"], rel=1e-7)
    assert cx.volume(n - 1, "activation") == pytest.approx(ref["edges"], rel=1e-7)
    assert cx.num_vertices("activation") == ref["vertices"]


# ----------------------------------------------------------------------------------------------
# one hidden layer: closed forms


def _flat_volume(Hs, hs, low, high):
    """vol_{n-k} of {x : Hs x = hs} ∩ box, for k independent rows (0-dim: 1 if inside)."""
    n = low.size
    k = Hs.shape[0]
    p = np.linalg.lstsq(Hs, hs, rcond=None)[0]
    Q = np.linalg.svd(Hs)[2][k:].T  # (n, n-k) orthonormal basis of the flat's directions
    d = n - k
    if d == 0:
        return float(np.all((p > low) & (p < high)))
    # box in flat coordinates y: low <= p + Q y <= high
    G = np.vstack([Q, -Q])
    h = np.concatenate([high - p, p - low])
    if d == 1:
        g = G[:, 0]
        lo = np.max((h / g)[g < 0], initial=-np.inf)
        hi = np.min((h / g)[g > 0], initial=np.inf)
        return max(hi - lo, 0.0)
    r, y = _chebyshev(-G, h, -np.full(d, 1e3), np.full(d, 1e3))
    if r <= 1e-12:
        return 0.0
    return ConvexHull(HalfspaceIntersection(np.c_[G, -h], y).intersections).volume


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("n,width,zero_bias,dead", [(3, 7, False, 2), (3, 6, True, 0), (4, 6, False, 1), (4, 5, True, 1)])
def test_one_layer_closed_forms(n, width, zero_bias, dead):
    """Hyperplane arrangement: vol_{n-k}(B_{N,k} ∩ K) = sum over k-subsets of hyperplanes of the
    (n-k)-volume of their common flat in the box. Neurons with zero output weight are not good:
    the linear kind counts only the others. Zero biases: a central arrangement (one vertex)."""
    kw = dict(biases=Zero()) if zero_bias else {}
    net = random_mlp(n, [width], seed=10 + n + width, **kw)
    Ws, bs = list(net.weights), list(net.biases)
    Wout = Ws[1].copy()
    Wout[:, :dead] = 0.0
    net = Network((Ws[0], Wout), tuple(bs), net.activations)
    low, high = -np.ones(n), np.ones(n)
    cx = complex_in_box(net, low, high)
    W0, b0 = net.weights[0], net.biases[0]
    good = np.arange(width) >= dead
    for k in range(1, n + 1):
        for kind, units in (("activation", np.arange(width)), ("linear", np.nonzero(good)[0])):
            if k < n or not zero_bias:
                ref = sum(_flat_volume(W0[list(S)], -b0[list(S)], low, high) for S in itertools.combinations(units, k))
            else:
                ref = 1.0 if len(units) >= n else 0.0  # every n-fold intersection is the origin
            assert cx.volume(k, kind) == pytest.approx(ref, rel=1e-9, abs=1e-12), (k, kind)
    if zero_bias and dead == 0:
        # central arrangement of m generic hyperplanes in R^n: 2 * sum_{i < n} C(m - 1, i) regions
        assert cx.num_regions("activation") == 2 * sum(math.comb(width - 1, i) for i in range(n))


# ----------------------------------------------------------------------------------------------
# Monte Carlo: patterns and volumes of deeper nets


def _check_frequencies(idx: np.ndarray, p: np.ndarray) -> None:
    """Sampled region frequencies against exact volume fractions p: a chi^2 per degree of freedom
    over the regions with >= 20 expected samples (normal approximation valid there; its mean is
    1 +- sqrt(2 / dof)), every z-score below 5.5, and the small regions' total within 5 SE."""
    m = idx.size
    frac = np.bincount(idx, minlength=p.size) / m
    big = p * m >= 20
    z = (frac[big] - p[big]) / np.sqrt(p[big] * (1 - p[big]) / m)
    assert np.mean(z ** 2) < 1 + 5 * math.sqrt(2 / big.sum())
    assert np.abs(z).max() < 5.5
    ps, fs = p[~big].sum(), frac[~big].sum()
    assert abs(fs - ps) <= 5 * math.sqrt(max(ps, 1.0 / m) / m)


def test_monte_carlo_patterns_and_volumes():
    net = random_mlp(3, [8, 8], seed=0)
    cx = complex_in_box(net, -1.0, 1.0)
    pats = cx.region_patterns()
    index = {tuple(p): i for i, p in enumerate(pats.tolist())}
    assert len(index) == cx.num_regions("activation")  # one region per pattern
    rng = np.random.default_rng(1)
    m = 60_000
    X = rng.uniform(-1, 1, (m, 3))
    sampled = np.concatenate(net.activation_pattern(X), axis=1)
    idx = np.array([index.get(tuple(p), -1) for p in sampled.tolist()])
    assert np.all(idx >= 0)  # every sampled point lies in an enumerated region
    _check_frequencies(idx, cx.region_volume / 8.0)
    # each region's output affine map matches the network at its sampled points
    sel = rng.choice(m, 500, replace=False)
    pred = cx.region_intercepts[idx[sel]] + np.einsum("roi,ri->ro", cx.region_slopes[idx[sel]], X[sel])
    np.testing.assert_allclose(pred, net(X[sel]), rtol=1e-9, atol=1e-12)


def test_passthrough_units_never_cut():
    """A residual-style layer with a passthrough (identity) unit: it carries no hyperplane, and the
    complex still matches sampled activation patterns and volumes."""
    from linregions.network import PASSTHROUGH

    rng = np.random.default_rng(0)
    W0, b0 = rng.normal(size=(5, 3)), 0.1 * rng.normal(size=5)
    W1, b1 = rng.normal(size=(4, 5)), 0.1 * rng.normal(size=4)
    kinds = (np.array([0, 0, 0, 0, PASSTHROUGH]), np.zeros(4, int))
    net = Network((W0, W1, rng.normal(size=(1, 4))), (b0, b1, np.zeros(1)), (relu(), relu()), kinds)
    cx = complex_in_box(net, -1.0, 1.0, progress=True)
    # the passthrough unit's "hyperplane" u = 0 must not appear: no face has it tight
    assert np.all(cx.region_states[0][:, 4] == 0)
    index = {tuple(p): i for i, p in enumerate(cx.region_patterns().tolist())}
    m = 60_000
    X = rng.uniform(-1, 1, (m, 3))
    idx = np.array([index.get(tuple(p), -1) for p in np.concatenate(net.activation_pattern(X), axis=1).tolist()])
    assert np.all(idx >= 0)
    _check_frequencies(idx, cx.region_volume / 8.0)


# ----------------------------------------------------------------------------------------------
# Crofton: boundary volume from exact crossings on random chords


@pytest.mark.parametrize(
    "make,kind",
    [
        (lambda: random_mlp(3, [10, 10], seed=21), "activation"),
        (lambda: random_mlp(3, [8, 8], activation=hard_tanh(-0.2, 0.2), seed=22), "linear"),
        (lambda: random_mlp(4, [6, 6], seed=23), "linear"),
    ],
)
def test_boundary_volume_matches_crofton(make, kind):
    from linregions.crofton import Box, boundary_volume

    net = make()
    cx = complex_in_box(net, -1.0, 1.0)
    est = boundary_volume(net, Box.cube(net.n_in), kind=kind, n=4000, seed=5)
    assert abs(cx.volume(1, kind) - est.value) < 4 * est.se


@pytest.mark.slow
def test_4d_two_faces_match_crofton_planes():
    """vol_2(B_{N,2} ∩ K) in 4D (areas of the 2-faces) against vertex counts of exact planar
    sections (linregions.plane via crofton.vertex_volume, kappa_{4,2} = 1/3)."""
    from linregions.crofton import Box, vertex_volume

    net = random_mlp(4, [6, 6], seed=24)
    cx = complex_in_box(net, -1.0, 1.0)
    est = vertex_volume(net, Box.cube(4), kind="activation", n=800, seed=7)
    assert abs(cx.volume(2, "activation") - est.value) < 4 * est.se


def test_hard_tanh_linear_differs_and_matches_goodness():
    """Saturated hard-tanh neurons are not good: fewer linear than activation regions. Across
    every interior facet the slope jumps exactly when the tight neuron is good (Prop. 9)."""
    net = random_mlp(3, [8, 8], activation=hard_tanh(-0.2, 0.2), seed=22)
    cx = complex_in_box(net, -1.0, 1.0)
    assert cx.num_regions("linear") < cx.num_regions("activation")
    assert cx.volume(1, "linear") < cx.volume(1, "activation")
    facets = (cx.face_dim == 2) & ~cx.face_on_box
    assert np.all(cx.face_tight[facets] == 1)
    np.testing.assert_array_equal(cx.face_jump[facets], cx.face_good[facets] == 1)
    # linear regions: the output's affine map is constant on each, and differs across jumps
    for lab in np.unique(cx.region_linear)[:50]:
        S = cx.region_slopes[cx.region_linear == lab]
        np.testing.assert_allclose(S, S[:1].repeat(S.shape[0], 0), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# one dimension: the exact segment partition


@pytest.mark.parametrize("zero_bias", [False, True])
def test_one_dimension_matches_line(zero_bias):
    kw = dict(biases=Zero()) if zero_bias else {}
    net = random_mlp(1, [10, 10], activation=hard_tanh(-0.5, 0.5), seed=31, **kw)
    cx = complex_in_box(net, -2.0, 3.0)
    part = line(net, [-2.0], [3.0])
    for kind in ("activation", "linear"):
        assert cx.num_regions(kind) == part.num_regions(kind)
        assert cx.num_vertices(kind) == part.num_regions(kind) - 1
    np.testing.assert_allclose(np.sort(cx.region_volume), np.sort(np.diff(np.r_[0.0, part.t, 1.0]) * 5.0), rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# restriction to a subspace, properties, errors


def test_restriction_to_a_3d_subspace_matches_chords():
    """A 6-input net on a 3-D affine subspace: crossings of the subspace's complex on random
    chords (through the original network, via ``line``) match its boundary volume (Crofton)."""
    from linregions.crofton import kappa

    net = random_mlp(6, [12, 12], seed=41)
    rng = np.random.default_rng(2)
    origin = rng.normal(size=6) * 0.3
    basis = np.linalg.qr(rng.normal(size=(6, 3)))[0]
    cx = complex_in_box(net, -1.0, 1.0, origin=origin, basis=basis)
    m = 3000
    S = rng.uniform(-1, 1, (m, 3))
    D = rng.normal(size=(m, 3))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        t1, t2 = (-1 - S) / D, (1 - S) / D
    tmin, tmax = np.minimum(t1, t2).max(1), np.maximum(t1, t2).min(1)
    A, B = S + tmin[:, None] * D, S + tmax[:, None] * D
    from linregions import lines

    batch = lines(net, origin + A @ basis.T, origin + B @ basis.T)
    samples = 8.0 * (batch.num_regions("activation") - 1) / (tmax - tmin) / kappa(3, 1)
    se = samples.std(ddof=1) / math.sqrt(m)
    assert abs(cx.volume(1, "activation") - samples.mean()) < 4 * se


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_tiny_biases_scale_exactly():
    """Biases s * b (the paper's N(0, 1e-6) regime): the network is positively homogeneous in
    (x, biases), so its complex in [-1, 1]^3 is the complex of the biases b in [-1/s, 1/s]^3
    shrunk by s: same counts, vol_{n-k} scaled by s^(n-k). Sliver regions of width ~1e-8 occur."""
    s = 1e-6
    net = random_mlp(3, [4, 3], biases=Normal(1.0), seed=3)
    small = Network(net.weights, tuple(s * b for b in net.biases), net.activations)
    a = complex_in_box(small, -1.0, 1.0)
    b = complex_in_box(net, -1.0 / s, 1.0 / s)
    for kind in ("activation", "linear"):
        assert a.num_regions(kind) == b.num_regions(kind)
        np.testing.assert_allclose(a.volumes(kind), b.volumes(kind) * s ** np.array([2.0, 1.0, 0.0]), rtol=1e-6)
    assert a.region_volume.min() < 1e-18  # the check does involve slivers


def test_near_degenerate_biases_warn():
    """Biases ~1e-9 put points closer than the snap tolerance resolves: a RuntimeWarning says so."""
    net = random_mlp(3, [4, 3], biases=Normal(1e-9), seed=3)
    with pytest.warns(RuntimeWarning, match="nearly but not exactly degenerate"):
        complex_in_box(net, -1.0, 1.0)


def test_vertices_faces_and_repr():
    net = random_mlp(3, [6, 6], seed=51)
    cx = complex_in_box(net, [-1.0, -0.5, 0.0], [1.0, 0.5, 2.0])
    assert cx.box_volume == pytest.approx(4.0)
    assert cx.region_volume.sum() == pytest.approx(4.0, rel=1e-12)
    vols = cx.volumes("activation")
    assert vols.shape == (3,) and vols[2] == cx.num_vertices("activation")
    # every vertex of a region lies in the box, and regions' centroids have their own pattern
    assert np.all(cx.vertices >= cx.low - 1e-12) and np.all(cx.vertices <= cx.high + 1e-12)
    # the network evaluated at each region's centroid has the region's recorded pattern, and the
    # patterns are all different (one activation region each)
    pats = np.concatenate(net.activation_pattern(cx.region_centroid), axis=1)
    assert np.array_equal(pats, cx.region_patterns())
    assert np.unique(pats, axis=0).shape[0] == cx.num_regions("activation")
    # an interior facet's vertices are vertices of both regions on its sides, and lie on one plane
    for f in np.nonzero((cx.face_dim == 2) & ~cx.face_on_box)[0][:40]:
        fv = set(cx.face_vertices[cx.face_offsets[f] : cx.face_offsets[f + 1]].tolist())
        for r in cx.facet_regions[f]:
            assert fv <= set(cx.region_vertices[cx.region_offsets[r] : cx.region_offsets[r + 1]].tolist())
        P = cx.face_vertex_coords(f)
        assert np.linalg.svd(P - P.mean(axis=0), compute_uv=False)[2] < 1e-12
    generic = (cx.face_dim < 3) & ~cx.face_on_box
    np.testing.assert_array_equal(cx.face_tight[generic], 3 - cx.face_dim[generic])  # codimension k: k neurons
    r = repr(cx)
    assert r.startswith("PolyhedralComplex(dim=3") and "\n" not in r


def test_errors():
    net3 = random_mlp(3, [4], seed=0)
    net5 = random_mlp(5, [4], seed=0)
    with pytest.raises(ValueError, match="input dimension"):
        complex_in_box(net5, -1, 1)
    with pytest.raises(ValueError, match="low < high"):
        complex_in_box(net3, 1, -1)
    with pytest.raises(ValueError, match="low must be a scalar or have shape"):
        complex_in_box(net3, [0, 0], 1)
    with pytest.raises(ValueError, match="together"):
        complex_in_box(net5, -1, 1, origin=np.zeros(5))
    with pytest.raises(ValueError, match="basis must have shape"):
        complex_in_box(net5, -1, 1, origin=np.zeros(5), basis=np.eye(5))
    with pytest.raises(TypeError, match="Network"):
        complex_in_box("net", -1, 1)
    with pytest.raises(ValueError, match="max_regions"):
        complex_in_box(random_mlp(3, [10, 10], seed=0), -1, 1, max_regions=20)
    cx = complex_in_box(net3, -1, 1)
    with pytest.raises(ValueError, match="kind"):
        cx.num_regions("pieces")
    with pytest.raises(ValueError, match="codimension"):
        cx.volume(4)


# ----------------------------------------------------------------------------------------------
# two dimensions: the planar complex of linregions.plane


@pytest.mark.parametrize(
    "make",
    [
        lambda: random_mlp(2, [8, 8], activation=hard_tanh(-0.3, 0.3), biases=Normal(0.5), seed=3),
        lambda: random_mlp(2, [8, 8, 8], activation=hard_tanh(-0.3, 0.3), biases=Zero(), seed=4),
        lambda: random_mlp(2, [12, 12], biases=Zero(), seed=2),
    ],
)
def test_two_dimensions_match_plane(make):
    from linregions.plane import plane

    net = make()
    cx = complex_in_box(net, [-1.0, -0.5], [1.5, 1.0])
    part = plane(net, np.zeros(2), np.eye(2), (-1.0, 1.5, -0.5, 1.0))
    for kind in ("activation", "linear"):
        assert cx.num_regions(kind) == part.num_regions(kind)
        assert cx.volume(1, kind) == pytest.approx(part.boundary_length(kind), rel=1e-9)
        assert cx.num_vertices(kind) == part.num_vertices(kind)


# ----------------------------------------------------------------------------------------------
# Theorem 6: exact volumes for k = 1..3 against the theory's unbiased estimator


@pytest.mark.slow
def test_theorem6_all_codimensions():
    """For networks drawn from one law, exact vol_{3-k}(B_{N,k} ∩ K) minus the Theorem 6
    estimator of the same network (with its bias law) has mean zero; paired differences."""
    from linregions.crofton import Box
    from linregions.theory import NetworkLaw, theorem6

    law = NetworkLaw(3, (4, 4), activation=hard_tanh(-0.5, 0.5), biases=Normal(0.3))
    rng = np.random.default_rng(123)
    nets = [law.sample(rng) for _ in range(16)]
    exact = np.array([complex_in_box(net, -1.0, 1.0).volumes("linear") for net in nets])
    for k in (1, 2, 3):
        est = np.array([theorem6(net, Box.cube(3), k, bias_law=law.biases, kind="linear", n_samples=48, seed=i).value
                        for i, net in enumerate(nets)])
        d = exact[:, k - 1] - est
        assert abs(d.mean()) < 4 * d.std(ddof=1) / math.sqrt(d.size), k
