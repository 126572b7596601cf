"""core.queries against a real store: filters and pages, O(1) lookups by id through inserts, updates, removals,
retention and a reopen, failed-matching, statistics, reads on a thread while the loop writes; the UI's prefs;
and that the UI reads the store only through the queries."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

from katya_tui.core import queries
from katya_tui.core.prefs import Prefs
from katya_tui.core.queries import delivery_stats
from katya_tui.core.store import Store
from katya_tui.core.store.book import Book

UI = Path(__file__).parent.parent / "katya_tui" / "ui"


def capture(i: int, endpoint: str = "orders", verdict: str = "valid", t: float = 1000.0) -> dict:
    return {"id": f"cap_{i:04d}", "endpoint": endpoint, "verdict": {"status": verdict}, "received_at": t + i}


def delivery(
    i: int, state: str, *, wid: str = "webhook_a", eid: str = "evt_1", etype: str = "message.created"
):
    return {
        "id": f"dlv_{i:04d}",
        "webhook_id": wid,
        "event_id": eid,
        "event_type": etype,
        "state": state,
        "created_at": 1000.0 + i,
        "attempts": [{"status_code": 500 if state == "failed" else 200, "latency_ms": 10.0 + i}],
    }


def test_capture_pages_with_filters_newest_first(tmp_path):
    store = Store(tmp_path, fsync=False)
    t = store.table("captures")
    for i in range(10):
        t.insert(capture(i, "orders" if i % 2 else "github", "invalid" if i % 3 == 0 else "valid"))
    page = queries.captures(store, limit=3, offset=2)
    assert [d["id"] for d in page.items] == ["cap_0007", "cap_0006", "cap_0005"] and page.total == 10
    assert queries.captures(store, limit=3, offset=9).items[0]["id"] == "cap_0000"
    assert queries.captures(store, limit=3, offset=10).items == []
    orders = queries.captures(store, endpoint="orders", limit=2)
    assert [d["id"] for d in orders.items] == ["cap_0009", "cap_0007"] and orders.total == 5
    bad = queries.captures(store, endpoint="orders", verdict="invalid", limit=50)
    assert [d["id"] for d in bad.items] == ["cap_0009", "cap_0003"] and bad.total == 2
    page.items[0]["endpoint"] = "changed"  # a copy: the store is untouched
    assert store.record("captures", "cap_0007")["endpoint"] == "orders"
    store.close()


def test_events_by_pattern_and_source(tmp_path):
    store = Store(tmp_path, fsync=False)
    for i, (etype, source) in enumerate(
        [("message.created", "hook"), ("message.deleted", "api"), ("room.created", "hook")]
    ):
        store.table("events").insert({"id": f"evt_{i}", "type": etype, "source": source, "created_at": i})
    assert [d["id"] for d in queries.events(store, type="message.*").items] == ["evt_1", "evt_0"]
    assert queries.events(store, source="hook", limit=1).total == 2
    assert queries.events(store, type="message.*", source="hook").items[0]["id"] == "evt_0"
    store.close()


def test_lookups_by_id_follow_inserts_updates_removals_retention_and_reopen(tmp_path):
    store = Store(tmp_path, caps={"captures": 100}, fsync=False)
    t = store.table("captures")
    for i in range(100):
        t.insert(capture(i))
    assert queries.get(store, "capture", "cap_0042")["received_at"] == 1042.0
    t.update({"forward": {"status": 200}}, doc_ids=[t.doc_id_of("cap_0042")])
    assert queries.get(store, "capture", "cap_0042")["forward"] == {"status": 200}
    t.remove(doc_ids=[t.doc_id_of("cap_0043")])
    assert queries.get(store, "capture", "cap_0043") is None
    for i in range(100, 160):  # past the cap: retention prunes the oldest
        t.insert(capture(i))
    assert len(t) <= 101
    assert queries.get(store, "capture", "cap_0000") is None
    assert queries.get(store, "capture", "cap_0159")["id"] == "cap_0159"
    assert set(t.ids()) == {d["id"] for d in t.all()}  # pruned ids left the index too
    store.close()

    store = Store(tmp_path, caps={"captures": 100}, fsync=False)
    assert queries.get(store, "capture", "cap_0159")["id"] == "cap_0159"
    assert queries.get(store, "capture", "cap_0043") is None
    assert queries.get(store, "nothing", "cap_0159") is None and queries.get(None, "capture", "x") is None
    store.table("captures").truncate()
    assert queries.get(store, "capture", "cap_0159") is None and store.table("captures").ids() == []
    store.close()


def test_book_uses_the_store_index(tmp_path):
    store = Store(tmp_path, fsync=False)
    book = Book(lambda: store.table("webhooks"))
    book.insert({"id": "webhook_a", "url": "http://a"})
    store.table("webhooks").insert({"id": "webhook_b", "url": "http://b"})  # written around the book
    assert book.ids() == ["webhook_a", "webhook_b"] and "webhook_b" in book and len(book) == 2
    assert book.update("webhook_b", {"url": "http://b2"})["url"] == "http://b2"
    assert book.peek("webhook_b")["url"] == "http://b2"
    assert book.remove("webhook_a") and not book.remove("webhook_a")
    assert book.get("webhook_a") is None and book.ids() == ["webhook_b"]
    store.close()


def test_deliveries_filters_failed_matching_and_of_events(tmp_path):
    store = Store(tmp_path, fsync=False)
    t = store.table("deliveries")
    t.insert(delivery(1, "failed", eid="evt_1"))
    t.insert(delivery(2, "failed", eid="evt_2", etype="room.created"))
    t.insert(delivery(3, "delivered", eid="evt_2"))
    t.insert(delivery(4, "failed", wid="webhook_b", eid="evt_3"))
    assert queries.failed_matching(store) == ["dlv_0004", "dlv_0002", "dlv_0001"]
    assert queries.failed_matching(store, lambda d: d["event_type"] == "message.created") == [
        "dlv_0004",
        "dlv_0001",
    ]
    assert queries.failed_matching(store, webhook="webhook_a", type="room.*") == ["dlv_0002"]
    assert [d["id"] for d in queries.deliveries(store, status="success")] == ["dlv_0003"]
    assert [d["id"] for d in queries.deliveries(store, since=1003.0)] == ["dlv_0004", "dlv_0003"]
    assert [d["id"] for d in queries.deliveries_of(store, {"evt_2", "evt_3"})] == [
        "dlv_0004",
        "dlv_0003",
        "dlv_0002",
    ]
    assert queries.deliveries_of(store, set()) == []
    page = queries.deliveries_page(store, limit=1, offset=1, status="failed")
    assert [d["id"] for d in page.items] == ["dlv_0002"] and page.total == 3
    store.close()


def test_stats_overall_agrees_with_each_subscription_computed_alone(tmp_path):
    store = Store(tmp_path, fsync=False)
    for wid in ("webhook_a", "webhook_b"):
        store.table("webhooks").insert({"id": wid, "active": wid == "webhook_a"})
    for i, (state, wid) in enumerate(
        [("failed", "webhook_a"), ("delivered", "webhook_a"), ("delivered", "webhook_b")]
    ):
        store.table("deliveries").insert(delivery(i, state, wid=wid))
    docs = store.all("deliveries")
    overall = queries.stats_overall(store, None, None)
    assert (
        overall["delivery"] == delivery_stats.compute(docs, webhook_id=None, start=None, end=None)["delivery"]
    )
    assert overall["webhooks"] == {"total": 2, "active": 1}
    for wid in ("webhook_a", "webhook_b"):
        alone = delivery_stats.compute(docs, webhook_id=wid, start=None, end=None)
        assert (
            overall["byWebhook"][wid]
            == alone["delivery"]
            == queries.stats(store, wid, None, None)["delivery"]
        )
    assert overall["byWebhook"]["webhook_a"]["successRate"] == 0.5
    store.close()


def test_ids_starting_finds_exact_ids_and_prefixes(tmp_path):
    store = Store(tmp_path, fsync=False)
    for i in range(3):
        store.table("captures").insert(capture(i))
    store.table("events").insert({"id": "evt_abc", "type": "x"})
    assert queries.ids_starting(store, "cap_0001") == [("capture", "cap_0001")]
    assert queries.ids_starting(store, "cap_000", limit=2) == [
        ("capture", "cap_0002"),
        ("capture", "cap_0001"),
    ]
    assert queries.ids_starting(store, "evt_a") == [("event", "evt_abc")]
    store.close()


def test_a_scan_on_a_thread_while_the_loop_thread_writes(tmp_path):
    """`Store.records` lists the documents at once: a reader thread walks it while another thread inserts,
    updates and prunes, without `dictionary changed size during iteration`."""
    store = Store(tmp_path, caps={"deliveries": 2000}, fsync=False)
    t = store.table("deliveries")
    for i in range(2000):
        t.insert(delivery(i, "failed"))
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[int] = []

    def read() -> None:
        try:
            while not stop.is_set():
                seen.append(len(queries.failed_matching(store)))
                queries.stats(store, None, None, None)
        except BaseException as exc:  # noqa: BLE001 (the test reports it)
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(2000, 12000):
            t.insert(delivery(i, "failed"))
            if i % 7 == 0:
                t.update({"state": "delivered"}, doc_ids=[t.doc_id_of(f"dlv_{i:04d}")])
    finally:
        stop.set()
        reader.join()
    assert not errors, errors
    assert seen and all(n > 0 for n in seen)
    store.close()


def test_prefs_round_trip_and_an_unreadable_file_reads_as_none(tmp_path):
    prefs = Prefs(tmp_path)
    assert prefs.get("replay") is None
    prefs.set("replay", {"orders": {"to": "http://x", "resign": True}})
    prefs.set("other", 1)
    assert Prefs(tmp_path).get("replay") == {"orders": {"to": "http://x", "resign": True}}
    (tmp_path / "prefs.json").write_text("{not json")
    assert Prefs(tmp_path).read() == {}


def test_the_ui_never_opens_store_tables():
    """The UI reads through `core.queries` (and `Store.record(s)` through it); no `.table(` call under ui/."""
    calls = []
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "table"
            ):
                calls.append(f"{path.relative_to(UI)}:{node.lineno}")
    assert calls == []
    assert not [p for p in UI.rglob("*.py") if ".table(" in p.read_text()]
