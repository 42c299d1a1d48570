"""``linregions sweep``: run one experiment's grid of cells into a resumable results store."""
from __future__ import annotations

import argparse

from ..experiments import EXPERIMENTS, SCALES
from .report import add_executor_args


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run one experiment's sweep (resumable) and write its tables",
                       description="Run the grid of independent cells of one experiment on a process pool or a Dask "
                                   "cluster. Every finished cell is stored at once in STORE (SQLite); running the same "
                                   "command again skips finished cells, so a killed sweep loses nothing.")
    p.add_argument("experiment", choices=tuple(EXPERIMENTS), help="which experiment")
    p.add_argument("--scale", choices=tuple(SCALES), default="small", help="sizes (default small)")
    p.add_argument("--store", default="linregions-results.sqlite", metavar="PATH", help="SQLite results store (default linregions-results.sqlite)")
    p.add_argument("--csv", default=None, metavar="PATH", help="write the experiment's tidy table here")
    p.add_argument("--summary-csv", default=None, metavar="PATH", help="write the summary table here")
    p.add_argument("--figure", default=None, metavar="PATH.png", help="save the (first) figure here")
    add_executor_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be at least 1")
    r = EXPERIMENTS[args.experiment](args.scale, store=args.store, executor=args.executor, scheduler=args.scheduler,
                                     max_workers=args.workers, progress=not args.no_progress)
    if args.csv:
        r.table.to_csv(args.csv, index=False)
    if args.summary_csv:
        r.summary.to_csv(args.summary_csv, index=False)
    if args.figure and r.figures:
        r.figures[0].savefig(args.figure, dpi=110)
    print(r.summary.to_string(index=False, max_rows=60))
    print()
    print(f"{r.title}: {r.verdict}")
    print(f"store: {args.store} ({len(r.table)} rows)")
    return 0
