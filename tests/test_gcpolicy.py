"""The garbage collector's settings belong to the entry points (`katya_tui.core.gcpolicy`), not the store."""

from __future__ import annotations

import gc

import pytest

from katya_tui.core import gcpolicy
from katya_tui.core.store import Store


@pytest.fixture(autouse=True)
def python_defaults():
    gcpolicy.reset()
    yield
    gcpolicy.reset()


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_serve_raises_the_thresholds_and_freezes_what_survives_a_full_collection():
    gcpolicy.for_serve()
    gcpolicy.for_serve()  # once per process is the rule; twice does no harm
    assert gc.get_threshold() == gcpolicy.THRESHOLDS["serve"]
    kept = [Node() for _ in range(100)]
    Node()  # garbage
    gc.collect()
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept)
    gc.collect()
    assert gc.get_freeze_count() == frozen  # nothing new survived: nothing new frozen

    gcpolicy.reset()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0


def test_serve_and_the_tui_have_their_own_thresholds():
    gcpolicy.for_tui()
    assert gc.get_threshold() == gcpolicy.THRESHOLDS["tui"]
    gcpolicy.reset()
    gcpolicy.for_serve()
    assert gc.get_threshold() == gcpolicy.THRESHOLDS["serve"] != gcpolicy.THRESHOLDS["tui"]


def test_settle_freezes_what_start_up_built():
    kept = [Node() for _ in range(100)]
    gcpolicy.settle()
    assert gc.get_freeze_count() >= len(kept)


def test_the_store_leaves_the_collector_alone(tmp_path):
    thresholds = gc.get_threshold()
    store = Store(tmp_path)
    table = store.table("captures")
    for i in range(1_000):
        table.insert({"n": i})
    store.flush()
    store.close()
    store = Store(tmp_path)
    assert len(store.table("captures")) == 1_000
    assert gc.isenabled() and gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
    store.close()


def test_a_store_opens_with_the_collector_off_and_a_keeping_process_freezes_what_it_read(
    tmp_path, monkeypatch
):
    store = Store(tmp_path)
    for i in range(1_000):
        store.table("captures").insert({"n": i})
    store.flush()
    store.close()
    enabled_while_loading: list[bool] = []
    load = Store._load
    monkeypatch.setattr(
        Store, "_load", lambda self: (enabled_while_loading.append(gc.isenabled()), load(self))[1]
    )
    gcpolicy.for_serve()
    store = Store(tmp_path)
    assert enabled_while_loading == [False] and gc.isenabled()
    assert gc.get_freeze_count() >= 1_000  # the documents read: out of the collector's reach at once
    store.close()
