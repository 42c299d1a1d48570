"""Pictures of planar partitions in the style of the paper's Figure 1 (I/O edge, matplotlib).

Regions are filled with colours derived from a hash of their activation pattern, so a region
keeps its colour when the weights change a little (its pattern does not change); boundaries are
drawn with one colour per layer; marked inputs (the three points of ``plane_through``) and the
decision boundary can be added.

>>> import numpy as np
>>> from linregions import random_mlp
>>> from linregions.plane import plane
>>> part = plane(random_mlp(2, [8, 8], seed=0), [0.0, 0.0], np.eye(2), (-1, 1, -1, 1))
>>> ax = plot_plane(part)
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["plot_plane", "save_plane", "plot_through", "region_colors"]

_HASH_SEED = 0x5EED


def _pattern_hash(part) -> np.ndarray:
    """(F,) uint64 hash of every face's activation pattern (all layers)."""
    rng = np.random.default_rng(_HASH_SEED)
    h = np.zeros(part.num_faces, np.uint64)
    for l, st in enumerate(part._states):
        r = rng.integers(1, 2**63, size=st.shape[1], dtype=np.uint64) | np.uint64(1)
        with np.errstate(over="ignore"):
            hl = np.zeros(st.shape[0], np.uint64)
            for s0 in range(0, st.shape[0], 1 << 14):
                blk = st[s0 : s0 + (1 << 14)].astype(np.uint64) + np.uint64(1)
                hl[s0 : s0 + (1 << 14)] = (blk * r).sum(axis=1, dtype=np.uint64)
            h = h * np.uint64(0x9E3779B97F4A7C15) + hl[part._roots[:, l]]
    return h


def region_colors(part, kind: str = "linear") -> np.ndarray:
    """(F, 3) RGB colour of every face: a pastel hue from the pattern hash of the face (activation
    kind) or of the largest face of its linear region (linear kind)."""
    from matplotlib.colors import hsv_to_rgb

    h = _pattern_hash(part)
    if kind == "linear":
        lab = part.region_labels
        order = np.lexsort((-part.face_areas, lab))
        first = np.ones(order.size, bool)
        first[1:] = lab[order[1:]] != lab[order[:-1]]
        rep = np.empty(int(lab.max()) + 1, np.int64)
        rep[lab[order[first]]] = order[first]
        h = h[rep[lab]]
    elif kind != "activation":
        raise ValueError(f"kind must be 'linear' or 'activation', got {kind!r}")
    hue = (h >> np.uint64(11)).astype(np.float64) / 2.0**53
    sat = 0.25 + 0.35 * ((h & np.uint64(0xFF)).astype(np.float64) / 255.0)
    val = 0.85 + 0.15 * (((h >> np.uint64(8)) & np.uint64(0xFF)).astype(np.float64) / 255.0)
    return hsv_to_rgb(np.stack([hue, sat, val], axis=1))


def _decision_segments(part) -> np.ndarray:
    """Exact segments of {N = 0} (one output) inside every face: (k, 2, 2)."""
    grad, off = part.affine_maps()
    fv, ptr = part.face_vertices, part.face_ptr
    face = np.repeat(np.arange(part.num_faces), np.diff(ptr))
    P = part.vertices[fv]
    val = off[face, 0] + np.einsum("sj,sj->s", grad[face, 0], P)
    nxt = np.arange(fv.size) + 1
    nxt[ptr[1:] - 1] = ptr[:-1]
    s, sn = np.sign(val), np.sign(val[nxt])
    cross = np.nonzero((s * sn < 0) | ((s == 0) & (sn != 0)))[0]
    t = np.where(s[cross] == 0, 0.0, val[cross] / (val[cross] - val[nxt[cross]] + (s[cross] == 0)))
    pts = P[cross] + t[:, None] * (P[nxt[cross]] - P[cross])
    f = face[cross]
    # faces with exactly two crossings give one segment
    order = np.argsort(f, kind="stable")
    f, pts = f[order], pts[order]
    uf, start, cnt = np.unique(f, return_index=True, return_counts=True)
    ok = cnt == 2
    return np.stack([pts[start[ok]], pts[start[ok] + 1]], axis=1)


def plot_plane(
    part,
    ax=None,
    *,
    kind: str = "linear",
    fill: bool = True,
    edges: bool = True,
    edge_kind: str | None = None,
    layer_colors: Sequence[Any] | None = None,
    linewidth: float | None = None,
    marks: bool = True,
    mark_labels: Sequence[str] | None = None,
    decision_boundary: bool = False,
    title: str | None = None,
):
    """Draw a ``PlanePartition`` (Figure 1 style) on ``ax`` (a new figure if None); returns ax.

    kind : colour linear regions ("linear") or activation regions ("activation").
    edge_kind : which boundaries to draw: "activation" (all neuron edges; default) or "linear"
        (edges of good neurons only, i.e. B_N).
    layer_colors : one colour per hidden layer for the boundaries (default: a sequential map).
    marks : mark the inputs stored in the partition (``plane_through``'s three points).
    decision_boundary : draw {N = 0} exactly (one output) or where the argmax class changes
        (several outputs, drawn from a grid of the plane).
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PolyCollection

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    edge_kind = edge_kind or "activation"
    if edge_kind not in ("linear", "activation"):
        raise ValueError(f"edge_kind must be 'linear' or 'activation', got {edge_kind!r}")
    F = part.num_faces
    if linewidth is None:
        linewidth = float(np.clip(60.0 / np.sqrt(max(F, 1)), 0.15, 1.2))
    if fill:
        polys = np.split(part.vertices[part.face_vertices], part.face_ptr[1:-1])
        ax.add_collection(PolyCollection(polys, facecolors=region_colors(part, kind), edgecolors="none", antialiased=False))
    if edges:
        m = part._boundary_edges(edge_kind)
        seg = part.vertices[part.edges[m]]
        layer = part.edge_layer[m]
        d = part.net.depth
        if layer_colors is None:
            cmap = plt.get_cmap("plasma")
            layer_colors = [cmap(0.85 * i / max(d - 1, 1)) for i in range(d)]
        if len(layer_colors) < d:
            raise ValueError(f"layer_colors needs {d} colours (one per hidden layer), got {len(layer_colors)}")
        from matplotlib.colors import to_rgba

        cols = np.array([to_rgba(c) for c in layer_colors])[layer]
        ax.add_collection(LineCollection(seg, colors=cols, linewidths=linewidth))
        dom = np.vstack([part.domain, part.domain[:1]])
        ax.plot(dom[:, 0], dom[:, 1], color="k", linewidth=linewidth)
    if decision_boundary:
        if part.net.n_out == 1:
            seg = _decision_segments(part)
            ax.add_collection(LineCollection(seg, colors="k", linewidths=2.5 * linewidth + 0.5))
        else:
            lo, hi = part.domain.min(axis=0), part.domain.max(axis=0)
            u = np.linspace(lo[0], hi[0], 500)
            v = np.linspace(lo[1], hi[1], 500)
            UU, VV = np.meshgrid(u, v)
            cls = part.net(part.to_input(np.stack([UU.ravel(), VV.ravel()], 1))).argmax(axis=1).reshape(UU.shape)
            ax.contour(UU, VV, cls, levels=np.arange(part.net.n_out) + 0.5, colors="k", linewidths=2.5 * linewidth + 0.5)
    if marks and part.marks is not None:
        M = part.marks
        ax.scatter(M[:, 0], M[:, 1], s=40, c="k", zorder=5, edgecolors="w")
        labels = mark_labels if mark_labels is not None else [str(i) for i in range(M.shape[0])]
        for (x, y), lab in zip(M, labels):
            ax.annotate(lab, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=10, zorder=6)
    lo, hi = part.domain.min(axis=0), part.domain.max(axis=0)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is None:
        title = f"{part.num_regions('linear')} linear / {F} activation regions"
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def save_plane(part, path, *, dpi: int = 150, figsize=(6, 6), **kw) -> None:
    """Draw ``part`` (``plot_plane`` options) and write it to ``path`` (format by extension)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    ax = fig.add_subplot(1, 1, 1)
    plot_plane(part, ax=ax, **kw)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)


def plot_through(net, p0, p1, p2, ax=None, *, margin: float = 0.1, labels=None, plane_kw=None, **kw):
    """Partition the plane through three inputs (``plane_through``) and draw it with the
    points marked; returns ``(part, ax)``."""
    from .plane import plane_through

    part = plane_through(net, p0, p1, p2, margin=margin, **(plane_kw or {}))
    ax = plot_plane(part, ax=ax, mark_labels=labels, **kw)
    return part, ax
