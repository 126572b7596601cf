"""The C allocator: give freed memory back to the system now and then.

Request bodies and segment buffers of tens to hundreds of kilobytes are allocated and freed all the time, among
the long-lived tables of stored records (a dict's table over 512 bytes comes from the C allocator, not Python's).
glibc keeps the pages such large blocks leave behind inside its heap, so a process that receives 100 KB bodies
held about twice the memory of one that receives 1 KB bodies for the same records. `malloc_trim` hands the free
pages back; serving large blocks from their own mappings instead (`M_MMAP_THRESHOLD`) would cost a fresh mapping,
zeroed, for every body, and halved the receiver's rate.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable


def _trim() -> Callable[[int], object] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], object] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        return trim
    except (OSError, AttributeError):  # (not glibc)
        return None


_MALLOC_TRIM = _trim()


def give_back() -> bool:
    """Return the C allocator's free pages to the system; False where the C library cannot (not glibc)."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True
