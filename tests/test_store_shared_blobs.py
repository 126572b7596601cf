"""A value several records hold is written once: an event's data stays in its capture's body, and its deliveries
refer to the same blob. Each reference counts, so pruning one record never loses what another still reads."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import aiohttp
from receiver_support import AUTH, running

from katya_tui.core.store import Store
from katya_tui.core.store.cold import REFS

PAD = "x" * 5000


def envelope(i: int) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{i}",
            "type": "message.created",
            "createdAt": "2026-01-01T00:00:00Z",
            "data": {"n": i, "pad": PAD},
        }
    ).encode()


def job(i: int) -> bytes:
    return json.dumps({"job_id": f"job_{i}", "status": "completed", "result": {"pad": PAD}}).encode()


async def test_an_events_data_is_its_captures_body_and_its_deliveries_share_it(settings, data_dir):
    async with running(settings) as svc, aiohttp.ClientSession() as s:
        r = await s.post(
            f"{svc.url}/v1/webhooks",
            headers=AUTH,
            json={"url": "http://127.0.0.1:9/down", "events": ["*"], "name": "all"},
        )
        assert r.status == 201, await r.text()
        for body in (envelope(1), job(2)):
            r = await s.post(
                f"{svc.url}/hooks/shared", data=body, headers={"Content-Type": "application/json"}
            )
            assert r.status == 200
        await svc.store.commit()
        on_disk = b"".join(p.read_bytes() for p in data_dir.glob("segment.*.dat"))
        assert (
            on_disk.count(PAD.encode()) == 2
        )  # each body once: not again as its event's data, nor its delivery's
        store = svc.store
        events = {e["capture_id"]: e for e in store.records("events")}
        for cap in store.records("captures"):
            event = events[cap["id"]]
            body_ref = next(r[1:] for r in cap[REFS].split() if r[0] == "b")
            [data_ref] = event[REFS].split()
            assert data_ref[0] in "de" and data_ref[1:].startswith(body_ref + ":")
            [delivery] = [d for d in store.records("deliveries") if d["event_id"] == event["id"]]
            assert data_ref in delivery[REFS].split()
        ids = [e["id"] for e in store.records("events")]
    again = Store(data_dir)
    try:
        [first, second] = [again.record("events", i) for i in ids]
        assert first["data"] == {"n": 1, "pad": PAD}
        assert second["data"] == json.loads(job(2))  # the whole body is a job result's data
        for d in again.records("deliveries"):
            assert again.thaw("deliveries", d)["data"] == again.record("events", d["event_id"])["data"]
        counted = dict(again.segments.live)
    finally:
        again.close()
    assert sum(counted.values()) == sum(len(doc[REFS].split()) for doc in _all_docs(data_dir))


def _all_docs(data_dir):
    store = Store(data_dir, readonly=True)
    try:
        return [d for t in ("captures", "events", "deliveries") for d in store.records(t) if REFS in d]
    finally:
        store.close()


async def test_a_capture_pruned_by_count_leaves_its_events_data_readable(settings, data_dir):
    async with running(replace(settings, caps={**settings.caps, "captures": 2})) as svc:
        async with aiohttp.ClientSession() as s:
            for i in range(6):
                r = await s.post(f"{svc.url}/hooks/pruned", data=envelope(i))
                assert r.status == 200
        await svc.store.commit()
        assert len(svc.store.records("captures")) <= 3
    again = Store(data_dir)
    try:
        datas = sorted(again.thaw("events", e)["data"]["n"] for e in again.records("events"))
        assert datas == list(range(6))
    finally:
        again.close()


async def test_a_changed_body_marks_its_event_damaged_too(settings, data_dir):
    async with running(settings) as svc, aiohttp.ClientSession() as s:
        r = await s.post(f"{svc.url}/hooks/changed", data=envelope(7))
        assert r.status == 200
    [seg] = data_dir.glob("segment.*.dat")
    raw = bytearray(seg.read_bytes())
    at = raw.find(b'"n":7')
    raw[at + 4 : at + 5] = b"8"  # same length, other bytes
    seg.write_bytes(bytes(raw))
    os.sync()
    again = Store(data_dir)
    try:
        [event] = again.records("events")
        whole = again.thaw("events", event)
        assert "sha256" in whole["damaged"] and "data" not in whole
        [cap] = again.records("captures")
        assert "sha256" in again.thaw("captures", cap)["damaged"]
    finally:
        again.close()
