"""The builder's one interface to a network (``plane.values.VertexValues``): an implementation that
evaluates the *original* network with a fresh forward pass at the vertices' input-space points
(as an engine running a module's own ops would) gives the same partition as the dense one, which
continues from the interpolated pre-activations of the previous layer."""
from __future__ import annotations

import numpy as np
import pytest

from linregions.laws import Normal, random_mlp
from linregions.tolerances import snap_scale


class ForwardValues:
    """u_l at origin + basis @ points by a plain forward pass of the unrestricted network."""

    def __init__(self, net, origin, basis):
        self.net, self.origin, self.basis = net, origin, basis

    def preactivations(self, l, points, prev, out):
        X = self.origin + points @ self.basis.T
        a = X
        for k in range(l):
            a = self.net.activate(k, a @ self.net.weights[k].T + self.net.biases[k])
        W, b = self.net.weights[l], self.net.biases[l]
        out[:] = a @ W.T + b
        if l == 0:  # the scale of the restricted first layer, as the dense implementation uses
            W, b, a = W @ self.basis, W @ self.origin + b, points
        return snap_scale(W, b, np.abs(a).max(axis=0), self.net.activations[l].breakpoints)


@pytest.mark.parametrize("seed", [0, 1])
def test_forward_values_give_the_dense_partition(seed):
    import sys

    import linregions.plane  # noqa: F401
    from linregions.plane import plane

    B, P = (sys.modules[f"linregions.plane.{m}"] for m in ("builder", "partition"))
    net = random_mlp(5, [12, 12, 12], 2, biases=Normal(0.2), seed=seed)
    rng = np.random.default_rng(seed)
    origin = rng.normal(size=5)
    basis, _ = np.linalg.qr(rng.normal(size=(5, 2)))
    poly = np.array([[-1.0, -1], [1, -1], [1, 1], [-1, 1]])
    dense = plane(net, origin, basis, (-1, 1, -1, 1))
    rnet = net.restrict(origin, basis)
    bld = B.build(rnet, poly, 10**6, ForwardValues(net, origin, basis), False)
    other = P.assemble(net, rnet, origin, basis, poly, bld, None)
    assert other.watertight and other.certified
    assert other.num_regions("activation") == dense.num_regions("activation")
    assert other.num_regions("linear") == dense.num_regions("linear")
    assert np.allclose(np.sort(other.face_areas), np.sort(dense.face_areas), rtol=0, atol=1e-12)
    def patterns(part):
        return {tuple(r) for r in np.concatenate(part.activation_codes(), axis=1)}

    assert patterns(other) == patterns(dense)
