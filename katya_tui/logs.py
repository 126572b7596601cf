"""Logging goes to a file in the data dir, never to the terminal (it would paint over the TUI)."""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from .core.datadir import FILE_MODE, prepare


def _create(path: str) -> None:
    """Create the log file 0600 (it names endpoints, subscriptions and errors) if it is not there yet: the handler
    then opens it for appending and keeps that mode."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))


def _rotate(source: str, dest: str) -> None:
    """The handler's default rotation (a rename), then the new file made as `_create` does before it is opened."""
    os.replace(source, dest)
    _create(source)


def log_to_file(data_dir: Path, level: int = logging.INFO) -> Path:
    """Log to `katya-tui.log` in `data_dir` (checked and made private first: `DataDirUnsafe`)."""
    prepare(data_dir)
    path = data_dir / "katya-tui.log"
    _create(str(path))
    handler = RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=2, encoding="utf-8")
    handler.rotator = _rotate
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return path
