"""Exact distance from inputs to the boundary of their region (docs/theory.md §4, Corollary 8).

Two kinds of region (docs/theory.md §2), two distances:

- ``kind="activation"``: the distance from x to the boundary of its *activation region* (constant
  activation pattern). On that region every pre-activation u_z is affine, so the region is the
  convex polytope ``{y : xi_{p_z} <= u_z(x) + grad u_z . (y - x) <= xi_{p_z + 1} for all z}``
  (p_z the piece of z at x, all neurons of all layers, with the region's gradients). For x inside a
  convex polytope the distance to its boundary is the distance to its complement, a union of open
  half-spaces, hence the minimum over constraints of the distance to the constraint's hyperplane:

      dist(x, boundary) = min_z min_{xi in {xi_p, xi_{p+1}}} |u_z(x) - xi| / ||grad u_z(x)||,

  the measure of Corollary 8 (docs/theory.md §4). The nearest boundary point is
  ``x - (u_z(x) - xi) grad u_z / ||grad u_z||^2`` for the minimising neuron; it lies in the closure
  of the region. Neurons with ``grad u_z = 0`` on the region (dead upstream) and passthrough units
  never switch there and are skipped. Vectorised in torch (CPU or CUDA): one forward pass that
  carries the Jacobians ``J_l = W_l D_{l-1} J_{l-1}`` of every layer, or their Gram matrices
  (cheaper when n_in exceeds the widths, e.g. MNIST), chunked to bound memory.

- ``kind="linear"``: the distance from x to B_N = {y : grad N is discontinuous at y}, the boundary
  of the *linear region* of x (activation regions glued across facets where the output's slope does
  not jump). See :func:`distance_to_boundary` for the search, its cost and its budget.

With probability one, distance(x, B_N) >= the activation distance, with equality when the facet
nearest to x is a facet of a good neuron (every neuron good: always equa

Layout: ``results`` (``Distances``), ``activation`` (the closed form on a ``Network``), ``module``
(the closed form on a ``torch.nn.Module``, through the torch-native engine), ``linear`` (the
best-first search to B_N). ``distance_to_boundary`` is the front door for both kinds and both
kinds of model.
"""
from __future__ import annotations

from typing import Any

from ..network import Network
from .activation import activation_distance
from .linear import FACET_RTOL, LDP_RTOL, TIGHT_RTOL, linear_distance
from .results import Distances, Kind, _check, _module_only, _net_only, is_module

__all__ = ["Distances", "distance_to_boundary", "activation_distance", "linear_distance", "LDP_RTOL", "FACET_RTOL", "TIGHT_RTOL"]


def distance_to_boundary(
    net: Network,
    X: Any,
    kind: Kind = "activation",
    *,
    device: Any = None,
    chunk_size: int | None = None,
    max_regions: int = 2000,
    method: str = "auto",
    progress: bool = False,
    input_shape: Any = None,
    chunk_points: int | None = None,
) -> Distances:
    """Exact distance from each input to the boundary of its activation or linear region.

    Parameters
    ----------
    net : the network: a ``linregions.Network``, or a piecewise-linear ``torch.nn.Module`` (MLP,
        CNN, ResNet; or an engine ``ModuleProgram``), evaluated with the module's own ops in float64
        through the torch-native engine (``distance.module``: never a dense matrix of a
        convolution). For modules, X is shaped like a batch of samples, (B,) + input_shape (or one
        sample, or flattened rows, with ``input_shape``); ``x`` and ``nearest`` of the result keep
        that shape, and ``layer``/``unit`` are the engine's activation site and flat unit index
        (``ModuleProgram.unit_name``), as ``lr.lines`` reports them on modules.
    X : (B, n_in) or (n_in,) inputs (numpy, torch or lists).
    kind : "activation" — the boundary of the activation region (docs/theory.md §4: min over neurons
        and the breakpoints on either side of |u_z(x) - xi| / ||grad u_z(x)||, exact because the
        region is convex; see the module docstring). "linear" — B_N, where grad N jumps.
    device : torch device for kind="activation" (e.g. "cuda"); default CPU.
    chunk_size : inputs per torch chunk (default: from a 128 MiB memory target).
    max_regions : kind="linear" only: budget of activation regions examined per input.
    method : kind="activation" only: "jacobian", "gram" or "auto" (see ``activation_distance``).
    progress : tqdm progress bar (chunks, or inputs for kind="linear").
    input_shape : modules only: the input shape without the batch dim (default ``X.shape[1:]``).
    chunk_points : modules only: (input, input-direction) rows evaluated at once by the module's
        ops (the forward-mode tangents that give every unit's ||grad u_z||); sets the peak memory
        (default ``engine.CHUNK_POINTS``). Cost: n_in linear passes of the module per input.
        kind="linear" on modules runs the search below on the dense compiled network, for inputs
        of at most ``distance.module.LINEAR_MODULE_MAX_INPUTS`` coordinates (else
        ``NotImplementedError``).

    Method, cost and limits of kind="linear" (best-first search over activation regions).
    Each activation region is a polytope whose H-representation follows from its pattern (the
    region's affine maps of every neuron). Starting from the region of x (the one-sided pattern
    at x along fixed generic directions, so x on a boundary is fine), candidate constraints are
    taken in the order of a lower bound of their distance (to their hyperplane, or to their
    region). A candidate gets its exact distance from x (the nearest point y of the region on the
    constraint's hyperplane) by least-distance programming (Lawson-Hanson, via scipy's NNLS:
    finite active-set, exact up to rounding) and is crossed at a point of the facet's relative
    interior: y itself when no other constraint is tight there (``TIGHT_RTOL``), y pushed
    infinitesimally along the facet when one is (lexicographic one-sided directions), else the
    centre of the largest ball in the facet from an LP (HiGHS; ``FACET_RTOL`` decides that the
    face is a true facet). The pattern beyond comes from a one-sided forward pass (``SNAP_RTOL``
    decides who is on a breakpoint). If the output's Jacobian differs on the two sides
    (``tolerances.slope_jump`` with the rounding floor ``slope_noise``, as ``line`` decides linear
    boundaries), grad N is discontinuous on the
    facet, y is a point of B_N and its distance bounds the answer from
    above; otherwise the region beyond is pushed with that distance as key. The search stops when
    the smallest key reaches the best bound found. It is exact: the ball around x of radius
    d(x, B_N) meets only activation regions of x's linear region, reached from x's region by
    crossings closer than d, so every region closer than d is examined and the nearest point of
    B_N shows up as a crossing with a jump. Cost per examined region: one pass over the layers
    building its constraints (O(sum n_l n_{l-1} n_in)) plus one NNLS of size
    (n_in + 1) x (#constraints) per candidate closer than the current best (and one LP of the
    same size for a candidate whose nearest point touches two or more other constraints). Meant
    for small input
    dimension (milliseconds to a second per input for n_in <= 10 and a few hundred neurons); the
    number of regions inside the ball grows fast with n_in and depth, so past ``max_regions``
    regions the search stops and the result says ``exact=False``, with ``distance`` an upper bound
    (possibly inf) and ``lower`` a lower bound (the smallest pending key).

    Returns
    -------
    Distances (numpy arrays).

    >>> import numpy as np
    >>> from linregions import random_mlp
    >>> net = random_mlp(2, [16, 16], seed=0)
    >>> X = np.random.default_rng(0).normal(size=(5, 2))
    >>> act = distance_to_boundary(net, X, "activation")
    >>> lin = distance_to_boundary(net, X, "linear")
    >>> bool(np.all(lin.distance >= act.distance * (1 - 1e-12)))
    True
    """
    if is_module(net):
        _net_only(chunk_size, method)
        if kind == "linear" and device is not None and str(device) != "cpu":
            raise ValueError(f"device: kind='linear' runs on the CPU (scipy NNLS), got device={device!r}")
        from .module import module_distance

        return module_distance(net, X, kind, input_shape=input_shape, device=device, chunk_points=chunk_points,
                               max_regions=max_regions, progress=progress)
    _module_only(input_shape, chunk_points)
    X = _check(net, X, kind)
    if kind == "activation":
        return activation_distance(net, X, device=device, chunk_size=chunk_size, method=method, progress=progress)
    if device is not None and str(device) != "cpu":
        raise ValueError(f"device: kind='linear' runs on the CPU (scipy NNLS), got device={device!r}")
    return linear_distance(net, X, max_regions=max_regions, progress=progress)
