"""Documents of one store table found by their own `id` in O(1), through the id index the table keeps.

A thin facade for the components that write one kind of record (events, subscriptions, deliveries): the index
itself lives in the store (`table.MemoryStorage.ids`) and is kept by every write, whoever makes it, including
retention pruning old documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .table import JournaledTable


class Book:
    def __init__(self, table: Callable[[], JournaledTable]) -> None:
        self._table = table  # the store may be reopened between runs; ask for the table each time

    def __len__(self) -> int:
        return len(self._table().ids())

    def __contains__(self, ident: str) -> bool:
        return self._table().peek(ident) is not None

    def get(self, ident: str) -> dict[str, Any] | None:
        """The whole record, its large fields read from disk (nested lists and dicts shared with the store: never
        mutate them)."""
        return self._table().whole(ident)

    def peek(self, ident: str) -> dict[str, Any] | None:
        """The stored document itself, not a copy (see `JournaledTable.peek`): read it, never mutate it."""
        return self._table().peek(ident)

    def insert(self, doc: dict[str, Any]) -> None:
        self._table().insert(doc)

    def update(self, ident: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Replace `fields` of the document; the new document. KeyError when it is gone."""
        table = self._table()
        doc_id = table.doc_id_of(ident)
        if doc_id is None or not table.update(fields, doc_ids=[doc_id]):
            raise KeyError(ident)
        doc = table.by_id(fields.get("id", ident))
        if doc is None:
            raise KeyError(ident)
        return doc

    def append(self, ident: str, key: str, item: Any, fields: dict[str, Any]) -> dict[str, Any]:
        """Append `item` to the document's list `key` and set `fields` (see `JournaledTable.append_to`); the new
        document (a copy). KeyError when it is gone."""
        table = self._table()
        doc_id = table.doc_id_of(ident)
        if doc_id is None or not table.append_to(doc_id, key, item, fields):
            raise KeyError(ident)
        doc = table.by_id(ident)
        if doc is None:
            raise KeyError(ident)
        return doc

    def remove(self, ident: str) -> bool:
        table = self._table()
        doc_id = table.doc_id_of(ident)
        if doc_id is None:
            return False
        table.remove(doc_ids=[doc_id])
        return True

    def ids(self) -> list[str]:
        return self._table().ids()

    def docs(self) -> Iterator[dict[str, Any]]:
        """Every document, oldest first (the live ones: treat as read-only)."""
        return iter(self._table())
