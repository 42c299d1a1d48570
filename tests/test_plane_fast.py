"""The plane's compiled loops after the speed work of issue 15, each against an independent oracle:
set-bit iteration (``kernels._bit_index``) against ``np.nonzero``; the edge splitting and the list
of faces to cut (``kernels.split_chunk``, bit sets over several 64-bit words) against sides
computed directly from the values at the vertices; the close snapping decisions
(``kernels.snap_decisions``, branch-free) against the rule written out in numpy; the lines that
can cut a layer (``builder._crossing``, block-wise reductions) against whole-array reductions; and
the ReLU shortcut of the snapping scale (``values.DenseVertexValues``) against ``snap_scale`` on
|phi(u)|."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from linregions.laws import Normal, random_mlp
from linregions.tolerances import CLOSE_FACTOR, T_MERGE, snap_scale

# ``linregions.plane`` is also the name of the function the package exports: import by module path
K, B, VAL = (importlib.import_module(f"linregions.plane.{m}") for m in ("kernels", "builder", "values"))


def test_bit_index_of_every_single_bit():
    for i in range(64):
        assert K._bit_index(np.uint64(1) << np.uint64(i)) == i


def _square_complex(rng, n_lines: int, ncol: int):
    """One face (the square [-1, 1]^2) with affine values u = P @ A + c at its vertices, and
    ``n_lines`` (column, breakpoint) lines through the square."""
    P = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    A = rng.normal(size=(2, ncol))
    c = rng.normal(scale=0.3, size=ncol)
    cap = 4 + 4 * n_lines + 64
    U = np.empty((cap, ncol))
    U[:4] = P @ A + c
    cols = rng.integers(0, ncol, n_lines).astype(np.int64)
    xis = rng.uniform(-0.5, 0.5, n_lines)
    tols = np.full(n_lines, 1e-12)
    return P.copy(), U, cols, xis, tols


@pytest.mark.parametrize("n_lines", [5, 64, 70, 150])
def test_split_chunk_against_sides_at_the_vertices(n_lines):
    rng = np.random.default_rng(n_lines)
    P, U, cols, xis, tols = _square_complex(rng, n_lines, 40)
    sv = np.arange(4, dtype=np.int64)
    sl = -1 - np.arange(4, dtype=np.int64)
    fstart, flen = np.zeros(1, np.int64), np.array([4], np.int64)
    key, osv, osl = K.slot_edges(sv, sl, fstart, flen, 1, 4)
    P2, nV, nsv, nsl, fst, fln, anc, cptr, pk, merged, kept, status = K.split_chunk(
        P, 4, U, key, np.argsort(key), osv, osl, fstart, flen, 1, cols, xis, tols, T_MERGE, CLOSE_FACTOR)
    assert status == 0
    ring = nsv[fst[0]: fst[0] + fln[0]]
    d = U[:nV][:, cols] - xis  # (V, lines)
    pos, neg = d > tols, d < -tols
    # every edge of the ring is split: no line has the two ends of an edge strictly on both sides
    a, b = ring, np.roll(ring, -1)
    assert not np.any((pos[a] & neg[b]) | (neg[a] & pos[b]))
    # each new vertex lies on the edge it split and on (at least) one line exactly
    for v in range(4, nV):
        assert np.any(U[v, cols] == xis)
    # the face is listed with exactly the lines that have vertices strictly on both sides
    want = np.nonzero(pos[ring].any(axis=0) & neg[ring].any(axis=0))[0]
    if want.size:
        assert anc.tolist() == [0]
        assert pk[cptr[0]: cptr[1]].tolist() == want.tolist()
    else:
        assert anc.size == 0


def _snap_oracle(U, xi, tol, sw, cf):
    d = np.abs(U[:, :, None] - xi)  # (V, n, T)
    t = tol[None]
    on = d <= t
    erased = on & (d * cf > t)
    kept = ~on & (d < cf * t)
    return int(erased[:, sw].sum()), int(kept[:, sw].sum())


@pytest.mark.parametrize("T", [1, 3])
def test_snap_decisions_against_the_rule(T):
    rng = np.random.default_rng(T)
    V, n = 300, 17
    xi = np.sort(rng.normal(size=T))
    tol = rng.uniform(1e-3, 1e-2, size=(n, T))
    U = rng.choice(xi, size=(V, n)) + rng.choice([-1, 1], size=(V, n)) * rng.uniform(0, 0.03, size=(V, n))
    U[0, 0] = np.nan
    U[1, :T] = xi  # exactly on a breakpoint: neither close
    sw = rng.random(n) < 0.8
    got = K.snap_decisions(U, V, xi, tol, sw, CLOSE_FACTOR)
    assert tuple(int(x) for x in got) == _snap_oracle(U, xi, tol, sw, CLOSE_FACTOR)
    assert got[0] > 0 and got[1] > 0


def test_crossing_in_blocks_equals_whole_array_reductions():
    rng = np.random.default_rng(0)
    U = rng.normal(size=(40000, 9))  # several row blocks
    units = np.array([0, 3, 3, 8])
    xis = np.array([0.0, 1.0, -1.0, 4.5])
    tols = np.full(4, 1e-9)
    hi, lo = U.max(axis=0)[units], U.min(axis=0)[units]
    want = (hi - xis > tols) & (lo - xis < -tols)
    assert B._crossing(U, units, xis, tols).tolist() == want.tolist()
    U[123, 3] = np.nan  # NaN propagates as in the whole-array reductions
    hi, lo = U.max(axis=0)[units], U.min(axis=0)[units]
    assert B._crossing(U, units, xis, tols).tolist() == ((hi - xis > tols) & (lo - xis < -tols)).tolist()


def test_relu_snapping_scale_equals_the_scale_of_abs_phi():
    net = random_mlp(2, [7, 6], 1, biases=Normal(0.2), seed=1).restrict(np.zeros(2), np.eye(2))
    dv = VAL.DenseVertexValues(net)
    prev = np.random.default_rng(1).normal(size=(50, 7))
    out = np.empty((50, 6))
    scale = dv.preactivations(1, np.zeros((50, 2)), prev, out)
    A = np.maximum(prev, 0.0)
    W, b = net.weights[1], net.biases[1]
    assert np.array_equal(scale, snap_scale(W, b, np.abs(A).max(axis=0), net.activations[1].breakpoints))
    assert np.array_equal(out, A @ W.T + b)
