"""The ``njit`` decorator shared by the planar kernels (``cuts``, ``states``, ``complex``)."""
from __future__ import annotations

try:
    from numba import njit
except ImportError:  # numba is a required dependency; in a broken install the same loops run as
    # plain Python (correct, slow) rather than a second implementation

    def njit(*args, **kwargs):
        return args[0] if args and callable(args[0]) else (lambda f: f)


__all__ = ["njit"]
