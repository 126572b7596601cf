"""Answers and chaos per endpoint: status sequences, delays, held and dropped connections, Retry-After, rate limits,
seed 004's validation; every request is still captured."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from receiver_support import captures


async def post(svc, name: str, **kw) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as s:
        r = await s.post(f"{svc.url}/hooks/{name}", **kw)
        await r.read()
        return r


async def test_status_sequence_then_repeat_the_last(service):
    service.receiver.endpoints.put({"name": "flaky", "response": {"sequence": [500, 500, 200]}})
    statuses = [(await post(service, "flaky", data=b"x")).status for _ in range(5)]
    assert statuses == [500, 500, 200, 200, 200]
    rows = await captures(service)
    assert [r["response"]["status"] for r in reversed(rows)] == statuses
    assert rows[0]["response"]["reason"] == "sequence step 3 of 3 (repeating the last)"
    service.receiver.endpoints.put(
        {"name": "flaky", "response": {"sequence": [503, 201]}}
    )  # a new config restarts
    assert [(await post(service, "flaky")).status for _ in range(2)] == [503, 201]


async def test_custom_status_body_headers_and_retry_after(service):
    service.receiver.endpoints.put(
        {
            "name": "busy",
            "response": {
                "status": 503,
                "body": {"error": "maintenance"},
                "headers": {"X-Mode": "chaos"},
                "retry_after": 7,
            },
        }
    )
    r = await post(service, "busy", json={"a": 1})
    assert r.status == 503 and r.headers["Retry-After"] == "7" and r.headers["X-Mode"] == "chaos"
    assert await r.json() == {"error": "maintenance"}
    service.receiver.endpoints.put({"name": "text", "response": {"status": 202, "body": "accepted, thanks"}})
    r = await post(service, "text", data=b"x")
    assert r.status == 202 and await r.text() == "accepted, thanks" and "Retry-After" not in r.headers


async def test_delay_is_applied_and_recorded(service):
    service.receiver.endpoints.put({"name": "slow", "response": {"delay_ms": 150}})
    assert (await post(service, "slow", data=b"x")).status == 200
    [row] = await captures(service)
    assert row["response"]["delay_ms"] == 150 and row["response"]["latency_ms"] >= 150


async def test_timeout_holds_past_the_senders_limit(service):
    service.receiver.endpoints.put({"name": "hang", "response": {"mode": "timeout", "hold_s": 30}})
    with pytest.raises(asyncio.TimeoutError):
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as s:
            await s.post(f"{service.url}/hooks/hang", data=b"x")
    [row] = await captures(service)
    assert row["response"]["action"] == "timeout"
    # the event of such a request is not published: the sender saw no success
    assert len(service.store.table("events")) == 0


async def test_drop_closes_the_connection_without_an_answer(service):
    service.receiver.endpoints.put({"name": "cut", "response": {"sequence": ["drop", 200]}})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(service, "cut", data=b"x")
    assert (await post(service, "cut", data=b"x")).status == 200
    rows = await captures(service)
    assert [r["response"]["action"] for r in rows] == ["answer", "drop"]


async def test_rate_limit_answers_429_with_retry_after(service):
    service.receiver.endpoints.put({"name": "limited", "rate_limit": {"requests": 2, "window_s": 60}})
    rs = [await post(service, "limited", data=b"x") for _ in range(3)]
    assert [r.status for r in rs] == [200, 200, 429]
    assert 1 <= int(rs[2].headers["Retry-After"]) <= 60
    assert len(await captures(service, endpoint="limited")) == 3


async def test_wazzup_validation_answers_seed_004s_errors(service):
    service.receiver.endpoints.put({"name": "wazzup24", "validate": "wazzup"})
    r = await post(service, "wazzup24", json={"data": "nope"})
    assert r.status == 400
    assert await r.json() == {
        "status": "error",
        "message": "Invalid webhook data",
        "errors": {"event": ["Event field is required"], "data": ["Data must be an object"]},
    }
    r = await post(service, "wazzup24", json={"event": "typing", "data": {}})
    assert (await r.json())["errors"] == {"event": ["Event must be one of: message, status, contact"]}
    r = await post(service, "wazzup24", data=b"{oops")
    assert r.status == 400 and "body" in (await r.json())["errors"]
    r = await post(service, "wazzup24", json={"event": "message", "data": {"id": "m1"}})
    assert r.status == 200
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"{service.url}/hooks/wazzup24")
        assert await r.json() == {"status": "ok", "message": "Webhook endpoint is available"}
    assert len(await captures(service)) == 5
    [event] = service.store.all("events")
    assert event["type"] == "wazzup.message"
