"""The upstream follower against a second katya-tui instance and against small fake upstreams."""

from __future__ import annotations

import json
import socket
from types import SimpleNamespace

import pytest
from websockets.asyncio.server import serve
from ws_support import TOKEN, authed, make_settings, recv_until, running, subscribe, wait_for

from katya_tui.core.facts import UpstreamMessageSkipped, UpstreamStateChanged
from katya_tui.core.ws.client import SEED_002_CHANNELS, Upstream

FAST = {"upstream_retry_initial": 0.05, "upstream_retry_max": 0.2}


def follower(tmp_path, url: str, token: str | None = TOKEN, **kw):
    return make_settings(tmp_path / "a", upstream=url, upstream_token=token, **FAST, **kw)


async def subscribed(upstream_service) -> None:
    """Wait until the follower's subscriptions have reached the upstream."""
    await wait_for(lambda: any(len(c.subs) for c in upstream_service.feed.clients))


def stored(service, event_id: str) -> dict | None:
    found = service.store.table("events").search(lambda d: d.get("id") == event_id)
    return found[0] if found else None


async def test_follows_a_second_instance_into_its_own_feed_and_store(tmp_path):
    async with running(make_settings(tmp_path / "b")) as b, running(follower(tmp_path, b.ws_url)) as a:
        await subscribed(b)
        assert a.upstream.state == "connected"
        (client,) = b.feed.clients
        assert client.subs.channels == set(SEED_002_CHANNELS)  # every seed 002 channel, not b's `webhooks`
        async with authed(a) as ws:
            await subscribe(ws, channels=["messages"])
            b.publish_event("message.created", {"text": "hi"}, source="test", event_id="evt_from_b")
            msg = await recv_until(ws, lambda m: m["type"] == "event")
        assert (msg["id"], msg["event"], msg["data"]) == ("evt_from_b", "message.created", {"text": "hi"})
        doc = stored(a, "evt_from_b")
        assert doc["source"] == "ws" and doc["type"] == "message.created"
        assert a.upstream.relayed == 1


async def test_configured_events_are_subscribed_too(tmp_path):
    async with (
        running(make_settings(tmp_path / "b")) as b,
        running(follower(tmp_path, b.ws_url, upstream_channels=["rooms"], upstream_events=["job.*"])) as a,
    ):
        await wait_for(lambda: any(c.subs.events for c in b.feed.clients))
        for t in ("message.created", "job.failed", "room.created"):
            b.publish_event(t, {}, source="test", event_id=f"evt_{t}")
        await wait_for(lambda: a.upstream.relayed == 2)
        assert stored(a, "evt_job.failed") and stored(a, "evt_room.created")
        assert stored(a, "evt_message.created") is None


async def test_reconnects_and_resubscribes_after_the_upstream_restarts(tmp_path):
    b_settings = make_settings(tmp_path / "b")
    async with running(b_settings) as b:
        port = b.port
        async with running(follower(tmp_path, b.ws_url)) as a:
            states = a.bus.subscribe(accept=lambda f: isinstance(f, UpstreamStateChanged))
            await subscribed(b)
            await b.stop()
            await wait_for(lambda: a.upstream.state.startswith("retrying in"))
            assert "closed" in a.upstream.detail or "refused" in a.upstream.detail
            async with running(make_settings(tmp_path / "b", port=port)) as b2:
                await subscribed(b2)
                b2.publish_event("security.alert.created", {"n": 2}, source="test", event_id="evt_after")
                await wait_for(lambda: stored(a, "evt_after") is not None)
                assert a.upstream.connects == 2
            seen = [f.state for f in states.drain()]
            assert "connected" in seen and any(s.startswith("retrying in") for s in seen)
            assert seen.index("connected") < next(i for i, s in enumerate(seen) if s.startswith("retrying"))
            assert seen.count("connected") == 2


async def test_a_wrong_token_stops_retrying_and_says_so(tmp_path):
    async with (
        running(make_settings(tmp_path / "b")) as b,
        running(follower(tmp_path, b.ws_url, token="wrong-token-42")) as a,
    ):
        await wait_for(lambda: a.upstream.state.startswith("failed"))
        assert "the upstream token is wrong" in a.upstream.state and "4001" in a.upstream.state
        await wait_for(lambda: a.upstream._task.done())
        assert a.upstream.connects == 1


async def test_http_401_at_the_handshake_also_means_a_wrong_token(tmp_path):
    def refuse(connection, request):
        return connection.respond(401, "no\n")

    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/ws"
        async with running(follower(tmp_path, url)) as a:
            await wait_for(lambda: a.upstream.state.startswith("failed"))
            assert a.upstream.state == "failed: the upstream token is wrong (HTTP 401)"


async def test_refused_connection_is_retried_with_the_reason(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once it is closed
    async with running(follower(tmp_path, f"ws://127.0.0.1:{port}/v1/ws")) as a:
        states = a.bus.subscribe(accept=lambda f: isinstance(f, UpstreamStateChanged))
        await wait_for(lambda: sum(f.state.startswith("retrying") for f in states._queue) >= 3)
        assert a.upstream.detail == "connection refused"
        assert a.upstream.connects == 0


async def test_a_refused_subscription_is_reported_and_the_rest_goes_on(tmp_path):
    async with (
        running(make_settings(tmp_path / "b")) as b,
        running(follower(tmp_path, b.ws_url, upstream_channels=["alerts"], upstream_events=["room.*"])) as a,
    ):
        await wait_for(lambda: "4005" in a.upstream.detail)
        assert a.upstream.state == "connected" and "alerts" in a.upstream.detail
        await wait_for(lambda: any(c.subs.events for c in b.feed.clients))
        b.publish_event("room.created", {}, source="test", event_id="evt_room")
        await wait_for(lambda: stored(a, "evt_room") is not None)


async def test_fake_upstream_pings_garbage_seed_001_and_duplicates(tmp_path):
    got: list[dict] = []

    async def upstream(ws):
        got.append(json.loads(await ws.recv()))  # the subscribe message
        await ws.send('{"type":"ping"}')
        got.append(json.loads(await ws.recv()))  # the pong
        for raw in (
            "not json",
            "[1]",
            '{"type":"event","data":{}}',
            '{"type":"event","event":"x.y","id":7}',
            '{"type":"weird"}',
            '{"type":"user.created","payload":{"user_id":1},"timestamp":"2024-01-15T10:30:00"}',
            '{"type":"event","id":"evt_1","event":"message.created","channel":"messages","data":{"a":1}}',
            '{"type":"event","id":"evt_1","event":"message.created","channel":"messages","data":{"a":1}}',
            '{"type":"response","data":{"status":"ok"}}',
        ):
            await ws.send(raw)
        await ws.wait_closed()

    async with serve(upstream, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/ws"
        async with running(follower(tmp_path, url)) as a:
            skipped = a.bus.subscribe(accept=lambda f: isinstance(f, UpstreamMessageSkipped))
            await wait_for(lambda: a.upstream.relayed == 2 and a.upstream.duplicates == 1)
            assert got == [{"type": "subscribe", "channels": list(SEED_002_CHANNELS)}, {"type": "pong"}]
            assert a.upstream.malformed == 5
            reasons = [f.reason for f in skipped.drain()]
            assert reasons == [
                "not JSON",
                "a JSON list, not an object",
                "event message without an 'event' name",
                "event id must be a non-empty string, got 7",
                "unknown message type 'weird'",
            ]
            assert stored(a, "evt_1")["data"] == {"a": 1}
            user = a.store.table("events").search(lambda d: d["type"] == "user.created")
            assert len(user) == 1 and user[0]["data"] == {"user_id": 1} and user[0]["source"] == "ws"
            assert a.upstream.state == "connected"


async def test_a_failure_of_ours_is_reported_and_retried(tmp_path, monkeypatch):
    async with running(make_settings(tmp_path / "b")) as b, running(follower(tmp_path, b.ws_url)) as a:
        await subscribed(b)
        (first,) = b.feed.clients
        real, calls = a.publish_event, []

        def flaky(*args, **kw):
            calls.append(args)
            if len(calls) == 1:
                raise RuntimeError("boom")
            return real(*args, **kw)

        monkeypatch.setattr(a, "publish_event", flaky)
        states = a.bus.subscribe(accept=lambda f: isinstance(f, UpstreamStateChanged))
        b.publish_event("message.created", {}, source="test", event_id="evt_lost")
        await wait_for(lambda: a.upstream.connects == 2 and a.upstream.state == "connected")
        assert any(f.detail == "internal error: RuntimeError: boom" for f in states.drain())
        await wait_for(lambda: any(c is not first and len(c.subs) for c in b.feed.clients))
        b.publish_event("message.created", {}, source="test", event_id="evt_next")
        await wait_for(lambda: stored(a, "evt_next") is not None)


async def test_stop_ends_the_follower_while_it_is_connected(tmp_path):
    async with running(make_settings(tmp_path / "b")) as b:
        a_settings = follower(tmp_path, b.ws_url)
        async with running(a_settings) as a:
            await subscribed(b)
        assert a.upstream.state == "stopped"
        await wait_for(lambda: b.feed.client_count == 0)


def test_backoff_doubles_from_the_initial_delay_up_to_the_cap_with_jitter():
    settings = SimpleNamespace(
        upstream="ws://x",
        upstream_token=None,
        upstream_channels=(),
        upstream_events=(),
        upstream_retry_initial=1.0,
        upstream_retry_max=30.0,
    )
    up = Upstream(SimpleNamespace(settings=settings))
    for n, full in ((1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (60, 30.0)):
        delays = [up.backoff(n) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 10  # jittered, not fixed


@pytest.mark.parametrize("bad", ["http://example.com/ws", "example.com"])
def test_upstream_must_be_a_ws_url(tmp_path, bad):
    from katya_tui.config import ConfigError

    with pytest.raises(ConfigError, match="ws:// or wss://"):
        make_settings(tmp_path, upstream=bad)


@pytest.mark.parametrize("key", ["upstream_retry_initial", "upstream_retry_max"])
def test_retry_settings_must_be_positive_seconds(tmp_path, key):
    from katya_tui.config import ConfigError

    with pytest.raises(ConfigError, match=key):
        make_settings(tmp_path, **{key: 0})
    with pytest.raises(ConfigError, match=f"{key}: expected a number"):
        make_settings(tmp_path, **{key: "soon"})
