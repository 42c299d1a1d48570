"""The front door: ``plane`` (a slice given by origin, basis and domain) and ``plane_through``
(the slice through three inputs, as in the paper's Figure 1)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..network import Network, _as_matrix
from .builder import build
from .domain import COLLINEAR_RTOL, _check_basis, _plane_coords_polygon
from .partition import PlanePartition, assemble
from .values import DenseVertexValues


def plane(
    net: Network,
    origin: Any,
    basis: Any,
    bounds: Any = None,
    *,
    domain: Any = None,
    max_regions: int = 2_000_000,
    device: Any = None,
    progress: bool = False,
    marks: Any = None,
    input_shape: Any = None,
    chunk_points: int | None = None,
) -> "PlanePartition":
    """The exact partition of a planar slice into activation and linear regions.

    Parameters
    ----------
    net : the network: a ``linregions.Network``, or a piecewise-linear ``torch.nn.Module`` (MLP,
        CNN, ResNet), which runs with the module's own ops in float64 (``linregions.engine``: the
        same builder, pre-activations at vertices and the faces' affine maps from the module,
        never a dense matrix of a convolution). Its "layers" are then the activation sites.
    origin : (n_in,) the point at plane coordinates (0, 0); for a module, shaped like one sample
        (``input_shape``, default ``origin.shape``) or flat.
    basis : (n_in, 2) orthonormal columns (others are orthonormalised with a warning; parallel
        columns raise ``ValueError``); for a module also (2,) + input_shape (two directions
        shaped like samples).
    bounds : (u_min, u_max, v_min, v_max), the rectangle in plane coordinates.
    domain : instead of bounds, a convex polygon (k, 2) in plane coordinates.
    max_regions : budget; a domain that needs more activation regions raises ``ValueError``
        before memory runs out.
    device : None (numpy) or a torch device for the dense matmuls (e.g. ``"cuda"``).
    marks : optional (m, n_in) inputs to mark in pictures (projected onto the plane).
    input_shape, chunk_points : modules only: the shape of one sample, and the rows evaluated at
        once (peak memory; default from the widest activation site, ``engine.plane.plane_chunk``).

    Every result is checked for watertightness, and a ``RuntimeWarning`` says when the check
    failed or when close tolerance decisions (``PlanePartition.close_decisions``) erased more than
    rounding noise; ``part.certified`` is True when neither happened.

    >>> from linregions import random_mlp
    >>> net = random_mlp(2, [16, 16], seed=0)
    >>> part = plane(net, [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
    >>> bool(abs(part.areas("activation").sum() - 4.0) < 1e-9)
    True
    >>> part.num_regions("linear") <= part.num_regions("activation")
    True
    >>> part.euler_characteristic(), part.certified
    (1, True)
    """
    from ..line import _is_module

    module = _is_module(net)
    if module:
        origin, basis, marks, net = _module_inputs(net, origin, basis, marks, input_shape, device, chunk_points)
    elif input_shape is not None or chunk_points is not None:
        raise TypeError("input_shape and chunk_points apply to torch modules (the torch-native engine), "
                        "not to a linregions.Network")
    elif not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network or a torch.nn.Module, got {type(net).__name__}")
    x0, B = _check_basis(net, origin, basis)
    poly = _plane_coords_polygon(bounds, domain)
    if not isinstance(max_regions, (int, np.integer)) or max_regions < 1:
        raise ValueError(f"max_regions must be a positive integer, got {max_regions!r}")
    if device is not None and not module:
        try:
            import torch

            torch.zeros(1, dtype=torch.float64, device=device)
        except (ImportError, RuntimeError, TypeError, AssertionError) as e:
            raise ValueError(f"device {device!r} is not usable with torch here ({e}); use device=None for numpy") from None
    if marks is not None:
        M = _as_matrix(marks, "marks")
        M = M[None] if M.ndim == 1 else M
        if M.ndim != 2 or M.shape[1] != net.n_in:
            raise ValueError(f"marks must have shape (m, {net.n_in}), got {M.shape}")
        marks = (M - x0) @ B
    if module:
        from ..engine.plane import ModuleSlice

        rnet = net = ModuleSlice(net.prog, x0, B, net.chunk)
        values = rnet.vertex_values()
    else:
        rnet = net.restrict(x0, B)
        values = DenseVertexValues(rnet, device)
    try:
        bld = build(rnet, poly, max_regions, values, progress)
        return assemble(net, rnet, x0, B, poly, bld, marks)
    except MemoryError:
        raise ValueError(
            f"plane: out of memory while partitioning the domain (max_regions={max_regions}); "
            "shrink the domain or partition it in pieces"
        ) from None


class _Shape:
    """What ``_check_basis`` needs of a module before the plane is known: its input size, and the
    compiled program and chunk for ``plane``."""

    def __init__(self, prog: Any, chunk: int):
        self.prog, self.chunk, self.n_in = prog, chunk, prog.n_in


def _module_inputs(module: Any, origin: Any, basis: Any, marks: Any, input_shape: Any, device: Any, chunk_points: Any):
    """Compile the module (``engine.compile_program``: eval-mode float64 copy; training mode,
    unsupported ops and shapes that do not fit are refused there) and flatten origin, basis and
    marks given shaped like samples."""
    from ..engine import InputShapeError, compile_program
    from ..engine.plane import plane_chunk
    from ..torch_io import input_shape_of

    o = np.asarray(origin.detach().cpu() if hasattr(origin, "detach") else origin, dtype=np.float64)
    shape = tuple(o.shape) if input_shape is None else input_shape_of(input_shape)
    if not shape:
        raise ValueError(f"cannot tell the input shape from an origin of shape {o.shape}; pass input_shape")
    n_in = int(np.prod(shape))
    if o.shape != shape and o.shape != (n_in,):
        raise InputShapeError(f"origin of shape {o.shape} does not match the input shape {shape}")
    if chunk_points is not None and (isinstance(chunk_points, bool) or not isinstance(chunk_points, (int, np.integer))
                                     or chunk_points < 2):
        raise ValueError(f"chunk_points must be an int >= 2, got {chunk_points!r}")
    prog = compile_program(module, shape, device)
    b = np.asarray(basis.detach().cpu() if hasattr(basis, "detach") else basis, dtype=np.float64)
    if len(shape) > 1 and b.shape == (2,) + shape:
        b = b.reshape(2, -1).T
    elif b.shape != (n_in, 2):
        raise InputShapeError(f"basis of shape {b.shape} does not match the input shape {shape} "
                              f"(expected ({n_in}, 2) or (2, {', '.join(map(str, shape))}))")
    if marks is not None:
        M = np.asarray(marks.detach().cpu() if hasattr(marks, "detach") else marks, dtype=np.float64)
        if M.shape == shape or M.shape[1:] == shape:
            marks = M.reshape(-1, n_in)
    return o.reshape(-1), b, marks, _Shape(prog, plane_chunk(prog, chunk_points))


def plane_through(net: Network, p0: Any, p1: Any, p2: Any, margin: float = 0.1, **kw) -> "PlanePartition":
    """The partition of the plane through three inputs (the paper's Figure 1 slices through three
    MNIST digits): origin at their centroid, orthonormal basis from Gram-Schmidt of p1 - p0,
    p2 - p0, and the bounding rectangle of the three points widened by ``margin`` times its size.

    >>> from linregions import random_mlp
    >>> net = random_mlp(5, [8, 8], seed=0)
    >>> part = plane_through(net, np.zeros(5), np.eye(5)[0], np.eye(5)[1])
    >>> part.marks.shape
    (3, 2)

    ``net`` may be a torch module, with the three inputs shaped like one sample (see ``plane``).
    """
    from ..line import _is_module

    if _is_module(net):
        from ..torch_io import input_shape_of

        shape = kw.get("input_shape")
        shape = kw["input_shape"] = tuple(np.shape(p0)) if shape is None else input_shape_of(shape)
        n_in = int(np.prod(shape)) if shape else 0
        for name, p in (("p0", p0), ("p1", p1), ("p2", p2)):
            if tuple(np.shape(p)) not in (shape, (n_in,)):
                from ..engine import InputShapeError

                raise InputShapeError(f"{name} of shape {tuple(np.shape(p))} does not match the input shape {shape}")
        p0, p1, p2 = (np.asarray(p.detach().cpu() if hasattr(p, "detach") else p, dtype=np.float64).reshape(-1)
                      for p in (p0, p1, p2))
    elif not isinstance(net, Network):
        raise TypeError(f"expected a linregions.Network or a torch.nn.Module, got {type(net).__name__}")
    else:
        n_in = net.n_in
    pts = []
    for name, p in (("p0", p0), ("p1", p1), ("p2", p2)):
        a = _as_matrix(p, name).reshape(-1)
        if a.shape != (n_in,):
            raise ValueError(f"{name} must have shape ({n_in},), got {np.shape(p)}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or inf")
        pts.append(a)
    try:
        margin = float(margin)
    except (TypeError, ValueError):
        raise TypeError(f"margin must be a number, got {margin!r}") from None
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")
    d1, d2 = pts[1] - pts[0], pts[2] - pts[0]
    n1 = np.linalg.norm(d1)
    if n1 == 0:
        raise ValueError("p0 and p1 coincide: three distinct, non-collinear points are needed")
    q0 = d1 / n1
    r = d2 - (q0 @ d2) * q0
    if np.linalg.norm(r) <= COLLINEAR_RTOL * max(np.linalg.norm(d2), n1):
        raise ValueError("p0, p1, p2 are collinear (or two coincide): they do not determine a plane")
    B = np.stack([q0, r / np.linalg.norm(r)], axis=1)
    origin = (pts[0] + pts[1] + pts[2]) / 3
    S = (np.stack(pts) - origin) @ B
    lo, hi = S.min(axis=0), S.max(axis=0)
    ext = float(np.max(hi - lo))
    pad = margin * ext
    bounds = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    if bounds[1] - bounds[0] <= 0 or bounds[3] - bounds[2] <= 0:
        # the three points are spread along one plane axis only; use a square around them
        c = (lo + hi) / 2
        h = ext * (0.5 + margin)
        bounds = (c[0] - h, c[0] + h, c[1] - h, c[1] + h)
    kw.setdefault("marks", np.stack(pts))
    return plane(net, origin, B, bounds, **kw)

