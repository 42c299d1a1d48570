"""Resumable sweeps: a grid of independent cells run on a ``concurrent.futures.Executor``.

A *cell* is one call ``fn(**params)`` of a picklable, module-level function that returns a list of
row dicts (or a ``pandas.DataFrame``), optionally with binary artifacts (return
``CellResult(rows, artifacts={"name": bytes})``). Cells run on

- a local process pool (default; one single-threaded torch worker per core),
- ``"serial"`` (in this process; for debugging and tiny sweeps),
- a Dask distributed cluster when a scheduler address is given (``scheduler="tcp://host:8786"``:
  the scale-out path for sweeps that outgrow one machine; needs the ``dask`` extra),
- a SLURM cluster through ``submitit`` (``"slurm"``: the cells of one sweep go out as one SLURM
  job array; ``slurm={"partition": ..., "timeout_min": ..., "folder": ...}``; ``cluster="local"``
  or ``"debug"`` in that dict runs the same code path on this machine, as the tests do),
- or any ``concurrent.futures.Executor`` the caller passes.

Every finished cell is written to a SQLite results store (``ResultStore``) in its own transaction
the moment it finishes, in the driving process (with ``"slurm"``, by the job itself as well, so a
cell finished on the cluster is kept even when the driving process was preempted first). A re-run skips the cells already in the store, so
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

__all__ = ["CellResult", "ResultStore", "SweepResult", "grid", "cell_key", "make_executor", "run_sweep", "SubmititExecutor"]


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


class SubmititExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` over ``submitit`` (SLURM job arrays, or submitit's
    ``local``/``debug`` clusters on this machine).

    ``submit`` sends one job; ``submit_many`` sends many calls as one SLURM job array. A
    background thread turns finished jobs into finished futures. Jobs never raise inside
    submitit (an exception in a cell is sent back as a value and re-raised in the future), so
    submitit's debug mode does not stop in a debugger. ``stores_cells``: ``run_sweep`` has the
    jobs write their own cell to the store as they finish.
    """

    stores_cells = True

    def __init__(self, folder: str | os.PathLike = "linregions-slurm", *, cluster: str | None = None,
                 poll_s: float = 2.0, **params: Any):
        try:
            import submitit
        except ImportError:
            raise ImportError("the SLURM executor needs submitit: pip install submitit") from None
        import threading

        if cluster not in (None, "slurm", "local", "debug"):
            raise ValueError(f"cluster must be None (auto: SLURM when sbatch is available), 'slurm', 'local' or 'debug', got {cluster!r}")
        self.folder = Path(folder)
        self._ex = submitit.AutoExecutor(folder=str(self.folder), cluster=cluster)
        if cluster is None and self._ex.cluster != "slurm":
            raise ValueError("executor 'slurm': no SLURM cluster found here (sbatch is not on the PATH); run on a "
                             "cluster login node, or pass cluster='local' (subprocesses) or 'debug' (in this process)")
        if params:
            self._ex.update_parameters(**params)
        self.cluster = self._ex.cluster
        self.poll_s = float(poll_s)
        self._pending: list[tuple[Any, cf.Future]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="linregions-submitit", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"SubmititExecutor(cluster={self.cluster!r}, folder={str(self.folder)!r}, pending={len(self._pending)})"

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        return self.submit_many(fn, [(args, kwargs)])[0]

    def submit_many(self, fn: Callable, calls: Sequence[tuple[tuple, dict]]) -> list[cf.Future]:
        """Submit ``fn(*args, **kwargs)`` for every ``(args, kwargs)`` as one job array."""
        with self._ex.batch():
            jobs = [self._ex.submit(_guarded, fn, a, k) for a, k in calls]
        futs = [cf.Future() for _ in jobs]
        for f in futs:
            f.set_running_or_notify_cancel()
        with self._lock:
            self._pending.extend(zip(jobs, futs))
        return futs

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                pending = list(self._pending)
            finished = []
            for job, fut in pending:
                try:
                    done = job.done()  # submitit's debug jobs run here, in this thread
                except Exception as e:  # noqa: BLE001 - a job that cannot be queried fails its future
                    fut.set_exception(e)
                    finished.append(job)
                    continue
                if not done:
                    continue
                try:
                    status, value = job.result()
                except Exception as e:  # noqa: BLE001 - e.g. the job was killed by SLURM
                    fut.set_exception(e)
                else:
                    if status == "ok":
                        fut.set_result(value)
                    else:
                        fut.set_exception(RuntimeError(value))
                finished.append(job)
            if finished:
                with self._lock:
                    self._pending = [(j, f) for j, f in self._pending if j not in finished]
            if not pending or not finished:
                self._stop.wait(self.poll_s if self.cluster != "debug" else 0.01)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            with self._lock:
                for job, fut in self._pending:
                    job.cancel(check=False)
                    fut.cancel()
                self._pending = []
        if wait:
            while True:
                with self._lock:
                    if not self._pending:
                        break
                self._stop.wait(0.05)
        self._stop.set()
        self._thread.join(timeout=5)


def _guarded(fn: Callable, args: tuple, kwargs: dict):
    """Runs in a submitit job: (status, value), never raises (see ``SubmititExecutor``)."""
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - shipped back to the driver
        import traceback

        return "error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"


def _run_and_store(fn: Callable, params: dict, store_path: str, key: str, experiment: str):
    """Runs in a cluster job: the cell, then its row in the store (before the job reports back)."""
    rows, artifacts, secs, worker = _run_cell(fn, params)
    ResultStore(store_path).put(key, experiment, params, rows, seconds=secs, worker=worker, artifacts=artifacts)
    return rows, artifacts, secs, worker


def make_executor(executor: str | cf.Executor = "process", *, scheduler: str | None = None,
                  max_workers: int | None = None, threads_per_worker: int = 1,
                  slurm: Mapping[str, Any] | None = None) -> tuple[cf.Executor, Callable[[], None]]:
    """An executor and a function that shuts it down.

    ``executor``: ``"process"`` (local process pool, ``max_workers`` default = CPU count),
    ``"serial"``, ``"dask"`` (needs ``scheduler``, the address of a running Dask scheduler),
    ``"slurm"`` (``SubmititExecutor(**slurm)``: submitit parameters such as ``folder``,
    ``partition``/``slurm_partition``, ``timeout_min``, ``cpus_per_task``, ``mem_gb``, and
    ``cluster`` = "local"/"debug" to run on this machine), or an ``Executor`` instance (used as
    is; the caller shuts it down). A ``scheduler`` address alone implies ``"dask"``.
    """
    if isinstance(executor, cf.Executor):
        return executor, lambda: None
    if scheduler and executor in ("process", None):
        executor = "dask"
    if slurm and executor != "slurm":
        raise ValueError(f"slurm options were given but executor is {executor!r}; use executor='slurm'")
    if executor == "serial":
        return _SerialExecutor(), lambda: None
    if executor == "slurm":
        opts = dict(slurm or {})
        if "partition" in opts:
            opts["slurm_partition"] = opts.pop("partition")
        ex = SubmititExecutor(**opts)
        return ex, lambda: ex.shutdown(wait=True, cancel_futures=True)
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
        try:
            client = Client(scheduler, timeout=30)
        except OSError as e:
            raise ValueError(f"the Dask scheduler at {scheduler!r} is not reachable ({e}); start one with "
                             "`dask scheduler`, or use executor='process'") from None
        return client.get_executor(pure=False), client.close
    raise ValueError(f"executor must be 'process', 'serial', 'dask', 'slurm' or a concurrent.futures.Executor, got {executor!r}")


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
    slurm: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Run ``fn(**params)`` for every cell not yet in ``store``; write each as it finishes.

    Returns the tidy table of all the sweep's cells (those run now and those found in the store).
    A failing cell is reported (``raise_errors=True``: re-raised after the other cells finish and
    are stored; else listed in ``SweepResult.failed``) and never stored, so a re-run retries it.
    ``executor="slurm"`` (with ``slurm`` options, see ``make_executor``) sends the cells as one
    SLURM job array; each job writes its cell to the store when it finishes.
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
        ex, shutdown = make_executor(executor, scheduler=scheduler, max_workers=max_workers, slurm=slurm)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(keys), initial=len(keys) - len(todo), desc=experiment.rsplit(".", 1)[-1], unit="cell")
        try:
            if getattr(ex, "stores_cells", False):  # cluster jobs write their own cells
                calls = [((fn, c, str(store.path), k, experiment), {}) for k, c in todo]
                futs = dict(zip(ex.submit_many(_run_and_store, calls), todo))
            else:
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
