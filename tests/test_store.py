"""The journalled TinyDB store: API, durability, torn tails, compaction, retention, one owner."""

from __future__ import annotations

import asyncio
import io
import threading

import orjson
import pytest
from tinydb import Query, TinyDB

from katya_tui.core.store import Store, StoreCorrupt, StoreLocked, StoreReadOnly


def test_tinydb_api_round_trips_through_reopen(tmp_path):
    store = Store(tmp_path)
    t = store.table("captures")
    a = t.insert({"name": "a", "n": 1})
    b = t.insert({"name": "b", "n": 2})
    t.update({"n": 20}, Query().name == "b")
    t.update(lambda d: d.update(seen=True), doc_ids=[a])
    t.remove(doc_ids=[a])
    t.insert({"name": "c", "n": 3})
    store.close()

    store = Store(tmp_path)
    t = store.table("captures")
    assert t.get(doc_id=a) is None
    assert t.get(doc_id=b) == {"name": "b", "n": 20}
    assert [d["name"] for d in t.newest(10)] == ["c", "b"]
    assert t.insert({"name": "d"}) == 4  # ids keep growing after a reopen
    store.close()


def test_newest_pages_with_filter(tmp_path):
    store = Store(tmp_path)
    t = store.table("events")
    for i in range(10):
        t.insert({"i": i})
    assert [d["i"] for d in t.newest(3, offset=2)] == [7, 6, 5]
    assert [d["i"] for d in t.newest(2, where=lambda d: d["i"] % 2 == 0)] == [8, 6]
    store.close()


def test_torn_tail_is_cut_and_reported(tmp_path):
    store = Store(tmp_path)
    store.table("t").insert({"ok": 1})
    store.close()
    journal = next(tmp_path.glob("journal.*.jsonl"))
    with open(journal, "ab") as f:
        f.write(b'["t","p",2,{"half')  # a write cut short by a crash
    store = Store(tmp_path)
    assert store.report.torn_bytes == len(b'["t","p",2,{"half')
    assert store.table("t").all() == [{"ok": 1}]
    store.table("t").insert({"ok": 2})
    store.close()
    store = Store(tmp_path)
    assert [d["ok"] for d in store.table("t").all()] == [1, 2]
    assert store.report.torn_bytes == 0
    store.close()


def test_compaction_writes_a_plain_tinydb_snapshot(tmp_path):
    store = Store(tmp_path)
    t = store.table("webhooks")
    for i in range(50):
        t.insert({"i": i})
    t.remove(doc_ids=[1, 2])
    store.compact_sync()
    t.insert({"i": "after"})
    store.close()
    assert sorted(p.name for p in tmp_path.glob("journal.*")) == ["journal.1.jsonl"]
    plain = TinyDB(tmp_path / "db.json")
    assert len(plain.table("webhooks")) == 48
    plain.close()
    store = Store(tmp_path)
    assert len(store.table("webhooks")) == 49
    assert "_meta" not in store.counts()
    store.close()


@pytest.mark.parametrize("inline", [False, True])
async def test_commit_compacts_in_background_and_loses_nothing(tmp_path, inline):
    store = Store(tmp_path, compact_min_bytes=5_000, inline_sync=inline)
    t = store.table("captures")
    for i in range(300):
        t.insert({"i": i, "pad": "y" * 100})
        if i % 10 == 0:
            await store.commit()
    await store.commit()
    await store.wait_compaction()
    assert (tmp_path / "db.json").exists()
    store.close()
    store = Store(tmp_path)
    assert sorted(d["i"] for d in store.all("captures")) == list(range(300))
    store.close()


async def test_a_due_compaction_waits_for_a_lull_unless_the_journal_is_overdue(tmp_path):
    store = Store(tmp_path, compact_min_bytes=5_000)
    store.compact_quiet_s = 0.2
    t = store.table("captures")

    async def burst(until_bytes: int) -> None:
        while store.journal.size <= until_bytes:
            t.insert({"pad": "y" * 200})
            await store.commit()
            await asyncio.sleep(0.01)  # commits keep coming: no lull

    await burst(6_000)  # due (over 5,000 bytes), not overdue
    assert store._compacting is None and not (tmp_path / "db.json").exists()  # it waits while commits go on
    await asyncio.sleep(0.4)  # a lull
    await store.wait_compaction()
    assert (tmp_path / "db.json").exists() and store.journal.size == 0
    snapshot = (tmp_path / "db.json").stat().st_size
    store.compact_quiet_s = 60  # no lull from here on: only an overdue journal compacts
    due, gen, sizes = max(5_000, snapshot), store.generation, []
    while store.generation == gen:  # (a compaction starts a new journal generation)
        t.insert({"pad": "y" * 200})
        sizes.append(store.journal.size)
        await store.commit()
        await asyncio.sleep(0.01)
        assert len(sizes) < 1_000
    assert due * 2 < max(sizes) < due * 2 + 1_000  # past its threshold it waited, until twice that
    await store.wait_compaction()
    assert (tmp_path / "db.json").stat().st_size > snapshot
    store.close()
    store = Store(tmp_path)
    assert len(store.table("captures")) == len(t)
    store.close()


@pytest.mark.parametrize("inline", [False, True])
async def test_concurrent_commits_are_grouped(tmp_path, inline):
    store = Store(tmp_path, inline_sync=inline)
    t = store.table("captures")
    syncs = 0
    threads = set()
    real_put = store.journal._put

    def counting_put(jobs):
        nonlocal syncs
        syncs += 1
        threads.add(threading.get_ident())
        real_put(jobs)

    store.journal._put = counting_put

    async def writer(w):
        for i in range(20):
            t.insert({"w": w, "i": i})
            await store.commit()

    await asyncio.gather(*(writer(w) for w in range(20)))
    assert len(t) == 400
    assert syncs < 400 / 2  # many writes share one fsync
    # `inline` (serve) syncs on the event loop's thread; otherwise the journal's own thread does (the TUI draws on)
    assert (threads == {threading.get_ident()}) is inline
    store.close()
    reopened = Store(tmp_path)
    assert len(reopened.table("captures")) == 400
    reopened.close()


def test_retention_prunes_oldest_first(tmp_path):
    store = Store(tmp_path, caps={"captures": 100})
    t = store.table("captures")
    for i in range(250):
        t.insert({"i": i})
    kept = [d["i"] for d in t.all()]
    assert 100 <= len(kept) <= 101 + 100 // 100
    assert kept == sorted(kept) and kept[-1] == 249  # the newest stay
    assert len(store.table("webhooks")) == 0  # uncapped tables are untouched
    store.close()
    store = Store(tmp_path, caps={"captures": 100})
    assert [d["i"] for d in store.all("captures")] == kept
    store.close()


def test_second_owner_is_refused_with_a_clear_message(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(StoreLocked) as err:
        Store(tmp_path)
    assert "already using the data dir" in str(err.value) and "pid" in str(err.value)
    store.close()
    Store(tmp_path).close()  # released on close


def test_readonly_reader_beside_the_owner_sees_commits_and_repairs_nothing(tmp_path):
    owner = Store(tmp_path)
    owner.table("captures").insert({"n": 1})
    owner.flush()
    journal = next(tmp_path.glob("journal.*.jsonl"))
    with open(journal, "ab") as f:
        f.write(b'["captures","p",2,{"n"')  # a write the owner is still completing
    size = journal.stat().st_size
    reader = Store(tmp_path, readonly=True)
    assert [d["n"] for d in reader.all("captures")] == [1]
    assert journal.stat().st_size == size  # the reader cut nothing
    with pytest.raises(StoreReadOnly):
        reader.table("captures").insert({"n": 3})
    reader.close()
    owner.close()


def test_retention_spares_protected_documents(tmp_path):
    store = Store(tmp_path, caps={"deliveries": 50})
    t = store.table("deliveries")
    t.protect = lambda d: d["state"] == "pending"
    for i in range(200):
        t.insert({"i": i, "state": "pending" if i < 5 else "delivered"})
    states = [(d["i"], d["state"]) for d in t.all()]
    assert [i for i, s in states if s == "pending"] == [0, 1, 2, 3, 4]  # the oldest, yet kept
    assert len(states) <= 50 + 1 + 5
    store.close()


def test_a_snapshot_written_in_parts_reads_as_one_dump_and_as_its_parts(monkeypatch, tmp_path):
    from katya_tui.core.store import snapshot

    monkeypatch.setattr(snapshot, "SNAPSHOT_CHUNK", 3)
    for state in (
        {},
        {"a": {}},
        {"a": {str(i): {"x": i} for i in range(7)}, "b": {"1": {}}, "_meta": {"1": {"next_generation": 2}}},
        {'we"ird\nname': {"1": {"s": "a\nb"}}, "c": {}},
    ):
        raw = b"".join(snapshot.snapshot_parts(state))
        assert orjson.loads(raw) == state  # one JSON document, as TinyDB reads it
        assert snapshot.parse_snapshot(tmp_path / "db.json", raw) == state
        if len(state) > 1:
            assert snapshot._by_chunks(io.BytesIO(raw)) == state  # read a chunk a line
            assert (
                snapshot._by_chunks(io.BytesIO(orjson.dumps(state))) is None
            )  # one line (older ones): whole
        (tmp_path / "db.json").write_bytes(raw)
        assert snapshot.read_snapshot(tmp_path / "db.json") == (state, len(raw))


def test_a_snapshot_read_by_chunks_reads_as_the_whole_parse_would(monkeypatch, tmp_path):
    from katya_tui.core.store import snapshot

    monkeypatch.setattr(snapshot, "SNAPSHOT_CHUNK", 2)
    raw = b"".join(snapshot.snapshot_parts({"a": {str(i): {"x": i} for i in range(5)}, "b": {"1": {}}}))
    lines = raw.split(b"\n")
    for changed in (
        b"\n".join(lines[:1] + lines[2:]),  # the first chunk's line gone: the next one starts with a comma
        b"\n".join(lines[:-2] + [lines[-1]]),  # a table's closing line gone
        raw.replace(b'"x":3', b'"x":3,'),  # a chunk that is not JSON
        raw[:-1],  # cut at the end
    ):
        with pytest.raises(StoreCorrupt):
            snapshot.parse_snapshot(tmp_path / "db.json", changed)
    # a later chunk gone: still valid JSON, read the same both ways
    dropped = b"\n".join(lines[:3] + lines[4:])
    assert snapshot.parse_snapshot(tmp_path / "db.json", dropped) == orjson.loads(dropped)


def test_a_store_whose_snapshot_is_one_line_opens_and_compacts_to_chunks(tmp_path):
    """Snapshots written before they were laid out a chunk a line are one line: they open as they did."""
    docs = {str(i): {"id": f"x_{i}", "i": i} for i in range(1, 8)}
    (tmp_path / "db.json").write_bytes(orjson.dumps({"t": docs, "_meta": {"1": {"next_generation": 0}}}))
    (tmp_path / "journal.0.jsonl").write_bytes(orjson.dumps(["t", "p", 8, {"id": "x_8", "i": 8}]) + b"\n")
    store = Store(tmp_path)
    assert [d["i"] for d in store.table("t").all()] == list(range(1, 9))
    store.compact_sync()
    store.close()
    assert (tmp_path / "db.json").read_bytes().count(b"\n") > 1
    again = Store(tmp_path, readonly=True)
    assert again.table("t").get(doc_id=8) == {"id": "x_8", "i": 8} and len(again.table("t")) == 8
    again.close()
