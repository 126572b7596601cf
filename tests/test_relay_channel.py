"""Relay channels, serving side: `GET /relay/{channel}` streams an endpoint's captures in smee.io's shape, the
exact request under `katya` for a client asking `X-Katya-Relay: raw`, and resumes from Last-Event-ID."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import aiohttp
from relay_support import AUTH, WAIT, SSEReader, relay_endpoint

from katya_tui.core.relay.channel import query_object, smee_body

SSE = {"Accept": "text/event-stream"}


async def test_channel_streams_smee_shape_and_raw_on_request(service):
    channel = await relay_endpoint(service, "gh")
    body = b'{\n  "id": "evt_1",\n  "amount": 1.0\n}'
    async with aiohttp.ClientSession() as http:
        plain = await http.get(f"{service.url}/relay/{channel}", headers=SSE)
        raw = await http.get(f"{service.url}/relay/{channel}", headers={**SSE, "X-Katya-Relay": "raw"})
        assert plain.status == raw.status == 200
        assert plain.headers["Content-Type"].startswith("text/event-stream")
        p, r = SSEReader(plain), SSEReader(raw)
        assert (await p.next())["event"] == "ready" and (await r.next())["event"] == "ready"
        sent = await http.post(
            f"{service.url}/hooks/gh/sub?a=1&b=2&b=3",
            data=body,
            headers={"Content-Type": "application/json", "X-Dup": "one"},
            skip_auto_headers=(),
        )
        assert sent.status == 200
        cid, msg = await p.message()
        assert cid.startswith("cap_")
        assert msg["body"] == {"id": "evt_1", "amount": 1.0}
        assert msg["query"] == {"a": "1", "b": ["2", "3"]}
        assert msg["content-type"] == "application/json" and msg["x-dup"] == "one"
        assert isinstance(msg["timestamp"], int)
        assert "katya" not in msg  # (smee-client would make it a request header)
        rid, rmsg = await r.message()
        assert rid == cid
        exact = rmsg["katya"]
        assert base64.b64decode(exact["body"]) == body
        assert exact["sha256"] == hashlib.sha256(body).hexdigest()
        assert (
            exact["path"] == "/hooks/gh/sub" and exact["query"] == "a=1&b=2&b=3" and exact["method"] == "POST"
        )
        assert ["X-Dup", "one"] in exact["headers"]
        plain.close()
        raw.close()


async def test_last_event_id_replays_what_was_missed_then_goes_on_live(service):
    channel = await relay_endpoint(service, "gh")
    url = f"{service.url}/relay/{channel}"
    async with aiohttp.ClientSession() as http:
        ids = []
        for i in range(4):
            r = await http.post(f"{service.url}/hooks/gh", data=f'{{"n":{i}}}'.encode())
            assert r.status == 200
        await http.post(f"{service.url}/hooks/other", data=b'{"n":"elsewhere"}')
        caps = (await (await http.get(f"{service.url}/v1/captures?endpoint=gh", headers=AUTH)).json())["data"]
        ids = [c["id"] for c in reversed(caps)]  # oldest first
        resp = await http.get(url, headers={**SSE, "Last-Event-ID": ids[1]})
        reader = SSEReader(resp)
        got = [await reader.message() for _ in range(2)]
        assert [g[0] for g in got] == ids[2:]
        assert [g[1]["body"] for g in got] == [{"n": 2}, {"n": 3}]
        await http.post(f"{service.url}/hooks/gh", data=b'{"n":4}')
        live_id, live = await reader.message()
        assert live["body"] == {"n": 4} and live_id not in ids
        resp.close()
        # a counter from smee.io is not one of our ids: live only, no replay of the whole store
        resp = await http.get(url, headers={**SSE, "Last-Event-ID": "3"})
        reader = SSEReader(resp)
        assert (await reader.next())["event"] == "ready"
        await http.post(f"{service.url}/hooks/gh", data=b'{"n":5}')
        assert (await reader.message())[1]["body"] == {"n": 5}
        resp.close()


async def test_unknown_channel_no_accept_and_not_relayed(service):
    channel = await relay_endpoint(service, "gh")
    async with aiohttp.ClientSession() as http:
        r = await http.get(f"{service.url}/relay/{'x' * 32}", headers=SSE)
        assert r.status == 404
        r = await http.get(f"{service.url}/relay/{channel}")
        assert r.status == 406 and "text/event-stream" in (await r.json())["error"]
        # the channel is kept across edits, and gone once the endpoint is no longer relayed
        r = await http.put(
            f"{service.url}/v1/endpoints/gh", json={"relay": True, "secrets": ["s"]}, headers=AUTH
        )
        assert (await r.json())["data"]["relay"] == channel
        resp = await http.get(f"{service.url}/relay/{channel}", headers=SSE)
        assert resp.status == 200
        r = await http.put(f"{service.url}/v1/endpoints/gh", json={"relay": None}, headers=AUTH)
        assert (await r.json())["data"]["relay"] is None
        await http.post(f"{service.url}/hooks/gh", data=b"{}")  # wakes the stream, which then ends
        async with asyncio.timeout(WAIT):  # the server ends the stream (a hang fails here)
            await resp.content.read()
        assert resp.content.at_eof()
        r = await http.get(f"{service.url}/relay/{channel}", headers=SSE)
        assert r.status == 404
        r = await http.put(f"{service.url}/v1/endpoints/gh", json={"relay": "short"}, headers=AUTH)
        assert r.status == 422 and "relay" in (await r.json())["error"]["fields"]


def test_smee_body_and_query_forms():
    assert smee_body(b'{"a":[1,2]}') == {"a": [1, 2]}
    assert smee_body(b"a=1&b=2") == "a=1&b=2"
    assert smee_body(b"\xff\xfe") is None
    assert query_object("") == {}
    assert query_object("x=&y=1&y=2") == {"x": "", "y": ["1", "2"]}
