"""The result of compiling a module (``CompiledNetwork``), the kinds of crossings it reports and
the bias-sharing check of assumption A2."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..laws import AssumptionError
from ..network import ARGMAX, NEURON, PASSTHROUGH, Network
from ..tolerances import SNAP_RTOL


#: A unit's bias is taken to depend on a bias parameter when the coefficient of that parameter
#: in the unit's pre-activation constant exceeds ``BIAS_DEP_RTOL`` times the largest such
#: coefficient of the unit. Coefficients are products of weights computed in float64 (relative
#: error ~1e-15); a parameter that cancels (``a - b`` of one channel in max-pooling) gives an
#: exact 0 or a rounding residue far below this, a genuine dependence a coefficient of the size
#: of the weights. Erring towards "depends" only makes the A2 check more conservative.
BIAS_DEP_RTOL = 1e-12


class GraphError(ValueError):
    """A node of the traced graph that cannot be compiled into a piecewise-linear network."""


# ----------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, eq=False, repr=False)
class CompiledNetwork:
    """A module compiled into a ``Network``, with where each hidden unit came from.

    Attributes
    ----------
    network : the ``Network`` (input: the module's input flattened in C order; output: the
        module's output flattened).
    input_shape, output_shape : the module's input and output shapes without the batch dim.
    node_names : names of the graph nodes that produced units (activations and maxima).
    unit_node : per hidden layer, (n_l,) index into ``node_names`` of each unit (-1: passthrough).
    unit_position : per hidden layer, (n_l,) flat position of the unit in its node's output
        (for an argmax unit: the position of the maximum it belongs to; -1: passthrough).
    argmax_parent : per hidden layer, (n_l, 2) the (layer, unit) of the tournament comparison
        that the output of this argmax unit enters next, or (-1, -1).
    argmax_side : per hidden layer, (n_l,) +1 when this unit's candidate is the ``a`` operand of
        its parent's ``relu(a - b)``, -1 when it is the carried ``b``, 0 otherwise.
    bias_names : names of the scalar bias parameters, e.g. ``'conv1.bias[3]'``.
    bias_sources : per hidden layer, (n_l, len(bias_names)) bool: unit's bias depends on it.
    """

    network: Network
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    node_names: tuple[str, ...]
    unit_node: tuple[np.ndarray, ...]
    unit_position: tuple[np.ndarray, ...]
    argmax_parent: tuple[np.ndarray, ...]
    argmax_side: tuple[np.ndarray, ...]
    bias_names: tuple[str, ...]
    bias_sources: tuple[np.ndarray, ...]

    def __repr__(self) -> str:
        counts = {k: sum(int((self.network.kinds(l) == v).sum()) for l in range(self.network.depth)) for k, v in
                  (("neurons", NEURON), ("argmax", ARGMAX), ("passthrough", PASSTHROUGH))}
        return (
            f"CompiledNetwork(input={self.input_shape}, output={self.output_shape}, layers={self.network.depth}, "
            f"neurons={counts['neurons']}, argmax_units={counts['argmax']}, passthrough={counts['passthrough']})"
        )

    def unit_name(self, layer: int, unit: int) -> str:
        """Readable name of hidden unit (layer, unit), e.g. ``'relu_1[17]'`` or ``'passthrough'``."""
        n = int(self.unit_node[layer][unit])
        if n < 0:
            return "passthrough"
        return f"{self.node_names[n]}[{int(self.unit_position[layer][unit])}]"

    def crossing_kinds(self, part: Any) -> np.ndarray:
        """Kind (NEURON or ARGMAX) of each crossing of a ``LinePartition``/``LineBatch``."""
        return crossing_kinds(self.network, part)

    def argmax_changes(self, part: Any) -> np.ndarray:
        """(c,) bool: the crossing is an ARGMAX crossing where the argmax of its maximum changes.

        At an argmax crossing two tournament candidates tie; the window's argmax changes there
        only if they are the window's maximum, i.e. if at the crossing point the tied pair wins
        every later round (a later comparison ``relu(a - b)`` has pre-activation >= 0 when the
        pair is on the ``a`` side, <= 0 on the ``b`` side; ties within ``SNAP_RTOL`` count as
        wins). Works with ``LinePartition`` and ``LineBatch`` (anything with ``layer``, ``unit``
        and crossing points).
        """
        layer, unit = np.asarray(part.layer), np.asarray(part.unit)
        out = np.zeros(layer.size, bool)
        am = crossing_kinds(self.network, part) == ARGMAX
        if not am.any():
            return out
        pts = _crossing_points(part)[am]
        net = self.network
        us = net.pre_activations(pts)
        acts = [pts] + [net.activate(l, us[l]) for l in range(net.depth)]
        tol = [SNAP_RTOL * (np.abs(acts[l]) @ np.abs(net.weights[l]).T + np.abs(net.biases[l])) for l in range(net.depth)]
        res = np.ones(pts.shape[0], bool)
        rows = np.arange(pts.shape[0])
        cl, cu = layer[am].copy(), unit[am].copy()
        while True:
            par = np.full((cl.size, 2), -1)
            side = np.zeros(cl.size, np.int8)
            for l in np.unique(cl[cl >= 0]):
                m = cl == l
                par[m] = self.argmax_parent[l][cu[m]]
                side[m] = self.argmax_side[l][cu[m]]
            live = par[:, 0] >= 0
            if not live.any():
                break
            r, pl, pu, s = rows[live], par[live, 0], par[live, 1], side[live]
            u = np.array([us[a][i, b] for i, a, b in zip(r, pl, pu)])
            t = np.array([tol[a][i, b] for i, a, b in zip(r, pl, pu)])
            res[r] &= np.where(s > 0, u >= -t, u <= t)
            cl, cu = np.where(live, par[:, 0], -1), np.where(live, par[:, 1], -1)
        out[am] = res
        return out

    def shared_bias_groups(self) -> tuple[np.ndarray, ...]:
        """See ``shared_bias_groups``."""
        return shared_bias_groups(self)

    def check_independent_biases(self, neurons: Any = None) -> None:
        """See ``check_independent_biases``."""
        check_independent_biases(self, neurons)


def _crossing_points(part: Any) -> np.ndarray:
    """Input-space point of each crossing of a LinePartition or LineBatch."""
    t = np.asarray(part.t)
    cp = np.asarray(part.crossing_point)
    x0, x1 = np.asarray(part.x0), np.asarray(part.x1)
    if x0.ndim == 1:
        return x0 + t[cp, None] * (x1 - x0)
    seg = np.searchsorted(np.asarray(part.point_offsets), cp, side="right") - 1
    return x0[seg] + t[cp, None] * (x1[seg] - x0[seg])


def crossing_kinds(net: Network, part: Any) -> np.ndarray:
    """(c,) int8 unit kind (``NEURON`` or ``ARGMAX``) of each crossing of a partition.

    ``part`` is anything with ``layer`` and ``unit`` arrays (``LinePartition`` and ``LineBatch``
    also carry it as ``unit_kind``).
    """
    from ..line import _unit_kinds

    return _unit_kinds(net, np.asarray(part.layer, np.int64), np.asarray(part.unit, np.int64))


def argmax_crossings(net: Network, part: Any) -> np.ndarray:
    """(c,) bool: the crossing is of an ``ARGMAX`` unit (two candidates of a maximum tie)."""
    return crossing_kinds(net, part) == ARGMAX


def shared_bias_groups(compiled: CompiledNetwork) -> tuple[np.ndarray, ...]:
    """Group the switching units by shared bias parameters.

    Returns per hidden layer an int array: units with the same non-negative id have biases that
    depend on a common scalar parameter (connected components over all layers: a conv channel's
    units form one group); -1 for passthrough units, -2 for units whose bias depends on no
    parameter (it is deterministic, e.g. argmax units or ``bias=False`` layers). Assumption A2
    (independent biases with a bounded density) can hold only for units alone in their group.
    """
    if not isinstance(compiled, CompiledNetwork):
        raise TypeError(f"shared_bias_groups needs a CompiledNetwork (from graph.compile_module), got {type(compiled).__name__}")
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    net = compiled.network
    sizes = [w for w in net.widths]
    off = np.concatenate([[0], np.cumsum(sizes)])
    n_u, n_p = int(off[-1]), len(compiled.bias_names)
    r, c = [], []
    for l, S in enumerate(compiled.bias_sources):
        i, j = np.nonzero(S)
        r.append(i + off[l])
        c.append(j + n_u)
    r, c = np.concatenate(r), np.concatenate(c)
    G = csr_matrix((np.ones(r.size), (r, c)), shape=(n_u + n_p, n_u + n_p))
    _, lab = connected_components(G, directed=False)
    out = []
    for l in range(net.depth):
        g = lab[off[l] : off[l + 1]].astype(np.int64)
        has = compiled.bias_sources[l].any(axis=1)
        g = np.where(has, g, -2)
        g = np.where(net.kinds(l) == PASSTHROUGH, -1, g)
        out.append(g)
    return tuple(out)


def check_independent_biases(compiled: CompiledNetwork, neurons: Any = None) -> None:
    """Raise ``AssumptionError`` unless the chosen switching units have independent biases.

    ``neurons``: (k, 2) array of (layer, unit), default all switching units. Fails when two of
    them share a bias parameter (a conv channel) or when one has no bias parameter (argmax
    units, ``bias=False``): Theorem 6 / Corollaries 7-8 need A2 for the neurons they sum over.
    Estimators that use one neuron at a time and only its bias's marginal law - the expected
    number of crossings of S_z (activation boundaries) of a neuron whose bias-free
    pre-activation does not depend on its own bias parameter, as for conv layers - remain valid.
    """
    groups = shared_bias_groups(compiled)
    net = compiled.network
    ids = net.neuron_ids if neurons is None else np.asarray(neurons, np.int64).reshape(-1, 2)
    seen: dict[int, tuple[int, int]] = {}
    for l, u in ids:
        g = int(groups[l][u])
        if g == -1:
            continue
        if g == -2:
            what = "an argmax unit of a maximum (max(a, b) = b + relu(a - b): the bias cancels in a - b)" if net.kinds(l)[u] == ARGMAX else "a unit with no bias parameter"
            raise AssumptionError(
                f"assumption A2 fails: neuron ({l}, {u}) = {compiled.unit_name(l, u)} is {what}; its bias has no density, "
                "so Theorem 6 / Corollaries 7-8 do not apply to it. Use exact counts (line, plane) instead."
            )
        if g in seen:
            l0, u0 = seen[g]
            common = np.nonzero(compiled.bias_sources[l0][u0] & compiled.bias_sources[l][u])[0]
            name = compiled.bias_names[common[0]] if common.size else "a chain of shared parameters"
            raise AssumptionError(
                f"assumption A2 fails: neurons ({l0}, {u0}) = {compiled.unit_name(l0, u0)} and ({l}, {u}) = "
                f"{compiled.unit_name(l, u)} share a bias ({name}); their biases are not independent, so the "
                "multi-neuron terms of Theorem 6 and Corollaries 7-8 do not apply. Per-neuron estimates of "
                "activation-boundary crossings (k = 1, marginal bias law) still do."
            )
        seen[g] = (int(l), int(u))


