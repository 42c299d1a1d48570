"""Keep numba's on-disk caches of a kernel package in step with its sources.

numba keys a cached function on the file that defines it (its path, size and modification time).
A kernel compiled together with helpers from another module of its package (inlined, or called
and linked into it) therefore keeps the old helpers when only that other module changes: a
checkout updated by ``git pull`` could run stale code. ``refresh`` stores a digest of the package's
sources (and of the other files its kernels read constants from) beside the caches and deletes the
caches when the digest changes. It runs when the package is imported, before any kernel is loaded
from the cache. Installs rewrite every file, so this only matters for working trees.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> _ = open(os.path.join(d, "k.py"), "w").write("x = 1")
>>> os.makedirs(os.path.join(d, "__pycache__"))
>>> _ = open(os.path.join(d, "__pycache__", "k.f-1.py311.nbi"), "w").write("")
>>> refresh(d)  # no digest yet: the caches go
1
>>> _ = open(os.path.join(d, "__pycache__", "k.f-1.py311.1.nbc"), "w").write("")
>>> refresh(d)  # sources unchanged: the caches stay
0
>>> _ = open(os.path.join(d, "k.py"), "w").write("x = 2")
>>> refresh(d)  # a source changed: they go
1
"""
from __future__ import annotations

import glob
import hashlib
import os


def refresh(package_dir: str, extra: tuple[str, ...] = ()) -> int:
    """Delete the numba caches (``*.nbi``, ``*.nbc``) in ``package_dir/__pycache__`` when the
    digest of the package's ``*.py`` files and of ``extra`` files differs from the one stored
    there; returns the number of files deleted. Errors (a read-only install, a file another process
    just removed) are ignored: the caches then stay as numba left them."""
    sources = sorted(glob.glob(os.path.join(package_dir, "*.py"))) + list(extra)
    digest = hashlib.sha256()
    for path in sources:
        try:
            with open(path, "rb") as f:
                digest.update(os.path.basename(path).encode() + b"\0" + f.read())
        except OSError:
            return 0
    cache = os.path.join(package_dir, "__pycache__")
    stamp = os.path.join(cache, "numba-sources.sha256")
    try:
        with open(stamp) as f:
            if f.read() == digest.hexdigest():
                return 0
    except OSError:
        pass
    removed = 0
    for path in glob.glob(os.path.join(cache, "*.nbi")) + glob.glob(os.path.join(cache, "*.nbc")):
        try:
            os.remove(path)
            removed += 1
        except OSError:
            pass
    try:
        os.makedirs(cache, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(digest.hexdigest())
    except OSError:
        pass
    return removed


__all__ = ["refresh"]
