"""The compiled kernels of the 1D engine (``linregions._kernels_line``): products that are
row-invariant per block (a segment's rows get the same values whatever the other segments are),
the batched engine and the per-segment kernel making the same float operations on large layers
(short and long segments), the extension of a layer's values and tangents to the points the
previous layer inserted, the ReLU fast path against the general activation formula, and the
scoped single-thread BLAS setting. Oracles: numpy's product (to rounding), the per-block product
computed alone, a plain float64 forward pass at every point of a partition, and the general code
path."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from linregions import _kernels_line
from linregions.activations import hard_tanh, relu
from linregions.laws import Normal, random_mlp
from linregions.line import line, lines

nb = pytest.importorskip("linregions._kernels_line_nb")
products = importlib.import_module("linregions._kernels_line_nb.products")
core = importlib.import_module("linregions.line.core")

FIELDS = ("t", "linear", "point_offsets", "crossing_point", "layer", "unit", "breakpoint", "good",
          "crossing_offsets", "slopes", "intercepts", "close_decisions")


def _blocks(rng, sizes):
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def test_blocks_matmul_is_row_invariant_per_block():
    rng = np.random.default_rng(0)
    K, N = 180, 170
    sizes = [1, 2, 16, 17, 40, 3, 33]
    starts = _blocks(rng, sizes)
    A = rng.normal(size=(starts[-1], K))
    A[rng.random(A.shape) < 0.5] = 0.0  # ReLU-like zeros, some dead columns
    A[:, :30] = 0.0
    WT, b = rng.normal(size=(K, N)), rng.normal(size=N)
    out = nb.blocks_matmul(A, WT, b, starts)
    np.testing.assert_allclose(out, A @ WT + b, rtol=1e-12, atol=1e-12)
    for i in range(len(sizes)):
        s0, s1 = starts[i], starts[i + 1]
        alone = nb.blocks_matmul(A[s0:s1].copy(), WT, b, np.array([0, s1 - s0]))
        np.testing.assert_array_equal(out[s0:s1], alone)
        assert np.array_equal(alone, products._mm(A[s0:s1].copy(), WT, b))


def test_blocks_mm2_is_the_per_segment_product():
    rng = np.random.default_rng(1)
    K, N = 200, 160
    sizes = [2, 5, 16, 17, 60]
    starts = _blocks(rng, sizes)
    A, dA = rng.normal(size=(starts[-1], K)), rng.normal(size=(starts[-1], K))
    dead = rng.random(K) < 0.4  # columns off on every row: left out of the BLAS product
    A[:, dead] = 0.0
    dA[:, dead] = 0.0
    WT, b = rng.normal(size=(K, N)), rng.normal(size=N)
    U, dU = nb.blocks_mm2(A, dA, WT, b, starts)
    np.testing.assert_allclose(U, A @ WT + b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dU, dA @ WT, rtol=1e-12, atol=1e-12)
    for i in range(len(sizes)):
        s0, s1 = starts[i], starts[i + 1]
        P = s1 - s0
        u, du = products._mm2(np.concatenate([A[s0:s1], dA[s0:s1]]), P, WT, b, np.empty(2 * P * WT.shape[1]))
        np.testing.assert_array_equal(U[s0:s1], u)
        np.testing.assert_array_equal(dU[s0:s1], du)


@pytest.mark.parametrize("act", [relu(), hard_tanh()], ids=["relu", "hard_tanh"])
@pytest.mark.parametrize("length", [0.05, 6.0], ids=["short", "long"])
def test_batched_engine_is_the_per_segment_kernel_on_large_layers(monkeypatch, act, length):
    """Both engines, bit for bit, on layers wide enough for the extension (``EXTEND_MIN_FANIN``),
    with segments short (a few points) and long (many points inserted per layer); a segment's
    result is the same alone."""
    rng = np.random.default_rng(2)
    net = random_mlp(30, [180, 180], 2, activation=act, biases=Normal(std=0.2), seed=3)
    X0 = rng.random((6, 30))
    D = rng.normal(size=(6, 30))
    X1 = X0 + length * D / np.linalg.norm(D, axis=1, keepdims=True)
    monkeypatch.setattr(core, "_VECTOR_MIN", 10**9)
    per_segment = lines(net, X0, X1)
    monkeypatch.setattr(core, "_VECTOR_MIN", 1)
    batched = lines(net, X0, X1)
    assert min(net.widths) >= _kernels_line.EXTEND_MIN_FANIN  # the extension ran
    if length > 1:
        assert per_segment.num_regions("activation").max() > 40
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(per_segment, f), getattr(batched, f), err_msg=f)
    for i in (0, 4):
        alone = line(net, X0[i], X1[i])
        for f in ("t", "linear", "layer", "unit", "breakpoint", "good", "slopes", "intercepts"):
            np.testing.assert_array_equal(getattr(per_segment[i], f), getattr(alone, f), err_msg=f)


def test_relu_fast_path_is_the_general_formula(monkeypatch):
    rng = np.random.default_rng(4)
    for widths, n_in in (([12, 12], 3), ([180, 180], 20)):
        net = random_mlp(n_in, widths, 2, biases=Normal(std=0.3), seed=5)
        X0, X1 = rng.normal(size=(4, n_in)), rng.normal(size=(4, n_in))
        monkeypatch.setattr(core, "_VECTOR_MIN", 10**9)
        fast = lines(net, X0, X1)
        assert core._kernel_params(net)[-1].all()  # the ReLU path ran
        core._PARAMS.pop(net)
        monkeypatch.setattr(core, "_is_relu", lambda act: False)
        general = lines(net, X0, X1)
        assert not core._kernel_params(net)[-1].any()
        monkeypatch.undo()
        core._PARAMS.pop(net)
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(fast, f), getattr(general, f), err_msg=f)


def test_one_blas_thread_is_scoped():
    ctl = _kernels_line._blas_controller()
    blas = [lib for lib in ctl.info() if lib["user_api"] == "blas"]
    if not blas:
        pytest.skip("no BLAS library that threadpoolctl can control")
    before = [lib["num_threads"] for lib in blas]
    with _kernels_line.one_blas_thread():
        assert all(lib["num_threads"] == 1 for lib in ctl.info() if lib["user_api"] == "blas")
    assert [lib["num_threads"] for lib in ctl.info() if lib["user_api"] == "blas"] == before


def test_segment_ends_is_the_numpy_check():
    """The compiled pass of ``_check_segments`` against numpy: the largest |x| (NaN wherever an end
    is NaN, in any position) and the first zero-length segment."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        S, n = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        X0, X1 = rng.normal(size=(S, n)) * 10.0 ** rng.integers(-3, 4), rng.normal(size=(S, n))
        for X in (X0, X1):
            if rng.random() < 0.3:
                X[rng.integers(S), rng.integers(n)] = rng.choice([np.nan, np.inf, -np.inf])
        if rng.random() < 0.4:  # a zero-length segment
            k = int(rng.integers(S))
            X1[k] = X0[k]
        big, zero = nb.segment_ends(X0, X1)
        with np.errstate(invalid="ignore"):
            expect = np.abs(np.concatenate([X0, X1])).max()
            same = np.nonzero(np.all(X0 == X1, axis=1))[0]
        assert (np.isnan(big) and np.isnan(expect)) or big == expect, (trial, big, expect)
        assert zero == (int(same[0]) if same.size else -1), trial


@pytest.mark.parametrize("P, K, N, dead", [(40, 64, 1, 0.5), (40, 64, 40, 0.5), (300, 64, 64, 0.1), (300, 64, 64, 0.5),
                                           (300, 64, 64, 1.0)])
def test_mm2_with_and_without_dead_columns(P, K, N, dead):
    """``_mm2`` on products below ``DROP_MIN_WORK`` (dead columns kept) and above it
    with few and many dead columns (left out above ``1 - DROP_LIVE_FRACTION``), and all of them
    dead: numpy's product to rounding, written over a larger output buffer full of NaN (every
    entry of the result is written)."""
    rng = np.random.default_rng(N + P)
    AA = rng.normal(size=(2 * P, K))
    AA[:, rng.random(K) < dead] = 0.0
    WT, b = rng.normal(size=(K, N)), rng.normal(size=N)
    U, dU = products._mm2(AA, P, WT, b, np.full(2 * P * N + 7, np.nan))
    np.testing.assert_allclose(U, AA[:P] @ WT + b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dU, AA[P:] @ WT, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("K, N, zeros", [(784, 64, 0.0), (784, 64, 0.6), (5, 3, 0.3), (30, 180, 0.0)])
def test_first_layer_is_the_fixed_order_sum(K, N, zeros):
    """``_first_layer`` (values at both ends, tangent, rounding scale in one pass over W) against the
    fixed-order sums written out in numpy (b, then x_k w_k for k in order, zeros skipped), bit for
    bit, with dense inputs (the fused loop) and with zeros and equal coordinates (the per-row
    branches); the batched ``first_layers`` gives every segment the same rows."""
    rng = np.random.default_rng(K + N)
    x0, x1 = rng.random(K), rng.random(K)
    x0[rng.random(K) < zeros] = 0.0
    x1[rng.random(K) < zeros] = 0.0
    x1[:2] = x0[:2]
    WT, b = rng.normal(size=(K, N)), rng.normal(size=N)
    U, dU, tol = products._first_layer(x0, x1, WT, b)
    ref = [b.copy(), b.copy(), np.zeros(N), np.abs(b)]
    for k in range(K):
        for r, a in zip(ref, (x0[k], x1[k], x1[k] - x0[k])):
            if a != 0.0:
                r += a * WT[k]
        a = max(abs(x0[k]), abs(x1[k]))
        if a != 0.0:
            ref[3] += a * np.abs(WT[k])
    np.testing.assert_array_equal(U, np.stack(ref[:2]))
    np.testing.assert_array_equal(dU, np.stack([ref[2], ref[2]]))
    np.testing.assert_array_equal(tol, ref[3])
    np.testing.assert_allclose(U, np.stack([x0, x1]) @ WT + b, rtol=1e-12, atol=1e-12)
    X0, X1 = np.stack([rng.random(K), x0]), np.stack([rng.random(K), x1])
    Ub, dUb, tolb = nb.first_layers(X0, X1, WT, b)
    np.testing.assert_array_equal(Ub[2:], U)
    np.testing.assert_array_equal(dUb[1], dU[0])
    np.testing.assert_array_equal(tolb[1], tol)


@pytest.mark.parametrize("M", [0, 1, 3, 4, 6, 9])
def test_rowwise_kernel_is_the_fixed_order_sum(M):
    """The row-wise kernel (rows four at a time, inputs four at a time) against the fixed-order
    sums written out in numpy (b on the first P rows, then a_k w_k for k in order), bit for bit,
    with ReLU-like zeros, dead inputs and a row count that is not a multiple of four; its fused
    rounding scale is ``_tol_scale``'s."""
    rng = np.random.default_rng(40 + M)
    K, N, P = 37, 23, M // 2
    A = rng.normal(size=(M, K))
    A[rng.random(A.shape) < 0.5] = 0.0
    A[:, :5] = 0.0
    WT, b = rng.normal(size=(K, N)), rng.normal(size=N)
    amax = np.abs(rng.normal(size=K))
    amax[3:8] = 0.0
    R, tol = products._rowwise_tol(A, WT, b, P, amax)
    ref = np.array([b.copy() if i < P else np.zeros(N) for i in range(M)]).reshape(M, N)
    for i in range(M):
        for k in range(K):
            if A[i, k] != 0.0:
                ref[i] += A[i, k] * WT[k]
    np.testing.assert_array_equal(R, ref)
    ref_tol = np.abs(b)  # |b|, then amax_k |w_k| for k in order, zeros skipped
    for k in range(K):
        if amax[k] != 0.0:
            ref_tol = ref_tol + amax[k] * np.abs(WT[k])
    np.testing.assert_array_equal(tol, ref_tol)
    np.testing.assert_array_equal(tol, products._tol_scale(amax, np.abs(WT), b))
    for i in range(M):  # a row's value does not depend on the rows it is grouped with
        alone, _ = products._rowwise_tol(A[i:i + 1].copy(), WT, b, int(i < P), np.empty(0))
        np.testing.assert_array_equal(alone, ref[i:i + 1])


@pytest.mark.parametrize("act", [relu(), hard_tanh()], ids=["relu", "hard_tanh"])
def test_extension_is_the_forward_pass_at_every_point(act):
    """Layers wide enough for ``_extend`` (values and tangents at inserted points from the points
    before): the output at every point of the partition against a plain float64 forward pass at
    that point, and the output's slope on every interval against the forward-mode tangent at the
    interval's midpoint, to rounding (oracle: ``Network.forward`` and ``_forward_tangent``, which
    compute every point from scratch)."""
    from linregions.line.core import _forward_tangent

    rng = np.random.default_rng(11)
    n_in = 90
    net = random_mlp(n_in, [120, 100, 80], 3, activation=act, biases=Normal(std=0.1), seed=12)
    assert min((n_in,) + net.widths) >= _kernels_line.EXTEND_MIN_FANIN
    X0, X1 = rng.random((4, n_in)), rng.random((4, n_in)) * 3.0
    batch = lines(net, X0, X1)
    inserted = 0
    for i in range(4):
        p = batch[i]
        assert p.num_regions("activation") > 20
        v = X1[i] - X0[i]
        t = np.concatenate([[0.0], p.t, [1.0]])
        N = net(X0[i] + t[:, None] * v)
        scale = np.abs(N).max() + 1.0
        # the affine piece on each kept interval reproduces the forward pass at both of its ends
        for k in range(t.size - 1):
            for e in (k, k + 1):
                np.testing.assert_allclose(p.intercepts[k] + p.slopes[k] * t[e], N[e], rtol=0, atol=1e-11 * scale)
            mid = X0[i] + 0.5 * (t[k] + t[k + 1]) * v
            _, _, dN = _forward_tangent(net, mid[None], v[None])
            np.testing.assert_allclose(p.slopes[k], dN[0], rtol=1e-10, atol=1e-12 * np.abs(dN).max())
        inserted += t.size
    assert inserted > 100


def test_compiled_only_limiter_keeps_numpy_blas_and_restores():
    """``one_blas_thread(compiled_only=True)`` limits a non-empty subset of the BLAS libraries
    (all of them when there is one), never numpy's bundled one when another is loaded, and
    restores every setting on exit."""
    import os

    ctl = _kernels_line._blas_controller()
    libs = _kernels_line._blas_libs(False)
    if not libs:
        pytest.skip("no BLAS library that threadpoolctl can control")
    sub = _kernels_line._blas_libs(True)
    assert sub and all(lib in libs for lib in sub)
    np_dir = os.path.dirname(os.path.realpath(np.__file__))
    if len(libs) > 1 and len(sub) < len(libs):
        assert all(not os.path.realpath(lib.filepath).startswith(np_dir) for lib in sub)
    before = [lib["num_threads"] for lib in ctl.info() if lib["user_api"] == "blas"]
    with _kernels_line.one_blas_thread(compiled_only=True):
        assert all(lib.get_num_threads() == 1 for lib in sub)
    assert [lib["num_threads"] for lib in ctl.info() if lib["user_api"] == "blas"] == before
