"""Documents of one store table found by their own `id` in O(1): an id -> TinyDB doc id index over the table.

The index is built once at start and kept by the writes made here. Retention may prune old documents behind
its back; a lookup that finds the slot gone or reused forgets the id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .table import JournaledTable


class Book:
    def __init__(self, table: Callable[[], JournaledTable]) -> None:
        self._table = table  # the store may be reopened between runs; ask for the table each time
        self._ids: dict[str, int] = {}
        for doc in self._table():
            if "id" in doc:
                self._ids[doc["id"]] = doc.doc_id

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, ident: str) -> bool:
        return self.get(ident) is not None

    def get(self, ident: str) -> dict[str, Any] | None:
        """A copy of the document (nested lists and dicts shared with the store: never mutate them)."""
        doc_id = self._ids.get(ident)
        if doc_id is None:
            return None
        doc = self._table().get(doc_id=doc_id)
        if doc is None or doc.get("id") != ident:
            del self._ids[ident]
            return None
        return doc

    def insert(self, doc: dict[str, Any]) -> None:
        self._ids[doc["id"]] = self._table().insert(doc)

    def update(self, ident: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Replace `fields` of the document; the new document. KeyError when it is gone."""
        doc_id = self._ids.get(ident)
        table = self._table()
        if doc_id is None or not table.update(
            fields, doc_ids=[doc_id]
        ):  # (an id that is not there is skipped)
            raise KeyError(ident)
        doc = table.get(doc_id=doc_id)
        if doc is None or doc.get("id") != ident:
            self._ids.pop(ident, None)
            raise KeyError(ident)
        return doc

    def remove(self, ident: str) -> bool:
        if self.get(ident) is None:
            return False
        self._table().remove(doc_ids=[self._ids.pop(ident)])
        return True

    def ids(self) -> list[str]:
        return list(self._ids)

    def docs(self) -> Iterator[dict[str, Any]]:
        """Every document, oldest first (the live ones: treat as read-only)."""
        return iter(self._table())
