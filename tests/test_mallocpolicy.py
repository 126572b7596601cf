"""Freed large blocks go back to the system where the C library is glibc (where CI runs)."""

import platform
import subprocess
import sys

import pytest

from katya_tui.core import mallocpolicy

GLIBC = platform.libc_ver()[0] == "glibc"


def test_give_back_says_whether_it_could():
    assert mallocpolicy.give_back() is GLIBC


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_the_pages_large_blocks_left_in_the_heap_go_back():
    """100 KB blocks among small long-lived ones that outlive them, as bodies among stored records: once the blocks
    are freed, most of their pages stay with the process until `give_back`."""
    code = """
import sys
from katya_tui.core import mallocpolicy
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])
keep, blocks = [], []
for i in range(3000):
    blocks.append(bytes(100_000))
    keep.append(bytearray(600))  # (over Python's small-object limit: from the C allocator, as a record's table)
blocks.clear()
before = rss()
mallocpolicy.give_back()
print(before - rss())
"""
    freed = int(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert freed > 150_000  # kB: most of the pages the blocks took (without it: none, see the docstring)
