"""The data dir is private: created 0700, every file in it created 0600, and an unsafe existing one refused.

It holds every endpoint secret, subscription secret and captured `Authorization` header, the API token and the
logs. Modes are set when a file is created (`os.open` with 0o600), never by a later `chmod` that leaves a window.

An existing dir owned by another user, or that group or others can write to, is refused: whoever can write
there can swap the files katya-tui trusts. One that group or others can only read is accepted and tightened to
0700 when it is a katya-tui store or empty (made by an older katya-tui, or for it); any other directory the user
pointed `--data-dir` at may serve something else too, so it is only logged, its files being 0600.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
# the files a katya-tui data dir holds (an older one made them 0644: tightened when found); not the token, which
# may have been read already: `config.read_token_file` refuses it and says how to fix it
OWN_FILES = ("db.json", "katya.lock", "prefs.json", "katya-tui.log", "address")
_OWN_PREFIXES = ("journal.", "db.json.", "katya-tui.log.", "segment.")


class DataDirUnsafe(RuntimeError):
    """The data dir exists but others could change it."""

    def __init__(self, path: Path, why: str) -> None:
        self.path = path
        super().__init__(
            f"refusing the data dir {path}: {why}; fix it (chown/chmod 700) or pass another --data-dir"
        )


def _own(name: str) -> bool:
    return name in OWN_FILES or name.startswith(_OWN_PREFIXES)


def prepare(path: Path) -> Path:
    """Create `path` (0700, parents as usual) or check an existing one; raise `DataDirUnsafe` if it is unsafe."""
    path = Path(path)
    try:
        os.makedirs(path, mode=DIR_MODE)
        return path
    except FileExistsError:
        pass
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise DataDirUnsafe(path, "it is not a directory")
    if st.st_uid != os.geteuid():
        raise DataDirUnsafe(path, f"it belongs to another user (uid {st.st_uid})")
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise DataDirUnsafe(path, f"group or others can write to it (mode {mode:04o})")
    names = os.listdir(path)
    if mode & 0o077:
        if not names or "katya.lock" in names or "db.json" in names:
            os.chmod(path, DIR_MODE)
        else:
            log.warning("the data dir %s is readable by others (mode %04o); its files are not", path, mode)
    for name in names:
        if _own(name):
            _tighten(path / name)
    return path


def _tighten(file: Path) -> None:
    """A file an older katya-tui left readable by others (0644) is made 0600."""
    try:
        st = os.lstat(file)
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(file, FILE_MODE)


def create_private(path: Path | str) -> int:
    """A file descriptor (write-only) on a new file `path`, made 0600: whatever was there (a temporary file a
    crash left, with the mode it had, or a link) is removed first, and `O_EXCL` makes sure the file is ours."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)


ADDRESS_FILE = "address"


def record_address(path: Path, url: str) -> None:
    """Keep the address the instance listens on (`<data dir>/address`, 0600, replaced whole), so the tools that
    work on its data dir (exports' base URL) know it; it stays after a stop: the last address it used."""
    tmp = Path(path) / f".{ADDRESS_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(url + "\n")
    os.replace(tmp, Path(path) / ADDRESS_FILE)


def recorded_address(path: Path) -> str | None:
    """The address the instance of this data dir last listened on, or None (never started, or an older one)."""
    try:
        text = (Path(path) / ADDRESS_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return text if text.startswith(("http://", "https://")) else None
