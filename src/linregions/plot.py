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

__all__ = ["plot_plane", "save_plane", "plot_through", "region_colors", "plot_line", "save_line"]

_HASH_SEED = 0x5EED


def _pattern_hash(part) -> np.ndarray:
    """(F,) uint64 hash of every face's activation pattern (all layers), from the public
    ``activation_codes`` (layer by layer, in blocks of faces)."""
    rng = np.random.default_rng(_HASH_SEED)
    h = np.zeros(part.num_faces, np.uint64)
    for st in part.activation_codes():
        r = rng.integers(1, 2**63, size=st.shape[1], dtype=np.uint64) | np.uint64(1)
        with np.errstate(over="ignore"):
            hl = np.zeros(st.shape[0], np.uint64)
            for s0 in range(0, st.shape[0], 1 << 14):
                blk = st[s0 : s0 + (1 << 14)].astype(np.uint64) + np.uint64(1)
                hl[s0 : s0 + (1 << 14)] = (blk * r).sum(axis=1, dtype=np.uint64)
            h = h * np.uint64(0x9E3779B97F4A7C15) + hl
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


def _decision_segments(part, level: float | None = None) -> np.ndarray:
    """Exact segments (k, 2, 2) of the decision boundary inside the faces
    (``linregions.decision.plane_boundary``: {N = level} for one output, argmax changes else)."""
    from .decision import plane_boundary

    return plane_boundary(part, level).segments


def _layer_colors(d: int, layer_colors):
    import matplotlib.pyplot as plt

    if layer_colors is None:
        cmap = plt.get_cmap("plasma")
        layer_colors = [cmap(0.85 * i / max(d - 1, 1)) for i in range(d)]
    if len(layer_colors) < d:
        raise ValueError(f"layer_colors needs {d} colours (one per hidden layer), got {len(layer_colors)}")
    return list(layer_colors)


def _layer_legend(ax, colors, layers, extra=(), **kw):
    from matplotlib.lines import Line2D

    handles = [Line2D([0], [0], color=colors[l], lw=2, label=f"layer {l}") for l in layers]
    handles += list(extra)
    if handles:
        ax.legend(handles=handles, fontsize=8, framealpha=0.85, **kw)


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
    level: float | None = None,
    legend: bool = True,
    ticks: bool = True,
    title: str | None = None,
):
    """Draw a ``PlanePartition`` (Figure 1 style) on ``ax`` (a new figure if None); returns ax.

    kind : colour linear regions ("linear") or activation regions ("activation").
    edge_kind : which boundaries to draw: "activation" (all neuron edges; default) or "linear"
        (edges of good neurons only, i.e. B_N).
    layer_colors : one colour per hidden layer for the boundaries (default: a sequential map).
    marks : mark the inputs stored in the partition (``plane_through``'s three points).
    decision_boundary : draw the exact decision boundary: {N = level} (one output, ``level``
        default 0) or where the argmax class changes (several outputs), clipped inside every face
        (``linregions.decision.plane_boundary``).
    legend : a legend of the layer colours (and of the decision boundary).
    ticks : axis ticks in plane coordinates (u, v).
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
    d = part.net.depth
    colors = _layer_colors(d, layer_colors)
    shown_layers: list[int] = []
    if edges:
        m = part.interior.copy() if edge_kind == "activation" else np.asarray(part.linear_edges) & part.interior
        seg = part.vertices[part.edges[m]]
        layer = part.edge_layer[m]
        from matplotlib.colors import to_rgba

        cols = np.array([to_rgba(c) for c in colors])[layer] if layer.size else np.zeros((0, 4))
        ax.add_collection(LineCollection(seg, colors=cols, linewidths=linewidth))
        dom = np.vstack([part.domain, part.domain[:1]])
        ax.plot(dom[:, 0], dom[:, 1], color="k", linewidth=linewidth)
        shown_layers = sorted(set(np.unique(layer).tolist()))
    extra = []
    if decision_boundary:
        from matplotlib.lines import Line2D

        seg = _decision_segments(part, level)
        lw = 2.5 * linewidth + 0.5
        ax.add_collection(LineCollection(seg, colors="k", linewidths=lw))
        extra.append(Line2D([0], [0], color="k", lw=lw, label="decision boundary"))
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
    if ticks:
        ax.tick_params(labelsize=8)
        ax.set_xlabel("u (plane coordinate)", fontsize=8)
        ax.set_ylabel("v (plane coordinate)", fontsize=8)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if legend and (shown_layers or extra):
        _layer_legend(ax, colors, shown_layers, extra, loc="upper right")
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


def plot_line(
    part,
    ax=None,
    *,
    output: int | None = None,
    layer_colors: Sequence[Any] | None = None,
    decision_boundary: bool = True,
    level: float | None = None,
    legend: bool = True,
    title: str | None = None,
):
    """Draw a ``LinePartition``: the output along the segment (exact: N is affine between the
    breakpoints, so the curve is drawn through its values at them) over a rug of breakpoints
    coloured by the layer of the neuron that switches (solid: linear-region boundaries, where
    the slope jumps; faint: activation-only boundaries), with the decision points marked.

    ``output``: which output to draw (default: all). x axis: distance along the segment from x0.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    L = float(part.length)
    t = np.concatenate([[0.0], np.asarray(part.t, float), [1.0]])
    S, O = np.asarray(part.slopes, float), np.asarray(part.intercepts, float)
    n_out = O.shape[1]
    outs = range(n_out) if output is None else [int(output)]
    if output is not None and not 0 <= int(output) < n_out:
        raise ValueError(f"output must be in 0..{n_out - 1}, got {output!r}")
    # values at every breakpoint from the interval on its left, and at t = 1
    vals = np.vstack([O + S * t[:-1, None], O[-1:] + S[-1:] * 1.0])
    cmap = plt.get_cmap("tab10")
    for o in outs:
        ax.plot(t * L, vals[:, o], color=cmap(o % 10), lw=1.2, label=f"N[{o}]" if n_out > 1 else "N")
    lo, hi = ax.get_ylim()
    # the layer of each breakpoint: the deepest layer switching there
    m = np.asarray(part.t).size
    pt_layer = np.zeros(m, np.int64)
    if m:
        np.maximum.at(pt_layer, np.asarray(part.crossing_point), np.asarray(part.layer))
    d = int(pt_layer.max()) + 1 if m else 1
    if layer_colors is not None:
        d = max(d, len(layer_colors))
    colors = _layer_colors(d, layer_colors)
    from matplotlib.colors import to_rgba

    rgba = np.array([to_rgba(c) for c in colors])[pt_layer] if m else np.zeros((0, 4))
    lin = np.asarray(part.linear, bool)
    rgba[~lin, 3] = 0.35
    h = 0.08 * (hi - lo)
    x = np.asarray(part.t, float) * L
    seg = np.stack([np.stack([x, np.full(m, lo)], 1), np.stack([x, np.full(m, lo + h)], 1)], axis=1) if m else np.zeros((0, 2, 2))
    ax.add_collection(LineCollection(seg, colors=rgba, linewidths=np.where(lin, 1.2, 0.8)))
    extra = []
    if decision_boundary:
        from .decision import segment_boundary

        db = segment_boundary(part, level)
        if db.num_points:
            ax.scatter(db.t * L, np.full(db.num_points, lo + 1.6 * h), marker="v", c="k", s=25, zorder=5)
        extra.append(Line2D([0], [0], marker="v", color="k", lw=0, label="decision boundary"))
    if n_out == 1 and decision_boundary:
        ax.axhline(0.0 if level is None else float(level), color="0.5", lw=0.6, ls=":")
    ax.set_ylim(lo, hi)
    ax.set_xlim(0.0, L)
    ax.set_xlabel("distance along the segment from x0", fontsize=8)
    ax.set_ylabel("output", fontsize=8)
    ax.tick_params(labelsize=8)
    if legend:
        handles = ax.get_legend_handles_labels()[0]
        layers = sorted(set(pt_layer.tolist()))
        lh = [Line2D([0], [0], color=colors[l], lw=2, label=f"layer {l}") for l in layers]
        ax.legend(handles=handles + lh + extra, fontsize=7, ncol=2, framealpha=0.85)
    if title is None:
        title = f"{part.num_regions('linear')} linear / {part.num_regions('activation')} activation regions"
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def save_line(part, path, *, dpi: int = 150, figsize=(7, 3), **kw) -> None:
    """Draw ``part`` (``plot_line`` options) and write it to ``path`` (format by extension)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    ax = fig.add_subplot(1, 1, 1)
    plot_line(part, ax=ax, **kw)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
