"""Shared pieces of the experiments: sizes (``Scale``), the result type (``ExperimentResult``),
statistics and figure helpers, and the data and network helpers the cells use."""
from __future__ import annotations

import functools
import math
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..sweep import ResultStore, run_sweep

#: The paper's bias law: N(0, 0.001²), i.e. standard deviation 0.001 (a ``parse_law`` spec).
PAPER_BIAS = "normal:0.001"

_N_IN, _N_OUT = 784, 10


# ----------------------------------------------------------------------------------------------
# sizes


@dataclass(frozen=True)
class Scale:
    """Sizes of every experiment. ``SCALES`` holds 'tiny' (tests), 'small' (default report) and
    'full' (close to the paper); ``dataclasses.replace`` makes variants."""

    name: str
    # regions / distances at initialisation
    init_depths: tuple[int, ...] = (1, 2, 3, 4)
    init_neurons: tuple[int, ...] = (48, 96, 192, 384)
    init_seeds: int = 3
    init_segments: int = 25
    init_points: int = 40
    # training
    train_archs: tuple[tuple[int, ...], ...] = ((32, 32, 32), (64, 64, 64), (128, 128))
    train_epochs: int = 4
    train_size: int = 60000
    test_size: int = 10000
    train_seeds: int = 1
    batch_size: int = 128
    train_bias_laws: tuple[str, ...] = (PAPER_BIAS,)
    track_segments: int = 20
    track_points: int = 40
    # slice variants (label corruption fraction, learning rate), trained on the picture architecture
    picture_arch: tuple[int, ...] = (64, 64, 64)
    variants: tuple[tuple[str, float, float], ...] = (("paper", 0.0, 1e-3), ("labels 50% corrupted", 0.5, 1e-3), ("lr 1e-4", 0.0, 1e-4))
    # formula vs measurement, boundary volume, zero-bias control
    theory_neurons: tuple[int, ...] = (32, 64, 128)
    theory_nets: int = 4
    volume_nets: int = 2
    crofton_chords: int = 200
    crofton_planes: int = 6
    zero_neurons: tuple[int, ...] = (12, 24, 48, 96)
    zero_depth: int = 2
    zero_seeds: int = 2


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        name="tiny", init_depths=(1, 2), init_neurons=(8, 16), init_seeds=1, init_segments=4, init_points=5,
        train_archs=((8, 8),), train_epochs=2, train_size=2000, test_size=500, batch_size=32,
        track_segments=3, track_points=4, picture_arch=(8, 8),
        variants=(("paper", 0.0, 1e-3), ("labels 50% corrupted", 0.5, 1e-3)),
        theory_neurons=(8, 16), theory_nets=2, volume_nets=1, crofton_chords=10, crofton_planes=1,
        zero_neurons=(4, 8), zero_depth=2, zero_seeds=1,
    ),
    "small": Scale(name="small", train_seeds=3, theory_nets=16, volume_nets=3),
    "full": Scale(
        name="full", init_neurons=(96, 192, 384, 768, 1536), init_seeds=4, init_segments=100, init_points=200,
        train_archs=((32, 32, 32), (64, 64, 64), (128, 128, 128), (96, 96), (192,)), train_epochs=20, train_seeds=3,
        train_bias_laws=(PAPER_BIAS, "normal:0.1"), track_segments=100, track_points=200,
        theory_neurons=(96, 192, 384, 768), theory_nets=32, volume_nets=5, crofton_chords=2000, crofton_planes=40,
        zero_neurons=(24, 48, 96, 192, 384), zero_seeds=4,
    ),
}


def scale_config(scale: str | Scale) -> Scale:
    """The ``Scale`` named ``scale`` ('tiny', 'small', 'full'), or ``scale`` itself."""
    if isinstance(scale, Scale):
        return scale
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)} (or a Scale), got {scale!r}")
    return SCALES[scale]


# ----------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Pair:
    """A prediction next to a measurement in an experiment's ``summary``: the summary columns
    ``prediction`` and ``measurement`` are means, per ``by`` group, of the table columns
    ``table_prediction`` and ``table_measurement`` over the *same* rows (those where both are
    defined); ``n`` names the summary column with the number of those rows. ``tests`` recompute
    both from the tidy table to check it."""

    prediction: str
    measurement: str
    table_prediction: str
    table_measurement: str
    by: tuple[str, ...]
    n: str


@dataclass(frozen=True, repr=False, eq=False)
class ExperimentResult:
    """One experiment: tidy ``table`` (one row per measurement), ``summary`` (aggregated, what the
    report shows), ``figures``, the paper's ``claim``, one ``Verdict`` per claim (``verdicts``;
    ``verdict`` is their text), whether the result is ``consistent`` with the claims (False when
    one departs, None when undecided), the ``settings``, the prediction/measurement ``pairs`` of
    the summary, and footnotes (``notes``) for the summary table."""

    name: str
    title: str
    claim: str
    table: pd.DataFrame
    summary: pd.DataFrame
    figures: tuple = ()
    verdict: str = ""
    consistent: bool | None = None
    settings: dict = field(default_factory=dict)
    verdicts: tuple = ()
    pairs: tuple = ()
    notes: tuple = ()

    def __repr__(self) -> str:
        flag = {True: "consistent", False: "departs", None: "undecided"}[self.consistent]
        return f"ExperimentResult({self.name!r}: {len(self.table)} rows, {len(self.figures)} figure(s), {flag})"


def _result(verdicts, text: str = "", **kw) -> ExperimentResult:
    """An ``ExperimentResult`` whose ``verdict`` and ``consistent`` follow from its verdicts."""
    from .verdicts import overall

    verdicts = tuple(verdicts)
    body = " ".join(v.sentence() for v in verdicts)
    return ExperimentResult(verdict=(body + (" " + text if text else "")).strip(), consistent=overall(verdicts),
                            verdicts=verdicts, **kw)


def paired_means(table: pd.DataFrame, pair: Pair) -> pd.DataFrame:
    """Per ``pair.by`` group: the mean prediction and mean measurement over the rows where both
    are defined, and their number (what ``Pair`` promises the summary holds)."""
    both = table.dropna(subset=[pair.table_prediction, pair.table_measurement])
    g = both.groupby(list(pair.by)) if pair.by else both.assign(_all=0).groupby("_all")
    out = g.agg(**{pair.prediction: (pair.table_prediction, "mean"), pair.measurement: (pair.table_measurement, "mean"),
                   pair.n: (pair.table_measurement, "size")}).reset_index()
    return out.drop(columns=["_all"], errors="ignore")


def _sem(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")


def _figure(w: float = 11.0, h: float = 4.2, ncols: int = 2, nrows: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _plain_log_x(ax, ticks) -> None:
    """Log x axis with plain tick labels at the given values."""
    from matplotlib.ticker import NullFormatter

    ticks = sorted({int(v) for v in ticks})
    ax.set_xticks(ticks, [str(v) for v in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _plain_log_y(ax) -> None:
    """Log y axis with plain (not scientific) tick labels: counts read as counts."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _integer_x(*axes) -> None:
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _store(store) -> ResultStore:
    if store is None:
        store = os.path.join(tempfile.mkdtemp(prefix="linregions-"), "results.sqlite")
    return store if isinstance(store, ResultStore) else ResultStore(store)


def _sweep(fn, cells, store, run: dict, name: str):
    return run_sweep(fn, cells, store, experiment=name, **run).frame


def _run_opts(executor, scheduler, max_workers, progress) -> dict:
    return dict(executor=executor, scheduler=scheduler, max_workers=max_workers, progress=progress)


# ----------------------------------------------------------------------------------------------
# data and networks shared by the cells (run in workers)


@functools.lru_cache(maxsize=4)
def _data(split: str, limit: int | None):
    from ..data import mnist

    return mnist(split, limit=limit, dtype=np.float32)


def _pairs(n_avail: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n pairs of distinct indices < n_avail."""
    rng = np.random.default_rng(seed)
    i = rng.choice(n_avail, size=n, replace=n > n_avail)
    j = (i + 1 + rng.integers(0, n_avail - 1, size=n)) % n_avail
    return i, j


def _law(spec: str):
    from ..commands._common import parse_law

    return parse_law(spec)


def _widths(depth: int, neurons: int) -> list[int]:
    if neurons % depth:
        raise ValueError(f"#neurons {neurons} is not divisible by depth {depth}")
    return [neurons // depth] * depth


def _theorem6_segment(net, x0, x1, law, n_samples: int) -> tuple[float, float]:
    """Theorem 6 (k = 1) on the segment [x0, x1] for this network's weights with biases drawn
    from ``law``: the expected number of activation-region boundary points, as an unbiased Monte
    Carlo estimate (``theory.theorem6`` with a fixed network); returns (value, standard error).
    Averaged over networks it estimates the law-level prediction."""
    from ..theory import Segment, theorem6

    est = theorem6(net, Segment(x0, x1), k=1, bias_law=law, kind="activation", n_samples=n_samples, seed=0)
    return est.value, est.se


def _theorem6_segment_exact(net, x0, x1, law) -> float:
    """Theorem 6 (k = 1) on [x0, x1] in closed form (``theory.segment_expected_count``): the sum
    over neurons of E[#crossings of z | all other parameters], exact in the bias integral, so
    measured - predicted has mean zero and no Monte Carlo noise."""
    from ..theory import segment_expected_count

    return float(segment_expected_count(net, x0, x1, bias_law=law, kind="activation"))


def _distances(net, X, kind: str = "activation") -> np.ndarray | None:
    try:
        from ..distance import distance_to_boundary
    except ImportError:
        return None
    return np.asarray(distance_to_boundary(net, X, kind=kind).distance, dtype=np.float64)




def bias_label(spec: str) -> str:
    """A bias-law spec in the report's one notation (standard deviation inside the square):
    'normal:0.001' -> 'N(0, 0.001²)', 'uniform:-0.5,0.5' -> 'U(-0.5, 0.5)', 'laplace:0.3' ->
    'Laplace(0, 0.3)', 'zero' -> 'zero'.

    >>> bias_label("normal:0.001"), bias_label("uniform:-0.5,0.5"), bias_label("zero")
    ('N(0, 0.001²)', 'U(-0.5, 0.5)', 'zero')
    """
    name, _, args = str(spec).partition(":")
    vals = [a.strip() for a in args.split(",") if a.strip()]
    if name == "normal" and len(vals) == 1:
        return f"N(0, {vals[0]}²)"
    if name == "normal" and len(vals) == 2:
        return f"N({vals[0]}, {vals[1]}²)"
    if name == "uniform" and len(vals) == 2:
        return f"U({vals[0]}, {vals[1]})"
    if name == "laplace" and len(vals) == 1:
        return f"Laplace(0, {vals[0]})"
    return str(spec)
