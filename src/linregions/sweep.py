"""Resumable sweeps: a grid of independent cells run on a ``concurrent.futures.Executor``.

A *cell* is one call ``fn(**params)`` of a picklable, module-level function that returns a list of
row dicts (or a ``pandas.DataFrame``), optionally with binary artifacts (return
``CellResult(rows, artifacts={"name": bytes})``). Cells run on

- a local process pool (default; one single-threaded torch worker per core),
- ``"serial"`` (in this process; for debugging and tiny sweeps),
- a Dask distributed cluster when a scheduler address is given (``scheduler="tcp://host:8786"``:
  the scale-out path for sweeps that outgrow one machine; needs the ``dask`` extra),
- or any ``concurrent.futures.Executor`` the caller passes.

Every finished cell is written to a SQLite results store (``ResultStore``) in its own transaction
the moment it finishes, in the driving process. A re-run skips the cells already in the store, so
a sweep killed at any moment and restarted loses no finished cell and repeats none (a cell that
was still running when the sweep was killed is simply run again).

>>> from linregions.sweep import grid
>>> grid(depth=[1, 2], seed=[0, 1])
[{'depth': 1, 'seed': 0}, {'depth': 1, 'seed': 1}, {'depth': 2, 'seed': 0}, {'depth': 2, 'seed': 1}]
"""
from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import math
import os
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["CellResult", "ResultStore", "SweepResult", "grid", "cell_key", "make_executor", "run_sweep"]


@dataclass(frozen=True, repr=False)
class CellResult:
    """What a cell returns when it has artifacts besides its rows."""

    rows: list
    artifacts: Mapping[str, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"CellResult({len(self.rows)} rows, artifacts={sorted(self.artifacts)})"


def grid(**axes: Sequence[Any]) -> list[dict]:
    """The Cartesian product of the axes, as a list of parameter dicts (last axis fastest)."""
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise TypeError(f"grid: axis {name!r} must be a list of values, got {values!r}")
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(axes[n]) for n in names))]


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return repr(v)


def _fn_name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def cell_key(experiment: str, params: Mapping[str, Any]) -> str:
    """A canonical, stable key of a cell: the experiment name and its sorted JSON parameters."""
    return experiment + ":" + json.dumps(_jsonable(dict(params)), sort_keys=True, separators=(",", ":"))


class ResultStore:
    """SQLite store of finished cells: key, experiment, parameters, rows (JSON), artifacts.

    Writes are single transactions, so a process killed mid-write leaves the store as it was
    before that cell. Safe to open from several processes (SQLite locking; only the driving
    process writes during a sweep).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.suffix.lower() in (".parquet", ".csv"):
            raise ValueError(f"store: {self.path} should be a SQLite file (e.g. results.sqlite); export tables with .frame()")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS cells (key TEXT PRIMARY KEY, experiment TEXT NOT NULL, "
                "params TEXT NOT NULL, rows TEXT NOT NULL, seconds REAL, worker TEXT, finished REAL)"
            )
            con.execute("CREATE TABLE IF NOT EXISTS artifacts (key TEXT, name TEXT, data BLOB, PRIMARY KEY (key, name))")

    def _connect(self) -> sqlite3.Connection:
        # default rollback journal: a transaction cut short by a kill is rolled back on next open
        return sqlite3.connect(self.path, timeout=60)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r}, cells={len(self)})"

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM cells").fetchone()[0])

    def keys(self, experiment: str | None = None) -> set[str]:
        with self._connect() as con:
            q = "SELECT key FROM cells" + (" WHERE experiment = ?" if experiment else "")
            return {r[0] for r in con.execute(q, (experiment,) if experiment else ())}

    def put(self, key: str, experiment: str, params: Mapping, rows: list, *, seconds: float = float("nan"),
            worker: str = "", artifacts: Mapping[str, bytes] | None = None) -> None:
        """Record one finished cell (rows, artifacts) atomically; an existing key is left alone."""
        payload = json.dumps(_jsonable(rows))
        con = self._connect()
        try:
            with con:  # one transaction
                cur = con.execute(
                    "INSERT OR IGNORE INTO cells VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, experiment, json.dumps(_jsonable(dict(params)), sort_keys=True), payload, seconds, worker, time.time()),
                )
                if cur.rowcount and artifacts:
                    con.executemany("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?)",
                                    [(key, str(n), sqlite3.Binary(bytes(b))) for n, b in artifacts.items()])
        finally:
            con.close()

    def cells(self, experiment: str | None = None) -> pd.DataFrame:
        """One row per finished cell: key, experiment, params (dict), seconds, worker, finished."""
        with self._connect() as con:
            q = "SELECT key, experiment, params, seconds, worker, finished FROM cells" + (" WHERE experiment = ?" if experiment else "")
            df = pd.read_sql_query(q, con, params=(experiment,) if experiment else None)
        df["params"] = df["params"].map(json.loads)
        return df

    def frame(self, experiment: str | None = None, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """The tidy table of an experiment: every row of every finished cell, with the cell's
        parameters as columns (row values win on a name clash) and its key in ``cell``."""
        with self._connect() as con:
            q = "SELECT key, params, rows FROM cells" + (" WHERE experiment = ?" if experiment else "") + " ORDER BY finished"
            recs = con.execute(q, (experiment,) if experiment else ()).fetchall()
        wanted = None if keys is None else set(keys)
        out = []
        for key, params, rows in recs:
            if wanted is not None and key not in wanted:
                continue
            p = json.loads(params)
            for r in json.loads(rows):
                out.append({"cell": key, **p, **r})
        return pd.DataFrame(out)

    def artifact(self, key: str, name: str) -> bytes | None:
        with self._connect() as con:
            r = con.execute("SELECT data FROM artifacts WHERE key = ? AND name = ?", (key, name)).fetchone()
        return None if r is None else bytes(r[0])


@dataclass(frozen=True, repr=False)
class SweepResult:
    """The rows of all cells of one sweep (finished now or before), and what this run did."""

    frame: pd.DataFrame
    keys: tuple[str, ...]
    ran: int
    skipped: int
    failed: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        return f"SweepResult({len(self.keys)} cells: ran {self.ran}, skipped {self.skipped}, failed {len(self.failed)}; {len(self.frame)} rows)"


def _worker_init(threads: int) -> None:
    """Pool workers share the machine's cores: one compute thread each. Set before torch or BLAS
    is imported in the fresh (spawned) worker, so importing torch here is not needed."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:  # pragma: no cover - only when a start method reuses the parent
        sys.modules["torch"].set_num_threads(threads)


def _run_cell(fn: Callable, params: dict) -> tuple[list, dict, float, str]:
    """Runs in the worker: call the cell, normalise its result to (rows, artifacts)."""
    t0 = time.perf_counter()
    res = fn(**params)
    artifacts: dict = {}
    if isinstance(res, CellResult):
        rows, artifacts = res.rows, dict(res.artifacts)
    else:
        rows = res
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict(orient="records")
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list):
        raise TypeError(f"cell {_fn_name(fn)}{params} must return a list of dicts, a DataFrame or a CellResult, got {type(res).__name__}")
    return rows, artifacts, time.perf_counter() - t0, f"{os.uname().nodename}:{os.getpid()}"


class _SerialExecutor(cf.Executor):
    """Runs each submitted call at once, in this process."""

    def submit(self, fn, /, *args, **kwargs):
        f: cf.Future = cf.Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - delivered through the future
            f.set_exception(e)
        return f


def make_executor(executor: str | cf.Executor = "process", *, scheduler: str | None = None,
                  max_workers: int | None = None, threads_per_worker: int = 1) -> tuple[cf.Executor, Callable[[], None]]:
    """An executor and a function that shuts it down.

    ``executor``: ``"process"`` (local process pool, ``max_workers`` default = CPU count),
    ``"serial"``, ``"dask"`` (needs ``scheduler``, the address of a running Dask scheduler), or an
    ``Executor`` instance (used as is; the caller shuts it down). A ``scheduler`` address alone
    implies ``"dask"``.
    """
    if isinstance(executor, cf.Executor):
        return executor, lambda: None
    if scheduler and executor in ("process", None):
        executor = "dask"
    if executor == "serial":
        return _SerialExecutor(), lambda: None
    if executor == "process":
        import multiprocessing as mp

        n = max_workers or os.cpu_count() or 1
        if n < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        # spawn: a forked child of a process that has started torch/OpenMP threads can deadlock
        pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"),
                                      initializer=_worker_init, initargs=(threads_per_worker,))
        return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)
    if executor == "dask":
        if not scheduler:
            raise ValueError("executor 'dask' needs scheduler='tcp://HOST:PORT' (the address of a running Dask scheduler)")
        try:
            from distributed import Client
        except ImportError:
            raise ImportError("the Dask executor needs the optional extra: pip install 'linregions[dask]' (dask, distributed)") from None
        client = Client(scheduler, timeout=30)
        return client.get_executor(pure=False), client.close
    raise ValueError(f"executor must be 'process', 'serial', 'dask' or a concurrent.futures.Executor, got {executor!r}")


def run_sweep(
    fn: Callable[..., Any],
    cells: Sequence[Mapping[str, Any]],
    store: ResultStore | str | os.PathLike,
    *,
    experiment: str | None = None,
    executor: str | cf.Executor = "process",
    scheduler: str | None = None,
    max_workers: int | None = None,
    progress: bool = True,
    raise_errors: bool = True,
) -> SweepResult:
    """Run ``fn(**params)`` for every cell not yet in ``store``; write each as it finishes.

    Returns the tidy table of all the sweep's cells (those run now and those found in the store).
    A failing cell is reported (``raise_errors=True``: re-raised after the other cells finish and
    are stored; else listed in ``SweepResult.failed``) and never stored, so a re-run retries it.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callable, got {type(fn).__name__}")
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    experiment = experiment or _fn_name(fn)
    cells = [dict(c) for c in cells]
    keys = [cell_key(experiment, c) for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError("run_sweep: two cells have the same parameters")
    done = store.keys(experiment)
    todo = [(k, c) for k, c in zip(keys, cells) if k not in done]
    failed: list[tuple[str, str]] = []
    first_error: BaseException | None = None
    if todo:
        ex, shutdown = make_executor(executor, scheduler=scheduler, max_workers=max_workers)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(keys), initial=len(keys) - len(todo), desc=experiment.rsplit(".", 1)[-1], unit="cell")
        try:
            futs = {ex.submit(_run_cell, fn, c): (k, c) for k, c in todo}
            for fut in cf.as_completed(futs):
                k, c = futs[fut]
                try:
                    rows, artifacts, secs, worker = fut.result()
                except Exception as e:  # noqa: BLE001 - collected, re-raised below
                    failed.append((k, f"{type(e).__name__}: {e}"))
                    first_error = first_error or e
                else:
                    store.put(k, experiment, c, rows, seconds=secs, worker=worker, artifacts=artifacts)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
            shutdown()
    if first_error is not None and raise_errors:
        raise RuntimeError(f"{len(failed)} cell(s) of {experiment} failed; first: {failed[0][0]}: {failed[0][1]}") from first_error
    return SweepResult(frame=store.frame(experiment, keys), keys=tuple(keys), ran=len(todo) - len(failed),
                       skipped=len(keys) - len(todo), failed=tuple(failed))
