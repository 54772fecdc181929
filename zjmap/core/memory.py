"""Giving freed memory back to the system after a big load.

Reading a file of a million features allocates and frees a few hundred MB
of temporaries on worker threads (GDAL's and Arrow's buffers, chunk copies,
GEOS intermediates). glibc keeps freed blocks in per-thread arenas and
Arrow keeps them in its own pool, so the app's resident size stays at the
load's peak although the memory is free. One ``malloc_trim`` and one
``release_unused`` hand it back; no library offers this as one call, so it
is written here (a few lines, and a no-op where the calls do not exist).

Blocks of 1 MB and more (chunk arrays, coordinate temporaries) are given
their own mappings (``M_MMAP_THRESHOLD``, set when this module is imported):
glibc would otherwise raise that threshold after the first such block is
freed and carve the next ones out of the arenas, where they leave holes no
trim returns (40 MB of a 100,000-parcel load's 230 MB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import threading

__all__ = ["release_free_memory"]

_libc = None
#: mallopt's M_MMAP_THRESHOLD, and the size from which blocks get their own mapping
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20


def _c():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6") if sys.platform.startswith("linux") else False
        except OSError:
            _libc = False
    return _libc


def _trim() -> None:
    trim = getattr(_c(), "malloc_trim", None) if _c() else None
    if trim is not None:
        trim(0)


def _big_blocks_mapped() -> None:
    mallopt = getattr(_c(), "mallopt", None) if _c() else None
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


_big_blocks_mapped()


def release_free_memory() -> None:
    """Collect cycles, then return free heap and Arrow pool memory to the
    system. Cycles only on the main thread: garbage may hold Qt objects,
    which must be freed by the thread they live in (zjmap.qt.collector)."""
    if threading.current_thread() is threading.main_thread():
        gc.collect()
    pa = sys.modules.get("pyarrow")  # only if a reader imported it
    if pa is not None:
        try:
            pa.default_memory_pool().release_unused()
        except Exception:  # an old pyarrow: nothing to release
            pass
    _trim()
