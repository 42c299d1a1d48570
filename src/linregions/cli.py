"""The ``linregions`` command line (I/O edge). Each subcommand lives in
``linregions.commands.<name>`` and exposes ``register(subparsers)``.

Every failure the user can fix ends in one line on stderr, ``linregions COMMAND: error: ...``,
with exit status 2; Ctrl-C ends in one line saying what was kept and how to resume (status 130).
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import sys

from . import __version__

#: Subcommands in the order ``--help`` lists them; a module that is absent is skipped. A module
#: may register its parser under another name (``local_complexity`` registers ``local-complexity``).
COMMANDS = ("line", "plane", "theory", "distance", "report", "sweep", "local_complexity")


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
    parser.set_defaults(_subparsers=sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    sub = parser.get_default("_subparsers")
    return sub.choices.get(command, parser) if (sub is not None and command) else parser


def _unknown(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """'unrecognized arguments: --segmnts 2 (did you mean --segments?)'."""
    known = [s for a in parser._actions for s in a.option_strings]
    hints = []
    for tok in extra:
        if tok.startswith("-"):
            close = difflib.get_close_matches(tok.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                hints.append(f"{tok.split('=', 1)[0]} -> {close[0]}?")
    return f"unrecognized arguments: {' '.join(extra)}" + (f" (did you mean: {', '.join(hints)})" if hints else "")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # the subcommand's usage, not the top-level one
        sp = _subparser(parser, getattr(args, "command", None))
        sp.error(_unknown(sp, extra))  # exits with status 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    name = args.command
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        hint = getattr(args, "_on_interrupt", None)
        msg = hint(args) if callable(hint) else "nothing was written"
        print(f"\nlinregions {name}: interrupted (Ctrl-C); {msg}", file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError) as e:
        print(f"linregions {name}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a lost connection, an unreachable Dask scheduler
        hint = getattr(args, "_on_interrupt", None)
        kept = f"; {hint(args)}" if callable(hint) else ""
        print(f"linregions {name}: error: {type(e).__name__}: {e}{kept}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
