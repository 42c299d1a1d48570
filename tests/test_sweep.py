"""linregions.sweep: grids of cells on executors, a results store that survives kills."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from linregions.sweep import CellResult, ResultStore, cell_key, grid, run_sweep


def square_cell(x: int, scale: float = 1.0) -> list[dict]:
    """A cell with a known answer (computed here, independently of the sweep machinery)."""
    return [{"sq": x * x * scale, "rep": r, "pid": os.getpid()} for r in range(2)]


def random_cell(seed: int, n: int) -> list[dict]:
    v = np.random.default_rng(seed).normal(size=n)
    return [{"mean": float(v.mean()), "max": float(v.max())}]


def failing_cell(x: int) -> list[dict]:
    if x == 2:
        raise ValueError("cell two fails")
    return [{"x2": 2 * x}]


def artifact_cell(x: int) -> CellResult:
    return CellResult([{"x": x}], artifacts={"blob.bin": bytes([x, x + 1])})


def test_grid_and_keys():
    g = grid(a=[1, 2], b=["u", "v", "w"])
    assert len(g) == 6 and g[0] == {"a": 1, "b": "u"} and g[-1] == {"a": 2, "b": "w"}
    assert cell_key("e", {"a": 1, "b": 2}) == cell_key("e", {"b": 2, "a": 1})
    assert cell_key("e", {"a": 1}) != cell_key("f", {"a": 1})
    with pytest.raises(TypeError, match="axis 'a'"):
        grid(a="abc")


def test_serial_sweep_stores_and_skips(tmp_path):
    store = tmp_path / "r.sqlite"
    cells = grid(x=[1, 2, 3], scale=[1.0, 0.5])
    res = run_sweep(square_cell, cells, store, executor="serial", progress=False)
    assert res.ran == 6 and res.skipped == 0 and len(res.frame) == 12
    expected = {(c["x"], c["scale"]): c["x"] ** 2 * c["scale"] for c in cells}
    for _, r in res.frame.iterrows():
        assert r["sq"] == expected[(r["x"], r["scale"])]
    again = run_sweep(square_cell, cells + [{"x": 4, "scale": 1.0}], store, executor="serial", progress=False)
    assert again.ran == 1 and again.skipped == 6 and len(again.frame) == 14
    assert len(ResultStore(store)) == 7
    with pytest.raises(ValueError, match="same parameters"):
        run_sweep(square_cell, [{"x": 1}, {"x": 1}], store, executor="serial", progress=False)


def test_failed_cells_are_not_stored_and_are_retried(tmp_path):
    store = tmp_path / "r.sqlite"
    res = run_sweep(failing_cell, grid(x=[1, 2, 3]), store, executor="serial", progress=False, raise_errors=False)
    assert res.ran == 2 and len(res.failed) == 1 and "cell two fails" in res.failed[0][1]
    with pytest.raises(RuntimeError, match="1 cell"):
        run_sweep(failing_cell, grid(x=[1, 2, 3]), store, executor="serial", progress=False)
    assert len(ResultStore(store)) == 2  # only the finished ones


def test_artifacts_roundtrip(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    res = run_sweep(artifact_cell, grid(x=[3, 7]), store, executor="serial", progress=False)
    for key, x in zip(res.keys, (3, 7)):
        assert store.artifact(key, "blob.bin") == bytes([x, x + 1])
    assert store.artifact(res.keys[0], "missing") is None


def test_bad_executor_arguments(tmp_path):
    with pytest.raises(ValueError, match="executor must be"):
        run_sweep(square_cell, grid(x=[1]), tmp_path / "r.sqlite", executor="threads", progress=False)
    with pytest.raises(ValueError, match="scheduler"):
        run_sweep(square_cell, grid(x=[1]), tmp_path / "s.sqlite", executor="dask", progress=False)
    with pytest.raises(ValueError, match="SQLite"):
        ResultStore(tmp_path / "r.parquet")


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["cell"]).sort_values(["seed", "n"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def process_pool_result(tmp_path_factory):
    store = tmp_path_factory.mktemp("pool") / "r.sqlite"
    res = run_sweep(random_cell, grid(seed=[0, 1, 2], n=[10, 20]), store, executor="process", max_workers=2, progress=False)
    workers = ResultStore(store).cells()["worker"]
    assert all(w.split(":")[-1] != str(os.getpid()) for w in workers)  # really ran in other processes
    return res


def test_process_pool_matches_serial(process_pool_result, tmp_path):
    serial = run_sweep(random_cell, grid(seed=[0, 1, 2], n=[10, 20]), tmp_path / "s.sqlite", executor="serial", progress=False)
    pd.testing.assert_frame_equal(_values(serial.frame), _values(process_pool_result.frame))


def test_dask_local_cluster_matches_process_pool(process_pool_result, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the Dask executor needs the optional dask extra")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        res = run_sweep(random_cell, grid(seed=[0, 1, 2], n=[10, 20]), tmp_path / "d.sqlite",
                        scheduler=cluster.scheduler_address, progress=False)
    assert res.ran == 6
    pd.testing.assert_frame_equal(_values(res.frame), _values(process_pool_result.frame))


SCRIPT = """
import os, sys, time
from linregions.sweep import grid, run_sweep

def slow_cell(i):
    time.sleep(0.25)
    with open(os.environ["CELL_LOG"], "a") as fh:
        fh.write(f"{os.environ['RUN_ID']} {i}\\n")
    return [{"i": i, "i3": i ** 3, "pid": os.getpid(), "t": time.time()}]

if __name__ == "__main__":
    run_sweep(slow_cell, grid(i=list(range(int(sys.argv[2])))), sys.argv[1], experiment="slow",
              executor="process", max_workers=2, progress=False)
"""


def test_killed_sweep_resumes_without_losing_or_repeating_cells(tmp_path):
    script = tmp_path / "slow_sweep.py"
    script.write_text(textwrap.dedent(SCRIPT))
    store, log, n = tmp_path / "r.sqlite", tmp_path / "cells.log", 24
    env = dict(os.environ, CELL_LOG=str(log), RUN_ID="1")
    proc = subprocess.Popen([sys.executable, str(script), str(store), str(n)], env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if store.exists() and len(ResultStore(store)) >= 4:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the sweep stored no cells within 60 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool workers, at once
        proc.wait(timeout=30)
    first = ResultStore(store).frame("slow").set_index("i")
    assert 4 <= len(first) < n, "kill the sweep while cells are still pending"
    # restart: runs to completion
    env["RUN_ID"] = "2"
    subprocess.run([sys.executable, str(script), str(store), str(n)], env=env, check=True, timeout=120)
    final = ResultStore(store).frame("slow")
    assert sorted(final["i"]) == list(range(n))  # every cell exactly once
    assert (final["i3"] == final["i"] ** 3).all()
    final = final.set_index("i")
    pd.testing.assert_frame_equal(final.loc[first.index], first)  # finished cells kept as they were
    runs = [line.split() for line in log.read_text().splitlines()]
    second = {int(i) for r, i in runs if r == "2"}
    assert not second & set(first.index), "a cell finished before the kill was run again"
    assert second | set(first.index) == set(range(n))


# -- SLURM through submitit (its in-process debug cluster) ----------------------------------------


def test_slurm_executor_debug_mode_matches_serial(tmp_path):
    cells = grid(x=[1, 2, 3], scale=[1.0, 2.0])
    slurm = {"cluster": "debug", "folder": str(tmp_path / "logs")}
    res = run_sweep(square_cell, cells, tmp_path / "s.sqlite", executor="slurm", slurm=slurm, progress=False)
    ser = run_sweep(square_cell, cells, tmp_path / "t.sqlite", executor="serial", progress=False)
    assert res.ran == 6 and res.skipped == 0
    key = ["x", "scale", "rep"]
    a = res.frame.sort_values(key).reset_index(drop=True)
    b = ser.frame.sort_values(key).reset_index(drop=True)
    np.testing.assert_array_equal(a["sq"], b["sq"])
    again = run_sweep(square_cell, cells, tmp_path / "s.sqlite", executor="slurm", slurm=slurm, progress=False)
    assert again.ran == 0 and again.skipped == 6


def test_slurm_jobs_store_their_own_cells(tmp_path):
    """The driver never writes here: the jobs did, as each finished (a preempted driver loses
    no finished cell)."""
    from linregions.sweep import SubmititExecutor, _run_and_store

    store = ResultStore(tmp_path / "r.sqlite")
    ex = SubmititExecutor(tmp_path / "logs", cluster="debug")
    try:
        cells = grid(x=[4, 5])
        keys = [cell_key("e", c) for c in cells]
        futs = ex.submit_many(_run_and_store, [((square_cell, c, str(store.path), k, "e"), {}) for k, c in zip(keys, cells)])
        for f in futs:
            f.result(timeout=60)
    finally:
        ex.shutdown()
    assert store.keys("e") == set(keys)
    df = store.frame("e")
    assert sorted(df["sq"]) == [16, 16, 25, 25]


def test_slurm_failures_and_bad_options(tmp_path):
    from linregions.sweep import make_executor

    slurm = {"cluster": "debug", "folder": str(tmp_path / "logs")}
    res = run_sweep(failing_cell, grid(x=[1, 2, 3]), tmp_path / "f.sqlite", executor="slurm", slurm=slurm,
                    progress=False, raise_errors=False)
    assert res.ran == 2 and len(res.failed) == 1 and "cell two fails" in res.failed[0][1]
    assert len(ResultStore(tmp_path / "f.sqlite")) == 2
    with pytest.raises(ValueError, match="cluster"):
        make_executor("slurm", slurm={"cluster": "pbs"})
    with pytest.raises(ValueError, match="executor='slurm'"):
        make_executor("serial", slurm={"partition": "gpu"})


def test_slurm_without_a_cluster_says_so(tmp_path, monkeypatch):
    import submitit.slurm.slurm as ss

    from linregions.sweep import make_executor

    monkeypatch.setattr(ss.SlurmExecutor, "affinity", staticmethod(lambda: -1))  # as on a machine without SLURM
    with pytest.raises(ValueError, match="no SLURM cluster"):
        make_executor("slurm", slurm={"folder": str(tmp_path)})
