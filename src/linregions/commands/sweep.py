"""``linregions sweep``: run one experiment's grid of cells into a resumable results store."""
from __future__ import annotations

import argparse

from ..experiments import EXPERIMENTS, SCALES
from ._common import check_output_path, figure_suffixes, table_suffix_check, write_table
from .report import add_executor_args, check_experiments_runnable, check_scheduler, check_workers, executor_from_args


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run one experiment's sweep (resumable) and write its tables",
                       description="Run the grid of independent cells of one experiment on a process pool or a Dask "
                                   "cluster. Every finished cell is stored at once in STORE (SQLite); running the same "
                                   "command again skips finished cells, so a killed sweep loses nothing. Tables are "
                                   "written as Parquet when the name ends in .parquet (needs the parquet extra), "
                                   "else as CSV.")
    p.add_argument("experiment", choices=tuple(EXPERIMENTS), metavar="EXPERIMENT", help=f"one of {', '.join(EXPERIMENTS)}")
    p.add_argument("--scale", choices=tuple(SCALES), default="small", help="sizes (default small)")
    p.add_argument("--store", default="linregions-results.sqlite", metavar="PATH", help="SQLite results store (default linregions-results.sqlite)")
    p.add_argument("--table", "--csv", dest="csv", default=None, metavar="PATH",
                   help="write the experiment's tidy table here: Parquet for a .parquet name (the parquet extra), else CSV")
    p.add_argument("--summary-table", "--summary-csv", dest="summary_csv", default=None, metavar="PATH",
                   help="write the summary table here (.parquet or CSV, as --table)")
    p.add_argument("--figure", default=None, metavar="PATH.png", help="save the (first) figure here")
    add_executor_args(p)
    p.set_defaults(func=run, _on_interrupt=lambda a: (
        f"finished cells are kept in {a.store}; run the same command again to resume"))


def _check(args: argparse.Namespace) -> None:
    """Everything that can fail without running a cell, checked before the first one runs."""
    check_workers(args.workers)
    check_output_path(args.store, "--store")
    for opt, path in (("--table", args.csv), ("--summary-table", args.summary_csv)):
        if path:
            table_suffix_check(path, opt)
    if args.figure:
        check_output_path(args.figure, "--figure", suffixes=figure_suffixes())
    check_experiments_runnable([args.experiment], "linregions sweep")
    check_scheduler(args.executor, args.scheduler)


def run(args: argparse.Namespace) -> int:
    _check(args)
    ex, shutdown = executor_from_args(args)
    try:
        r = EXPERIMENTS[args.experiment](args.scale, store=args.store, executor=ex, scheduler=args.scheduler,
                                         max_workers=args.workers, progress=not args.no_progress)
    finally:
        shutdown()
    if args.csv:
        write_table(r.table, args.csv)
    if args.summary_csv:
        write_table(r.summary, args.summary_csv)
    if args.figure and r.figures:
        r.figures[0].savefig(args.figure, dpi=110)
    print(r.summary.to_string(index=False, max_rows=60))
    print()
    print(f"{r.title}: {r.verdict}")
    print(f"store: {args.store} ({len(r.table)} rows)")
    return 0
