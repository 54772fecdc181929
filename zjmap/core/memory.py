"""Giving freed memory back to the system after a big load.

Reading a file of a million features allocates and frees a few hundred MB
of temporaries on worker threads (GDAL's and Arrow's buffers, chunk copies,
GEOS intermediates). glibc keeps freed blocks in per-thread arenas and
Arrow keeps them in its own pool, so the app's resident size stays at the
load's peak although the memory is free. One ``malloc_trim`` and one
``release_unused`` hand it back; no library offers this as one call, so it
is written here (a few lines, and a no-op where the calls do not exist).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

__all__ = ["release_free_memory"]

_libc = None


def _trim() -> None:
    global _libc
    if not sys.platform.startswith("linux"):
        return
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        except OSError:
            _libc = False
    trim = getattr(_libc, "malloc_trim", None) if _libc else None
    if trim is not None:
        trim(0)


def release_free_memory() -> None:
    """Collect cycles, then return free heap and Arrow pool memory to the system."""
    gc.collect()
    pa = sys.modules.get("pyarrow")  # only if a reader imported it
    if pa is not None:
        try:
            pa.default_memory_pool().release_unused()
        except Exception:  # an old pyarrow: nothing to release
            pass
    _trim()
