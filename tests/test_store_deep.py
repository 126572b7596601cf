"""A body nested deeper than the store's writer (orjson writes 255 levels, reads 1,024) stays a capture: answered,
stored, never an event, and the store, its compaction and a restart go on working."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from receiver_support import AUTH, captures, running

from katya_tui.core.receiver.intake import TOO_DEEP
from katya_tui.core.store import Store


def _envelope(depth: int) -> bytes:
    data = (b'{"a":' * depth) + b"1" + (b"}" * depth)
    return b'{"id":"evt_deep_%d","type":"message.created","createdAt":"2024-01-01T00:00:00Z","data":%s}' % (
        depth,
        data,
    )


@pytest.mark.parametrize("depth", [300, 1000])
async def test_a_deep_envelope_is_captured_not_published_and_the_store_goes_on(settings, depth):
    body = _envelope(depth)
    orjson.loads(body)  # the reader takes it: the case is one the writer cannot write
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(orjson.loads(body))
    async with running(settings) as svc:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
            r = await s.post(f"{svc.url}/hooks/deep", data=body, headers={"Content-Type": "application/json"})
            assert r.status == 200, await r.text()
            r = await s.post(f"{svc.url}/hooks/deep", data=_envelope(3))  # a normal one after it
            assert r.status == 200
            r = await s.get(f"{svc.url}/v1/events", headers=AUTH)
            assert r.status == 200, await r.text()
            assert [e["id"] for e in (await r.json())["data"]] == ["evt_deep_3"]
        found = await captures(svc)
        deep = [c for c in found if c["bodySize"] == len(body)]
        assert len(found) == 2 and len(deep) == 1 and deep[0]["eventId"] is None and not deep[0]["eventType"]
        assert TOO_DEEP in deep[0]["verdict"]["diagnosis"]
        await svc.store.compact()
    store = Store(settings.data_dir)  # a restart reads it all back
    try:
        assert len(store.table("captures")) == 2
        assert [e["id"] for e in store.all("events")] == ["evt_deep_3"]
        assert any(c["body"].encode() == body for c in store.all("captures"))
    finally:
        store.close()


async def test_the_api_refuses_an_event_too_deep_to_store(service):
    data = (b'{"a":' * 300) + b"1" + (b"}" * 300)
    async with aiohttp.ClientSession() as s:
        r = await s.post(
            f"{service.url}/v1/events", data=b'{"type":"message.created","data":%s}' % data, headers=AUTH
        )
        assert r.status == 422, await r.text()
        assert "data" in (await r.json())["error"]["fields"]
        r = await s.get(f"{service.url}/v1/events", headers=AUTH)
        assert r.status == 200 and (await r.json())["data"] == []


def test_a_document_the_writer_refuses_leaves_the_table_unchanged(tmp_path):
    deep: dict = {}
    for _ in range(300):
        deep = {"a": deep}
    store = Store(tmp_path)
    table = store.table("t")
    table.insert({"id": "x_1", "n": 1})
    with pytest.raises(orjson.JSONEncodeError):
        table.insert({"id": "x_2", "data": deep})
    with pytest.raises(orjson.JSONEncodeError):
        table.update({"data": deep}, doc_ids=[1])
    assert table.all() == [{"id": "x_1", "n": 1}] and table.peek("x_2") is None
    store.compact_sync()
    store.close()
    store = Store(tmp_path)
    assert store.table("t").all() == [{"id": "x_1", "n": 1}]
    store.close()
