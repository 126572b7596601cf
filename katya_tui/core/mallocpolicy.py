"""The C allocator: give freed memory back to the system now and then.

Request bodies and segment buffers of tens to hundreds of kilobytes are allocated and freed all the time, among
the long-lived tables of stored records (a dict's table over 512 bytes comes from the C allocator, not Python's).
glibc keeps the pages such large blocks leave behind inside its heap, so a process that receives 100 KB bodies
held about twice the memory of one that receives 1 KB bodies for the same records. `malloc_trim` hands the free
pages back; serving large blocks from their own mappings instead (`M_MMAP_THRESHOLD`) would cost a fresh mapping,
zeroed, for every body, and halved the receiver's rate.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], object] | None:
    """glibc's `malloc_trim`, looked up in the C library the process already runs on (`CDLL(None)`: no search for
    the library's file, which runs a program), at the first give-back; None where there is none (not glibc)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        trim: Callable[[int], object] = ctypes.CDLL(None).malloc_trim
        return trim
    except (OSError, AttributeError):
        return None


def give_back() -> bool:
    """Return the C allocator's free pages to the system; False where the C library cannot (not glibc)."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
