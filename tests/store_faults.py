"""A fault-injecting file layer for the store's journal or segments (write, fdatasync, ftruncate of their fds only)."""

from __future__ import annotations

import errno
import os

import pytest

from katya_tui.core.store import Store
from katya_tui.core.store import journal as journal_mod


class Faults:
    """A file layer for the journal's fd only: `arm(step, err)` makes the next write fail `before` it writes a
    byte, `mid`way (half of it written, then the error), at `sync` (every byte written, `fdatasync` fails), or
    `mid+cut` (midway, and the cut back fails too, once)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
        self.store = store
        self.target = "journal"  # or "segment": the files of `store.segments` (see `arm`)
        self.step: str | None = None
        self.err = errno.ENOSPC
        self.cut_fails = False
        self.failed = 0
        real_writev, real_sync, real_truncate = os.writev, os.fdatasync, os.ftruncate

        def ours(fd: int) -> bool:
            if self.target == "segment":
                return fd in {f._fd for f in self.store.segments._writing.values()}
            return self.store.journal is not None and fd == self.store.journal.file._fd

        def writev(fd, buffers):
            if not ours(fd) or self.step is None:
                return real_writev(fd, buffers)
            if self.step == "before":
                self._fail()
            if self.step.startswith("mid"):
                data = b"".join(buffers)
                if len(data) > 1:
                    n = real_writev(fd, [data[: len(data) // 2]])
                    self.cut_fails = self.step == "mid+cut"
                    self.step = "before"  # the rest finds the disk full
                    return n
                self._fail()
            return real_writev(fd, buffers)

        def fdatasync(fd):
            if ours(fd) and self.step in ("sync", "before"):
                self._fail()
            return real_sync(fd)

        def ftruncate(fd, length):
            if ours(fd) and self.cut_fails:
                self.cut_fails = False
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return real_truncate(fd, length)

        monkeypatch.setattr(journal_mod.os, "writev", writev)
        monkeypatch.setattr(journal_mod.os, "fdatasync", fdatasync)
        monkeypatch.setattr(journal_mod.os, "ftruncate", ftruncate)

    def _fail(self) -> None:
        self.failed += 1
        raise OSError(self.err, os.strerror(self.err))

    def arm(self, step: str, err: int, target: str = "journal") -> None:
        self.step, self.err, self.target = step, err, target

    def heal(self) -> None:
        self.step = None
