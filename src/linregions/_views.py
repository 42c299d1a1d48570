"""Thin methods shared by the partition results (``LinePartition``, ``PlanePartition``,
``PolyhedralComplex``): their regions as a table, point location, local affine maps, the dual
graph, and pictures in notebooks. Each delegates to the module that holds the object
(``regions``, ``notebook``), imported on first use so that results stay light."""
from __future__ import annotations

from typing import Literal

import numpy as np

Kind = Literal["linear", "activation"]


class RegionViews:
    """``regions``, ``locate``, ``local_maps``, ``dual_graph``, ``to_frame`` (``linregions.regions``)."""

    __slots__ = ()

    def regions(self, kind: Kind = "activation", *, columns="all", level: float | None = None):
        """One row per region (interval, face or cell), a pandas DataFrame (``linregions.regions.region_table``)."""
        from .regions import region_table

        return region_table(self, kind, columns=columns, level=level)

    def locate(self, points, kind: Kind = "activation") -> np.ndarray:
        """Region id of each point, -1 outside the domain: parameters t in [0, 1] or inputs on a
        segment, plane coordinates (m, 2) on a plane, box coordinates (m, n) in a box."""
        from .regions import locate

        return locate(self, points, kind)

    def local_maps(self, kind: Kind = "activation"):
        """Every region's affine map, Jacobian and Lipschitz constant (``linregions.regions.local_maps``)."""
        from .regions import local_maps

        return local_maps(self, kind)

    def dual_graph(self, kind: Kind = "activation"):
        """Region adjacency (scipy.sparse / networkx) with each adjacency's neuron and kind."""
        from .regions import dual_graph

        return dual_graph(self, kind)

    def to_frame(self, kind: Kind = "activation"):
        """The region table (``regions``)."""
        return self.regions(kind)


class NotebookViews:
    """``_repr_png_`` / ``_repr_svg_`` / ``_repr_html_`` for Jupyter (``linregions.notebook``)."""

    __slots__ = ()

    def _repr_png_(self) -> bytes:
        from .notebook import repr_png

        return repr_png(self)

    def _repr_svg_(self):
        from .notebook import repr_svg

        return repr_svg(self)

    def _repr_html_(self) -> str:
        from .notebook import repr_html

        return repr_html(self)
