"""linregions: exact linear regions of piecewise-linear networks, and the theory of
Hanin & Rolnick, "Complexity of Linear Regions in Deep Networks" (ICML 2019)."""
from __future__ import annotations

from .activations import (
    PiecewiseLinear,
    absolute,
    hard_sigmoid,
    hard_tanh,
    leaky_relu,
    relu,
    relu6,
    soft_shrink,
)
from .laws import AssumptionError, HeNormal, Laplace, Law, Normal, Uniform, Zero, random_mlp
from .line import LineBatch, LinePartition, line, lines, real_line
from .network import Network, PiecewiseLinearModule

from .network import ARGMAX, NEURON, PASSTHROUGH
from .plane import PlanePartition, plane, plane_through  # eager: the function shares the module's name
from .local_complexity import local_complexity  # eager: the function shares the module's name

__version__ = "0.1.0"

#: Names loaded on first use (``linregions.plane`` ...), so that ``import linregions`` stays light
#: (no torch, pandas or matplotlib until a routine that needs them is called).
_LAZY = {
    "plot": ("plot_plane", "save_plane", "plot_through", "plot_line", "save_line"),
    "decision": ("decision_boundary", "plane_boundary", "segment_boundary", "PlaneBoundary", "SegmentBoundary"),
    "regions": ("region_table", "dual_graph", "DualGraph", "class_components", "decision_betti", "DecisionTopology",
                "locate", "local_maps", "LocalMaps"),
    "serialize": ("save", "load", "to_frame", "to_geojson"),
    "local_complexity": ("lc_summary", "probe_directions", "published_proxy", "log_steps", "is_log_step", "ALL_LAYERS"),
    "distance": ("Distances", "distance_to_boundary"),
    "theory": (
        "NetworkLaw", "Segment", "Rectangle", "WholeSpace", "Estimate", "Theorem6Estimate", "theorem6",
        "approximation_bias", "segment_expected_count", "c_bias", "c_grad", "Corollary7", "corollary7",
        "Corollary8Row", "Corollary8", "corollary8", "FactCheck", "init_facts", "Measurement", "measure",
        "TheoryRow", "TheoryTable", "compare",
    ),
    "crofton": ("Box", "Ball", "kappa", "CroftonEstimate", "boundary_volume", "vertex_volume"),
    "enumerate": ("PolyhedralComplex", "complex_in_box"),
    "graph": (
        "CompiledNetwork", "compile_module", "network_from_module", "compiled_from", "GraphError",
        "shared_bias_groups", "check_independent_biases", "crossing_kinds", "argmax_crossings",
    ),
    "data": ("MNIST", "mnist"),
    "tracker": ("RegionTracker",),
    "sweep": ("run_sweep", "ResultStore", "grid", "CellResult"),
    "report": ("build_report",),
    "torch_io": ("load_model", "load_module"),
    "engine": ("ModuleProgram", "compile_program", "InputShapeError"),
}
_WHERE = {name: mod for mod, names in _LAZY.items() for name in names}

__all__ = [
    "PiecewiseLinear", "relu", "leaky_relu", "hard_tanh", "absolute", "relu6", "hard_sigmoid", "soft_shrink",
    "Network", "PiecewiseLinearModule", "NEURON", "PASSTHROUGH", "ARGMAX",
    "Law", "Normal", "Uniform", "Laplace", "Zero", "HeNormal", "AssumptionError", "random_mlp",
    "LinePartition", "LineBatch", "line", "lines", "real_line",
    "PlanePartition", "plane", "plane_through", "local_complexity",
    *_WHERE,
]


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'linregions' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
