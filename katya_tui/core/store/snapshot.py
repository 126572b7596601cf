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

The whitespace keeps it one JSON document (plain `TinyDB("db.json")` reads it). Opening reads it a chunk at a
time (`read_snapshot`): parsing a large document at once first builds the parser's own tree of all of it, which
costs memory (more than twice the file) and time, and the file itself is read a buffer at a time. A snapshot laid
out otherwise (an older one is a single line) is parsed whole, which is also what names the damage of one that is
not valid JSON.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

SNAPSHOT_CHUNK = 5_000  # documents serialised at a time: a compaction never holds the whole snapshot's bytes
READ_BUFFER = 1024 * 1024  # opening reads the snapshot this much at a time


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


def read_snapshot(path: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """The tables of the snapshot at `path` and its size in bytes: read a chunk at a time when it is laid out so
    (never the whole file in memory at once), else as `parse_snapshot` reads the whole of it."""
    with open(path, "rb", buffering=READ_BUFFER) as f:
        head = f.readline(READ_BUFFER)  # a table's opening, unless the snapshot is laid out otherwise
        if head.endswith(b"\n") and (tables := _by_chunks(itertools.chain((head,), f))) is not None:
            return tables, f.tell()
        f.seek(0)
        raw = f.read()
    return parse_snapshot(path, raw), len(raw)


def parse_snapshot(path: Path, raw: bytes) -> dict[str, dict[str, Any]]:
    """The tables of a snapshot's bytes; `StoreCorrupt` when it is empty, not JSON or not shaped like one."""
    if not raw.strip():
        raise StoreCorrupt(path, "it is empty")
    tables = _by_chunks(io.BytesIO(raw))
    if tables is None:
        try:
            tables = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StoreCorrupt(path, f"not valid JSON: {exc}") from None
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise StoreCorrupt(path, "not a table of tables")
    return tables


def _by_chunks(lines: Iterable[bytes]) -> dict[str, Any] | None:
    """The tables of a snapshot laid out as `snapshot_parts` writes it, from its lines (each with its newline, the
    last without); None when it is laid out otherwise or any line is not what that layout puts there. Read so, it
    gives what the whole parse would."""
    tables: dict[str, Any] = {}
    docs: dict[str, Any] | None = None  # the table being read
    first = True  # of its chunks
    closed = False  # the snapshot's closing line was read
    try:
        for n, line in enumerate(lines):
            if closed:
                return None
            if not line.endswith(b"\n"):  # the last line: the closing `}`
                if line != b"}" or docs is not None or not tables:
                    return None
                closed = True
            elif docs is None:  # a table's opening: `{"name":{`, then `,"name":{`
                if line[:1] != (b"," if n else b"{") or not line.endswith(b":{\n"):
                    return None
                name = orjson.loads(line[1:-3])
                if type(name) is not str:
                    return None
                docs = tables[name] = {}
                first = True
            elif line == b"}\n":
                docs = None
            elif first != line.startswith(b","):  # (the newline before the `}` is whitespace to the parser)
                docs.update(orjson.loads(b"{" + (line if first else line[1:]) + b"}"))
                first = False
            else:
                return None
    except orjson.JSONDecodeError:
        return None
    return tables if closed else None
