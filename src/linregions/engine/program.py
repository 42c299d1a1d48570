"""``ModuleProgram``: the evaluation protocol (``engine.protocol``) for ``torch.nn.Module``s.

The module is traced with torch.fx (``graph._trace``, the tracer of the dense compiler) and its
nodes become a *program*: a list of steps, each evaluating one node with the module's own torch
op, in float64, on a batch of rows, in one of four modes:

- ``value``: the op itself (conv, batch norm in eval mode, pooling, residual add, linear, ...);
- ``lin``: its linear part (biases and additive constants dropped), applied to tangents;
- ``abs``: the same op with absolute parameters on ``|a|`` (bias and constants as ``|b|``), a
  bound on the magnitude of the summands of each output (``tolerances.snap_scale`` for conv
  layers: ``|W| |a| + |b|``, evaluated by the convolution with ``|W|``);
- ``abslin``: absolute parameters without biases (rounding bounds of slopes, reachability).

Activation sites are the nodes that ``graph`` compiles into units: piecewise-linear activations
(``NEURON`` units) and maxima, which become tournaments ``max(a, b) = b + relu(a - b)`` of
``ceil(log2 k)`` rounds (``graph.tournament_rounds``), one site per round, with ``ARGMAX``
units in the same order as the dense compiler's. No matrix of a convolution is ever formed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.fx

from ..network import ARGMAX, NEURON
from .blocks import blockwise, in_workers, module_threads
from .protocol import Live, Site

__all__ = ["ModuleProgram", "compile_program", "InputShapeError"]


Fn = Callable[[str, tuple, dict], Any]

#: Entries of one site per goodness pass of ``ModuleProgram.reach_units`` (a unit of work of the
#: worker threads).
REACH_GROUP = 16



@dataclass(eq=False)
class Step:
    key: str
    deps: tuple[str, ...]
    fn: Fn | None  # (mode, args, kwargs) -> value; None for site steps
    args: Any = ()
    kwargs: Any = None
    site: int = -1
    src: str = ""  # the node it came from (for errors)


@dataclass(eq=False)
class SiteOps:
    """How a site reads its pre-activations from its input tensor and writes its output."""

    input: str
    pre: Callable[[str, torch.Tensor], torch.Tensor]
    post: Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor]
    view: bool = False  # pre is a reshape of the input (a view): u_l shares the input's storage
    # what post reads of the input (None: all of it), and post from that part: post(m, x, a) is
    # post_part(m, part(x), a), so a driver that inserts rows may gather only the part
    part: Callable[[torch.Tensor], torch.Tensor] | None = None
    post_part: Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor] | None = None


def _is_lin(mode: str) -> bool:
    return mode in ("lin", "abslin")


def _is_abs(mode: str) -> bool:
    return mode in ("abs", "abslin")


@dataclass(frozen=True)
class Ref:
    """A reference to a synthetic key of the program (a tournament's candidates)."""

    name: str


def _lookup(env: dict):
    return lambda o: env[o.name] if isinstance(o, (torch.fx.Node, Ref)) else o


def _abs_const(o: Any) -> Any:
    if isinstance(o, torch.Tensor):
        return o.abs()
    if isinstance(o, (int, float)) and not isinstance(o, bool):
        return abs(o)
    return o


def _zero_const(o: Any) -> Any:
    if isinstance(o, torch.Tensor):
        return torch.zeros_like(o)
    if isinstance(o, (int, float)) and not isinstance(o, bool):
        return 0
    return o


def _zero_unless(x: torch.Tensor, keep: torch.Tensor) -> None:
    """``x.masked_fill_(~keep, 0.0)`` for float64 x, without a branch per element (slow on masks
    without long runs): the bits of x and'ed with all ones where ``keep``, all zeros (+0.0) elsewhere."""
    if x.dtype != torch.float64:
        x.masked_fill_(~keep, 0.0)
        return
    x.view(torch.int64).bitwise_and_(keep.to(torch.int64).neg_())


def _segment_amax_abs(v: torch.Tensor, seg: torch.Tensor, S: int) -> torch.Tensor:
    """(S,) + v.shape[1:]: per segment, the largest |v| over its rows (rows sorted by segment;
    0 for a segment without rows). In row blocks (``engine.blocks``): each block reduces into its
    own rows of segments, combined by maxima in block order (exact)."""
    out = torch.zeros((S,) + tuple(v.shape[1:]), dtype=v.dtype, device=v.device)

    def block(a, b):
        s0, s1 = int(seg[a]), int(seg[b - 1])
        if s0 == s1:  # one segment's rows (|v| >= +0: the same maxima as the reduction from zeros)
            return s0, torch.amax(v[a:b].abs(), 0, keepdim=True)
        part = torch.zeros((s1 - s0 + 1,) + tuple(v.shape[1:]), dtype=v.dtype, device=v.device)
        with warnings.catch_warnings():  # index_reduce is "beta" in torch 2.x
            warnings.simplefilter("ignore", UserWarning)
            part.index_reduce_(0, seg[a:b] - s0, v[a:b].abs(), "amax")
        return s0, part

    for s0, part in blockwise(block, v.shape[0], max(1, v[:1].numel()), v.device):
        rows = out[s0 : s0 + part.shape[0]]
        torch.maximum(rows, part, out=rows)
    return out


class ModuleProgram:
    """A traced module as a program over batches of rows (implements ``engine.protocol.Evaluator``).

    Build with ``compile_program(module, input_shape)``.
    """

    def __init__(self, steps: list[Step], sites: list[Site], site_ops: list[SiteOps], site_step: list[int],
                 input_key: str, output_key: str, input_shape: tuple[int, ...], output_shape: tuple[int, ...],
                 device: torch.device):
        self.steps, self.sites, self.site_ops, self.site_step = steps, tuple(sites), site_ops, site_step
        self.input_key, self.output_key = input_key, output_key
        self.input_shape, self.output_shape = input_shape, output_shape
        self.n_out = int(np.prod(output_shape)) if output_shape else 1
        self.n_in = int(np.prod(input_shape))
        self.device = device
        last: dict[str, int] = {output_key: len(steps)}
        for i, s in enumerate(steps):
            for d in s.deps:
                last[d] = max(last.get(d, -1), i)
        self.last_use = last

    def __repr__(self) -> str:
        na = sum(s.n for s in self.sites if s.kind == ARGMAX)
        return (f"ModuleProgram(input={self.input_shape}, output={self.output_shape}, sites={len(self.sites)}, "
                f"neurons={self.num_neurons}, argmax_units={na})")

    @property
    def num_units(self) -> int:
        return sum(s.n for s in self.sites)

    @property
    def num_neurons(self) -> int:
        """Units of the activation sites that are neurons (not max-pool argmax units), as ``Network.num_neurons``."""
        return sum(s.n for s in self.sites if s.kind == NEURON)

    def unit_name(self, site: int, unit: int) -> str:
        """Readable name of a unit, e.g. ``'relu_1[17]'`` (for an argmax unit: ``'max_pool2d[5]'``, the
        maximum it belongs to), as ``CompiledNetwork.unit_name``."""
        s = self.sites[site]
        return f"{s.name}[{int(s.position[unit])}]"

    # -- running steps ---------------------------------------------------------------------------
    def _run(self, mode: str, env: dict, start: int, stop: int, site_fn=None) -> None:
        for i in range(start, stop):
            st = self.steps[i]
            if st.site >= 0:
                ops = self.site_ops[st.site]
                x = env[ops.input]
                env[st.key] = ops.post(mode, x, site_fn(st.site, ops.pre(mode, x)))
            else:
                look = _lookup(env)
                args = torch.fx.node.map_aggregate(st.args, look)
                kwargs = torch.fx.node.map_aggregate(st.kwargs or {}, look)
                env[st.key] = st.fn(mode, args, kwargs)
            for d in set(st.deps):
                if self.last_use.get(d, -1) == i:
                    env.pop(d, None)

    def _live_after(self, env: dict, stop: int) -> dict:
        return {k: v for k, v in env.items() if self.last_use.get(k, -1) >= stop}

    def _chunked(self, mode: str, env: dict, start: int, stop: int, chunk: int, site_fn=None) -> dict:
        """Run steps [start, stop) on row blocks of at most ``chunk`` rows; return the live env."""
        tens = [v for v in env.values() if isinstance(v, torch.Tensor)]
        P = tens[0].shape[0] if tens else 0
        if P <= chunk:
            env = dict(env)
            self._run(mode, env, start, stop, site_fn and (lambda l, u: site_fn(l, u, slice(0, P))))
            return self._live_after(env, stop)
        outs: list[dict] = []
        for r0 in range(0, P, chunk):
            sl = slice(r0, min(P, r0 + chunk))
            e = {k: (v[sl] if isinstance(v, torch.Tensor) else v) for k, v in env.items()}
            self._run(mode, e, start, stop, site_fn and (lambda l, u, sl=sl: site_fn(l, u, sl)))
            outs.append(self._live_after(e, stop))
        return {k: (torch.cat([o[k] for o in outs]) if isinstance(v, torch.Tensor) else v) for k, v in outs[0].items()}

    # -- the protocol --------------------------------------------------------------------------
    def start(self, X: torch.Tensor, V: torch.Tensor) -> Live:
        return Live({self.input_key: X}, {self.input_key: V}, 0)

    def summand_scale(self, l: int, live: Live, seg: torch.Tensor, S: int) -> torch.Tensor:
        """(S, n_l): per segment, a bound on the magnitude of the summands of site l's
        pre-activations (``|W| |a| + |b|`` with ``|a|`` the largest over the segment's points)."""
        env = {}
        for k, v in live.values.items():
            if isinstance(v, torch.Tensor):
                env[k] = _segment_amax_abs(v, seg, S)
            else:
                env[k] = v
        stop = self.site_step[l]
        self._run("abs", env, live.pc, stop)
        ops = self.site_ops[l]
        return ops.pre("abs", env[ops.input])

    def advance(self, l: int, live: Live, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Evaluate values and tangents up to site l; returns its pre-activations U and dU/dt (P, n_l)."""
        stop = self.site_step[l]
        with module_threads():
            live.values = self._chunked("value", live.values, live.pc, stop, chunk)
            live.tangents = self._chunked("lin", live.tangents, live.pc, stop, chunk)
        live.pc = stop
        ops = self.site_ops[l]
        return ops.pre("value", live.values[ops.input]), ops.pre("lin", live.tangents[ops.input])

    def slopes(self, l: int, codes: torch.Tensor) -> torch.Tensor:
        """Slope of the piece given by state codes (on a breakpoint: the piece on its left)."""
        s = self.sites[l]
        t = s.tensors(codes.device)
        if s.relu_like and t["pt"] is None:
            return (codes >= 2).to(torch.float64)
        qc = t["qc"]
        if s.act.per_unit:
            q = qc[torch.arange(s.n, device=codes.device), codes.long()]
        else:
            q = qc[codes.long()]
        if t["pt"] is not None:
            q = torch.where(t["pt"], torch.ones_like(q), q)
        return q

    def opens(self, l: int, codes: torch.Tensor) -> torch.Tensor:
        """Open (passes gradient; on a breakpoint counts as open) for state codes."""
        s = self.sites[l]
        t = s.tensors(codes.device)
        if s.relu_like and t["pt"] is None:
            return codes >= 1
        oc = t["openc"]
        o = oc[torch.arange(s.n, device=codes.device), codes.long()] if s.act.per_unit else oc[codes.long()]
        if t["pt"] is not None:
            o = o | t["pt"]
        return o

    def pieces(self, l: int, U: torch.Tensor) -> torch.Tensor:
        """Piece index (int16) of every unit of site l at values U: the number of breakpoints
        <= u; passthrough units 0 (``Network.piece``'s convention; state code = 2 x piece)."""
        s = self.sites[l]
        p = torch.zeros(U.shape, dtype=torch.int16, device=U.device)
        for x in s.act.breakpoints:
            p += (U >= float(x)).to(torch.int16)
        pt = s.tensors(U.device)["pt"]
        return p if pt is None else p.masked_fill_(pt, 0)

    def activate(self, l: int, U: torch.Tensor) -> torch.Tensor:
        s = self.sites[l]
        a = torch.relu(U) if s.act.name == "relu" and not s.act.per_unit else s.act(U)
        pt = s.tensors(U.device)["pt"]
        return a if pt is None else torch.where(pt, U, a)

    def apply(self, l: int, live: Live, U: torch.Tensor, dU: torch.Tensor, codes: torch.Tensor, inplace: bool = False,
              narrowed: bool = False) -> None:
        """Apply site l: values at the points, tangents with the slopes of the interval codes.

        ``inplace``: U and dU may be overwritten (the driver's own copies, or views of a site input
        that is not used after the site); this saves two (P, n_l) temporaries per site.
        ``narrowed``: the live site input holds only ``site_ops[l].part`` of it (``narrow_ok``)."""
        ops, st = self.site_ops[l], self.steps[self.site_step[l]]
        x, dx = live.values[ops.input], live.tangents[ops.input]
        s = self.sites[l]
        if inplace and s.relu_like and s.tensors(U.device)["pt"] is None:
            def block(r0, r1):  # slope (codes >= 2) of ``slopes``, without a float temporary
                torch.relu_(U[r0:r1])
                _zero_unless(dU[r0:r1], codes[r0:r1] >= 2)

            blockwise(block, U.shape[0], U.shape[1], U.device)
            a, da = U, dU
        else:
            a = self.activate(l, U)
            da = self.slopes(l, codes) * dU
        post = ops.post_part if narrowed else ops.post
        live.values[st.key] = post("value", x, a)
        live.tangents[st.key] = post("lin", dx, da)
        i = self.site_step[l]
        if self.last_use.get(ops.input, -1) == i:
            live.values.pop(ops.input), live.tangents.pop(ops.input)
        live.pc = i + 1

    def inplace_ok(self, l: int) -> bool:
        """Whether site l's input is used by no later step (so views of it may be overwritten)."""
        return self.last_use.get(self.site_ops[l].input, -1) == self.site_step[l]

    def narrow_ok(self, l: int) -> bool:
        """Whether rows of site l's input may be kept as only the part its ``post`` reads
        (``SiteOps.part``, e.g. the second candidates of a full tournament round): the input is
        used by no later step."""
        return self.site_ops[l].part is not None and self.inplace_ok(l)

    def output(self, live: Live, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self.steps)
        with module_threads():
            v = self._chunked("value", live.values, live.pc, n, chunk)[self.output_key]
            d = self._chunked("lin", live.tangents, live.pc, n, chunk)[self.output_key]
        return v.reshape(v.shape[0], -1), d.reshape(d.shape[0], -1)

    def abs_slope(self, V: torch.Tensor, masks: list[torch.Tensor], chunk: int) -> torch.Tensor:
        """|W_d| |D_{d-1}| ... |W_0| |V| in the module's ops: the absolute slope at the given
        patterns (``masks[l]``: (K, n_l) absolute slopes of site l's units)."""
        env = {self.input_key: V.abs()}
        out = self._chunked("abslin", env, 0, len(self.steps), chunk, lambda l, u, sl: masks[l][sl] * u)
        o = out[self.output_key]
        return o.reshape(o.shape[0], -1)

    def reach(self, masks: list[torch.Tensor], chunk: int) -> list[torch.Tensor]:
        """R[l] (K, n_l) bool: a path from unit z of site l through open units of later sites (``masks``:
        true (bool, or float 1.0) where open) with non-zero weights reaches an output (a backward pass of the pattern with
        absolute parameters; z's own state does not matter)."""
        K = masks[0].shape[0] if masks else 0
        out = [torch.zeros(m.shape, dtype=torch.bool, device=m.device) for m in masks]
        for r0 in range(0, K, chunk):
            sl = slice(r0, min(K, r0 + chunk))
            k = sl.stop - sl.start
            probes = [torch.zeros((k, s.n), dtype=torch.float64, device=self.device, requires_grad=True) for s in self.sites]
            env = {self.input_key: torch.zeros((k,) + self.input_shape, dtype=torch.float64, device=self.device)}
            with torch.enable_grad():
                self._run("abslin", env, 0, len(self.steps), lambda l, u: masks[l][sl] * u + probes[l])
                env[self.output_key].sum().backward()
            for l, p in enumerate(probes):
                out[l][sl] = p.grad > 0
        return out

    def _after_site(self, l: int) -> tuple[dict[str, tuple[int, ...]] | None, tuple[int, ...]]:
        """Shapes (per row) of the tensors live just after site l (None when a non-tensor value,
        which may depend on the batch, is live there) and of site l's input (one run on one row)."""
        if not hasattr(self, "_site_shapes"):
            env = {self.input_key: torch.zeros((1,) + self.input_shape, dtype=torch.float64, device=self.device)}
            shapes: list = []

            def fn(k, u):
                i = self.site_step[k]
                live = {key: v for key, v in env.items() if self.last_use.get(key, -1) > i}
                ok = all(isinstance(v, torch.Tensor) for v in live.values())
                shapes.append(({key: tuple(v.shape[1:]) for key, v in live.items()} if ok else None,
                               tuple(env[self.site_ops[k].input].shape[1:])))
                return self.activate(k, u)

            self._run("value", env, 0, len(self.steps), fn)
            self._site_shapes = shapes
        return self._site_shapes[l]

    def reach_units(self, layer: torch.Tensor, unit: torch.Tensor, mask_fn, chunk: int) -> torch.Tensor:
        """(E,) bool: for each entry e, whether a path from unit ``unit[e]`` of site ``layer[e]``
        through open units of later sites (``mask_fn(l, idx)``: (len(idx), n_l) bool, or float 0/1,
        true where the unit is open for entries idx) with non-zero weights reaches an output.

        The same question as ``reach`` (goodness, ``linregions.line``'s rule), answered by a
        forward pass of a one-hot at the unit with absolute parameters from site ``layer[e]`` on
        (``|J|`` applied to a column instead of a row: the sum over outputs of the non-negative
        path products is positive in both exactly when a path exists), so only the ops after
        the site run, without autograd. The passes are independent: they run in groups of at most
        ``REACH_GROUP`` entries of one site on the worker threads (``engine.blocks.in_workers``,
        one torch thread each: many small ops, each of which would otherwise pay a thread
        synchronisation); the answer does not depend on the grouping (positivity of sums of
        non-negative terms)."""
        E = layer.numel()
        good = torch.zeros(E, dtype=torch.bool, device=layer.device)
        groups = []
        for l in torch.unique(layer).tolist():
            idx = torch.nonzero(layer == l).reshape(-1)
            if self._after_site(l)[0] is None:  # fall back to the backward pass from the input
                masks = [mask_fn(k, idx) for k in range(len(self.sites))]
                good[idx] = self.reach(masks, max(1, chunk // 16))[l][torch.arange(idx.numel(), device=idx.device), unit[idx]]
                continue
            step = max(1, min(chunk, REACH_GROUP))
            groups += [(l, idx[r0 : r0 + step]) for r0 in range(0, idx.numel(), step)]

        def group(l: int, ib: torch.Tensor) -> None:
            good[ib] = self._reach_forward(l, unit[ib], lambda l2, u: mask_fn(l2, ib) * u)

        in_workers(group, groups, self.device)
        return good

    def _reach_forward(self, l: int, units: torch.Tensor, site_fn) -> torch.Tensor:
        """(k,) bool: the forward pass of ``reach_units`` for k units of site l (one-hots at the
        units, absolute parameters without biases, ``site_fn`` masking the later sites): is the
        sum over outputs positive."""
        shapes, in_shape = self._after_site(l)
        ops, st, i = self.site_ops[l], self.steps[self.site_step[l]], self.site_step[l]
        k = units.numel()
        env = {key: torch.zeros((k,) + sh, dtype=torch.float64, device=self.device) for key, sh in shapes.items()
               if key != st.key}
        probe = torch.zeros((k, self.sites[l].n), dtype=torch.float64, device=self.device)
        probe[torch.arange(k, device=probe.device), units] = 1.0
        x = torch.zeros((k,) + in_shape, dtype=torch.float64, device=self.device)
        env[st.key] = ops.post("abslin", x, probe)
        self._run("abslin", env, i + 1, len(self.steps), site_fn)
        return env[self.output_key].reshape(k, -1).sum(1) > 0


from .trace import InputShapeError, compile_program  # noqa: E402 (the builder uses the classes above)
