"""One owner per data dir: an advisory lock file that names its holder."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class StoreLocked(RuntimeError):
    """Another process holds the data dir."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(
            f"another katya-tui ({holder}) is already using the data dir {path.parent}; "
            "stop it or pass a different --data-dir"
        )


class DataDirLock:
    """An exclusive, non-blocking `flock` on `<data_dir>/katya.lock`, released on close or process death."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "katya.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown pid"
            os.close(fd)
            raise StoreLocked(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
