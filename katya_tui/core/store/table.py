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
from operator import itemgetter
from typing import Any, cast

from tinydb import TinyDB
from tinydb.queries import QueryLike
from tinydb.storages import Storage
from tinydb.table import Document

from .cold import DATA_AT, REFS, Cold, refs_of
from .tinydb_shim import ShimTable, Updater


def _id_index(docs: dict[str, Any]) -> dict[str, str]:
    try:  # (built at C speed when every document has an `id`, as records do)
        return dict(zip(map(itemgetter("id"), docs.values()), docs, strict=True))
    except (KeyError, TypeError):
        return {doc["id"]: key for key, doc in docs.items() if "id" in doc}


def add_ref(doc: dict[str, Any], ref: str) -> None:
    """Add a blob's reference to a frozen document (the journal's "a" records carry just the new one)."""
    doc[REFS] = f"{doc[REFS]} {ref}"


class MemoryStorage(Storage):
    """Holds every table in memory; TinyDB reads it directly and never rewrites it through `write`.

    `ids[table]` maps each record's `id` to its doc id as the table's key (a string, as TinyDB keeps it: the index
    is then built without a new object for each record; see the module's docstring)."""

    def __init__(
        self,
        tables: dict[str, dict[str, Any]],
        journal_append: Callable[[list], None],
        cold: Cold | None = None,
    ) -> None:
        self.tables = tables
        self.append = journal_append
        self.cold = cold  # where the large fields of records go (see `cold.py`); None: all in memory
        self.ids: dict[str, dict[str, str]] = {name: _id_index(docs) for name, docs in tables.items()}

    def peek(self, name: str, ident: str) -> dict[str, Any] | None:
        """The stored document of `name` whose `id` is `ident` (itself, not a copy), or None. O(1); safe from any
        thread (two dict lookups)."""
        key = self.ids.get(name, {}).get(ident)
        if key is None:
            return None
        doc = self.tables.get(name, {}).get(key)
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
                for doc in self.tables.pop(name).values():
                    self.forget(doc)
                self.ids.pop(name, None)

    def forget(self, doc: dict[str, Any]) -> None:
        """`doc` left the tables: its blobs are no longer referred to by it."""
        if self.cold is not None and REFS in doc:
            self.cold.segments.count(refs_of(doc), -1)

    def freeze(self, name: str, doc: dict[str, Any]) -> dict[str, Any]:
        if self.cold is None:
            doc.pop(DATA_AT, None)
            return doc
        return self.cold.freeze(name, doc)

    def put(self, name: str, doc_id: int, doc: dict[str, Any]) -> None:
        """Journal `doc` as document `doc_id` of `name`; if the journal refuses it, its blobs go unreferenced."""
        try:
            self.append([name, "p", doc_id, doc])
        except BaseException:
            self.forget(doc)
            raise


class _ChangeView(MutableMapping):
    """An int-keyed window on a str-keyed raw table that remembers what an updater touched."""

    __slots__ = ("raw", "touched", "removed", "cleared")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.touched: set[int] = set()
        self.removed: dict[int, dict[str, Any]] = {}  # doc id -> the document it held
        self.cleared: list[dict[str, Any]] | None = None  # the documents a `clear` removed

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
        self.removed[key] = doc

    def __contains__(self, key: object) -> bool:
        return str(key) in self.raw

    def __iter__(self) -> Iterator[int]:
        return (int(k) for k in self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def clear(self) -> None:
        self.cleared = [*(self.cleared or ()), *self.removed.values(), *self.raw.values()]
        self.raw.clear()
        self.touched.clear()
        self.removed.clear()


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
        if view.cleared is not None:
            append([self.name, "c"])
            ids.clear()
            for doc in view.cleared:
                storage.forget(doc)
        for doc_id, gone in view.removed.items():
            append([self.name, "d", doc_id])
            storage.forget(gone)
            ident = gone.get("id")
            if ident is not None and ids.get(ident) == str(doc_id):
                del ids[ident]
        for doc_id in view.touched:
            # a new record, or one kept whole so far, goes through `freeze` (an updater that changes the cold
            # fields of a frozen record is not supported: `update` with a dict and `append_to` are)
            key = str(doc_id)
            doc = raw[key] = storage.freeze(self.name, raw[key])
            storage.put(self.name, doc_id, doc)
            if "id" in doc:
                ids[doc["id"]] = key
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
        doc = storage.freeze(self.name, dict(document))
        storage.put(self.name, doc_id, doc)  # first: a document it cannot write leaves the table as is
        raw[key] = doc
        if "id" in doc:
            storage.ids.setdefault(self.name, {})[doc["id"]] = key
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
            gone = raw.pop(key)
            append([self.name, "d", int(key)])
            storage.forget(gone)
            ident = gone.get("id")
            if ident is not None and ids.get(ident) == key:
                del ids[ident]

    def prune_segment(self, seg: int) -> None:
        """Remove the oldest records that refer to segment `seg`, until none of this table does; a record that
        `protect` keeps is written again instead (its blobs into the newest segment). Walks only the records it
        removes or rewrites (and those among them that don't refer to `seg`)."""
        storage = self.memory
        cold = storage.cold
        if cold is None:
            return
        raw = storage.tables.get(self.name, {})
        left = cold.segments.live[seg]
        victims: list[str] = []
        for key, doc in raw.items():
            if left <= 0:
                break
            n = sum(1 for ref in refs_of(doc) if int(ref.split(":", 1)[0]) == seg)
            if n:
                victims.append(key)
                left -= n
        ids = storage.ids.setdefault(self.name, {})
        protect = self.protect
        for key in victims:
            doc = raw[key]
            if protect is not None and protect(doc):
                new = cold.freeze(
                    self.name, {k: v for k, v in cold.thaw(self.name, doc).items() if k != "damaged"}
                )
                storage.put(self.name, int(key), new)
                raw[key] = new
            else:
                del raw[key]
                storage.append([self.name, "d", int(key)])
                ident = doc.get("id")
                if ident is not None and ids.get(ident) == key:
                    del ids[ident]
            storage.forget(doc)
        self.clear_cache()

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
        cold = storage.cold
        raw = storage.tables.setdefault(self.name, {})
        updated = [doc_id for doc_id in doc_ids if str(doc_id) in raw]
        for doc_id in dict.fromkeys(updated):
            doc = raw[str(doc_id)]
            if "id" in fields:
                self._reindex(doc.get("id"), fields["id"], doc_id)
            if cold is not None and cold.must_refreeze(self.name, doc, fields):
                new = cold.freeze(self.name, {**doc, **fields})
                storage.put(self.name, doc_id, new)
                raw[str(doc_id)] = new
                continue
            hot = fields if cold is None else cold.freeze_fields(self.name, doc, fields)
            storage.put(self.name, doc_id, {**doc, **hot})  # written before memory changes
            doc.update(hot)
        self.clear_cache()
        return updated

    def append_to(self, doc_id: int, key: str, item: Any, fields: Mapping[str, Any]) -> bool:
        """Append `item` to the list `key` of the document and set `fields`, journalling just those (op "a"): the
        record's size does not grow with the list (a delivery's attempts). The list is a new one, so copies
        handed out before keep theirs. False when the document is gone. `fields` must not change the `id`."""
        storage = self.memory
        raw = storage.tables.setdefault(self.name, {})
        doc = raw.get(str(doc_id))
        if doc is None:
            return False
        cold = storage.cold
        if cold is not None and cold.must_refreeze(self.name, doc, {key: item}):
            new = cold.freeze(self.name, {**doc, key: [*(doc.get(key) or ()), item], **fields})
            if REFS in new:  # frozen now: written whole, once
                storage.put(self.name, doc_id, new)
                raw[str(doc_id)] = new
                self.clear_cache()
                return True
        elif cold is not None and REFS in doc and key in cold.spec(self.name):
            item, ref = cold.freeze_item(self.name, key, item)
            storage.append([self.name, "a", doc_id, key, item, dict(fields), ref])  # (ref: see `add_ref`)
            add_ref(doc, ref)
        else:
            storage.append([self.name, "a", doc_id, key, item, dict(fields)])
        doc[key] = [*(doc.get(key) or ()), item]
        doc.update(fields)
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
        key = str(doc_id)
        if old is not None and ids.get(old) == key:
            del ids[old]
        ids[new] = key

    # -- by record id (O(1), through the id index) ----------------------------------------------------------

    def peek(self, ident: str) -> dict[str, Any] | None:
        """The stored document whose `id` is `ident`, itself (not a copy): read it, never mutate it."""
        return self.memory.peek(self.name, ident)

    def by_id(self, ident: str) -> Document | None:
        """A copy of the document whose `id` is `ident` (as `get` gives one: nested values shared), or None."""
        storage = self.memory
        doc = storage.peek(self.name, ident)
        return None if doc is None else self.document_class(doc, int(storage.ids[self.name][ident]))

    def whole(self, ident: str) -> dict[str, Any] | None:
        """The whole record whose `id` is `ident` (see `cold.py`), or None."""
        storage = self.memory
        doc = storage.peek(self.name, ident)
        if doc is None:
            return None
        return doc if storage.cold is None else storage.cold.thaw(self.name, doc)

    def doc_id_of(self, ident: str) -> int | None:
        return None if self.peek(ident) is None else int(self.memory.ids[self.name][ident])

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
