"""CLI subcommands; each module has ``register(subparsers)``. Shared option parsing is in ``_common``."""
