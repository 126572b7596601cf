"""Logging goes to a file in the data dir, never to the terminal (it would paint over the TUI)."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path


def log_to_file(data_dir: Path, level: int = logging.INFO) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "katya-tui.log"
    handler = RotatingFileHandler(path, maxBytes=5 * 1024 * 1024, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return path
