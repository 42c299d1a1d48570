"""The ``linregions`` command line (I/O edge). Each subcommand lives in
``linregions.commands.<name>`` and exposes ``register(subparsers)``."""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

#: Subcommands in the order ``--help`` lists them; a module that is absent is skipped.
COMMANDS = ("line", "plane", "theory", "distance", "report", "sweep")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="linregions",
        description="Exact linear regions of piecewise-linear networks and the Hanin-Rolnick theory that predicts them.",
    )
    parser.add_argument("--version", action="version", version=f"linregions {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"linregions.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"linregions.commands.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"linregions {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
