"""Durable TinyDB: snapshot + journal, group commit, compaction, retention, one owner per data dir."""

from .journal import StoreNotWritable
from .lock import StoreLocked
from .store import Store, StoreCorrupt, StoreReadOnly

__all__ = ["Store", "StoreCorrupt", "StoreLocked", "StoreNotWritable", "StoreReadOnly"]
