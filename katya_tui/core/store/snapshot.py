"""The snapshot's bytes: `db.json`, a table of tables in TinyDB's format, laid out to be read a part at a time.

Written by `snapshot_parts`, one line for each table's opening and closing, and one line for each chunk of
`SNAPSHOT_CHUNK` documents:

    {"captures":{
    "1":{...},"2":{...},...
    ,"5001":{...},...
    }
    ,"events":{
    ...
    }
    }

The whitespace keeps it one JSON document (plain `TinyDB("db.json")` reads it). `parse_snapshot` parses it a
chunk at a time: parsing a large document at once first builds the parser's own tree of all of it, which costs
memory (more than twice the file) and time. A snapshot laid out otherwise (an older one is a single line) is
parsed whole, which is also what names the damage of one that is not valid JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

SNAPSHOT_CHUNK = 5_000  # documents serialised at a time: a compaction never holds the whole snapshot's bytes


class StoreCorrupt(RuntimeError):
    """The snapshot or a segment cannot be read: the store refuses to open rather than read as smaller."""

    def __init__(self, path: Path, why: str) -> None:
        self.path = path
        self.why = why
        what = "segment" if path.name.startswith("segment.") else "snapshot"
        super().__init__(
            f"the store's {what} {path} is unreadable ({why}); start katya-tui with --repair to keep what "
            f"can be read and move the file aside"
        )


def snapshot_parts(state: dict[str, dict[str, Any]]) -> Iterator[bytes]:
    """The bytes of the snapshot of `state` (a table of tables), a few thousand documents at a time."""
    if not state:
        yield b"{}"
        return
    for i, (name, docs) in enumerate(state.items()):
        yield (b"\n," if i else b"{") + orjson.dumps(name) + b":{"
        items = list(docs.items())
        for j in range(0, len(items), SNAPSHOT_CHUNK):
            yield (b"\n," if j else b"\n") + orjson.dumps(dict(items[j : j + SNAPSHOT_CHUNK]))[1:-1]
        yield b"\n}"
    yield b"\n}"


def parse_snapshot(path: Path, raw: bytes) -> dict[str, dict[str, Any]]:
    """The tables of a snapshot; `StoreCorrupt` when it is empty, not JSON or not shaped like one."""
    if not raw.strip():
        raise StoreCorrupt(path, "it is empty")
    tables = _by_chunks(raw)
    if tables is None:
        try:
            tables = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StoreCorrupt(path, f"not valid JSON: {exc}") from None
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise StoreCorrupt(path, "not a table of tables")
    return tables


def _by_chunks(raw: bytes) -> dict[str, Any] | None:
    """The tables of a snapshot laid out as `snapshot_parts` writes it, a line at a time; None when it is laid out
    otherwise or any line is not what that layout puts there. Read so, it gives what the whole parse would."""
    if not raw.endswith(b"\n}"):
        return None
    tables: dict[str, Any] = {}
    docs: dict[str, Any] | None = None  # the table being read
    first = True  # of its chunks
    pos = 0
    try:
        while (nl := raw.find(b"\n", pos)) >= 0:  # every line but the last, the closing `}`
            line = raw[pos:nl]
            if docs is None:  # a table's opening: `{"name":{`, then `,"name":{`
                if line[:1] != (b"," if pos else b"{") or line[-2:] != b":{":
                    return None
                name = orjson.loads(line[1:-2])
                if type(name) is not str:
                    return None
                docs = tables[name] = {}
                first = True
            elif line == b"}":
                docs = None
            elif first != line.startswith(b","):
                docs.update(orjson.loads(b"{" + (line if first else line[1:]) + b"}"))
                first = False
            else:
                return None
            pos = nl + 1
    except orjson.JSONDecodeError:
        return None
    return tables if docs is None and tables else None
