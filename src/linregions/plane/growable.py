"""Growable arrays used while a planar complex is built, and row blocks for dense passes."""
from __future__ import annotations

import numpy as np

class _Grow:
    """A numpy array with amortised O(1) appends along axis 0."""

    def __init__(self, arr: np.ndarray):
        self.n = arr.shape[0]
        self.buf = np.empty((max(16, 2 * self.n),) + arr.shape[1:], arr.dtype)
        self.buf[: self.n] = arr

    @property
    def a(self) -> np.ndarray:
        return self.buf[: self.n]

    @classmethod
    def empty(cls, n: int, tail: tuple, dtype, capacity: int) -> "_Grow":
        g = cls.__new__(cls)
        g.n = n
        g.buf = np.empty((max(capacity, n, 16),) + tail, dtype)
        return g

    def reserve(self, k: int) -> int:
        """Make room for k more rows (uninitialised); return the index of the first."""
        start = self.n
        if start + k > self.buf.shape[0]:
            new = np.empty((max(self.buf.shape[0] + self.buf.shape[0] // 2, start + k),) + self.buf.shape[1:], self.buf.dtype)
            new[:start] = self.buf[:start]
            self.buf = new
        self.n += k
        return start

    def append(self, rows: np.ndarray) -> int:
        start = self.reserve(rows.shape[0])
        self.buf[start : self.n] = rows
        return start


def _row_blocks(n_rows: int, width: int):
    """Row slices of about 2 MB of float64 each: large temporaries are slow to allocate (page
    faults), so the dense passes work block by block."""
    step = max(256, (1 << 18) // max(width, 1))
    for s in range(0, n_rows, step):
        yield slice(s, min(n_rows, s + step))
