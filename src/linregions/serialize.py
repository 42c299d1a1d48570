"""Export and import (I/O edge): tidy tables, ``.npz`` files with JSON metadata, GeoJSON.

- ``to_frame(result)``: a ``pandas.DataFrame`` of any result (a partition's region table, or the
  result's own ``to_frame``).
- ``save(obj, path)`` / ``load(path)``: ``LinePartition``, ``LineBatch``, ``PlanePartition``,
  ``PolyhedralComplex`` and ``Network`` to one ``.npz`` file: every array under its field name
  and a JSON document (``__meta__``: format name, format version, type, the package version,
  scalar fields). Files are read with ``allow_pickle=False``: loading never runs code.
  A ``PlanePartition`` is saved with its network and the activation codes of its faces, so a
  loaded one answers every question (``affine_maps``, ``region_labels``, pictures) as the
  original did.
- ``to_geojson(part)``: a planar partition as a GeoJSON ``FeatureCollection`` (one Polygon per
  face with its properties, counter-clockwise exterior rings as RFC 7946 asks, and optionally the
  decision boundary as LineStrings), in plane coordinates.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import numpy as np

__all__ = ["FORMAT", "FORMAT_VERSION", "to_frame", "save", "load", "to_geojson"]

FORMAT = "linregions"
#: Bumped when the layout of saved files changes; ``load`` reads every version up to this one.
FORMAT_VERSION = 1


def to_frame(obj: Any, kind: str = "activation"):
    """A DataFrame of any result: ``obj.to_frame()`` where it has one, else the region table of
    a partition (``regions.region_table``)."""
    if hasattr(obj, "to_frame") and callable(obj.to_frame) and not _is_partition(obj):
        return obj.to_frame()
    if hasattr(obj, "point_offsets"):  # LineBatch: one row per segment
        import pandas as pd

        return pd.DataFrame({"segment": np.arange(len(obj)), "length": obj.lengths,
                             "linear_regions": obj.num_regions("linear"), "activation_regions": obj.num_regions("activation")})
    from .regions import region_table

    return region_table(obj, kind)


def _is_partition(obj) -> bool:
    return any(hasattr(obj, a) for a in ("face_ptr", "region_offsets", "crossing_point"))


# ----------------------------------------------------------------------------------------------
# networks


def _net_arrays(net, prefix: str = "net.") -> tuple[dict, dict]:
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"depth": net.depth, "activations": []}
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        arrays[f"{prefix}W{l}"] = np.asarray(W)
        arrays[f"{prefix}b{l}"] = np.asarray(b)
    for l, act in enumerate(net.activations):
        arrays[f"{prefix}xi{l}"] = np.asarray(act.breakpoints)
        arrays[f"{prefix}q{l}"] = np.asarray(act.slopes)
        arrays[f"{prefix}v{l}"] = np.asarray(act.value, dtype=np.float64)
        meta["activations"].append(act.name)
    if net.unit_kinds is not None:
        for l, k in enumerate(net.unit_kinds):
            arrays[f"{prefix}kind{l}"] = np.asarray(k)
        meta["unit_kinds"] = True
    return arrays, meta


def _net_from(arrays, meta, prefix: str = "net."):
    from .activations import PiecewiseLinear
    from .network import Network

    d = int(meta["depth"])
    Ws = tuple(arrays[f"{prefix}W{l}"] for l in range(d + 1))
    bs = tuple(arrays[f"{prefix}b{l}"] for l in range(d + 1))
    acts = []
    for l in range(d):
        v = arrays[f"{prefix}v{l}"]
        acts.append(PiecewiseLinear(arrays[f"{prefix}xi{l}"], arrays[f"{prefix}q{l}"], float(v) if v.ndim == 0 else v,
                                    name=meta["activations"][l]))
    kinds = tuple(arrays[f"{prefix}kind{l}"] for l in range(d)) if meta.get("unit_kinds") else None
    return Network(Ws, bs, tuple(acts), kinds)


# ----------------------------------------------------------------------------------------------
# save / load

def _dump_fields(obj, skip: tuple = ()) -> tuple[dict, dict]:
    """Every public dataclass field: arrays (tuples of arrays as ``name.i``) and JSON scalars."""
    arrays: dict[str, np.ndarray] = {}
    scalars: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.name.startswith("_") or f.name in skip or not f.init:
            continue
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            arrays[f.name] = v
        elif isinstance(v, tuple) and all(isinstance(x, np.ndarray) for x in v):
            for i, x in enumerate(v):
                arrays[f"{f.name}.{i}"] = x
            scalars[f.name] = {"tuple_of_arrays": len(v)}
        elif isinstance(v, np.generic):
            scalars[f.name] = v.item()
        elif v is None or isinstance(v, (bool, int, float, str)):
            scalars[f.name] = v
        else:
            raise TypeError(f"save: field {f.name!r} of {type(obj).__name__} holds a {type(v).__name__}, "
                            "which this file format cannot store")
    return arrays, scalars


def _load_fields(cls, arrays: dict, scalars: dict) -> dict:
    """Constructor arguments of ``cls`` from saved fields (fields the class does not have are
    ignored; fields the file does not have keep their defaults)."""
    kw: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name.startswith("_") or not f.init:
            continue
        if f.name in arrays:
            kw[f.name] = arrays[f.name]
        elif isinstance(scalars.get(f.name), dict) and "tuple_of_arrays" in scalars[f.name]:
            kw[f.name] = tuple(arrays[f"{f.name}.{i}"] for i in range(int(scalars[f.name]["tuple_of_arrays"])))
        elif f.name in scalars:
            kw[f.name] = scalars[f.name]
    return kw


def _type_of(obj) -> str:
    from .network import Network

    if isinstance(obj, Network):
        return "Network"
    if hasattr(obj, "face_ptr") and hasattr(obj, "edge_faces"):
        return "PlanePartition"
    if hasattr(obj, "region_offsets") and hasattr(obj, "facet_regions"):
        return "PolyhedralComplex"
    if hasattr(obj, "point_offsets"):
        return "LineBatch"
    if hasattr(obj, "crossing_point"):
        return "LinePartition"
    raise TypeError(f"save: cannot save a {type(obj).__name__}; expected a Network, LinePartition, LineBatch, "
                    "PlanePartition or PolyhedralComplex")


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` to ``path`` (``.npz``; the suffix is added when missing)."""
    from . import __version__

    typ = _type_of(obj)
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "type": typ, "linregions": __version__}
    if typ == "Network":
        a, m = _net_arrays(obj)
        arrays.update(a)
        meta["net"] = m
    else:
        a, meta["fields"] = _dump_fields(obj, skip=("net",))
        arrays.update(a)
        if typ == "PlanePartition":
            from .network import Network

            if not isinstance(obj.net, Network):
                raise TypeError(
                    "save: this PlanePartition was cut from a torch module, whose ops a .npz file cannot hold; "
                    "save the module itself (torch.save) and the partition's tables (to_frame(), to_geojson())")
            a, m = _net_arrays(obj.net)
            arrays.update(a)
            meta["net"] = m
            codes = obj.activation_codes()
            for l, c in enumerate(codes):
                arrays[f"codes{l}"] = np.asarray(c)
            meta["n_code_layers"] = len(codes)
    bad = [k for k, v in arrays.items() if v.dtype == object]
    if bad:
        raise TypeError(f"save: fields {bad} are not numeric arrays")
    arrays["__meta__"] = np.array(json.dumps(meta))
    path = os.fspath(path)
    np.savez_compressed(path, **arrays)


def load(path: str | os.PathLike):
    """Read an object written by ``save`` (never unpickles)."""
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"  # save adds the suffix
    with np.load(path, allow_pickle=False) as z:
        if "__meta__" not in z.files:
            raise ValueError(f"load: {os.fspath(path)!r} is not a linregions file (no __meta__ entry)")
        meta = json.loads(str(z["__meta__"]))
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    if meta.get("format") != FORMAT:
        raise ValueError(f"load: {os.fspath(path)!r} has format {meta.get('format')!r}, expected {FORMAT!r}")
    if int(meta.get("version", -1)) > FORMAT_VERSION or int(meta.get("version", -1)) < 1:
        raise ValueError(f"load: file format version {meta.get('version')!r} is not supported (this linregions reads "
                         f"versions 1..{FORMAT_VERSION}); upgrade linregions")
    typ = meta["type"]
    if typ == "Network":
        return _net_from(arrays, meta["net"])
    scalars = meta.get("fields", {})
    if typ == "LinePartition":
        from .line import LinePartition

        return LinePartition(**_load_fields(LinePartition, arrays, scalars))
    if typ == "LineBatch":
        from .line import LineBatch

        return LineBatch(**_load_fields(LineBatch, arrays, scalars))
    if typ == "PlanePartition":
        from .plane import PlanePartition

        net = _net_from(arrays, meta["net"])
        kw = _load_fields(PlanePartition, arrays, scalars)
        kw.pop("net", None)
        codes = tuple(arrays[f"codes{l}"] for l in range(int(meta["n_code_layers"])))
        F = kw["face_ptr"].size - 1
        rnet = net.restrict(kw["origin"], kw["basis"])
        # faces carry their own codes: the root of face f in every layer is f itself
        roots = np.tile(np.arange(F, dtype=np.int64)[:, None], (1, len(codes)))
        return PlanePartition(net=net, **kw, _states=codes, _roots=roots, _rnet=rnet)
    if typ == "PolyhedralComplex":
        from .enumerate import PolyhedralComplex

        return PolyhedralComplex(**_load_fields(PolyhedralComplex, arrays, scalars))
    raise ValueError(f"load: unknown type {typ!r} in {os.fspath(path)!r}")


# ----------------------------------------------------------------------------------------------
# GeoJSON


def to_geojson(part, path: str | os.PathLike | None = None, *, decision_boundary: bool = True,
               level: float | None = None) -> dict:
    """A planar partition as a GeoJSON FeatureCollection (plane coordinates).

    One ``Polygon`` feature per face (activation region) with properties ``face``,
    ``linear_region``, ``area``, ``class``, ``layer`` and ``pattern`` (viewers can dissolve
    faces by ``linear_region``), and with ``decision_boundary=True`` one ``LineString`` per
    boundary segment (``kind: "decision"``). Written to ``path`` when given."""
    from .regions import region_table

    if not (hasattr(part, "face_ptr") and hasattr(part, "edge_faces")):
        raise TypeError(f"to_geojson needs a PlanePartition, got {type(part).__name__}")
    df = region_table(part, columns=["size", "map", "pattern", "glue"], level=level)
    P = part.vertices[part.face_vertices]
    ptr = part.face_ptr
    rings = np.split(P, ptr[1:-1])
    feats = []
    recs = df[["region", "linear_region", "area", "class", "layer", "pattern"]].to_dict("records")
    for ring, rec in zip(rings, recs):  # JSON is built object by object
        coords = np.vstack([ring, ring[:1]]).tolist()
        props = {"face": int(rec["region"]), "linear_region": int(rec["linear_region"]), "area": float(rec["area"]),
                 "class": int(rec["class"]), "layer": int(rec["layer"]), "pattern": str(rec["pattern"]), "kind": "region"}
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [coords]}, "properties": props})
    if decision_boundary:
        from .decision import plane_boundary

        db = plane_boundary(part, level)
        for s, f, (a, b), pc in zip(db.segments.tolist(), db.face.tolist(), db.classes.tolist(), db.pieces.tolist()):
            feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": s},
                          "properties": {"kind": "decision", "face": f, "classes": [a, b], "piece": pc}})
    doc = {"type": "FeatureCollection", "features": feats,
           "properties": {"generator": "linregions", "coordinates": "plane (origin + basis @ s)",
                          "origin": np.asarray(part.origin).tolist() if np.asarray(part.origin).size <= 64 else None}}
    if path is not None:
        with open(os.fspath(path), "w") as fh:
            json.dump(doc, fh)
    return doc
