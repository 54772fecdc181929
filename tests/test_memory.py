"""zjmap.core.memory: big blocks get their own mappings, so freeing them gives the memory back."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = r"""
import ctypes, sys
if sys.argv[1] == "zjmap":
    import zjmap.core.memory  # noqa: F401
libc = ctypes.CDLL("libc.so.6")
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
big = libc.malloc(8 << 20)  # one big block freed: glibc would raise its threshold to 8 MB
libc.free(big)
before = libc.mallinfo2().hblkhd
blocks = [libc.malloc(3 << 20) for _ in range(4)]
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_blocks_of_a_megabyte_and_more_get_their_own_mappings():
    def mapped(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1])

    assert mapped("plain") < 3 << 20  # glibc alone: carved out of the heap after the first free
    assert mapped("zjmap") >= 4 * (3 << 20)  # with zjmap's setting: each in its own mapping
