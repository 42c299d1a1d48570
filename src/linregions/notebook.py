"""Rich display in notebooks (I/O edge): what the ``_repr_png_``, ``_repr_svg_`` and
``_repr_html_`` methods of partitions and results return.

A notebook asks an object for every representation it has and shows the richest, so the
picture is rendered once per object and cached (weakly: the cache dies with the object).
Pictures come from ``linregions.plot`` (``plot_plane`` for planar partitions, ``plot_line``'s
rug plot for segments). ``repr_svg`` returns None for large partitions (an SVG with one path per
region would weigh megabytes; the notebook then shows the PNG). Nothing here needs IPython.
"""
from __future__ import annotations

import base64
import html
import io
import weakref
from typing import Any

__all__ = ["repr_png", "repr_svg", "repr_html", "SVG_MAX_REGIONS"]

#: Planar partitions with more faces than this get no SVG representation (PNG only).
SVG_MAX_REGIONS = 5000

_CACHE: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _kind(obj) -> str | None:
    if hasattr(obj, "face_ptr") and hasattr(obj, "edge_faces"):
        return "plane"
    if hasattr(obj, "crossing_point") and hasattr(obj, "slopes") and not hasattr(obj, "point_offsets"):
        return "line"
    return None


def _render(obj, fmt: str) -> bytes:
    try:
        cache = _CACHE.setdefault(obj, {})
    except TypeError:  # not weak-referenceable: no cache
        cache = {}
    if fmt in cache:
        return cache[fmt]
    from matplotlib.figure import Figure

    k = _kind(obj)
    if k == "plane":
        from .plot import plot_plane

        fig = Figure(figsize=(5, 5))
        ax = fig.add_subplot(1, 1, 1)
        plot_plane(obj, ax=ax, decision_boundary=True)
    elif k == "line":
        from .plot import plot_line

        fig = Figure(figsize=(7, 3))
        ax = fig.add_subplot(1, 1, 1)
        plot_line(obj, ax=ax)
    else:
        raise TypeError(f"no picture for a {type(obj).__name__}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=100)
    cache[fmt] = buf.getvalue()
    return cache[fmt]


def repr_png(obj) -> bytes:
    """PNG bytes of the partition's picture."""
    return _render(obj, "png")


def repr_svg(obj) -> str | None:
    """SVG text of the partition's picture (None above ``SVG_MAX_REGIONS`` faces, or four times
    as many breakpoints on a segment)."""
    k = _kind(obj)
    if (k == "plane" and obj.num_faces > SVG_MAX_REGIONS) or (k == "line" and obj.t.size > 4 * SVG_MAX_REGIONS):
        return None
    return _render(obj, "svg").decode("utf-8")


def repr_html(obj, max_rows: int = 20) -> str:
    """HTML: for partitions, a one-line summary over the inline PNG; for results with a
    ``to_frame``, the summary over the first ``max_rows`` rows of the table; for DataFrames,
    pandas' own HTML."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return obj._repr_html_()
    head = f"<p><code>{html.escape(repr(obj))}</code></p>"
    if _kind(obj) is not None:
        b64 = base64.b64encode(repr_png(obj)).decode("ascii")
        return f'<div>{head}<img src="data:image/png;base64,{b64}" alt="{html.escape(type(obj).__name__)}"/></div>'
    if hasattr(obj, "to_frame"):
        df = obj.to_frame()
        more = f"<p>{len(df) - max_rows} more rows (to_frame() for all)</p>" if len(df) > max_rows else ""
        return f"<div>{head}{df.head(max_rows).to_html(index=False)}{more}</div>"
    return head
