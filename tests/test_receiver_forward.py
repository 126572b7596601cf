"""Relay to local targets (per endpoint and by event type) and replay: verbatim, re-signed now, edited."""

from __future__ import annotations

import json

import aiohttp
from receiver_support import AUTH, Sink, capture, captures, wait_for

from katya_tui.core.facts import CaptureForwarded
from katya_tui.core.signing import sign

ENVELOPE = {
    "id": "evt_1",
    "type": "message.created",
    "createdAt": "2024-01-01T00:00:00Z",
    "data": {"t": "hi"},
}


def header(pairs, name):
    return [v for k, v in pairs if k.lower() == name.lower()]


async def test_forward_sends_exact_bytes_and_records_the_answer(service):
    sub = service.bus.subscribe(accept=lambda f: isinstance(f, CaptureForwarded))
    async with Sink(status=201, body=b"local says hi") as sink:
        service.receiver.endpoints.put({"name": "fwd", "forward_to": sink.url + "/webhooks"})
        body = b'{"b": 2,  "a": 1}'  # spacing and key order must survive (unlike smee)
        async with aiohttp.ClientSession() as s:
            r = await s.post(
                f"{service.url}/hooks/fwd/extra?x=1",
                data=body,
                headers={"X-Custom": "v1", "Content-Type": "application/json", "Connection": "keep-alive"},
            )
            assert r.status == 200
        await wait_for(lambda: sub.drain() or False)
    [req] = sink.requests
    assert req["body"] == body and req["path"] == "/webhooks" and req["query"] == "x=1"
    assert header(req["headers"], "X-Custom") == ["v1"] and header(req["headers"], "Content-Type") == [
        "application/json"
    ]
    [row] = await captures(service)
    fwd = row["forward"]
    assert fwd["status"] == 201 and fwd["body"] == "local says hi" and fwd["error_class"] is None
    assert ["X-Sink", "1"] in fwd["headers"] and fwd["latency_ms"] > 0 and fwd["via"] == "forward_to"


async def test_routes_send_event_types_to_different_paths(service):
    async with Sink() as sink:
        service.receiver.endpoints.put(
            {
                "name": "katya",
                "forward_to": sink.url + "/other",
                "routes": [
                    {"match": "message.*", "to": sink.url + "/messages"},
                    {"match": "security.*", "to": sink.url + "/sec"},
                ],
            }
        )
        async with aiohttp.ClientSession() as s:
            for t in ("message.created", "security.alert", "room.created"):
                await s.post(f"{service.url}/hooks/katya", json={**ENVELOPE, "id": f"evt_{t}", "type": t})
            await s.post(f"{service.url}/hooks/katya", data=b"not an event")
        await wait_for(lambda: len(sink.requests) == 4)
    assert sorted(r["path"] for r in sink.requests) == ["/messages", "/other", "/other", "/sec"]


async def test_forward_failure_is_classified(service):
    service.receiver.endpoints.put({"name": "down", "forward_to": "http://127.0.0.1:9/"})
    sub = service.bus.subscribe(accept=lambda f: isinstance(f, CaptureForwarded))
    async with aiohttp.ClientSession() as s:
        assert (await s.post(f"{service.url}/hooks/down", data=b"x")).status == 200
    facts: list = []
    await wait_for(lambda: facts.extend(sub.drain()) or facts)
    assert facts[0].forward["error_class"] == "refused" and facts[0].forward["status"] is None
    [row] = await captures(service)
    assert row["forward"]["error_class"] == "refused"


async def replay(service, cid, **payload):
    async with aiohttp.ClientSession(headers=AUTH) as s:
        r = await s.post(f"{service.url}/v1/captures/{cid}/replay", json=payload)
        return r.status, await r.json()


async def test_replay_verbatim_resigned_and_edited(service):
    service.receiver.endpoints.put(
        {"name": "stripe", "secrets": ["sk_test_secret"], "scheme": "stripe", "tolerance_s": 300}
    )
    body = json.dumps(ENVELOPE).encode()
    old = sign("stripe", body, "sk_test_secret", timestamp=1_600_000_000)  # long past: stale on arrival
    async with aiohttp.ClientSession() as s:
        await s.post(f"{service.url}/hooks/stripe", data=old.body, headers=old.headers)
    [orig] = await captures(service)
    assert orig["verdict"]["status"] == "stale"
    async with Sink() as sink:
        status, out = await replay(service, orig["id"], to=sink.url + "/in")
        assert status == 201
        verbatim = out["data"]
        assert verbatim["replayOf"] == orig["id"] and verbatim["forward"]["status"] == 200
        assert verbatim["verdict"]["status"] == "stale"  # a verbatim replay fails any timestamp window
        status, out = await replay(service, orig["id"], to=sink.url + "/in", resign=True)
        resigned = out["data"]
        assert resigned["verdict"]["status"] == "valid", resigned["verdict"]
        status, out = await replay(
            service,
            orig["id"],
            to=sink.url + "/in",
            resign=True,
            body={"edited": True},
            headers=[["X-Edited", "yes"], ["Stripe-Signature", "x"]],
        )
        edited = out["data"]
    v, r, e = sink.requests
    assert v["body"] == body and header(v["headers"], "Stripe-Signature") == header(
        old.headers, "Stripe-Signature"
    )
    assert r["body"] == body and header(r["headers"], "Stripe-Signature") != header(
        old.headers, "Stripe-Signature"
    )
    assert e["body"] == b'{"edited":true}' and header(e["headers"], "X-Edited") == ["yes"]
    assert len(header(e["headers"], "Stripe-Signature")) == 1 and edited["verdict"]["status"] == "valid"
    assert (await capture(service, edited["id"]))["body"] == '{"edited":true}'
    assert len(await captures(service)) == 4


async def test_replay_goes_to_the_forward_target_by_default(service):
    async with Sink(status=500) as sink:
        service.receiver.endpoints.put({"name": "p", "forward_to": sink.url + "/hook"})
        async with aiohttp.ClientSession() as s:
            await s.post(f"{service.url}/hooks/p", data=b"payload")
        await wait_for(lambda: len(sink.requests) == 1)
        [orig] = await captures(service)
        cap = await service.receiver.replay(orig["id"])
        assert cap.forward["status"] == 500 and cap.replay_of == orig["id"]
    assert [r["body"] for r in sink.requests] == [b"payload", b"payload"]


async def test_replay_errors_are_clear(service):
    async with aiohttp.ClientSession() as s:
        await s.post(f"{service.url}/hooks/nowhere", data=b"x")
    [orig] = await captures(service)
    status, out = await replay(service, orig["id"])
    assert status == 422 and "to" in out["error"]["fields"]
    status, out = await replay(service, orig["id"], to="http://127.0.0.1:9/", resign=True)
    assert status == 422 and "no secret" in out["error"]["fields"]["resign"][0]
    status, out = await replay(service, orig["id"], to="file:///etc/passwd")
    assert status == 422 and "to" in out["error"]["fields"]
    status, out = await replay(service, "cap_nope", to="http://127.0.0.1:9/")
    assert status == 404
    status, out = await replay(service, orig["id"], to="http://127.0.0.1:9/", colour="red")
    assert status == 422 and "colour" in out["error"]["fields"]
