"""The columns of the local-complexity table, sample chunk by sample chunk: exact crossings of
random chords of the ball (column 1, boundary density by Crofton's formula), of the probe
diameters (column 2, through the star certificate's compact network where it applies), the
published proxy read off the same crossings (column 3), and the Theorem 6 k = 1 integrand at each
sample (column 4). The table itself (``local_complexity``) is assembled in the package's
``__init__``; the two switches below are module-level so that tests and benchmarks can compare
paths."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..line import LineBatch, lines
from ..network import Network
from ..tolerances import T_MERGE
from .probes import _star
from .star import StarCertificate, original_units, proxy_from_crossings, star_certificate, tail_network

if TYPE_CHECKING:
    from ..crofton import Ball


#: Run the exact 1D engine only where a diameter may cross: on a ``Network``, on the compact network
#: of the star certificate (``local_complexity.star``), with the proxy read off the same crossings;
#: on a module, on the diameters whose vertices do not both share x's activation pattern (when the
#: proxy's forward pass is made anyway, ``local_complexity.probes``). Off: every diameter through
#: the whole network and the proxy from the vertices' forward pass (the tests compare the two).
_SKIP_EMPTY_PROBES = True


#: Which exact 1D engine partitions a ``Network``'s chords and probes: "dense" (``linregions.lines``:
#: per-segment compiled kernel, close decisions re-decided exactly) or "torch" (``linregions.engine``
#: on ``Network.to_torch()``: the same crossings, batched over all segments; no exact re-decision).
#: ``benchmarks/local_complexity.py`` times both.
_SEGMENT_ENGINE = "dense"


def _point_layers(batch: LineBatch, depth: int) -> np.ndarray:
    """(n_points, depth) bool: which layers have a neuron switching at each boundary point."""
    M = np.zeros((batch.t.size, depth), bool)
    M[batch.crossing_point, batch.layer] = True
    return M


def _segment_of(offsets: np.ndarray, n: int) -> np.ndarray:
    return np.repeat(np.arange(offsets.size - 1), np.diff(offsets))[:n] if n else np.zeros(0, np.int64)


def _chord_counts(batch: LineBatch, depth: int) -> dict[str, np.ndarray]:
    """Per segment: boundary points of each kind, all layers (S,) and per layer (S, depth)."""
    S = len(batch)
    seg = _segment_of(batch.point_offsets, batch.t.size)
    PL = _point_layers(batch, depth)
    out = {}
    for kind in ("linear", "activation"):
        keep = batch.linear if kind == "linear" else np.ones(batch.t.size, bool)
        tot = np.bincount(seg[keep], minlength=S)
        per = np.zeros((S, depth))
        for l in range(depth):
            per[:, l] = np.bincount(seg[keep & PL[:, l]], minlength=S)
        out[kind] = np.column_stack([tot, per]).astype(np.float64)  # column 0: all layers
    return out


def _lines(net: Any, X0: np.ndarray, X1: np.ndarray) -> LineBatch:
    """Exact partitions of segments: ``lines`` on a ``Network`` (or the torch-native engine on its
    ``to_torch()`` module, with ``_SEGMENT_ENGINE = "torch"``), the engine on a ``ModuleModel``."""
    if not isinstance(net, Network):
        return net.lines(X0, X1)
    if _SEGMENT_ENGINE == "torch":
        from ..engine import lines as engine_lines

        return engine_lines(net.to_torch(), X0, X1, input_shape=(net.n_in,))
    return lines(net, X0, X1)


def _unit_layers(net: Any) -> np.ndarray:
    """(sum(widths),) the layer of every unit (passthrough units included: they never switch)."""
    return np.repeat(np.arange(net.depth), net.widths)


def _hr_values(net: Network, X: np.ndarray, bias_law: Any, device: Any) -> np.ndarray:
    """(S, depth, 2): the Theorem 6 k = 1 integrand at each x per layer (activation kind, linear
    kind in the substituted network), from the theory module's kernel ``_k1_values``: the layer
    split masks every other layer's terms (the kernel sums over layers)."""
    if not isinstance(net, Network):
        return net.hr(X, bias_law)
    import torch

    from ..crofton import Ball
    from ..laws import AssumptionError
    from ..theory._kernels import _k1_values, _TorchStack, _cpu_threads
    from ..theory.estimators import _check_a2_structure
    from ..theory.network_law import _laws_for

    linear_ok = True
    try:
        _check_a2_structure(net, per_neuron=False)  # ARGMAX units, shared conv biases: Theorem 6 does not apply
    except AssumptionError:
        _check_a2_structure(net, per_neuron=True)  # ARGMAX units still raise; shared biases warn
        linear_ok = False
    laws = _laws_for(net, bias_law, net.depth)
    ts = _TorchStack([net], laws, device, Ball(np.zeros(net.n_in), 1.0))
    switch = list(ts.switch)
    per_x = net.n_in * max(net.widths) + max(net.widths) ** 2 + 1
    B = max(1, min(X.shape[0], (8 * 2**20) // per_x))
    out = np.zeros((X.shape[0], net.depth, 2))
    for l in range(net.depth):
        ts.switch = [s if j == l else torch.zeros_like(s) for j, s in enumerate(switch)]
        for b0 in range(0, X.shape[0], B):
            S = torch.as_tensor(np.array(X[None, b0 : b0 + B]), dtype=torch.float64, device=ts.device)
            with _cpu_threads(device, S.shape[1] * per_x), torch.no_grad():
                v = _k1_values(ts, S)[0].cpu().numpy()  # (B, 3): activation, linear substituted, unmodified
            out[b0 : b0 + B, l] = v[:, :2]
    ts.switch = switch
    if not linear_ok:  # the linear kind's multi-neuron goodness needs independent biases (A2)
        import warnings

        warnings.warn("hr_linear is NaN: neurons of this network share biases (convolutions), so assumption A2 fails "
                      "for the linear kind of Theorem 6; hr_activation (per neuron) is computed", stacklevel=3)
        out[..., 1] = np.nan
    return out


def _density(net: Network, Xc: np.ndarray, ball: Ball, n_ch: int, key: list, kap: float,
             per_neuron: bool, us: list | None = None) -> dict[str, np.ndarray]:
    """Column 1 for a chunk: per sample, mean and SE over its chords of #points / length / κ.
    Each sample's chords come from its own generator (``key`` + its index), so results do not
    depend on how the samples are chunked. On a ``Network`` narrower than its input, the chords
    run in first-layer coordinates (``_segments_in_first_layer``), from the centres' u_0 (``us``)."""
    from ..crofton import random_directions

    m = Xc.shape[0]
    Pts, V = np.empty((m * n_ch, net.n_in)), np.empty((m * n_ch, net.n_in))
    for i in range(m):
        rng = np.random.default_rng([*key[:3], key[3] + i])
        Pts[i * n_ch : (i + 1) * n_ch] = ball.sample(rng, n_ch)  # uniform in B(0, r)
        V[i * n_ch : (i + 1) * n_ch] = random_directions(rng, n_ch, net.n_in)
    A, B = ball.chord(Pts, V)
    smp = np.repeat(np.arange(m), n_ch)
    batch = None
    if _folds(net):
        W0 = net.weights[0]
        batch = _segments_in_first_layer(net, Xc, smp, A @ W0.T, B @ W0.T, us)
    if batch is None:
        base = Xc[smp]
        batch = _lines(net, base + A, base + B)
    L = np.linalg.norm(B - A, axis=1)
    out = {"close_decisions": _close_per_sample(batch, m)}
    if per_neuron:
        seg = _segment_of(batch.crossing_offsets, batch.layer.size)
        col = _neuron_index(net, batch.layer, batch.unit)
        for kind in ("linear", "activation"):
            keep = batch.linear[batch.crossing_point] if kind == "linear" else np.ones(seg.size, bool)
            C = np.zeros((m * n_ch, int(sum(net.widths))))
            np.add.at(C, (seg[keep], col[keep]), 1.0)
            D = (C / L[:, None] / kap).reshape(m, n_ch, -1)
            out[f"density_{kind}"] = D.mean(axis=1)
            out[f"density_{kind}_se"] = D.std(axis=1, ddof=1) / math.sqrt(n_ch)
        return out
    counts = _chord_counts(batch, net.depth)
    for kind, C in counts.items():
        D = (C / L[:, None] / kap).reshape(m, n_ch, -1)  # (m, chords, 1 + depth)
        out[f"density_{kind}"] = D.mean(axis=1)
        out[f"density_{kind}_se"] = D.std(axis=1, ddof=1) / math.sqrt(n_ch)
    return out


def _neuron_index(net: Network, layer: np.ndarray, unit: np.ndarray) -> np.ndarray:
    offs = np.concatenate([[0], np.cumsum(net.widths)])
    return offs[layer] + unit


def _segments_in_first_layer(net: Any, Xc: np.ndarray, smp: np.ndarray, dA: np.ndarray, dB: np.ndarray,
                             us: list | None) -> LineBatch | None:
    """Exact partitions of the segments [x_s + A, x_s + B] (s = ``smp``) in first-layer coordinates:
    ``lines`` of ``star.tail_network(net, 0)`` on [u_0(x_s) + dA, u_0(x_s) + dB], with dA = A W_0^T,
    dB = B W_0^T (the same crossings at the same t, at a fraction of the cost when n_0 < n_in;
    ``us``: the centres' pre-activations). None where that does not apply (a segment that W_0 maps
    to a point)."""
    U0 = (net.pre_activations(Xc) if us is None else us)[0][smp]
    Y0, Y1 = U0 + dA, U0 + dB
    if np.any(np.all(Y0 == Y1, axis=1)):
        return None
    return _lines(tail_network(net, 0), Y0, Y1)


def _folds(net: Any) -> bool:
    """Whether segments of ``net`` run in first-layer coordinates (a ``Network`` narrower than its input)."""
    return isinstance(net, Network) and net.widths[0] < net.n_in


def _diameters(net: Any, Xc: np.ndarray, r: float, Q: np.ndarray, todo: np.ndarray,
               us: list | None) -> LineBatch | None:
    """Exact partitions of the diameters [x - r q_i, x + r q_i] of the flat indices ``todo``
    (s * P + i), in first-layer coordinates where that applies (``_segments_in_first_layer``; the
    first-layer change along each probe, r Q W_0^T, is shared by all samples)."""
    if todo.size == 0:
        return None
    P = Q.shape[0]
    smp, dirs = todo // P, todo % P
    batch = None
    if _folds(net):
        D0 = ((r * Q) @ net.weights[0].T)[dirs]  # u_0 changes by r W_0 q_i along probe i
        batch = _segments_in_first_layer(net, Xc, smp, -D0, D0, us)
    if batch is None:
        D = r * Q[dirs]
        batch = _lines(net, Xc[smp] - D, Xc[smp] + D)
    return batch


def _probe_crossings(net: Any, Xc: np.ndarray, r: float, Q: np.ndarray, busy: np.ndarray | None,
                     us: list | None) -> tuple[list, StarCertificate | None]:
    """The exact crossings of the probe diameters of a chunk, as a list of (flat diameter indices,
    ``LineBatch``, unit map or None). On a ``Network`` (with ``_SKIP_EMPTY_PROBES``) each
    certified sample's diameters that a candidate may cross run on its compact network
    (``star.star_certificate``; ``units[l]`` maps compact layer l's switching units to the
    network's), the others nowhere; samples the star leaves alone run every diameter through the
    whole network. Otherwise every diameter (or those in ``busy``) runs through the whole network."""
    m, P = Xc.shape[0], Q.shape[0]
    if not (isinstance(net, Network) and _SKIP_EMPTY_PROBES):
        todo = np.arange(m * P) if busy is None else np.flatnonzero(busy.reshape(-1))
        batch = _diameters(net, Xc, r, Q, todo, us)
        return ([] if batch is None else [(todo, batch, None)]), None
    cert = star_certificate(net, Xc, r, Q, us)
    runs, whole = [], [np.flatnonzero(np.repeat(cert.fallback, P))]
    size = sum(W.size for W in (tail_network(net, 0) if _folds(net) else net).weights)
    for s, star in cert.stars.items():
        point = np.all(star.Y0 == star.Y1, axis=1)  # below the resolution of y: run on the whole network
        if sum(W.size for W in star.net.weights) >= size:  # many candidates: the whole network is cheaper
            point[:] = True
        whole.append(s * P + star.diam[point])
        if not point.all():
            keep = ~point
            runs.append((s * P + star.diam[keep], _lines(star.net, star.Y0[keep], star.Y1[keep]), star.units))
    todo = np.sort(np.concatenate(whole))
    batch = _diameters(net, Xc, r, Q, todo, cert.us)
    return ([] if batch is None else [(todo, batch, None)]) + runs, cert


def _probes(net: Any, Xc: np.ndarray, r: float, Q: np.ndarray, per_neuron: bool, want_proxy: bool = False,
            device: Any = None, us: list | None = None) -> dict[str, np.ndarray]:
    """Column 2 for a chunk (and column 3 with ``want_proxy``, under "proxy"): exact crossings on
    the 2P half-probes [x, x ± r q_i], computed on the P diameters [x - r q_i, x + r q_i] (x at
    t = 1/2). Crossings within the merge distance of x belong to no half-probe (as for ``line`` on
    [x, x ± r q_i]); neurons that switch *at* x (``_center_switches``) are counted in
    ``probe_at_center`` and among the distinct neurons. Which diameters run, and from which layer,
    is ``_probe_crossings``'s choice; the counts are those of ``line`` on every probe. On a
    ``Network`` the proxy follows from x's pattern and these crossings (``star.proxy_from_crossings``),
    except on samples the star does not certify or with a close decision on a probe, where it is
    the forward pass of the vertices (``probes._star``)."""
    m, P, d = Xc.shape[0], Q.shape[0], net.depth
    proxy = busy = None
    if want_proxy and not (isinstance(net, Network) and _SKIP_EMPTY_PROBES):
        proxy, busy = _star(net, Xc, r, Q, device, per_neuron, _SKIP_EMPTY_PROBES)
    runs, cert = _probe_crossings(net, Xc, r, Q, busy, us)
    parts = []
    close = np.zeros(m)
    for idx, batch, units in runs:
        c = getattr(batch, "close_decisions", None)
        if c is not None:
            close += np.bincount(idx // P, weights=np.asarray(c, np.float64), minlength=m)
        unit = batch.unit if units is None else original_units(units, batch.layer, batch.unit)
        parts.append((idx[_segment_of(batch.crossing_offsets, batch.layer.size)], batch.t[batch.crossing_point],
                      batch.linear[batch.crossing_point], batch.layer, unit, batch.breakpoint))
    cat = lambda k, dt: np.concatenate([p[k] for p in parts]).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
    seg, t, lin, layer, unit, bp = (cat(0, np.int64), cat(1, np.float64), cat(2, bool), cat(3, np.int64),
                                    cat(4, np.int64), cat(5, np.int64))
    sample = seg // P
    off_center = np.abs(t - 0.5) > 0.5 * T_MERGE
    N = int(sum(net.widths))
    col = _neuron_index(net, layer, unit)
    center = _center_switches(net, Xc, r, Q, seg, t, us if cert is None else cert.us)  # (m, N) bool
    out: dict[str, np.ndarray] = {}
    if want_proxy:
        out["proxy"] = proxy if cert is None else _proxy(net, Xc, r, Q, device, per_neuron, cert, close, seg, t, col, bp)
    if per_neuron:
        for key, keep in (("probe_crossings_activation", off_center), ("probe_crossings_linear", lin & off_center)):
            C = np.zeros((m, N))
            np.add.at(C, (sample[keep], col[keep]), 1.0)
            out[key] = C
        out["probe_neurons"] = ((out["probe_crossings_activation"] > 0) | center).astype(np.float64)
        out["probe_neurons_linear"] = (out["probe_crossings_linear"] > 0).astype(np.float64)
        out["probe_at_center"] = center.astype(np.float64)
        out["close_decisions"] = close
        return out
    lay_of = _unit_layers(net)

    def per_layer(keep: np.ndarray) -> np.ndarray:
        key = sample[keep] * d + layer[keep]
        per = np.bincount(key, minlength=m * d).reshape(m, d).astype(np.float64)
        return np.column_stack([per.sum(axis=1), per])

    def by_layer(M: np.ndarray) -> np.ndarray:  # (m, N) bool -> (m, 1 + d) counts
        per = np.stack([M[:, lay_of == l].sum(axis=1) for l in range(d)], axis=1).astype(np.float64)
        return np.column_stack([per.sum(axis=1), per])

    def crossed(keep: np.ndarray) -> np.ndarray:
        M = np.zeros((m, N), bool)
        M[sample[keep], col[keep]] = True
        return M

    out["probe_crossings_activation"] = per_layer(off_center)
    out["probe_crossings_linear"] = per_layer(lin & off_center)
    out["probe_neurons"] = by_layer(crossed(off_center) | center)
    out["probe_neurons_linear"] = by_layer(crossed(lin & off_center))
    out["probe_at_center"] = by_layer(center)
    out["close_decisions"] = close
    return out


def _proxy(net: Network, Xc: np.ndarray, r: float, Q: np.ndarray, device: Any, per_neuron: bool,
           cert: StarCertificate, close: np.ndarray, seg: np.ndarray, t: np.ndarray, col: np.ndarray,
           bp: np.ndarray) -> np.ndarray:
    """Column 3 from the exact crossings of the diameters (``star.proxy_from_crossings``; the
    certified-empty ones keep x's pattern at both vertices), with the forward pass of the vertices
    (``probes._star``) on samples the star leaves to the plain path or with a close decision on a
    probe (a crossing near a vertex that ``line`` may have merged into it). (m, N) bool with
    ``per_neuron``, else (m, depth) counts, as ``published_proxy``."""
    P = Q.shape[0]
    pieces = np.concatenate([net.piece(l, cert.us[l]) for l in range(net.depth)], axis=1)
    varies = proxy_from_crossings(pieces, P, seg, t, col, bp)
    plain = np.flatnonzero(cert.fallback | (close > 0))
    if plain.size:
        varies[plain] = _star(net, Xc[plain], r, Q, device, True, False)[0]
    if per_neuron:
        return varies
    return np.stack([varies[:, _unit_layers(net) == l].sum(axis=1) for l in range(net.depth)], axis=1)


def _close_per_sample(batch: LineBatch, m: int) -> np.ndarray:
    """(m,) tolerance decisions left close on each sample's segments (``LineBatch.close_decisions``)."""
    c = getattr(batch, "close_decisions", None)
    if c is None:
        return np.zeros(m)
    return np.asarray(c, dtype=np.float64).reshape(m, -1).sum(axis=1)


def _center_switches(net: Any, Xc: np.ndarray, r: float, Q: np.ndarray, seg: np.ndarray, t: np.ndarray,
                     us: list | None = None) -> np.ndarray:
    """(m, N) bool: neurons that sit on a breakpoint at x (within the snapping tolerance,
    ``tolerances.snap_scale``) and take different pieces just beside x on different probes: they
    switch at x itself, between probes, which no half-probe sees as a crossing. Measure zero for
    continuous parameter laws; normal with zero biases (every first-layer neuron at x = 0). The
    piece beside x on probe ±q_i is read at x ± δ_i q_i, δ_i half the distance from x to the
    nearest other crossing on that diameter, where every neuron is on one piece. ``us``: the
    pre-activations at ``Xc`` when already computed."""
    from ..tolerances import SNAP_RTOL, snap_scale

    m, P, N = Xc.shape[0], Q.shape[0], int(sum(net.widths))
    out = np.zeros((m, N), bool)
    if isinstance(net, Network):
        us = net.pre_activations(Xc) if us is None else us
        a = Xc
        on = []
        for l in range(net.depth):
            W, b, xi = net.weights[l], net.biases[l], net.activations[l].breakpoints
            tol = SNAP_RTOL * snap_scale(W, b, np.abs(a).T, xi)  # (n_l, m, T)
            o = np.any(np.abs(us[l].T[:, :, None] - xi) <= tol, axis=2).T & net.switching(l)  # (m, n_l)
            on.append(o)
            a = net.activate(l, us[l])
        on = np.concatenate(on, axis=1)
    else:
        on = net.on_breakpoint(Xc)
    todo = np.nonzero(on.any(axis=1))[0]
    if todo.size == 0:
        return out
    dist = np.full(m * P, 0.5)
    far = np.abs(t - 0.5) > 0.5 * T_MERGE
    np.minimum.at(dist, seg[far], np.abs(t[far] - 0.5))
    delta = (0.5 * dist * 2.0 * r).reshape(m, P)  # displacement along q (diameter length 2r)
    for i in todo:
        V = Xc[i] + np.concatenate([delta[i][:, None] * Q, -delta[i][:, None] * Q])
        pieces = np.concatenate(net.activation_pattern(V), axis=1)  # (2P, N)
        varies = pieces.max(axis=0) != pieces.min(axis=0)
        out[i] = varies & on[i]
    return out
