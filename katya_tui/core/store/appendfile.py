"""An append-only file written from a memory buffer: what the journal and the segments have in common.

`append` keeps the bytes it is given (no copy: a body is written from the object the request read) and tells
their offset in the file; `put` (on the writer thread, or the event loop's) writes a staged list of them with
`writev` and syncs; `trim` then drops what is durable from the buffer. A failed write or sync cuts the file back to
its last durable offset, so nothing is ever appended after a fragment: the next `put` writes the same bytes at the
same offsets. `read` serves bytes still in the buffer as well as bytes on disk, from any thread.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

IOV_MAX = getattr(os, "IOV_MAX", None) or 1024  # buffers a single `writev` takes


class AppendFile:
    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self._fsync = fsync
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._rfd: int | None = None  # opened on the first read from disk
        self.size = os.fstat(self._fd).st_size  # the offset of the next byte appended
        self._chunks: list[bytes] = []  # appended and not yet known durable, in order
        self._starts: list[int] = []  # the offset of each chunk
        self._synced = self.size  # bytes known to be on disk (written by `put`, on the writer thread)
        self._torn = False  # the file may hold bytes past `_synced` (a failed write whose cut failed)
        self._lock = threading.Lock()  # `read` on another thread against `trim`

    def append(self, data: bytes) -> int:
        offset = self.size
        if data:
            self._chunks.append(data)
            self._starts.append(offset)
            self.size += len(data)
        return offset

    @property
    def pending(self) -> int:
        """Bytes appended and not yet durable."""
        return self.size - self._synced

    @property
    def synced(self) -> int:
        return self._synced

    def staged(self) -> tuple[list[bytes], int]:
        """The chunks appended so far and the offset of the first, for `put` on another thread while appends go on
        (a new list of the same objects: nothing is copied)."""
        return list(self._chunks), (self._starts[0] if self._starts else self.size)

    def put(self, chunks: Sequence[bytes], start: int) -> None:
        """Write `chunks` (the bytes from offset `start`) and sync, skipping what an earlier put made durable. On
        failure cut the file back to its durable end, and raise."""
        if self._torn:  # the cut after a failed write failed too: do it now
            os.ftruncate(self._fd, self._synced)
            self._torn = False
        end = start + sum(len(c) for c in chunks)
        if self._synced >= end:
            return
        try:
            _write_all(self._fd, chunks, self._synced - start)
            if self._fsync:
                os.fdatasync(self._fd)
        except OSError:
            self._torn = True
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._synced)
                self._torn = False
            raise
        self._synced = end

    def trim(self) -> int:
        """Drop the durable chunks from the buffer; the durable size."""
        with self._lock:
            synced = self._synced  # (read once: a put on the writer thread may move it meanwhile)
            n = bisect.bisect_right(self._starts, synced - 1)  # chunks that begin before `synced`...
            if n and self._starts[n - 1] + len(self._chunks[n - 1]) > synced:
                n -= 1  # ... less one that ends after it (never, as `put` writes whole chunks)
            del self._chunks[:n], self._starts[:n]
        return synced

    def read(self, offset: int, size: int) -> bytes:
        """`size` bytes from `offset`, from the buffer or the file (short when the file is)."""
        with self._lock:
            if self._starts and offset >= self._starts[0]:
                i = bisect.bisect_right(self._starts, offset) - 1
                out = bytearray()
                while i < len(self._chunks) and len(out) < size:
                    chunk, skip = self._chunks[i], offset + len(out) - self._starts[i]
                    out += chunk[skip : skip + size - len(out)]
                    i += 1
                return bytes(out)
            if self._rfd is None:
                self._rfd = os.open(self.path, os.O_RDONLY)
            rfd = self._rfd
        return os.pread(rfd, size, offset)

    def close(self) -> None:
        os.close(self._fd)
        with self._lock:
            if self._rfd is not None:
                os.close(self._rfd)
                self._rfd = None


def _write_all(fd: int, chunks: Sequence[bytes], skip: int) -> None:
    """Write `chunks` but their first `skip` bytes, whole: `writev` may write less than it is given."""
    views = []
    for chunk in chunks:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        views.append(memoryview(chunk)[skip:])
        skip = 0
    i = 0
    while i < len(views):
        n = os.writev(fd, views[i : i + IOV_MAX])
        while n:
            if n >= len(views[i]):
                n -= len(views[i])
                i += 1
            else:
                views[i] = views[i][n:]
                n = 0
