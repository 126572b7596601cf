"""Durable TinyDB: snapshot + journal, group commit, compaction, retention, one owner per data dir."""

from .journal import StoreNotWritable
from .lock import StoreLocked
from .snapshot import StoreCorrupt
from .store import Store, StoreReadOnly

__all__ = ["Store", "StoreCorrupt", "StoreLocked", "StoreNotWritable", "StoreReadOnly"]
