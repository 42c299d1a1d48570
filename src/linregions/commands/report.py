"""``linregions report``: run the paper's experiments and write the HTML report (the main job).

Before any work the command checks what the chosen experiments need (the MNIST data package, a
reachable Dask scheduler, a writable output directory) and stops with the reason on the console
when something is missing. Ctrl-C ends in one line saying where the finished cells are kept.
"""
from __future__ import annotations

import argparse
import os
import socket
from urllib.parse import urlsplit

from ..experiments import EXPERIMENTS, SCALES
from ._common import check_output_path

#: Experiments that run on random networks alone; every other one reads MNIST (``linregions.data``).
#: ``linregions.experiments.REQUIRES`` (name -> tuple of needs), when it exists, takes precedence.
_NO_DATA = frozenset({"boundary_volume"})


def add_executor_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--executor", choices=("process", "serial", "dask", "slurm"), default="process",
                   help="where sweep cells run: a local process pool (default), this process, a Dask cluster, "
                        "or SLURM job arrays (submitit; each job stores its cell as it finishes)")
    g.add_argument("--slurm-partition", default=None, metavar="NAME", help="SLURM partition (with --executor slurm)")
    g.add_argument("--slurm-time", type=int, default=60, metavar="MIN", help="time limit of each cell's job (default 60)")
    g.add_argument("--slurm-folder", default="linregions-slurm", metavar="DIR", help="submitit logs and job files")
    g.add_argument("--slurm-cluster", choices=("slurm", "local", "debug"), default=None,
                   help="submitit cluster; 'local'/'debug' run the SLURM path on this machine (testing)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask)")
    g.add_argument("--workers", type=int, default=None, metavar="N", help="process-pool size (default: number of CPU cores)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def executor_from_args(args: argparse.Namespace):
    """(executor, shutdown): an Executor instance for ``--executor slurm`` (the experiments accept
    it), else the executor's name and a no-op."""
    if args.executor != "slurm":
        return args.executor, (lambda: None)
    from ..sweep import make_executor

    opts = {"folder": args.slurm_folder, "timeout_min": args.slurm_time, "cluster": args.slurm_cluster}
    if args.slurm_partition:
        opts["partition"] = args.slurm_partition
    return make_executor("slurm", slurm=opts)


def register(sub) -> None:
    p = sub.add_parser("report", help="run the paper's experiments and write a self-contained HTML report",
                       description="Run the experiments of Hanin & Rolnick (ICML 2019) on MNIST and write OUT/report.html "
                                   "(figures, tables, the paper's claims and our verdicts, settings and versions), the CSV "
                                   "tables and the figures. Finished cells are kept in OUT/results.sqlite, so an interrupted "
                                   "report resumes where it stopped.")
    p.add_argument("--scale", choices=tuple(SCALES), default="small",
                   help="small (default, a few minutes on 2 cores), full (close to the paper; hours), tiny (smoke test)")
    p.add_argument("--out", default="linregions-report", metavar="DIR", help="output directory (default linregions-report)")
    p.add_argument("--only", default=None, metavar="NAMES", help=f"comma-separated experiments to run (default all: {', '.join(EXPERIMENTS)})")
    add_executor_args(p)
    p.set_defaults(func=run, _on_interrupt=lambda a: (
        f"finished cells are kept in {os.path.join(a.out, 'results.sqlite')}; run the same command again to resume"))


# ------------------------------------------------------------------------------------------------
# checks before any work (shared with ``linregions sweep``)


def requirements(name: str) -> tuple[str, ...]:
    """What experiment ``name`` needs besides this package: ``("mnist",)`` or ``()``."""
    from .. import experiments

    declared = getattr(experiments, "REQUIRES", None)
    if isinstance(declared, dict) and name in declared:
        return tuple(declared[name])
    return () if name in _NO_DATA else ("mnist",)


def mnist_missing() -> str | None:
    """Why the MNIST data cannot be read (the library's message), or None when it is installed."""
    from ..data import mnist_csv_path

    try:
        for split in ("train", "test"):
            mnist_csv_path(split)
    except FileNotFoundError as e:
        return str(e)
    return None


def check_experiments_runnable(names: list[str], command: str) -> None:
    """Refuse, before any work, experiments whose data is not installed, naming them, the reason,
    the install step and what can run without it."""
    needing = [n for n in names if "mnist" in requirements(n)]
    if not needing:
        return
    reason = mnist_missing()
    if reason is None:
        return
    runnable = [n for n in EXPERIMENTS if "mnist" not in requirements(n)]
    tail = f" Without it you can run: {command} --only {','.join(runnable)}." if runnable and command.endswith("report") else ""
    raise ValueError(f"{len(needing)} experiment(s) read MNIST and cannot run: {', '.join(needing)}. {reason}{tail}")


def check_scheduler(executor: str, scheduler: str | None, timeout: float = 5.0) -> None:
    """Before any work: the Dask extra is installed and the scheduler answers on its TCP port."""
    if executor != "dask" and not scheduler:
        return
    if not scheduler:
        raise ValueError("--executor dask needs --scheduler tcp://HOST:PORT (the address of a running Dask scheduler)")
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise ValueError("--scheduler needs Dask's distributed package: pip install 'linregions[dask]'")
    url = urlsplit(scheduler if "://" in scheduler else f"tcp://{scheduler}")
    if url.scheme not in ("tcp", "tls"):
        return  # inproc:// and other transports: left to Dask
    try:
        host, port = url.hostname, url.port or 8786
    except ValueError:
        raise ValueError(f"cannot read the scheduler address {scheduler!r}; write it like tcp://10.0.0.5:8786") from None
    if not host:
        raise ValueError(f"cannot read the scheduler address {scheduler!r}; write it like tcp://10.0.0.5:8786")
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise ValueError(f"the Dask scheduler at {scheduler!r} is not reachable ({e.strerror or e}); start one with "
                         "`dask scheduler` (and workers with `dask worker ADDRESS`), or drop --scheduler to use this "
                         "machine's cores; nothing was run") from None


def check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")


# ------------------------------------------------------------------------------------------------


def _flag(consistent) -> str:
    """consistent / DEPARTS / undecided; per-claim verdicts (a mapping claim -> bool/None) in a row."""
    words = {True: "consistent", False: "DEPARTS", None: "undecided"}
    if isinstance(consistent, dict):
        return "; ".join(f"{k}: {words.get(v, str(v)) if isinstance(v, (bool, type(None))) else v}" for k, v in consistent.items())
    if isinstance(consistent, (bool, type(None))):
        return words[consistent]
    return str(consistent)


def run(args: argparse.Namespace) -> int:
    from ..report import build_report

    check_workers(args.workers)
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else list(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"--only {args.only!r}: unknown experiment(s) {', '.join(unknown)}; choose from {', '.join(EXPERIMENTS)}")
    if not names:
        raise ValueError(f"--only {args.only!r} names no experiment; choose from {', '.join(EXPERIMENTS)}")
    check_output_path(args.out, "--out", directory=True)
    check_experiments_runnable(names, "linregions report")
    check_scheduler(args.executor, args.scheduler)
    ex, shutdown = executor_from_args(args)
    try:
        res = build_report(args.out, scale=args.scale, experiments=names if args.only else None, executor=ex,
                           scheduler=args.scheduler, max_workers=args.workers, progress=not args.no_progress)
    finally:
        shutdown()
    for r in res.results:
        print(f"{r.name:<24} {_flag(r.consistent)}")
    for name, err in res.failed:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unknown error"
        print(f"{name:<24} FAILED: {first}")
    print(f"report: {res.path}  ({res.seconds:.0f} s)")
    return 1 if res.failed else 0
