"""Formula-against-measurement tables (``compare``, ``TheoryTable``): Theorem 6 next to exact
measurement on the same sampled networks, with paired z-scores."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..network import Network

from .network_law import Kind, NetworkLaw, _laws_for
from .domains import Segment, WholeSpace, Domain
from .estimators import _nets, _check_common, theorem6
from .closed_form import segment_expected_count
from .measurement import measure



@dataclass(frozen=True)
class TheoryRow:
    """One k of a formula-against-measurement table.

    ``z`` = (predicted - measured) / SE of the difference: paired over the same networks when a
    law was sampled (SE of the per-network differences), else sqrt(se_pred² + se_meas²). For one
    fixed network the measured value is a single realisation of the biases while the prediction
    averages over them, so there ``z`` is indicative only; tests use laws.
    ``approx*``: the same with the "unmodified" approximation.
    """

    k: int
    kind: str
    predicted: float
    predicted_se: float
    measured: float
    measured_se: float
    z: float
    approx: float
    approx_se: float
    approx_z: float
    method: str
    measured_by: str
    diff_se: float = math.nan

    @property
    def resolution(self) -> float:
        """2 s.e. of predicted − measured, relative to the prediction: the smallest relative
        departure this row could detect (NaN when there is no standard error)."""
        return 2 * self.diff_se / abs(self.predicted) if self.predicted and math.isfinite(self.diff_se) else math.nan

    def __repr__(self) -> str:
        return (f"TheoryRow(k={self.k}, {self.kind}: predicted {self.predicted:.5g} ± {self.predicted_se:.2g}, "
                f"measured {self.measured:.5g} ± {self.measured_se:.2g}, z={self.z:.2f})")


@dataclass(frozen=True)
class TheoryTable:
    """Theorem 6 against measurement for one model and domain (``compare``)."""

    model: str
    domain: str
    n_networks: int
    n_samples: int
    rows: tuple[TheoryRow, ...]

    def to_text(self) -> str:
        out = [f"Theorem 6 vs measurement: {self.model} on {self.domain} ({self.n_networks} network(s), {self.n_samples} samples each)",
               f"{'k':>2} {'kind':<10} {'predicted':>11} {'± se':>8} {'measured':>11} {'± se':>8} {'z':>6}   "
               f"{'approx.':>11} {'z':>6}  method / measured by"]
        for r in self.rows:
            out.append(f"{r.k:>2} {r.kind:<10} {r.predicted:>11.5g} {r.predicted_se:>8.2g} {r.measured:>11.5g} "
                       f"{r.measured_se:>8.2g} {r.z:>6.2f}   {r.approx:>11.5g} {r.approx_z:>6.2f}  {r.method} / {r.measured_by}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {"model": self.model, "domain": self.domain, "n_networks": self.n_networks, "n_samples": self.n_samples,
                "rows": [dict(r.__dict__) for r in self.rows]}

    def __repr__(self) -> str:
        zs = ", ".join(f"k={r.k}: z={r.z:.2f}" for r in self.rows)
        return f"TheoryTable({self.model} on {self.domain}: {zs})"


def _diff_se(pred: np.ndarray, pred_se: float, meas: np.ndarray, meas_se: float, paired: bool) -> float:
    """SE of mean(pred) − mean(meas): of the per-network differences when paired, else combined."""
    if paired and pred.size >= 2:
        d = pred - meas
        return float(d.std(ddof=1) / math.sqrt(d.size))
    return math.hypot(pred_se, meas_se)


def _z(pred: np.ndarray, pred_se: float, meas: np.ndarray, meas_se: float, paired: bool) -> float:
    se = _diff_se(pred, pred_se, meas, meas_se, paired)
    return float((pred.mean() - meas.mean()) / se) if se > 0 else math.nan


def compare(model: NetworkLaw | Network, domain: Domain, ks: Sequence[int] = (1,), *, bias_law: Any = None,
            kind: Kind = "linear", n_networks: int = 16, n_samples: int = 1024, method: str = "auto", seed: int = 0,
            device: Any = None, tuples: Any = None, crofton_n: int = 200, verbose: bool = False,
            progress: bool = False, **plane_kw) -> TheoryTable:
    """Theorem 6 (exact substituted estimator, and the "unmodified" approximation) against
    measurement, for each k in ``ks``, on the same sampled networks; prints the table when
    ``verbose`` and returns it (``to_text()``, ``to_dict()`` for JSON).

    ``method``: "closed" (the closed form of ``segment_expected_count``: k = 1 on segments and the
    whole line of 1-input nets), "mc" (``theorem6``) or "auto" (closed form where it exists).
    """
    if method not in ("auto", "closed", "mc"):
        raise ValueError(f"method must be 'auto', 'closed' or 'mc', got {method!r}")
    nets = _nets(model, n_networks, seed)
    laws = _laws_for(model, bias_law, nets[0].depth)
    paired = isinstance(model, NetworkLaw) and len(nets) >= 2
    rows = []
    for k in ks:
        k = int(k)
        _check_common(model, domain, k, kind, "substituted")
        closed_ok = k == 1 and (isinstance(domain, Segment) or (isinstance(domain, WholeSpace) and domain.dim == 1))
        if method == "closed" and not closed_ok:
            raise ValueError("method='closed' exists for k = 1 on a Segment or the whole line (WholeSpace(1)) only")
        if closed_ok and method != "mc":
            ends = (domain.x0, domain.x1) if isinstance(domain, Segment) else (np.zeros(1), None)
            pred = np.array([segment_expected_count(n, *ends, bias_law=laws, kind=kind) for n in nets])
            pred_se = float(pred.std(ddof=1) / math.sqrt(pred.size)) if pred.size >= 2 else 0.0
            if kind == "linear":
                mc_u = theorem6(model, domain, k, bias_law=bias_law, kind=kind, mode="unmodified", n_networks=n_networks,
                                n_samples=n_samples, seed=seed, device=device)
                approx, approx_se, approx_per = mc_u.value, mc_u.se, mc_u.per_network
            else:
                approx, approx_se, approx_per = float(pred.mean()), pred_se, pred
            mname = "closed form"
        else:
            est = theorem6(model, domain, k, bias_law=bias_law, kind=kind, mode="substituted", n_networks=n_networks,
                           n_samples=n_samples, seed=seed, device=device, tuples=tuples, progress=progress)
            pred, pred_se = est.per_network, est.se
            if kind == "linear":
                est_u = theorem6(model, domain, k, bias_law=bias_law, kind=kind, mode="unmodified", n_networks=n_networks,
                                 n_samples=n_samples, seed=seed, device=device, tuples=tuples)
                approx, approx_se, approx_per = est_u.value, est_u.se, est_u.per_network
            else:
                approx, approx_se, approx_per = est.value, est.se, pred
            mname = "Monte Carlo"
        meas = measure(model, domain, k, kind=kind, n_networks=n_networks, seed=seed, crofton_n=crofton_n,
                       progress=progress, **plane_kw)
        rows.append(TheoryRow(
            k, kind, float(pred.mean()), float(pred_se), meas.value, meas.se,
            _z(pred, pred_se, meas.per_network, meas.se, paired),
            float(approx), float(approx_se), _z(np.asarray(approx_per), approx_se, meas.per_network, meas.se, paired),
            mname, meas.method, _diff_se(pred, pred_se, meas.per_network, meas.se, paired)))
    table = TheoryTable(repr(model), repr(domain), len(nets), int(n_samples), tuple(rows))
    if verbose:
        print(table.to_text())
    return table
