"""``linregions report``: run the paper's experiments and write the HTML report (the main job)."""
from __future__ import annotations

import argparse
import sys

from ..experiments import EXPERIMENTS, SCALES


def add_executor_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--executor", choices=("process", "serial", "dask"), default="process",
                   help="where sweep cells run: a local process pool (default), this process, or a Dask cluster")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask)")
    g.add_argument("--workers", type=int, default=None, metavar="N", help="process-pool size (default: number of CPU cores)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report import build_report

    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be at least 1")
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    res = build_report(args.out, scale=args.scale, experiments=names, executor=args.executor, scheduler=args.scheduler,
                       max_workers=args.workers, progress=not args.no_progress)
    for r in res.results:
        flag = {True: "consistent", False: "DEPARTS", None: "undecided"}[r.consistent]
        print(f"{r.name:<24} {flag}")
    for name, _ in res.failed:
        print(f"{name:<24} FAILED (see the report)")
    print(f"report: {res.path}  ({res.seconds:.0f} s)")
    return 1 if res.failed else 0
