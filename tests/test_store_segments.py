"""The large fields of records live in segment files: kept byte for byte, made durable with the records that refer
to them, pruned by bytes whole segments at a time, and a damaged segment is never read as a smaller store."""

from __future__ import annotations

import asyncio
import collections
import errno
import hashlib
import os
import re

import pytest
from store_faults import Faults

from katya_tui.core.store import Store, StoreCorrupt, StoreNotWritable
from katya_tui.core.store.cold import REFS


def capture(ident: str, body: bytes) -> dict:
    return {
        "id": ident,
        "endpoint": "e",
        "headers": [["Content-Type", "application/octet-stream"], ["X-Pad", "p" * 100]],
        "body": body.hex(),  # (text: the bytes as hex digits)
        "body_encoding": "utf8",
        "body_sha256": hashlib.sha256(body.hex().encode()).hexdigest(),
        "verdict": {"status": "valid", "scheme": "katya", "msg_id": ident, "reason": "r" * 200},
        "response": {"status": 200, "headers": [], "body": "ok"},
    }


def segment_files(store: Store) -> list[str]:
    return sorted(p.name for p in store.data_dir.glob("segment.*.dat"))


async def test_large_fields_are_kept_in_segments_and_read_back_whole(tmp_path):
    store = Store(tmp_path)
    body = os.urandom(3000)
    store.table("captures").insert({**capture("cap_1", body), "forward": None})
    store.table("captures").insert({"id": "cap_small", "endpoint": "e", "body": "", "body_encoding": "utf8"})
    await store.commit()
    [doc, small] = store.records("captures")
    assert "body" not in doc and "headers" not in doc and REFS in doc  # memory keeps the index...
    assert doc["verdict"] == {"status": "valid", "scheme": "katya", "msg_id": "cap_1"}  # ...and slim copies
    assert "forward" not in doc  # (at its usual value, None: no slim copy of it either)
    assert REFS not in small and small["body"] == ""  # a small record stays whole in memory
    store.close()
    again = Store(tmp_path)
    whole = again.record("captures", "cap_1")
    assert whole is not None and bytes.fromhex(whole["body"]) == body
    assert whole["verdict"]["reason"] == "r" * 200 and whole["headers"][1] == ["X-Pad", "p" * 100]
    assert whole["forward"] is None
    assert segment_files(again) == ["segment.0.dat"]
    again.close()


async def test_equal_slim_answers_are_one_object_and_each_record_reads_back_its_own(tmp_path):
    store = Store(tmp_path)
    t = store.table("captures")
    for i, status in enumerate((200, 200, 503)):
        t.insert({**capture(f"cap_{i}", os.urandom(200)), "response": {"status": status, "action": "answer"}})
    one, two, other = store.records("captures")
    assert one["response"] is two["response"] == {"status": 200, "action": "answer"}
    assert other["response"] == {"status": 503, "action": "answer"}
    assert one["verdict"] is not two["verdict"]  # (a verdict's slim copy holds its own message id)
    t.update({"response": {"status": 500, "action": "answer"}}, doc_ids=[1])
    assert store.record("captures", "cap_1")["response"] == {"status": 200, "action": "answer"}
    assert store.record("captures", "cap_0")["response"]["status"] == 500
    store.close()


@pytest.mark.parametrize("step", ["before", "mid", "sync"])
async def test_a_failed_segment_write_acknowledges_nothing_and_loses_nothing(tmp_path, monkeypatch, step):
    store = Store(tmp_path)
    store.journal.retry_s = 60
    faults = Faults(monkeypatch, store)
    bodies = {f"cap_{i}": os.urandom(2000) for i in range(6)}

    async def one(ident: str) -> None:
        store.table("captures").insert(capture(ident, bodies[ident]))
        await store.commit()

    await asyncio.gather(one("cap_0"), one("cap_1"))
    journal_before = store.journal.path.read_bytes()
    faults.arm(step, errno.ENOSPC, target="segment")
    results = await asyncio.gather(one("cap_2"), one("cap_3"), return_exceptions=True)
    assert all(isinstance(r, StoreNotWritable) for r in results), results
    assert "segment.0.dat" in results[0].reason
    assert store.journal.path.read_bytes() == journal_before  # the records that refer to them wait too
    faults.heal()
    await asyncio.gather(one("cap_4"), one("cap_5"))
    store.close()
    again = Store(tmp_path)
    for ident, body in bodies.items():  # acknowledged or refused then written: every body whole
        whole = again.record("captures", ident)
        assert whole is not None and "damaged" not in whole and bytes.fromhex(whole["body"]) == body, ident
    again.close()


async def test_retention_by_bytes_drops_whole_oldest_segments_but_never_pending_work(tmp_path):
    store = Store(tmp_path, max_bytes=16 * 1024**2)  # segments of 1 MB
    deliveries = store.table("deliveries")
    deliveries.protect = lambda d: d.get("state") == "pending"
    deliveries.insert({"id": "dlv_pending", "state": "pending", "data": {"blob": "d" * 5000}, "attempts": []})
    deliveries.insert({"id": "dlv_done", "state": "delivered", "data": {"blob": "e" * 5000}, "attempts": []})
    for i in range(400):  # ~40 MB of bodies
        store.table("captures").insert(capture(f"cap_{i:04}", os.urandom(50_000)))
        await store.commit()
    await store.commit()  # (the deletions follow the durable removal)
    total = sum(p.stat().st_size for p in tmp_path.glob("segment.*.dat"))
    assert total <= 16 * 1024**2 + store.segments.max_size
    assert "segment.0.dat" not in segment_files(store)
    ids = [d["id"] for d in store.records("captures")]
    assert ids[-1] == "cap_0399" and "cap_0000" not in ids and len(ids) < 400
    assert store.record("deliveries", "dlv_done") is None
    pending = store.record("deliveries", "dlv_pending")
    assert pending is not None and pending["data"] == {
        "blob": "d" * 5000
    }  # written again into a newer segment
    store.close()
    again = Store(tmp_path)
    assert [d["id"] for d in again.records("captures")] == ids
    assert all("damaged" not in again.record("captures", i) for i in ids[:5])
    again.close()


async def test_a_cut_or_missing_segment_is_refused_and_changed_bytes_are_reported(tmp_path):
    store = Store(tmp_path)
    for i in range(3):
        store.table("captures").insert(capture(f"cap_{i}", os.urandom(1000)))
    await store.commit()
    store.close()
    seg = tmp_path / "segment.0.dat"
    data = seg.read_bytes()
    seg.write_bytes(data[:-10])
    with pytest.raises(StoreCorrupt, match=r"segment .*segment\.0\.dat is unreadable \(it ends at byte"):
        Store(tmp_path)
    seg.unlink()
    with pytest.raises(StoreCorrupt, match="it is missing"):
        Store(tmp_path)
    seg.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])  # one bit of the first blob
    store = Store(tmp_path)
    damaged = store.record("captures", "cap_0")
    assert damaged is not None and "sha256 differs" in damaged["damaged"] and damaged["endpoint"] == "e"
    assert "damaged" not in store.record("captures", "cap_2")
    store.close()


async def test_the_store_gives_freed_pages_back_after_each_share_of_blob_bytes(tmp_path, monkeypatch):
    from katya_tui.core.store import store as store_mod

    calls = []
    monkeypatch.setattr(store_mod.mallocpolicy, "give_back", lambda: calls.append(1) or True)
    store = Store(tmp_path)
    store.give_back_every = 100_000
    for i in range(10):  # ~60 KB of blobs each
        store.table("captures").insert(capture(f"cap_{i}", os.urandom(30_000)))
        await store.commit()
    assert 4 <= len(calls) <= 6
    store.close()


def _counted_one_by_one(docs: dict) -> tuple[dict[int, int], dict[int, int]]:
    """What `count_refs` must find, reference by reference, as `[bjde](digits):(digits):(digits)` finds them in each
    `$cold` (other text skipped): (references per segment, furthest byte)."""
    counts: dict[int, int] = {}
    reach: dict[int, int] = {}
    for doc in docs.values():
        refs = doc.get(REFS) if isinstance(doc, dict) else None
        for seg, off, size in re.findall(
            r"[bjde]([0-9]+):([0-9]+):([0-9]+)", refs if isinstance(refs, str) else ""
        ):
            counts[int(seg)] = counts.get(int(seg), 0) + 1
            reach[int(seg)] = max(reach.get(int(seg), 0), int(off) + int(size))
    return counts, reach


ODD_REFS = ["x1:2:3", "b1:2", "j3:10:20:abc", "b4:5:6:7", "b4:5:6:7 b1:2", "b0:1e5:3", "b0:-5:3", "b0:1\t:2"]
ODD_REFS += ["b01:2:3", "b:1:2", "b1::2", "b1:2:3 ", "bb1:2:3", "j1:2:3:0b6e529370d6e37"]


@pytest.mark.parametrize("odd", [None, *ODD_REFS, 17])
def test_references_are_counted_a_chunk_at_a_time_as_one_by_one(odd, monkeypatch):
    """The references of many documents are read as one array of numbers; a chunk with a reference shaped
    otherwise is read one by one, and both count the same."""
    from katya_tui.core.store import refcheck

    monkeypatch.setattr(refcheck, "CHECK_CHUNK", 7)
    sha = "0b6e529370d6e371"
    docs: dict = {}
    for i in range(40):
        seg = i // 9 + (i % 3) * 10  # (1 or 2 digits)
        refs = [f"b{seg}:{i * 100}:{50 + i}", f"j{seg}:{i * 100 + 60}:{30}:{sha}"]
        if i % 5 == 0:
            refs.append(f"d{max(0, seg - 1)}:{i}:{i + 1}:{'1234567890123456'}")
        docs[str(i)] = {"id": f"cap_{i}", REFS: " ".join(refs)}
    docs["40"] = {"id": "cap_40"}  # (no blobs)
    docs["41"] = {"id": "cap_41", REFS: "e2:5:5:" + sha}
    if odd is not None:
        docs["42"] = {"id": "cap_42", REFS: odd} if isinstance(odd, str) else odd
    counted, reach = _counted_one_by_one(docs)
    counts: collections.Counter = collections.Counter()
    assert not refcheck.count_refs(docs, counts, dict(reach))  # (every segment exactly as long as needed)
    assert dict(counts) == counted
    for seg in reach:
        short = {**reach, seg: reach[seg] - 1}
        assert refcheck.count_refs(docs, collections.Counter(), short), seg
        missing = {k: v for k, v in reach.items() if k != seg}
        assert refcheck.count_refs(docs, collections.Counter(), missing), seg


def test_references_as_numbers():
    from katya_tui.core.store.refcheck import ref_numbers

    sha = "0b6e529370d6e371"
    refs = f"b0:0:948 j0:948:1071:{sha} d12:3:4:{sha} e1:0:9 b10:7:8:1234567890123456"
    assert ref_numbers(refs) == ([0, 0, 12, 1, 10], [0, 948, 3, 0, 7], [948, 1071, 4, 9, 8])
    assert ref_numbers("") == ([], [], [])
    for odd in [*ODD_REFS, "b1:02:3", "b1:2.5:3", "b1:2:3  j1:2:3"]:
        assert ref_numbers(odd) is None, odd
