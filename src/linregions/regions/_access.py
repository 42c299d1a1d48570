"""Which partition is this, and the derived arrays every region routine needs (from the public
fields of ``LinePartition``, ``PlanePartition`` and ``PolyhedralComplex`` only)."""
from __future__ import annotations

from typing import Literal

import numpy as np

Kind = Literal["linear", "activation"]


def check_kind(kind: str) -> None:
    if kind not in ("linear", "activation"):
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")


def which(part) -> str:
    """'plane', 'line' or 'complex' (duck-typed on public fields)."""
    if hasattr(part, "face_ptr") and hasattr(part, "edge_faces"):
        return "plane"
    if hasattr(part, "region_offsets") and hasattr(part, "facet_regions"):
        return "complex"
    if hasattr(part, "point_offsets"):
        raise TypeError("this is a LineBatch (many segments); index it (batch[i]) for one LinePartition")
    if hasattr(part, "slopes") and hasattr(part, "t") and hasattr(part, "crossing_point"):
        return "line"
    raise TypeError(f"expected a LinePartition, PlanePartition or PolyhedralComplex, got {type(part).__name__}")


def ring_edges(part) -> np.ndarray:
    """(slots,) global edge id of every ring side (face_vertices[i] -> next) of a plane."""
    fv, ptr = part.face_vertices, part.face_ptr
    nxt = np.arange(fv.size) + 1
    nxt[ptr[1:] - 1] = ptr[:-1]
    V = part.vertices.shape[0]
    a, b = fv, fv[nxt]
    key = np.minimum(a, b) * V + np.maximum(a, b)
    ekey = part.edges.min(axis=1) * V + part.edges.max(axis=1)
    order = np.argsort(ekey, kind="stable")
    pos = np.searchsorted(ekey, key, sorter=order)
    return order[np.minimum(pos, order.size - 1)]


def line_intervals(part) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) parameters of the activation intervals of a segment."""
    ends = np.concatenate([[0.0], np.asarray(part.t, float), [1.0]])
    return ends[:-1], ends[1:]


def line_labels(part) -> np.ndarray:
    """Linear-region index of every activation interval of a segment."""
    return np.concatenate([[0], np.cumsum(np.asarray(part.linear, bool))]).astype(np.int64)


def labels(part, kind: Kind) -> np.ndarray:
    """Region id (of the kind) of every activation region (face, interval or cell)."""
    check_kind(kind)
    w = which(part)
    if w == "plane":
        return np.arange(part.num_faces) if kind == "activation" else np.asarray(part.region_labels)
    if w == "line":
        n = np.asarray(part.t).size + 1
        return np.arange(n) if kind == "activation" else line_labels(part)
    R = part.region_volume.size
    if kind == "activation":
        return np.arange(R)
    _, lab = np.unique(part.region_linear, return_inverse=True)
    return lab.astype(np.int64)


def class_of(values: np.ndarray, level: float | None) -> np.ndarray:
    """Predicted class from outputs (..., n_out): argmax, or N > level for one output."""
    if values.shape[-1] == 1:
        return (values[..., 0] > (0.0 if level is None else float(level))).astype(np.int64)
    if level is not None:
        raise ValueError(f"level applies to one output; this network has {values.shape[-1]} outputs")
    return np.argmax(values, axis=-1).astype(np.int64)
