"""The TinyDB internals the store relies on (`katya_tui.core.store.tinydb_shim`): fails by name on an upgrade."""

from __future__ import annotations

from typing import Any

import pytest
from tinydb import Query
from tinydb.table import Document, Table

from katya_tui.core.store import tinydb_shim
from katya_tui.core.store.table import JournaledDB, MemoryStorage


def test_the_private_methods_the_shim_uses_are_there_with_their_signatures():
    tinydb_shim.check()


def test_check_names_the_version_and_the_method_when_one_changes(monkeypatch):
    monkeypatch.setattr(Table, "_read_table", lambda self, raw=False: {})
    with pytest.raises(tinydb_shim.TinyDBChanged, match=r"tinydb \d+\.\d+.*Table\._read_table"):
        tinydb_shim.check()
    monkeypatch.undo()
    monkeypatch.delattr(Table, "_get_next_id")
    with pytest.raises(tinydb_shim.TinyDBChanged, match=r"Table\._get_next_id is missing"):
        tinydb_shim.check()


def _replay(records: list[list[Any]]) -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec[1] == "p":
            tables.setdefault(rec[0], {})[str(rec[2])] = dict(rec[3])
        elif rec[1] == "d":
            tables[rec[0]].pop(str(rec[2]))
        elif rec[1] == "c":
            tables[rec[0]] = {}
    return tables


def test_every_tinydb_write_path_reaches_the_journal_through_the_shim():
    """TinyDB's own insert_multiple, upsert, update by callable, remove and truncate all go through
    `_update_table` with int ids: replaying the journal gives back exactly the stored tables."""
    records: list[list[Any]] = []
    db = JournaledDB(storage=MemoryStorage, tables={}, journal_append=records.append)
    t = db.table("t")
    assert t.insert_multiple([{"n": 1}, {"n": 2}, {"n": 3}]) == [1, 2, 3]
    assert t.upsert({"n": 2, "seen": True}, Query().n == 2) == [2]
    assert t.upsert(Document({"n": 9}, doc_id=9)) == [9]
    t.update(lambda doc: doc.update(n=doc["n"] * 10), doc_ids=[1])
    t.remove(Query().n == 3)
    assert t.insert({"n": 10}) == 10  # the next id after an explicit one, as TinyDB gives it
    assert db.storage.read() == _replay(records)
    assert {d.doc_id: d["n"] for d in t.all()} == {1: 10, 2: 2, 9: 9, 10: 10}
    assert list(t.raw_documents()) == ["1", "2", "9", "10"]

    t.truncate()
    assert db.storage.read() == _replay(records) == {"t": {}}
    assert t.next_id() == 1
