"""The one place katya-tui touches TinyDB's internals (written against tinydb 4.8 and 4.9).

TinyDB's `Table` has no public hook for its storage layer below whole-database `read`/`write`. The journalled table
needs three of its private methods:
- `_update_table(updater)`: every write goes through it; each updater gets the table as a dict of int ids to
  documents and changes it in place. Overriding it lets a write journal only what the updater touched.
- `_read_table()`: the stored documents (str ids to dicts) without converting them, for scans that stop early.
- `_get_next_id()`: the id TinyDB's own `insert` would give, for an insert that skips the updater.

`ShimTable` gives them public names; `check()` states what is assumed, and tests/test_tinydb_shim.py runs it with
a round trip through TinyDB's own write paths, so an upgrade that changes any of it fails there, by name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, cast

from tinydb.table import Table

Updater = Callable[[MutableMapping[int, Any]], None]


class ShimTable(Table):
    """TinyDB's `Table` with the private methods the journalled table relies on under public names."""

    def _update_table(self, updater: Callable[[dict[int, Mapping]], None]) -> None:
        # TinyDB's funnel for every write; its updaters use the table only as a mutable mapping
        self.apply(cast(Updater, updater))

    def apply(self, updater: Updater) -> None:
        """Run one of TinyDB's updaters against the stored table (subclasses decide how)."""
        raise NotImplementedError

    def raw_documents(self) -> dict[str, Any]:
        """The documents as stored, keyed by str id, not copied: read them, do not change them."""
        return cast(dict[str, Any], self._read_table())

    def next_id(self) -> int:
        """The id TinyDB's `insert` would give the next document (and then counts it as given)."""
        return self._get_next_id()


class TinyDBChanged(AssertionError):
    pass


def check() -> None:
    """Raise `TinyDBChanged`, naming the installed version, if a private method `ShimTable` uses is gone or has
    another signature."""
    from importlib.metadata import version  # (here: opening a store never needs it)

    expected = {"_update_table": ["self", "updater"], "_read_table": ["self"], "_get_next_id": ["self"]}
    for name, params in expected.items():
        method = getattr(Table, name, None)
        found = list(inspect.signature(method).parameters) if callable(method) else None
        if found != params:
            raise TinyDBChanged(
                f"tinydb {version('tinydb')}: Table.{name} is {found or 'missing'}, katya_tui.core.store."
                f"tinydb_shim expects parameters {params}"
            )
