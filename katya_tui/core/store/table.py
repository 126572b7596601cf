"""TinyDB kept as the API, with O(1) writes.

Stock TinyDB rebuilds a whole table on every write. `JournaledTable` hands TinyDB's own updaters a view of the
in-memory table that records which documents changed, and appends just those to the journal. Queries, caching
and the rest of TinyDB's API are untouched. The TinyDB internals this needs are reached through `tinydb_shim`.

Every table also keeps an index from a record's own `id` (`cap_…`, `evt_…`, `dlv_…`, `webhook_…`) to its TinyDB
doc id, built at open and kept by every write here (inserts, updates, removals, retention), so a record is found
by id in O(1) (`peek`, `by_id`, `Store.record`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, cast

from tinydb import TinyDB
from tinydb.queries import QueryLike
from tinydb.storages import Storage
from tinydb.table import Document

from .tinydb_shim import ShimTable, Updater


def _id_index(docs: dict[str, Any]) -> dict[str, int]:
    return {doc["id"]: int(key) for key, doc in docs.items() if "id" in doc}


class MemoryStorage(Storage):
    """Holds every table in memory; TinyDB reads it directly and never rewrites it through `write`.

    `ids[table]` maps each record's `id` to its doc id (see the module's docstring)."""

    def __init__(self, tables: dict[str, dict[str, Any]], journal_append: Callable[[list], None]) -> None:
        self.tables = tables
        self.append = journal_append
        self.ids: dict[str, dict[str, int]] = {name: _id_index(docs) for name, docs in tables.items()}

    def peek(self, name: str, ident: str) -> dict[str, Any] | None:
        """The stored document of `name` whose `id` is `ident` (itself, not a copy), or None. O(1); safe from any
        thread (two dict lookups)."""
        doc_id = self.ids.get(name, {}).get(ident)
        if doc_id is None:
            return None
        doc = self.tables.get(name, {}).get(str(doc_id))
        return doc if doc is not None and doc.get("id") == ident else None

    def records(self, name: str) -> list[dict[str, Any]]:
        """The stored documents of `name`, oldest first, as a list taken at once: `list(d.values())` is one C call
        that runs no Python code, so no write of the loop's thread interleaves with it, and a worker thread may
        then walk the list while the loop goes on writing (the documents are the live ones: read them only)."""
        return list(self.tables.get(name, {}).values())

    def read(self) -> dict[str, dict[str, Any]]:
        return self.tables

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        # Only whole-database operations (drop_table[s]) get here: journal the tables that vanished.
        for name in list(self.tables):
            if name not in data:
                self.append([name, "c"])
                del self.tables[name]
                self.ids.pop(name, None)


class _ChangeView(MutableMapping):
    """An int-keyed window on a str-keyed raw table that remembers what an updater touched."""

    __slots__ = ("raw", "touched", "removed", "cleared")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.touched: set[int] = set()
        self.removed: dict[int, Any] = {}  # doc id -> the record id it held (for the id index)
        self.cleared = False

    def __getitem__(self, key: int) -> Any:
        doc = self.raw[str(key)]
        self.touched.add(key)  # the updater may mutate it in place
        return doc

    def __setitem__(self, key: int, value: Any) -> None:
        self.raw[str(key)] = value
        self.touched.add(key)
        self.removed.pop(key, None)

    def __delitem__(self, key: int) -> None:
        doc = self.raw.pop(str(key))
        self.touched.discard(key)
        self.removed[key] = doc.get("id")

    def __contains__(self, key: object) -> bool:
        return str(key) in self.raw

    def __iter__(self) -> Iterator[int]:
        return (int(k) for k in self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def clear(self) -> None:
        self.raw.clear()
        self.touched.clear()
        self.removed.clear()
        self.cleared = True


class JournaledTable(ShimTable):
    """A TinyDB table whose writes cost O(changed documents), journalled, with an optional size cap."""

    cap: int | None = None
    protect: Callable[[dict[str, Any]], bool] | None = (
        None  # documents retention must not prune (pending work)
    )

    @property
    def memory(self) -> MemoryStorage:
        return cast(MemoryStorage, self.storage)

    def apply(self, updater: Updater) -> None:
        storage = self.memory
        raw = storage.tables.setdefault(self.name, {})
        view = _ChangeView(raw)
        updater(view)
        append = storage.append
        ids = storage.ids.setdefault(self.name, {})
        if view.cleared:
            append([self.name, "c"])
            ids.clear()
        for doc_id, ident in view.removed.items():
            append([self.name, "d", doc_id])
            if ident is not None and ids.get(ident) == doc_id:
                del ids[ident]
        for doc_id in view.touched:
            doc = raw[str(doc_id)]
            append([self.name, "p", doc_id, doc])
            if "id" in doc:
                ids[doc["id"]] = doc_id
        self.clear_cache()
        if self.cap is not None and len(raw) > self.cap + max(1, self.cap // 100):
            self._prune(raw, len(raw) - self.cap)

    def insert(self, document: Mapping) -> int:
        """TinyDB's insert of a plain dict without its updater closure and change view (the receiver's hot path):
        the same next id, the same copy of the document, the same journal record. Anything else goes TinyDB's way."""
        if type(document) is not dict:
            return super().insert(document)
        doc_id = self.next_id()
        storage = self.memory
        raw = storage.tables.setdefault(self.name, {})
        key = str(doc_id)
        if key in raw:
            raise ValueError(f"Document with ID {doc_id} already exists")
        doc = dict(document)
        storage.append(
            [self.name, "p", doc_id, doc]
        )  # first: a document it cannot write leaves the table as is
        raw[key] = doc
        if "id" in doc:
            storage.ids.setdefault(self.name, {})[doc["id"]] = doc_id
        self.clear_cache()
        if self.cap is not None and len(raw) > self.cap + max(1, self.cap // 100):
            self._prune(raw, len(raw) - self.cap)
        return doc_id

    def _prune(self, raw: dict[str, Any], n: int) -> None:
        """Remove the `n` oldest documents (insertion order is id order), sparing those `protect` keeps."""
        storage = self.memory
        append = storage.append
        ids = storage.ids.setdefault(self.name, {})
        protect = self.protect
        victims: list[str] = []
        for key, doc in raw.items():
            if len(victims) >= n:
                break
            if protect is None or not protect(doc):
                victims.append(key)
        for key in victims:
            ident = raw.pop(key).get("id")
            append([self.name, "d", int(key)])
            if ident is not None and ids.get(ident) == int(key):
                del ids[ident]

    # Queries by condition touch every document; resolve them to ids first so only real changes are journalled.
    def update(
        self,
        fields: Mapping | Callable[[MutableMapping], None],
        cond: QueryLike | None = None,
        doc_ids: Iterable[int] | None = None,
    ) -> list[int]:
        if doc_ids is None:
            doc_ids = [d.doc_id for d in (self.search(cond) if cond is not None else self.all())]
        if type(fields) is not dict:
            return super().update(fields, doc_ids=doc_ids)
        # TinyDB's update of fields by id without its updater closure and change view (every delivery attempt
        # comes here): the same in-place update, one journal record per document.
        # Ids that are not there are skipped, as TinyDB does.
        storage = self.memory
        raw = storage.tables.setdefault(self.name, {})
        updated = [doc_id for doc_id in doc_ids if str(doc_id) in raw]
        for doc_id in dict.fromkeys(updated):
            doc = raw[str(doc_id)]
            storage.append([self.name, "p", doc_id, {**doc, **fields}])  # written before memory changes
            if "id" in fields:
                self._reindex(doc.get("id"), fields["id"], doc_id)
            doc.update(fields)
        self.clear_cache()
        return updated

    def append_to(self, doc_id: int, key: str, item: Any, fields: Mapping[str, Any]) -> bool:
        """Append `item` to the list `key` of the document and set `fields`, journalling just those (op "a"): the
        record's size does not grow with the list (a delivery's attempts). The list is a new one, so copies
        handed out before keep theirs. False when the document is gone. `fields` must not change the `id`."""
        raw = self.memory.tables.setdefault(self.name, {})
        doc = raw.get(str(doc_id))
        if doc is None:
            return False
        doc[key] = [*(doc.get(key) or ()), item]
        doc.update(fields)
        self.memory.append([self.name, "a", doc_id, key, item, dict(fields)])
        self.clear_cache()
        return True

    def update_multiple(
        self, updates: Iterable[tuple[Mapping | Callable[[MutableMapping], None], QueryLike]]
    ) -> list[int]:
        return [i for fields, cond in updates for i in self.update(fields, cond)]

    def remove(self, cond: QueryLike | None = None, doc_ids: Iterable[int] | None = None) -> list[int]:
        if doc_ids is None and cond is not None:
            doc_ids = [d.doc_id for d in self.search(cond)]
        return super().remove(cond=None, doc_ids=doc_ids)

    def _reindex(self, old: Any, new: Any, doc_id: int) -> None:
        ids = self.memory.ids.setdefault(self.name, {})
        if old is not None and ids.get(old) == doc_id:
            del ids[old]
        ids[new] = doc_id

    # -- by record id (O(1), through the id index) ----------------------------------------------------------

    def peek(self, ident: str) -> dict[str, Any] | None:
        """The stored document whose `id` is `ident`, itself (not a copy): read it, never mutate it."""
        return self.memory.peek(self.name, ident)

    def by_id(self, ident: str) -> Document | None:
        """A copy of the document whose `id` is `ident` (as `get` gives one: nested values shared), or None."""
        storage = self.memory
        doc = storage.peek(self.name, ident)
        return None if doc is None else self.document_class(doc, storage.ids[self.name][ident])

    def doc_id_of(self, ident: str) -> int | None:
        return None if self.peek(ident) is None else self.memory.ids[self.name][ident]

    def ids(self) -> list[str]:
        """Every record id in the table, in insertion order."""
        return list(self.memory.ids.get(self.name, ()))

    def newest(
        self, limit: int, offset: int = 0, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Newest first, stopping after `offset + limit` matches (no full scan for recent pages)."""
        out: list[dict[str, Any]] = []
        skipped = 0
        raw = self.raw_documents()
        for key in reversed(raw):
            doc = raw[key]
            if where is not None and not where(doc):
                continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(self.document_class(doc, int(key)))
            if len(out) >= limit:
                break
        return out


class JournaledDB(TinyDB):
    table_class = JournaledTable
