"""`--repair`: open a damaged store keeping every record that can be read, with the rest moved aside.

An unreadable snapshot is renamed `db.json.damaged-<time>` and the records that precede the damage are read from
it one by one (a snapshot is `{"table": {"doc id": {...}, ...}, ...}`, written in order, so a cut or garbled one
still holds whole records before the damage); they become the new snapshot, and every journal is replayed on
top. Damaged journal lines are already kept in `journal.<gen>.jsonl.damaged` by every open; the repair then
compacts, so the store opens cleanly from then on.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import orjson

from .. import datadir
from .lock import DataDirLock
from .snapshot import StoreCorrupt, parse_snapshot
from .store import _JOURNAL_RE, META, SNAPSHOT, Store


def salvage(text: str) -> dict[str, dict[str, Any]]:
    """The whole records at the start of a damaged snapshot's text, up to the first that cannot be read."""
    decode = json.JSONDecoder().raw_decode
    tables: dict[str, dict[str, Any]] = {}
    i = 0

    def skip(j: int, char: str | None = None) -> int:
        while j < len(text) and text[j].isspace():
            j += 1
        if char is not None:
            if text[j : j + 1] != char:
                raise ValueError(f"expected {char!r} at {j}")
            j += 1
        return j

    try:
        i = skip(i, "{")
        while (i := skip(i)) < len(text) and text[i] != "}":
            name, i = decode(text, i)
            i = skip(skip(i, ":"), "{")
            if not isinstance(name, str):
                break
            table = tables.setdefault(name, {})
            while (i := skip(i)) < len(text) and text[i] != "}":
                key, i = decode(text, i)
                doc, i = decode(text, skip(i, ":"))
                if not isinstance(key, str) or not isinstance(doc, dict):
                    raise ValueError("not a document")
                table[key] = doc
                if text[(i := skip(i)) : i + 1] == ",":
                    i += 1
            i += 1
            if text[(i := skip(i)) : i + 1] == ",":
                i += 1
    except (ValueError, RecursionError):
        pass
    return tables


def repair(data_dir: Path) -> list[str]:
    """Repair the store in `data_dir` (see the module's docstring); what was done, one line each."""
    data_dir = datadir.prepare(Path(data_dir))
    done: list[str] = []
    lock = DataDirLock(data_dir)
    lock.acquire()
    try:
        snap = data_dir / SNAPSHOT
        if snap.exists():
            raw = snap.read_bytes()
            try:
                parse_snapshot(snap, raw)
            except StoreCorrupt as exc:
                done.append(_replace_snapshot(data_dir, snap, raw, exc.why))
    finally:
        lock.release()
    store = Store(data_dir)
    try:
        for d in store.report.damaged:
            done.append(f"skipped the damaged record at {d}: kept in {d.file}.damaged")
        store.compact_sync()
        done.append(f"store compacted: {', '.join(f'{n} {k}' for k, n in store.counts().items()) or 'empty'}")
    finally:
        store.close()
    return done


def _replace_snapshot(data_dir: Path, snap: Path, raw: bytes, why: str) -> str:
    tables = salvage(raw.decode("utf-8", "replace"))
    tables.pop(META, None)  # which journals it covers is not known: replay every journal there is
    gens = [int(m.group(1)) for p in data_dir.iterdir() if (m := _JOURNAL_RE.match(p.name))]
    tables[META] = {"1": {"next_generation": min(gens, default=0)}}
    aside = snap.with_name(f"{SNAPSHOT}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(snap, aside)
    tmp = data_dir / (SNAPSHOT + ".tmp")
    with os.fdopen(datadir.create_private(tmp), "wb") as f:
        f.write(orjson.dumps(tables))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, snap)
    kept = sum(len(t) for name, t in tables.items() if name != META)
    return f"{snap} was unreadable ({why}): moved to {aside.name}, {kept} records read from it"
