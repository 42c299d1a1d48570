"""Exact measurement of the quantity of Theorem 6 on the same networks the estimators sample
(``measure``): exact counts and lengths, or unbiased Crofton estimates."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..crofton import Box, boundary_volume, vertex_volume
from ..line import lines, real_line
from ..network import Network

from .network_law import Kind, NetworkLaw
from .domains import Segment, Rectangle, WholeSpace, Domain
from .estimators import _nets, _check_common


# ------------------------------------------------------------------------------------------------
# measurement and comparison


#: Largest half-width tried when growing a square to hold every vertex of a 2-input network.
_WHOLE_PLANE_MAX_HALF_WIDTH = 1e6


def _whole_plane_vertices(net: Network, kind: str, **plane_kw) -> int:
    """Vertices of a 2-input network on all of R², counted in squares [-L, L]² of growing L
    (starting beyond every first-layer line's distance from the origin, ×4 each time) until the
    count is the same in three successive squares.

    Not proven complete: a vertex of a deeper layer farther out than the last square would be
    missed (the bounding box of all vertices is not computed). ``measure`` names the method
    accordingly ("plane, growing squares (stable count; not proven complete)")."""
    from ..plane import plane

    W, b = net.weights[0], net.biases[0]
    xi = np.abs(net.activations[0].breakpoints).max()
    nrm = np.linalg.norm(W, axis=1)
    ok = nrm > 0
    L = 2.0 * float(np.max((np.abs(b[ok]) + xi) / nrm[ok], initial=1.0)) + 1.0
    counts = []
    while L <= _WHOLE_PLANE_MAX_HALF_WIDTH:
        counts.append(int(plane(net, np.zeros(2), np.eye(2), (-L, L, -L, L), **plane_kw).num_vertices(kind)))
        if len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]:
            return counts[-1]
        L *= 4.0
    raise RuntimeError("vertices keep appearing far out; the network may be degenerate")


def _measure_one(net: Network, domain: Domain, k: int, kind: str, rng: np.random.Generator, crofton_n: int,
                 plane_kw: dict) -> tuple[float, float, str]:
    """(value, se, method) of vol_{m-k}(B_{N,k} ∩ K) for one network; se > 0 only for Crofton."""
    if isinstance(domain, Segment):
        if k != 1:
            raise ValueError("on a segment only k = 1 (boundary points) is defined")
        return float(lines(net, domain.x0[None], domain.x1[None]).num_regions(kind)[0] - 1), 0.0, "exact (line)"
    if isinstance(domain, Rectangle):
        from ..plane import plane

        part = plane(net, domain.origin, domain.basis, domain.bounds, **plane_kw)
        v = part.boundary_length(kind) if k == 1 else part.num_vertices(kind)
        return float(v), 0.0, "exact (plane)"
    if isinstance(domain, WholeSpace):
        if domain.dim == 1:
            return float(real_line(net).num_regions(kind) - 1), 0.0, "exact (real_line)"
        return float(_whole_plane_vertices(net, kind, **plane_kw)), 0.0, "plane, growing squares (stable count; not proven complete)"
    if isinstance(domain, Box) and domain.dim == 1:
        return float(lines(net, domain.low[None], domain.high[None]).num_regions(kind)[0] - 1), 0.0, "exact (line)"
    if isinstance(domain, Box) and domain.dim == 2:
        from ..plane import plane

        part = plane(net, np.zeros(2), np.eye(2), (domain.low[0], domain.high[0], domain.low[1], domain.high[1]), **plane_kw)
        v = part.boundary_length(kind) if k == 1 else part.num_vertices(kind)
        return float(v), 0.0, "exact (plane)"
    if k == 1:
        e = boundary_volume(net, domain, kind=kind, n=crofton_n, seed=rng)
        return e.value, e.se, "Crofton (chords)"
    if k == 2:
        e = vertex_volume(net, domain, kind=kind, n=crofton_n, seed=rng, **plane_kw)
        return e.value, e.se, "Crofton (planes)"
    raise ValueError(f"no measurement for k={k} on {domain!r} (exact or Crofton: k = 1, 2)")


@dataclass(frozen=True, eq=False)
class Measurement:
    """Measured vol_{m-k}(B_{N,k} ∩ K): mean over networks ± SE (over networks; for one network,
    the Crofton SE or 0 for exact counts), with each network's value."""

    value: float
    se: float
    k: int
    kind: str
    method: str
    per_network: np.ndarray

    def __repr__(self) -> str:
        return f"Measurement(k={self.k}, {self.kind}, {self.method}: {self.value:.5g} ± {self.se:.2g}, networks={self.per_network.size})"


def measure(model: NetworkLaw | Network, domain: Domain, k: int = 1, *, kind: Kind = "linear", n_networks: int = 16,
            seed: int = 0, crofton_n: int = 200, progress: bool = False, **plane_kw) -> Measurement:
    """The measured counterpart of ``theorem6``: exact counts/lengths (segments, 1D/2D boxes,
    rectangles, the whole line or plane of 1-/2-input networks) or unbiased Crofton estimates
    (boxes and balls in higher dimension), for the same networks ``theorem6`` samples with the
    same ``seed`` (so the two can be compared pairwise)."""
    _check_common(model, domain, k, kind, "substituted")
    nets = _nets(model, n_networks, seed)
    rng = np.random.default_rng([int(seed), 23])
    it = nets
    if progress and len(nets) > 1:
        from tqdm.auto import tqdm

        it = tqdm(nets, desc="measure", unit="net")
    res = [_measure_one(net, domain, int(k), kind, rng, crofton_n, plane_kw) for net in it]
    per = np.array([r[0] for r in res])
    if len(nets) >= 2:
        value, se = float(per.mean()), float(per.std(ddof=1) / math.sqrt(per.size))
    else:
        value, se = float(per[0]), float(res[0][1])
    return Measurement(value, se, int(k), kind, res[0][2], per)

