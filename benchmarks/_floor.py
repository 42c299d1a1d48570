"""The floor every 1D benchmark divides by: one plain float64 forward pass of a ``Network``
(numpy matmuls and max(u, 0), batches of ``batch`` rows) over ``n_points`` inputs.

Imported by the scripts in this folder (``python benchmarks/X.py`` puts the folder on sys.path).
"""
from __future__ import annotations

import contextlib
import time

import numpy as np


def plain_forward(net, n_points: int, batch: int = 8192, blas_threads: int | None = None) -> float:
    """Seconds for one float64 forward pass over ``n_points`` inputs. ``blas_threads=1`` runs it on
    one BLAS thread, like linregions' per-segment kernels (idle BLAS threads left spinning would
    also slow the next timing); None keeps the process's BLAS threads."""
    X = np.random.default_rng(0).random((min(batch, max(n_points, 1)), net.n_in))
    if blas_threads is None:
        limit = contextlib.nullcontext()
    else:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(limits=blas_threads, user_api="blas")
    with limit:
        t0 = time.perf_counter()
        done = 0
        while done < n_points:
            a = X[: min(batch, n_points - done)]
            for W, b in zip(net.weights[:-1], net.biases[:-1]):
                a = np.maximum(a @ W.T + b, 0.0)
            a @ net.weights[-1].T + net.biases[-1]
            done += a.shape[0]
        return time.perf_counter() - t0
