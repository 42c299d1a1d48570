"""Verdicts: each of the paper's claims judged against a whole table of measurements, with seeds
(independent networks) as the sampling unit and a tolerance stated in the verdict.

A ``Verdict`` says whether one claim holds (``True``), departs (``False``) or cannot be decided
from these numbers (``None``), in a sentence that quotes the numbers and the tolerance. The
judges are pure functions of tidy tables:

- ``stays_constant``: a trajectory (e.g. per epoch) against "stays at its initial value": every
  time point, not only the last, must be within the band around the first;
- ``power_law``: the exponent of y against x (log-log slope per network, mean over networks);
- ``flat_across``: a quantity against "does not depend on" a factor (e.g. depth);
- ``agrees``: prediction against measurement by paired z-scores.

Rule shared by all judges: a claim *holds* when every estimate lies inside the tolerance; it
*departs* when some estimate lies outside the tolerance by more than ``z`` standard errors
(seed-to-seed; with a single seed there is no standard error, and the estimate itself decides);
anything else is *undecided* (outside the tolerance but within noise of it).

Every number reaching a sentence goes through ``fmt``/``pct``/``span``, which never print NaN or
inf: undefined values are spelled "n/a" and the sentence says why where it matters.

>>> import pandas as pd
>>> t = pd.DataFrame({"epoch": [0, 1, 2, 3] * 3, "seed": [0] * 4 + [1] * 4 + [2] * 4,
...                   "v": [1.0, 0.6, 0.8, 1.0, 1.0, 0.62, 0.79, 1.01, 1.0, 0.58, 0.81, 0.99]})
>>> stays_constant(t, "v", band=(0.75, 1.25), claim="v stays constant").holds
False
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["t_to_z", "Verdict", "stays_constant", "power_law", "flat_across", "agrees", "overall", "fmt", "pct", "span", "cluster_mean"]

_WORD = {True: "holds", False: "departs", None: "undecided"}


@dataclass(frozen=True)
class Verdict:
    """One claim judged: ``claim`` (short), ``holds`` (True / False / None = undecided), ``text``
    (what was measured, with numbers) and ``tolerance`` (how the claim was made testable)."""

    claim: str
    holds: bool | None
    text: str
    tolerance: str = ""

    @property
    def word(self) -> str:
        return _WORD[self.holds]

    def sentence(self) -> str:
        tol = f" (Tolerance: {self.tolerance.rstrip('.')}.)" if self.tolerance else ""
        return f"{self.claim}: {self.word}. {self.text}{tol}"

    def __repr__(self) -> str:
        return f"Verdict({self.word}: {self.claim})"


def overall(verdicts: Iterable[Verdict]) -> bool | None:
    """False when any claim departs, True when all hold, else None."""
    vs = [v.holds for v in verdicts]
    if any(h is False for h in vs):
        return False
    if vs and all(h is True for h in vs):
        return True
    return None


# ------------------------------------------------------------------------------------------------
# numbers in sentences


def _finite(v) -> float | None:
    """``float(v)`` when it is a finite number, else None."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(v, spec: str = ".3g", missing: str = "n/a") -> str:
    """``format(v, spec)`` for finite numbers; ``missing`` for NaN, inf and None."""
    x = _finite(v)
    if x is None:
        return missing
    s = format(x, spec)
    if "e+" in s:  # large numbers read as numbers, not in scientific notation
        s = f"{x:,.0f}"
    return "0" if s.lstrip("-+").strip("0.,") == "" and s.startswith("-") else s


def pct(v, digits: int = 0, signed: bool = True, missing: str = "n/a") -> str:
    """A fraction as a percentage (0.123 -> '+12%'), never '-0%' and never NaN."""
    x = _finite(v)
    if x is None:
        return missing
    s = f"{100 * x:{'+' if signed else ''}.{digits}f}"
    if float(s) == 0:
        s = f"{0:.{digits}f}"
    return s + "%"


def span(values, spec: str = ".2f", missing: str = "n/a") -> str:
    """'a-b' over the finite values ('a' when they agree at this precision; ``missing`` if none)."""
    x = np.asarray(list(values), dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return missing
    lo, hi = fmt(x.min(), spec), fmt(x.max(), spec)
    return lo if lo == hi else f"{lo}-{hi}"


# ------------------------------------------------------------------------------------------------
# statistics with the network as the sampling unit


def cluster_mean(values, clusters) -> tuple[float, float, int]:
    """Mean of ``values`` and its cluster-robust standard error with ``clusters`` (e.g. the network
    each segment belongs to) as the sampling unit: SE² = G/(G−1) · Σ_g (Σ_{i∈g} (y_i − ȳ))² / n².
    Returns (mean, se, number of clusters); se is NaN with fewer than two clusters."""
    y = np.asarray(values, dtype=np.float64)
    c = np.asarray(clusters)
    ok = np.isfinite(y)
    y, c = y[ok], c[ok]
    if y.size == 0:
        return math.nan, math.nan, 0
    m = float(y.mean())
    sums = pd.Series(y - m).groupby(c).sum().to_numpy()
    G = sums.size
    if G < 2:
        return m, math.nan, G
    se = math.sqrt(G / (G - 1) * float(np.sum(sums ** 2))) / y.size
    return m, se, G


def t_to_z(t, dof):
    """The normal z with the same two-sided tail probability as a Student t with ``dof`` degrees of
    freedom (an SE from G networks has G − 1): comparable across rows with few networks.

    >>> round(float(t_to_z(10.12, 2)), 2), round(float(t_to_z(2.0, 10_000)), 2)
    (2.59, 2.0)
    """
    from scipy import stats

    t = np.asarray(t, dtype=np.float64)
    dof = np.broadcast_to(np.asarray(dof, dtype=np.float64), t.shape)
    out = np.full(t.shape, np.nan)
    ok = np.isfinite(t) & (dof >= 1)
    out[ok] = np.sign(t[ok]) * stats.norm.isf(stats.t.sf(np.abs(t[ok]), dof[ok]))
    return out if out.ndim else float(out)


def _lab(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _judge(dev: np.ndarray, se: np.ndarray, z: float) -> bool | None:
    """dev: distances outside (>0) or inside (<=0) the tolerance; se: their SEs (NaN: none)."""
    dev = np.asarray(dev, dtype=np.float64)
    se = np.nan_to_num(np.asarray(se, dtype=np.float64), nan=0.0)
    ok = np.isfinite(dev)
    if not ok.any():
        return None
    dev, se = dev[ok], se[ok]
    if np.all(dev <= 0):
        return True
    if np.any(dev > z * se):
        return False
    return None


# ------------------------------------------------------------------------------------------------
# judges


def stays_constant(table: pd.DataFrame, value: str, *, time: str = "epoch", unit: str = "seed",
                   group: Sequence[str] = (), band: tuple[float, float] = (0.75, 1.25), z: float = 2.0,
                   claim: str = "stays constant", what: str | None = None) -> Verdict:
    """Is ``value`` at every ``time`` within ``band`` × its value at the first time? The ratio to
    the first time is taken per ``unit`` (seed, i.e. network) within each ``group`` (e.g.
    architecture), then averaged over units with the seed-to-seed standard error. A trajectory
    that drops and recovers is judged at its lowest point, not at its end."""
    what = what or value
    group = list(group)
    keys = group + [unit]
    df = table[keys + [time, value]].dropna(subset=[value]).sort_values(keys + [time])
    if df.empty:
        return Verdict(claim, None, f"No values of {what} to judge.", "")
    t0 = df[time].min()
    base = df[df[time] == t0].set_index(keys)[value]
    df = df[df[time] != t0].join(base.rename("_base"), on=keys)
    df = df[(df["_base"] > 0) & np.isfinite(df["_base"])]
    if df.empty:
        return Verdict(claim, None, f"{what} is zero or undefined at {time} {t0}: no ratio to judge.", "")
    df = df.assign(_r=df[value] / df["_base"])
    g = df.groupby(group + [time])["_r"] if group else df.groupby([time])["_r"]
    stats = g.agg(["mean", "count", lambda r: float(r.std(ddof=1) / math.sqrt(r.size)) if r.size > 1 else math.nan]).reset_index()
    stats.columns = [*stats.columns[:-3], "mean", "n", "se"]
    lo, hi = band
    dev = np.maximum(lo - stats["mean"], stats["mean"] - hi)
    holds = _judge(dev.to_numpy(), stats["se"].to_numpy(), z)
    n_units = int(df.groupby(group)[unit].nunique().min()) if group else int(df[unit].nunique())
    worst = stats.loc[(stats["mean"] - 1).abs().idxmax()]
    low = stats.loc[stats["mean"].idxmin()]
    last_t = stats[time].max()
    last = stats[stats[time] == last_t]["mean"]
    gname = (lambda r: " (" + ", ".join(_lab(r[c]) for c in group) + ")") if group else (lambda r: "")
    text = (f"Relative to {time} {fmt(t0, 'g')}, {what} lies in {span(stats['mean'], '.2f')}× over all {time}s"
            f"{' (per ' + ', '.join(group) + ')' if group else ''}, each the mean of {n_units} seed{'s' if n_units != 1 else ''}; "
            f"furthest from 1 at {time} {fmt(worst[time], 'g')}{gname(worst)}: {fmt(worst['mean'], '.2f')}×"
            + (f" ± {fmt(worst['se'], '.2f')}" if math.isfinite(worst["se"]) else "")
            + f"; at the last {time} {span(last, '.2f')}×.")
    if low[time] != last_t and float(low["mean"]) < lo:
        after = stats[(stats[time] == last_t) & (stats[group].eq(low[group]).all(axis=1) if group else True)]["mean"]
        rec = float(after.iloc[0]) if len(after) else math.nan
        if math.isfinite(rec) and rec > float(low["mean"]) + 0.05:
            text += (f" It drops to {fmt(low['mean'], '.2f')}× at {time} {fmt(low[time], 'g')}{gname(low)} and recovers "
                     f"to {fmt(rec, '.2f')}× by the last {time}: an endpoint comparison would hide the drop.")
    if n_units < 2:
        text += " With one seed there is no seed-to-seed error: the estimate alone decides."
    return Verdict(claim, holds, text, f"every {time} within {fmt(lo, 'g')}-{fmt(hi, 'g')}× the initial value, "
                                       f"a departure must exceed the band by {fmt(z, 'g')} s.e.")


def power_law(table: pd.DataFrame, x: str, y: str, *, unit: str = "seed", group: Sequence[str] = (),
              expected: float = 1.0, tol: float = 0.15, z: float = 2.0, claim: str = "power law",
              what: str | None = None) -> Verdict:
    """Exponent α of y ∝ x^α: a least-squares slope of log y on log x per ``unit`` (a seed index
    that runs across the x values) within each ``group``; mean and seed-to-seed SE per group.
    Holds when every group's α is within ``tol`` of ``expected``."""
    what = what or f"{y} against {x}"
    group = list(group)
    df = table[group + [unit, x, y]].dropna()
    df = df[(df[x] > 0) & (df[y] > 0)]
    fits = []
    for key, s in df.groupby(group + [unit]) if group + [unit] else []:
        if s[x].nunique() >= 2:
            fits.append((*(key if isinstance(key, tuple) else (key,)), float(np.polyfit(np.log(s[x]), np.log(s[y]), 1)[0])))
    if not fits:
        return Verdict(claim, None, f"Fewer than two positive values of {x} per seed: no exponent for {what}.", "")
    f = pd.DataFrame(fits, columns=group + [unit, "alpha"])
    st = f.groupby(group)["alpha"].agg(["mean", "count", "std"]).reset_index() if group else \
        pd.DataFrame({"mean": [f["alpha"].mean()], "count": [len(f)], "std": [f["alpha"].std(ddof=1)]})
    st["se"] = st["std"] / np.sqrt(st["count"])
    dev = (st["mean"] - expected).abs() - tol
    holds = _judge(dev.to_numpy(), st["se"].to_numpy(), z)
    parts = [f"α = {fmt(r['mean'], '.2f')}" + (f" ± {fmt(r['se'], '.2f')}" if math.isfinite(r["se"]) else "")
             + (" (" + ", ".join(f"{c} {_lab(r[c])}" for c in group) + ")" if group else "") for _, r in st.iterrows()]
    text = f"Fitted exponent of {what}: " + "; ".join(parts) + f" (expected {fmt(expected, 'g')}; per seed, then averaged)."
    target = f"α − {fmt(expected, 'g')}" if expected >= 0 else f"α + {fmt(-expected, 'g')}"
    return Verdict(claim, holds, text, f"|{target}| ≤ {fmt(tol, 'g')}; a departure must exceed it by {fmt(z, 'g')} s.e.")


def flat_across(table: pd.DataFrame, value: str, factor: str, *, unit: str = "seed", tol: float = 0.15, z: float = 2.0,
                claim: str = "does not depend on the factor", what: str | None = None) -> Verdict:
    """Does ``value`` not depend on ``factor``? Per level: the mean over units (networks) and its
    SE; each level's relative deviation from the mean of the level means must be within ``tol``."""
    what = what or value
    df = table[[factor, unit, value]].dropna()
    if df[factor].nunique() < 2:
        return Verdict(claim, None, f"Only one level of {factor}: nothing to compare.", "")
    per = df.groupby([factor, unit])[value].mean().reset_index()
    st = per.groupby(factor)[value].agg(["mean", "count", "std"]).reset_index()
    st["se"] = st["std"] / np.sqrt(st["count"])
    grand = float(st["mean"].mean())
    if not (math.isfinite(grand) and grand != 0):
        return Verdict(claim, None, f"The mean of {what} is zero or undefined.", "")
    rel = st["mean"] / grand - 1
    dev = rel.abs() - tol
    holds = _judge(dev.to_numpy(), (st["se"] / abs(grand)).to_numpy(), z)
    text = (f"{what} per {factor}: " + ", ".join(f"{fmt(m, '.3g')} ({factor} {_lab(l)})" for l, m in zip(st[factor], st["mean"]))
            + f"; largest deviation from their mean {pct(rel.abs().max(), signed=False)}.")
    return Verdict(claim, holds, text, f"every {factor} within ±{pct(tol, signed=False)} of the mean over {factor}s; "
                                       f"a departure must exceed it by {fmt(z, 'g')} s.e.")


def agrees(z_scores, labels=None, *, zmax: float = 3.0, claim: str = "prediction equals measurement",
           resolution=None) -> Verdict:
    """Prediction against measurement: holds when every |z| ≤ ``zmax``, departs otherwise.
    ``resolution``: the smallest relative departure each comparison could detect (2 s.e. of the
    difference over the prediction), quoted so that a pass is not mistaken for a tight test."""
    zs = np.asarray(list(z_scores), dtype=np.float64)
    labels = list(labels) if labels is not None else [str(i) for i in range(zs.size)]
    ok = np.isfinite(zs)
    if not ok.any():
        return Verdict(claim, None, "No comparison has a standard error: no z-score to judge.", "")
    bad = [(l, v) for l, v, o in zip(labels, zs, ok) if o and abs(v) > zmax]
    text = f"{int(ok.sum())} comparison(s), |z| ≤ {fmt(np.abs(zs[ok]).max(), '.1f')}"
    if (~ok).any():
        text += f" ({int((~ok).sum())} without a standard error, not judged)"
    text += "."
    if bad:
        text += " Beyond " + fmt(zmax, "g") + " s.e.: " + "; ".join(f"{l} (z = {fmt(v, '.1f')})" for l, v in bad) + "."
    if resolution is not None:
        res = 100 * np.asarray(list(resolution), dtype=np.float64)
        res = res[np.isfinite(res)]
        if res.size:
            spec = ".0f" if res.min() >= 10 else ".2g"
            lo, hi = fmt(res.min(), spec), fmt(res.max(), ".0f" if res.max() >= 10 else ".2g")
            text += (f" These samples can only detect departures larger than {lo if lo == hi else lo + '-' + hi}% of the "
                     "prediction (2 s.e. of the difference); smaller ones would pass unnoticed.")
            if res.max() >= 50:
                text += (" Where that exceeds 50%, the comparison cannot test the claim at this scale: a pass there "
                         "means little (use a larger scale).")
    holds = False if bad else True
    return Verdict(claim, holds, text, f"|z| ≤ {fmt(zmax, 'g')} for every comparison")
