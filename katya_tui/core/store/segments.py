"""Segment files: the large parts of records (bodies, headers, verdict details, event data, attempts) on disk.

`segment.<n>.dat` files in the data dir hold blobs end to end, append-only; a record refers to a blob by a
reference `"<segment>:<offset>:<length>:<sha256 prefix>"` (the first 16 hex digits: enough to tell changed bytes,
and a quarter of the memory), or `"<segment>:<offset>:<length>"` for a blob whose record keeps its whole sha256
(a capture's body). Blobs are written in the journal's group commits, before the
journal (`Journal.companion`), so a record is never durable without its blobs. A segment is never rewritten: the
newest takes appends until it reaches `max_size`, and a segment is deleted whole once no record refers to it any
more (`live`), after the removal of those records is durable.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import Counter
from pathlib import Path

from .appendfile import AppendFile

SEGMENT_RE = re.compile(r"^segment\.(\d+)\.dat$")


class BlobDamaged(Exception):
    """A blob cannot be read back as written: its segment is missing, cut short, or its bytes changed."""


SHA_PREFIX = 16


def parse_ref(ref: str) -> tuple[int, int, int, str]:
    seg, off, size, *sha = ref.split(":")
    return int(seg), int(off), int(size), sha[0] if sha else ""


class Segments:
    max_size = (
        64 * 1024 * 1024
    )  # a segment takes appends until it is this large: the unit of retention by bytes

    def __init__(self, data_dir: Path, *, fsync: bool = True, readonly: bool = False) -> None:
        self.dir = data_dir
        self._fsync = fsync
        self.readonly = readonly
        self.sizes: dict[int, int] = {}  # every segment there is -> its size
        for p in data_dir.iterdir():
            if m := SEGMENT_RE.match(p.name):
                self.sizes[int(m.group(1))] = p.stat().st_size
        self.appended = 0  # bytes appended by this process (see `Store.commit`)
        self.live: Counter[int] = Counter()  # segment -> references to it from the records in memory
        self.current = max(self.sizes, default=0)
        self._writing: dict[int, AppendFile] = {}  # the current segment, and sealed ones not yet durable
        self._readers: dict[int, int] = {}  # segment -> a read-only fd
        self._lock = threading.Lock()
        self._doomed: list[int] = []  # no record refers to them: delete once that is durable
        self._doomed_staged: list[int] = []  # ... those dropped before the write under way began

    def path(self, seg: int) -> Path:
        return self.dir / f"segment.{seg}.dat"

    @property
    def total(self) -> int:
        """Bytes in every segment, appended ones included."""
        return sum(self.sizes.values())

    # -- writing (the event loop's thread) ---------------------------------------------------------------------

    def put(self, data: bytes, checked: bool = True) -> str:
        """Append a blob; its reference (with a sha256 prefix unless `checked` is False: its record checks it)."""
        file = self._writing.get(self.current)
        if file is None or (file.size >= self.max_size and data):
            if file is not None:
                self.current += 1
            file = self._writing[self.current] = AppendFile(self.path(self.current), fsync=self._fsync)
        offset = file.append(data)
        self.appended += len(data)
        self.sizes[self.current] = file.size
        self.live[self.current] += 1
        if not checked:
            return f"{self.current}:{offset}:{len(data)}"
        return f"{self.current}:{offset}:{len(data)}:{hashlib.sha256(data).hexdigest()[:SHA_PREFIX]}"

    @property
    def pending(self) -> int:
        return sum(f.pending for f in self._writing.values())

    def stage(self) -> list[AppendFile]:
        """The files the next group commit writes (see `Journal.companion`)."""
        self._doomed_staged += self._doomed
        self._doomed = []
        return [f for f in self._writing.values() if f.pending]

    def trim(self) -> None:
        for f in self._writing.values():
            f.trim()

    def durable(self) -> None:
        """A group commit is durable: close the sealed segments it completed, delete those dropped before it."""
        for seg, f in list(self._writing.items()):
            if seg != self.current and not f.pending:
                with self._lock:
                    del self._writing[seg]
                    f.close()
        doomed, self._doomed_staged = self._doomed_staged, []
        for seg in doomed:
            if self.live[seg] == 0 and seg != self.current:
                self._delete(seg)

    def count(self, refs: list[str], delta: int) -> None:
        """`refs` were added to (`delta` 1) or dropped from (-1) the records in memory; a segment nothing refers
        to any more is deleted after the next durable write."""
        for ref in refs:
            seg = int(ref.split(":", 1)[0])
            left = self.live[seg] = self.live[seg] + delta
            if left <= 0 and delta < 0 and seg != self.current:
                self._doomed.append(seg)

    def _delete(self, seg: int) -> None:
        with self._lock:
            fd = self._readers.pop(seg, None)
            if fd is not None:
                os.close(fd)
        self.sizes.pop(seg, None)
        self.live.pop(seg, None)
        self.path(seg).unlink(missing_ok=True)

    def drop_unreferenced(self) -> list[int]:
        """At open, once `live` counts every record: delete the segments nothing refers to (left by a crash
        between a removal and the deletion), but never the current one."""
        gone = [seg for seg in list(self.sizes) if self.live[seg] == 0 and seg != self.current]
        for seg in gone:
            self._delete(seg)
        return gone

    # -- reading (any thread) ----------------------------------------------------------------------------------

    def get(self, ref: str, sha256: str | None = None) -> bytes:
        """The blob `ref` refers to, checked against the sha256 it or the caller (`sha256`) gives; `BlobDamaged`
        when it cannot be read back as written."""
        seg, offset, size, sha = parse_ref(ref)
        data = self._read(seg, offset, size)
        if len(data) != size:
            raise BlobDamaged(f"{self.path(seg).name} ends before byte {offset + size}")
        if (sha or sha256) and not hashlib.sha256(data).hexdigest().startswith(sha or sha256 or ""):
            raise BlobDamaged(
                f"{self.path(seg).name} at byte {offset}: {size} bytes changed (sha256 differs)"
            )
        return data

    def _read(self, seg: int, offset: int, size: int) -> bytes:
        with self._lock:  # (a file closed or deleted meanwhile never hands its fd number to another)
            file = self._writing.get(seg)
            if file is not None:
                return file.read(offset, size)
            fd = self._readers.get(seg)
            if fd is None:
                try:
                    fd = self._readers[seg] = os.open(self.path(seg), os.O_RDONLY)
                except FileNotFoundError:
                    raise BlobDamaged(f"{self.path(seg).name} is missing") from None
            return os.pread(fd, size, offset)

    def close(self) -> None:
        with self._lock:
            for f in self._writing.values():
                f.close()
            self._writing.clear()
            for fd in self._readers.values():
                os.close(fd)
            self._readers.clear()
