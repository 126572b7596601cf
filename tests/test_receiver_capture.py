"""Capture on /hooks: bytes and headers as received, verdicts, events from bodies, limits and broken senders."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil

import aiohttp
from receiver_support import AUTH, capture, captures, raw_request, running, wait_for

from katya_tui.core.facts import CaptureRecorded, EventPublished
from katya_tui.core.store import Store


async def test_any_endpoint_is_captured_byte_for_byte(service):
    body = b"\x00\xffnot json \xc3"
    raw = (
        b"POST /hooks/anything/sub/path?a=1&a=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Dup: one\r\nx-dup: two\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body
    answer = await raw_request(service.port, raw)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"status":"ok"}')
    [row] = await captures(service)
    assert (row["endpoint"], row["method"], row["path"], row["query"]) == (
        "anything",
        "POST",
        "/hooks/anything/sub/path",
        "a=1&a=2",
    )
    assert row["headers"][:4] == [["Host", "x"], ["Connection", "close"], ["X-Dup", "one"], ["x-dup", "two"]]
    assert row["bodySize"] == len(body) and row["bodySha256"] == hashlib.sha256(body).hexdigest()
    assert "body" not in row  # lists stay light
    full = await capture(service, row["id"])
    assert full["bodyEncoding"] == "base64" and base64.b64decode(full["body"]) == body
    assert full["verdict"]["status"] == "unsigned"
    assert any("PUT /v1/endpoints/anything" in line for line in full["verdict"]["diagnosis"])
    assert full["response"]["status"] == 200 and full["remote"] == "127.0.0.1"


async def test_get_without_body_answers_availability_and_empty_post_is_kept(service):
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"{service.url}/hooks/wazzup24")
        assert r.status == 200
        assert await r.json() == {"status": "ok", "message": "Webhook endpoint is available"}
        r = await s.post(f"{service.url}/hooks/wazzup24", data=b"")
        assert await r.json() == {"status": "ok"}
    rows = await captures(service)
    assert [(r["method"], r["bodySize"]) for r in rows] == [("POST", 0), ("GET", 0)]


async def test_non_ascii_and_non_utf8_header_values_are_kept(service):
    raw = "POST /hooks/h HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Name: Иван\r\nContent-Length: 2\r\n\r\n{}".encode()
    raw = raw.replace(b"X-Name", b"X-Latin: caf\xe9\r\nX-Name")
    assert (await raw_request(service.port, raw)).startswith(b"HTTP/1.1 200")
    [row] = await captures(service)
    assert ["X-Name", "Иван"] in row["headers"] and ["X-Latin", "café"] in row["headers"]


async def test_acknowledged_capture_is_on_disk_before_the_answer(settings, tmp_path):
    async with running(settings) as svc:
        async with aiohttp.ClientSession() as s:
            r = await s.post(f"{svc.url}/hooks/durable", data=b"payload")
            assert r.status == 200
        # while the service still runs: a copy of the data dir, opened as a store, already holds it
        copy = tmp_path / "copy"
        shutil.copytree(
            svc.settings.data_dir, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.lock")
        )
    store = Store(copy, lock=False)
    try:
        bodies = [d["body"] for d in store.all("captures")]
    finally:
        store.close()
    assert bodies == ["payload"]


async def test_envelope_admin_job_and_wazzup_bodies_become_events(service):
    sub = service.bus.subscribe(accept=lambda f: isinstance(f, EventPublished | CaptureRecorded))
    envelope = {
        "id": "evt_abc",
        "type": "message.created",
        "createdAt": "2024-01-01T00:00:00Z",
        "data": {"x": 1},
    }
    job = {"job_id": "job_7", "status": "completed", "timestamp": "2024-01-01T00:00:00Z", "total_lots": 1}
    async with aiohttp.ClientSession() as s:
        await s.post(f"{service.url}/hooks/a", json=envelope)
        await s.post(
            f"{service.url}/hooks/b",
            json={"k": "v"},
            headers={"X-Webhook-Event": "user.created", "X-Webhook-Id": "wh_1"},
        )
        await s.post(f"{service.url}/hooks/c", json=job)
        await s.post(f"{service.url}/hooks/d", json={"event": "status", "data": {"status": "delivered"}})
        await s.post(f"{service.url}/hooks/e", json={"just": "json"})
    events = [f.event for f in sub.drain() if isinstance(f, EventPublished)]
    assert [(e["type"], e["source"]) for e in events] == [
        ("message.created", "hook"),
        ("user.created", "hook"),
        ("job.completed", "hook"),
        ("wazzup.status", "hook"),
    ]
    assert (
        events[0]["id"] == "evt_abc" and events[0]["data"] == {"x": 1} and events[0]["verdict"] == "unsigned"
    )
    rows = {r["endpoint"]: r for r in await captures(service)}
    assert rows["a"]["eventId"] == "evt_abc" and rows["a"]["eventType"] == "message.created"
    assert rows["c"]["eventId"] == events[2]["id"] and events[2]["capture_id"] == rows["c"]["id"]
    assert rows["e"]["eventId"] is None
    assert len(service.store.table("events")) == 4


async def test_duplicate_ids_are_flagged_not_dropped(service):
    envelope = {"id": "evt_same", "type": "room.created", "createdAt": "2024-01-01T00:00:00Z", "data": {}}
    async with aiohttp.ClientSession() as s:
        for _ in range(2):
            assert (await s.post(f"{service.url}/hooks/dup", json=envelope)).status == 200
    second, first = await captures(service)  # both captured: a repeat is flagged, never dropped
    assert first["duplicateOf"] is None and second["duplicateOf"] == first["id"]
    assert len(service.store.table("events")) == 1  # and not published twice (seed 000: dedup by event id)


async def test_body_over_the_limit_is_413_and_recorded_cut(settings):
    async with running(settings, body_limit=1000) as svc:
        async with aiohttp.ClientSession() as s:
            r = await s.post(f"{svc.url}/hooks/big", data=b"x" * 5000)
            assert r.status == 413
            assert "1000 byte limit" in (await r.json())["message"]
        [row] = await captures(svc)
        assert row["truncated"] and row["bodySize"] == 5000 and row["response"]["status"] == 413
        full = await capture(svc, row["id"])
        assert full["body"] == "x" * 1000 and "over the 1000 byte limit" in full["bodyNote"]


async def test_content_length_that_lies_keeps_what_arrived(service):
    raw = b"POST /hooks/liar HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\nonly-this"
    answer = await raw_request(
        service.port, raw, close_after=True
    )  # half-closes after writing: the body ends early
    assert not answer.startswith(b"HTTP/1.1 500")
    await wait_for(lambda: len(service.store.table("captures")) == 1)
    [doc] = service.store.all("captures")
    assert doc["body"] == "only-this" and doc["truncated"] and "100" in doc["body_note"]


async def test_a_stalled_sender_gets_408_and_the_capture_is_kept(service):
    service.receiver.body_idle_timeout = 0.2
    raw = (
        b'POST /hooks/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 50\r\n\r\n{"partial":'
    )
    answer = await raw_request(service.port, raw)
    assert answer.startswith(b"HTTP/1.1 408")
    [row] = await captures(service)
    assert row["truncated"] and row["bodySize"] == 11 and row["response"]["status"] == 408


async def test_bad_json_and_chunked_bodies(service):
    chunked = b'POST /hooks/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'
    assert (await raw_request(service.port, chunked)).startswith(b"HTTP/1.1 200")
    async with aiohttp.ClientSession() as s:
        r = await s.post(
            f"{service.url}/hooks/c", data=b'{"broken": ', headers={"Content-Type": "application/json"}
        )
        assert r.status == 200
    rows = await captures(service)
    assert [r["bodySize"] for r in rows] == [11, 7]
    assert json.loads((await capture(service, rows[1]["id"]))["body"]) == {"a": 1}


async def test_list_filters_and_pagination(service):
    service.receiver.endpoints.put({"name": "signed", "secrets": ["s3cret-value"], "scheme": "job"})
    async with aiohttp.ClientSession() as s:
        for i in range(3):
            await s.post(f"{service.url}/hooks/open", data=str(i))
        await s.post(f"{service.url}/hooks/signed", data=b"{}", headers={"X-Signature": "00" * 32})
    assert len(await captures(service, endpoint="open")) == 3
    [bad] = await captures(service, verdict="invalid")
    assert bad["endpoint"] == "signed"
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"{service.url}/v1/captures", params={"limit": "2", "offset": "1"}, headers=AUTH)
        page = await r.json()
        assert page["pagination"] == {"total": 4, "limit": 2, "offset": 1, "hasMore": True}
        r = await s.get(f"{service.url}/v1/captures", params={"verdict": "nope"}, headers=AUTH)
        assert r.status == 422 and "verdict" in (await r.json())["error"]["fields"]
        r = await s.get(f"{service.url}/v1/captures/cap_missing", headers=AUTH)
        assert r.status == 404 and (await r.json())["error"]["code"] == "NOT_FOUND"
        assert (await s.get(f"{service.url}/v1/captures")).status == 401


async def test_capture_recorded_fact_has_no_body(service):
    sub = service.bus.subscribe(accept=lambda f: isinstance(f, CaptureRecorded))
    async with aiohttp.ClientSession() as s:
        await s.post(f"{service.url}/hooks/fact", data=b"secret-ish body")
    [fact] = sub.drain()
    assert "body" not in fact.capture and fact.capture["endpoint"] == "fact"
