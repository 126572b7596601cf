"""The `/v1/ws` feed with real `websockets` clients: auth, subscriptions, errors, pings, fan-out, shutdown."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest
import websockets
from websockets.exceptions import ConnectionClosed
from ws_support import (
    TOKEN,
    WAIT,
    authed,
    make_settings,
    recv,
    recv_until,
    running,
    send,
    subscribe,
    wait_for,
    ws_url,
)

from katya_tui.core.catalog import CHANNELS

# -- authentication --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, headers",
    [("", {"Authorization": f"Bearer {TOKEN}"}), (f"token={TOKEN}", None), (f"api_key={TOKEN}", None)],
    ids=["bearer", "token", "api_key"],
)
async def test_token_in_header_or_query_connects(service, query, headers):
    async with websockets.connect(ws_url(service, query=query), additional_headers=headers) as ws:
        msg = await recv(ws)
        assert msg["type"] == "connection" and msg["status"] == "connected"
        assert msg["message"]
        assert service.feed.client_count == 1


async def test_auth_message_connects(service):
    async with websockets.connect(ws_url(service)) as ws:
        await send(ws, {"type": "auth", "token": TOKEN})
        msg = await recv(ws)
        assert msg["type"] == "connection" and msg["status"] == "connected"
        assert (await subscribe(ws, channels=["messages"]))["type"] == "response"


@pytest.mark.parametrize(
    "query, headers, first",
    [
        ("", {"Authorization": "Bearer wrong-token"}, None),
        ("token=wrong-token", None, None),
        ("api_key=wrong-token", None, None),
        ("", None, {"type": "auth", "token": "wrong-token"}),
        ("", None, {"type": "auth"}),
        ("", None, {"type": "subscribe", "channels": ["messages"]}),
        ("", None, "not json"),
    ],
    ids=[
        "bearer",
        "token",
        "api_key",
        "auth-message",
        "auth-without-token",
        "subscribe-first",
        "garbage-first",
    ],
)
async def test_bad_or_missing_token_gets_4001_and_close(service, query, headers, first):
    async with websockets.connect(ws_url(service, query=query), additional_headers=headers) as ws:
        if first is not None:
            await send(ws, first)
        msg = await recv(ws)
        assert msg["type"] == "error" and msg["data"]["code"] == "4001"
        assert "authentication failed" in msg["data"]["message"]
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
        assert info.value.rcvd.code == 4001
    assert service.feed.client_count == 0


async def test_silence_without_token_gets_4001_after_the_auth_window(service):
    service.feed.auth_timeout = 0.2
    async with websockets.connect(ws_url(service)) as ws:
        msg = await recv(ws)
        assert msg["data"]["code"] == "4001" and "no token" in msg["data"]["message"]
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
        assert info.value.rcvd.code == 4001


async def test_foreign_origin_is_refused_before_the_handshake(service):
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(ws_url(service, query=f"token={TOKEN}"), origin="http://evil.example"):
            pass
    assert info.value.response.status_code == 403


# -- subscriptions ----------------------------------------------------------------------------------------------


async def test_subscribe_and_unsubscribe_by_channel(service):
    async with authed(service) as ws:
        resp = await subscribe(ws, channels=["messages", "security"], id="req-1")
        assert resp["type"] == "response" and resp["requestId"] == "req-1"
        assert resp["data"] == {
            "action": "subscribe",
            "status": "ok",
            "channels": ["messages", "security"],
            "events": [],
        }
        service.publish_event("room.created", {"n": 1}, source="test")
        service.publish_event("message.created", {"n": 2}, source="test", event_id="evt_m1")
        msg = await recv_until(ws, lambda m: m["type"] == "event")
        assert {k: msg[k] for k in ("id", "event", "channel", "data")} == {
            "id": "evt_m1",
            "event": "message.created",
            "channel": "messages",
            "data": {"n": 2},
        }
        assert msg["timestamp"].endswith("Z")

        await send(ws, {"type": "unsubscribe", "channels": ["messages"]})
        resp = await recv_until(ws, lambda m: m["type"] == "response")
        assert resp["data"]["channels"] == ["security"]
        service.publish_event("message.created", {"n": 3}, source="test")
        service.publish_event("security.alert.created", {"n": 4}, source="test")
        msg = await recv_until(ws, lambda m: m["type"] == "event")
        assert msg["event"] == "security.alert.created"


async def test_subscribe_by_exact_event_and_group(service):
    async with authed(service) as ws:
        resp = await subscribe(ws, events=["trust.identity.created", "job.*"])
        assert resp["data"]["events"] == ["job.*", "trust.identity.created"]
        for t in (
            "trust.identity.updated",
            "trust.identity.created",
            "message.created",
            "job.failed",
            "job.completed",
        ):
            service.publish_event(t, {}, source="test")
        got = [(await recv_until(ws, lambda m: m["type"] == "event"))["event"] for _ in range(3)]
        assert got == ["trust.identity.created", "job.failed", "job.completed"]

        await send(ws, {"type": "unsubscribe", "events": ["job.*"]})
        assert (await recv_until(ws, lambda m: m["type"] == "response"))["data"]["events"] == [
            "trust.identity.created"
        ]
        service.publish_event("job.failed", {}, source="test")
        service.publish_event("trust.identity.created", {}, source="test")
        assert (await recv_until(ws, lambda m: m["type"] == "event"))["event"] == "trust.identity.created"


async def test_unknown_channel_is_4005_naming_the_channels_and_changes_nothing(service):
    async with authed(service) as ws:
        # seed 002's own example subscribes to `alerts` and `metrics`, which do not exist
        err = await subscribe(ws, channels=["messages", "alerts", "metrics"])
        assert err["type"] == "error" and err["data"]["code"] == "4005"
        assert "alerts, metrics" in err["data"]["message"]
        for channel in CHANNELS:
            assert channel in err["data"]["message"]
        resp = await subscribe(ws, events=["message.created"])
        assert resp["data"]["channels"] == []  # `messages` was not half-subscribed


@pytest.mark.parametrize(
    "raw, words",
    [
        ("this is not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"data": 1}', "no 'type'"),
        ('{"type": "dance"}', "unknown type 'dance'"),
        ('{"type": "subscribe"}', "needs 'channels' and/or 'events'"),
        ('{"type": "subscribe", "channels": [1]}', "list of non-empty strings"),
        ('{"type": "subscribe", "events": ["mesage.created"]}', "did you mean 'message.created'"),
        ('{"type": "subscribe", "events": ["message"]}', "'message.*'"),
    ],
)
async def test_bad_message_is_4003_and_the_connection_stays_open(service, raw, words):
    async with authed(service) as ws:
        await send(ws, raw)
        err = await recv(ws)
        assert err["type"] == "error" and err["data"]["code"] == "4003"
        assert words in err["data"]["message"]
        await send(ws, {"type": "ping"})
        assert (await recv(ws))["type"] == "pong"


async def test_binary_frame_is_4003(service):
    async with authed(service) as ws:
        await ws.send(b"\x00\x01")
        assert (await recv(ws))["data"]["code"] == "4003"


async def test_more_subscriptions_than_the_limit_is_4004(data_dir):
    async with running(make_settings(data_dir, ws_max_subscriptions=3)) as svc, authed(svc) as ws:
        assert (await subscribe(ws, channels=["messages", "rooms"]))["type"] == "response"
        err = await subscribe(ws, channels=["trust"], events=["job.failed"])
        assert err["type"] == "error" and err["data"]["code"] == "4004"
        assert "limit" in err["data"]["message"] and err["data"]["limit"] == 3
        resp = await subscribe(ws, channels=["messages", "trust"])  # `messages` again costs nothing
        assert resp["data"]["channels"] == ["messages", "rooms", "trust"]


# -- pings ------------------------------------------------------------------------------------------------------


async def test_client_ping_gets_pong(service):
    async with authed(service) as ws:
        await send(ws, {"type": "ping", "id": "p-7"})
        pong = await recv(ws)
        assert pong["type"] == "pong" and pong["requestId"] == "p-7"


async def test_server_pings_and_answering_keeps_the_client(data_dir):
    async with running(make_settings(data_dir, ws_ping_interval=0.05)) as svc, authed(svc) as ws:
        for _ in range(6):
            ping = await recv_until(ws, lambda m: m["type"] == "ping")
            assert ping["id"] and ping["timestamp"]
            await send(ws, {"type": "pong"})
        assert svc.feed.client_count == 1 and svc.feed.dropped_silent == 0


async def silent_client(svc, *, protocol_pongs: bool):
    """An aiohttp client that never answers seed 002's JSON pings; it answers protocol pings only if asked to
    (as a browser's WebSocket, wscat or websocat do)."""
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(
        ws_url(svc), headers={"Authorization": f"Bearer {TOKEN}"}, autoping=protocol_pongs
    )
    return http, ws


async def test_client_that_answers_neither_ping_is_closed_after_two(data_dir):
    async with running(make_settings(data_dir, ws_ping_interval=0.05)) as svc:
        http, ws = await silent_client(svc, protocol_pongs=False)
        try:
            pings, frames = 0, 0
            async with asyncio.timeout(WAIT):
                while True:
                    msg = await ws.receive()
                    if msg.type == aiohttp.WSMsgType.PING:
                        frames += 1
                    elif msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "ping":
                        pings += 1
                    elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        break
            assert ws.close_code == 1011 and pings == 2 and frames >= 1
            assert svc.feed.dropped_silent == 1
        finally:
            await ws.close()
            await http.close()


async def test_a_generic_client_that_answers_protocol_pings_only_is_kept(data_dir):
    async with running(make_settings(data_dir, ws_ping_interval=0.05)) as svc:
        http, ws = await silent_client(svc, protocol_pongs=True)
        try:
            pings = 0
            async with asyncio.timeout(WAIT):
                while pings < 6:  # three times the two a silent client is given
                    msg = await ws.receive()
                    assert msg.type == aiohttp.WSMsgType.TEXT, msg
                    pings += json.loads(msg.data)["type"] == "ping"
            assert not ws.closed and svc.feed.client_count == 1 and svc.feed.dropped_silent == 0
        finally:
            await ws.close()
            await http.close()


# -- fan-out ----------------------------------------------------------------------------------------------------


async def _three_clients(service):
    """Clients subscribed to: the messages channel; security.*; nothing but the closing marker."""
    a = await websockets.connect(ws_url(service, query=f"token={TOKEN}"))
    b = await websockets.connect(ws_url(service, query=f"token={TOKEN}"))
    c = await websockets.connect(ws_url(service, query=f"token={TOKEN}"))
    for ws, what in ((a, {"channels": ["messages"]}), (b, {"events": ["security.*"]}), (c, {})):
        await recv(ws)
        what = {**what, "events": what.get("events", []) + ["system.status.changed"]}
        assert (await subscribe(ws, **what))["type"] == "response"
    return a, b, c


async def _until_marker(ws) -> list[str]:
    got = []
    while True:
        msg = await recv_until(ws, lambda m: m["type"] == "event")
        if msg["event"] == "system.status.changed":
            return got
        got.append(msg["event"])


async def test_events_reach_exactly_the_subscribed_clients(service):
    a, b, c = await _three_clients(service)
    for t in (
        "message.created",
        "security.alert.created",
        "room.created",
        "message.deleted",
        "security.scan.started",
    ):
        service.publish_event(t, {}, source="test")
    service.publish_event("system.status.changed", {}, source="test")
    assert await _until_marker(a) == ["message.created", "message.deleted"]
    assert await _until_marker(b) == ["security.alert.created", "security.scan.started"]
    assert await _until_marker(c) == []
    for ws in (a, b, c):
        await ws.close()


async def test_events_posted_to_the_api_reach_exactly_the_subscribed_clients(service):
    a, b, c = await _three_clients(service)
    events = [
        {"type": t, "data": {"i": i}}
        for i, t in enumerate(
            ("message.created", "room.created", "security.alert.updated", "system.status.changed")
        )
    ]
    async with aiohttp.ClientSession() as http:
        for event in events:
            async with http.post(
                f"{service.url}/v1/events", json=event, headers={"Authorization": f"Bearer {TOKEN}"}
            ) as resp:
                assert resp.status in (200, 201, 202), await resp.text()
    assert await _until_marker(a) == ["message.created"]
    assert await _until_marker(b) == ["security.alert.updated"]
    assert await _until_marker(c) == []
    for ws in (a, b, c):
        await ws.close()


async def test_events_of_every_frame_length_arrive_intact(service):
    # frames of 16-bit and 64-bit length forms, across the 65,536-byte boundary (pongs use the 7-bit form)
    sizes = [0, 1, 60, 125, 126, 127, 65_000, 65_300, 65_535, 65_536, 200_000]
    async with authed(service, max_size=None) as ws:
        await subscribe(ws, channels=["messages"])
        for n in sizes:
            service.publish_event("message.created", {"text": "é" * (n // 2) + "x" * (n % 2)}, source="test")
        got = [
            len((await recv_until(ws, lambda m: m["type"] == "event"))["data"]["text"].encode())
            for _ in sizes
        ]
    assert got == sizes


async def test_webhooks_channel_carries_captures_with_their_verdict(service):
    async with authed(service) as ws:
        await subscribe(ws, channels=["webhooks"])
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{service.url}/hooks/shop", data=b"{}") as resp,
        ):
            assert resp.status == 200
        msg = await recv_until(ws, lambda m: m["type"] == "event")
        assert msg["event"] == "capture.recorded" and msg["channel"] == "webhooks"
        assert msg["data"]["endpoint"] == "shop" and msg["data"]["verdict"]["status"] == "unsigned"
        assert "body" not in msg["data"]


async def test_webhooks_channel_carries_delivery_outcomes(service):
    hook = service.dispatcher.create_webhook(
        {
            "name": "self",
            "url": f"{service.url}/hooks/sink",
            "events": ["message.*"],
            "secret": "s3cret-value",
        }
    )
    async with authed(service) as ws:
        await subscribe(ws, events=["delivery.*"])
        service.publish_event("message.created", {"n": 1}, source="test", event_id="evt_out")
        msg = await recv_until(ws, lambda m: m["type"] == "event" and m["data"]["state"] == "delivered")
        assert msg["event"] == "delivery.updated" and msg["channel"] == "webhooks"
        d = msg["data"]
        assert (d["webhook_id"], d["event_id"], d["attemptCount"]) == (hook["id"], "evt_out", 1)
        assert d["lastAttempt"]["status_code"] == 200 and "response_body" not in d["lastAttempt"]


async def test_a_stalled_client_is_dropped_while_others_keep_receiving(service):
    service.feed.queue_limit = 20
    blob = "x" * 32_000
    stalled_sock = socket.socket()
    stalled_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the stall shows soon
    stalled_sock.connect(("127.0.0.1", service.port))
    async with (
        authed(service, max_queue=1, sock=stalled_sock) as stalled,
        authed(service, max_size=None) as reader,
    ):
        await subscribe(stalled, channels=["messages"])
        await subscribe(reader, channels=["messages"])
        published = received = 0

        async def read_all() -> None:
            nonlocal received
            while True:
                if (await recv(reader))["type"] == "event":
                    received += 1

        task = asyncio.create_task(read_all())
        # publish until the stalled client is dropped (it never reads), then ten more
        while service.feed.dropped_slow == 0 and published < 3000:
            service.publish_event("message.created", {"i": published, "blob": blob}, source="test")
            published += 1
            if published % 10 == 0:  # the healthy reader keeps pace
                await wait_for(lambda p=published: received > p - 10)
        assert service.feed.dropped_slow == 1
        for _ in range(10):
            service.publish_event("message.created", {"i": published}, source="test")
            published += 1
        await wait_for(lambda: received == published)
        task.cancel()
        assert service.feed.client_count == 1
        # the stalled client, once it reads, finds what was sent before it was dropped, and then the end
        seen = []
        with pytest.raises(ConnectionClosed) as info:
            while True:
                seen.append(json.loads(await asyncio.wait_for(stalled.recv(), 10))["type"])
        assert 0 < seen.count("event") < published
        if info.value.rcvd is not None:  # it read in time to get the reason (else the connection was cut)
            assert info.value.rcvd.code == 4008 and seen[-1] == "error"


# -- /ws (seed 001) ---------------------------------------------------------------------------------------------


async def test_ws_alias_speaks_seed_001(service):
    async with websockets.connect(ws_url(service, "/ws", f"api_key={TOKEN}")) as ws:
        assert await recv(ws) == {
            "type": "connection",
            "status": "connected",
            "message": "WebSocket connection established",
        }
        service.publish_event("user.created", {"user_id": 123}, source="test", event_id="evt_u1")
        msg = await recv(ws)
        assert msg["type"] == "user.created" and msg["payload"] == {"user_id": 123} and msg["id"] == "evt_u1"
        assert msg["timestamp"]
        await send(ws, {"type": "ping"})
        assert (await recv(ws))["type"] == "pong"


async def test_ws_alias_refuses_a_wrong_token(service):
    async with websockets.connect(ws_url(service, "/ws", "token=nope-nope")) as ws:
        assert (await recv(ws))["data"]["code"] == "4001"
        with pytest.raises(ConnectionClosed):
            await recv(ws)


# -- shutdown ---------------------------------------------------------------------------------------------------


async def test_stop_closes_every_socket(data_dir):
    svc = make_settings(data_dir)
    async with running(svc) as service:
        clients = [await websockets.connect(ws_url(service, query=f"token={TOKEN}")) for _ in range(3)]
        clients.append(await websockets.connect(ws_url(service)))  # not yet authenticated
        for ws in clients[:3]:
            await recv(ws)
        await service.stop()
        assert service.feed.client_count == 0
        for ws in clients:
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await recv(ws)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001


async def test_an_internal_failure_is_5001_and_the_connection_stays_open(service, monkeypatch):
    from katya_tui.core.ws import protocol

    def boom(msg):
        raise RuntimeError("bug")

    monkeypatch.setattr(protocol, "subscription_request", boom)
    async with authed(service) as ws:
        err = await subscribe(ws, channels=["messages"])
        assert err["type"] == "error" and err["data"]["code"] == "5001"
        await send(ws, {"type": "ping"})
        assert (await recv(ws))["type"] == "pong"
