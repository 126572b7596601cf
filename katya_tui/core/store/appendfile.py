"""An append-only file written from a memory buffer: what the journal and the segments have in common.

`append` puts bytes in the buffer at once and tells their offset in the file; `put` (on the writer thread, or the
event loop's) writes a staged copy of the buffer and syncs it; `trim` then drops what is durable from the buffer.
A failed write or sync cuts the file back to its last durable offset, so nothing is ever appended after a
fragment: the next `put` writes the same bytes at the same offsets. `read` serves bytes still in the buffer as
well as bytes on disk, from any thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


class AppendFile:
    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self._fsync = fsync
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._rfd: int | None = None  # opened on the first read from disk
        self.size = os.fstat(self._fd).st_size  # the offset of the next byte appended
        self._buffer = bytearray()
        self._base = self.size  # the offset of the buffer's first byte
        self._synced = self.size  # bytes known to be on disk (written by `put`, on the writer thread)
        self._torn = False  # the file may hold bytes past `_synced` (a failed write whose cut failed)
        self._lock = threading.Lock()  # `read` on another thread against `trim`

    def append(self, data: bytes) -> int:
        offset = self.size
        self._buffer += data
        self.size += len(data)
        return offset

    @property
    def pending(self) -> int:
        """Bytes appended and not yet durable."""
        return self.size - self._synced

    @property
    def synced(self) -> int:
        return self._synced

    def staged(self) -> tuple[bytes, int]:
        """A copy of the buffer and its offset, for `put` on another thread while appends go on."""
        return bytes(self._buffer), self._base

    def put(self, data: bytes, start: int) -> None:
        """Write `data` (the bytes from offset `start`) and sync, skipping what an earlier put made durable. On
        failure cut the file back to its durable end, and raise."""
        if self._torn:  # the cut after a failed write failed too: do it now
            os.ftruncate(self._fd, self._synced)
            self._torn = False
        done = self._synced - start
        if done >= len(data):
            return
        try:
            view = memoryview(data)[done:]
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if self._fsync:
                os.fdatasync(self._fd)
        except OSError:
            self._torn = True
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._synced)
                self._torn = False
            raise
        self._synced = start + len(data)

    def trim(self) -> int:
        """Drop the durable bytes from the buffer; the durable size."""
        with self._lock:
            synced = self._synced  # (read once: a put on the writer thread may move it meanwhile)
            del self._buffer[: synced - self._base]
            self._base = synced
        return synced

    def read(self, offset: int, size: int) -> bytes:
        """`size` bytes from `offset`, from the buffer or the file (short when the file is)."""
        with self._lock:
            if offset >= self._base:
                start = offset - self._base
                return bytes(self._buffer[start : start + size])
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
