"""Regions as objects: tables, adjacency, topology, point location and local maps.

Functions over the public fields of ``LinePartition``, ``PlanePartition`` and
``PolyhedralComplex`` (``complex_in_box``):

- ``region_table(part, kind)``: a pandas DataFrame, one row per region (``regionprops`` style),
- ``dual_graph(part, kind)``: region adjacency (scipy.sparse, networkx) with each adjacency's
  neuron, layer, unit kind and shared measure; ``class_components`` of a class's regions,
- ``decision_betti(part)``: Betti numbers of the decision regions of a planar slice,
- ``locate(part, points, kind)`` and ``local_maps(part, kind)``.
"""
from __future__ import annotations

from .dual import DecisionTopology, DualGraph, class_components, decision_betti, dual_graph
from .location import LOCATE_RTOL, LocalMaps, local_maps, locate
from .table import COLUMN_GROUPS, packed_patterns, region_table

__all__ = [
    "region_table", "COLUMN_GROUPS", "packed_patterns", "DualGraph", "dual_graph", "class_components",
    "DecisionTopology", "decision_betti", "locate", "LocalMaps", "local_maps", "LOCATE_RTOL",
]
