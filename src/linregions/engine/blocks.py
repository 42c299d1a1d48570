"""Row blocks for the engine's element-wise passes (interval states, crossings, gathers, records).

The passes of ``engine.segments`` over the (P, n_l) pre-activations of a site are memory-bound
chains of cheap element-wise ops. Run over the whole array, each op allocates a fresh (P, n_l)
temporary, and on CPU the page faults of those fresh pages cost more than the arithmetic; run in
blocks of about ``BLOCK_ELEMS`` elements the temporaries are small, stay in cache and are reused
by the allocator (2-3x faster). Small blocks must not use torch's intra-op threads (each op would
pay a thread synchronisation, ruinous when the cores are shared), so with ``t > 1`` torch threads
the blocks are handed to ``t`` worker threads, each running torch ops on one intra-op thread
(torch releases the GIL inside its ops): the passes use the same cores as the module's own ops,
with one synchronisation per pass instead of one per op. Every block computes exactly what the
whole-array pass computes on its rows, and results are returned in block order, so the result
does not depend on the number of threads. On other devices (GPU) a pass is one block.

``in_workers`` hands other independent pieces of work (the goodness passes of
``ModuleProgram.reach_units``) to the same worker threads; inside a worker every pass runs on
that worker alone (no nested hand-off).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

import torch

__all__ = ["BLOCK_ELEMS", "row_blocks", "blockwise", "in_workers", "driver_threads", "module_threads"]

#: Elements per block of the element-wise passes on CPU (2 MiB of float64).
BLOCK_ELEMS = 1 << 18

R = TypeVar("R")

_POOLS: dict[int, ThreadPoolExecutor] = {}

#: The caller's torch threads while a driver runs (``driver_threads``), innermost last.
_CALLER_THREADS: list[int] = []

#: Marks the worker threads (``_init_worker``): work handed out from a worker runs on it.
_LOCAL = threading.local()


@contextmanager
def driver_threads() -> Iterator[None]:
    """While a driver (``engine.segments.lines``) runs: its own torch ops on one intra-op thread
    (many small ops, each of which would otherwise pay a thread synchronisation), the blocks on as
    many worker threads as the caller's torch threads, and the module's ops (``module_threads``)
    on the caller's threads; the caller's setting is restored afterwards."""
    n = torch.get_num_threads()
    _CALLER_THREADS.append(n)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        _CALLER_THREADS.pop()
        torch.set_num_threads(n)


@contextmanager
def module_threads() -> Iterator[None]:
    """Inside ``driver_threads``: the caller's torch threads for the module's own ops (convs)."""
    if not _CALLER_THREADS:
        yield
        return
    torch.set_num_threads(_CALLER_THREADS[-1])
    try:
        yield
    finally:
        torch.set_num_threads(1)


def _threads() -> int:
    if getattr(_LOCAL, "worker", False):
        return 1
    return _CALLER_THREADS[-1] if _CALLER_THREADS else torch.get_num_threads()


def _init_worker() -> None:
    _LOCAL.worker = True
    torch.set_num_threads(1)


def _pool(n: int) -> ThreadPoolExecutor:
    """``n`` worker threads, each with one torch intra-op thread (set once per thread)."""
    pool = _POOLS.get(n)
    if pool is None:
        pool = _POOLS[n] = ThreadPoolExecutor(n, initializer=_init_worker, thread_name_prefix="linregions-blocks")
    return pool


def in_workers(fn: Callable[..., R], items: list, device: torch.device) -> list[R]:
    """``[fn(*x) for x in items]`` without autograd, on the worker threads (one torch thread each,
    items taken in order by whichever worker is free) when torch has several threads, there are
    several items and the device is the CPU; else in the calling thread. ``fn`` must write only to
    what its own item owns. Results in item order."""
    threads = _threads()

    def run(x: tuple) -> R:
        with torch.no_grad():  # grad mode is per thread; the passes never need autograd
            return fn(*x)

    if threads == 1 or len(items) <= 1 or device.type != "cpu":
        return [run(x) for x in items]
    return list(_pool(threads).map(run, items))


def row_blocks(n_rows: int, width: int, device: torch.device, elems: int = BLOCK_ELEMS) -> list[tuple[int, int]]:
    """Row ranges [a, b) covering n_rows: blocks of about ``elems`` elements of ``width`` per row
    on CPU, one range on other devices."""
    step = max(1, elems // max(1, width)) if device.type == "cpu" else max(n_rows, 1)
    return [(a, min(n_rows, a + step)) for a in range(0, max(n_rows, 0), step)]


def blockwise(fn: Callable[[int, int], R], n_rows: int, width: int, device: torch.device,
              elems: int = BLOCK_ELEMS) -> list[R]:
    """``[fn(a, b) for a, b in row_blocks(...)]``, on the worker threads when torch has several
    threads and there are several blocks (``fn`` must write only to its own rows); without
    autograd."""
    return in_workers(fn, row_blocks(n_rows, width, device, elems), device)
