"""Preferences a front end remembers between runs (the TUI's replay choice per endpoint), in `prefs.json` in the
data dir, beside the store rather than in it.

The store is the record of traffic: journalled, pruned by retention, compacted, exported and served on `/v1`. A
preference has none of those needs: it is a few keys, rewritten whole and rarely, and a file the user can read
or delete. The data dir's lock already makes one process its only writer.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

from .datadir import create_private

log = logging.getLogger(__name__)

FILE = "prefs.json"


class Prefs:
    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / FILE

    def read(self) -> dict[str, Any]:
        """Every preference; an absent or unreadable file reads as none (a preference is never worth a crash)."""
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.read().get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set one preference: the file is written to a temporary name and renamed over the old one."""
        data = self.read()
        data[key] = value
        tmp = self.path.with_name(FILE + ".tmp")
        with os.fdopen(create_private(tmp), "wb") as f:
            f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.path)
