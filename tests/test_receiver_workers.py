"""Receiver workers: /hooks connections handed to worker processes behave as the in-process receiver does."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time

import aiohttp
import orjson
import pytest
from receiver_support import AUTH, captures, raw_request, running

from katya_tui.core.catalog import envelope
from katya_tui.core.receiver.capture import Body
from katya_tui.core.receiver.respond import Plan
from katya_tui.core.receiver.workers.router import hooks_bound
from katya_tui.core.receiver.workers.wire import (
    PLAN,
    TAKE,
    Frames,
    frame,
    plan_frame,
    read_plan,
    read_take,
    take_frame,
)
from katya_tui.core.signing import sign

SECRET = "worker-secret-1"


def signed(event_id: str, delivery: str = "dlv_1") -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(envelope("message.created", {"content": "hi"}, event_id=event_id))
    s = sign("katya", body, SECRET, msg_id=delivery)
    return body, {"Content-Type": "application/json", **dict(s.headers)}


async def put_endpoint(svc, name: str, cfg: dict) -> None:
    """Configure an endpoint (on a connection of its own: a connection that starts with the API stays here)."""
    async with (
        aiohttp.ClientSession() as http,
        http.put(f"{svc.url}/v1/endpoints/{name}", json=cfg, headers=AUTH) as r,
    ):
        assert r.status in (200, 201)
    await asyncio.sleep(0.2)  # the new config reaches the worker over its link


async def ready(svc) -> None:
    """Wait for the worker to say it is ready (until then the server takes /hooks in itself)."""
    deadline = time.monotonic() + 20
    while not all(w.ready for w in svc.receiver.workers.workers):
        assert time.monotonic() < deadline, "the receiver worker did not start"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("head", "bound"),
    [
        (b"POST /hooks/x HTTP/1.1\r\n", True),
        (b"GET /hooks/a/b?c", True),
        (b"POST /hooks/", True),
        (b"GET /v1/captures HTTP/1.1", False),
        (b"GET /hooks HTTP/1.1", False),
        (b"GET /ws HTTP/1.1", False),
        (b"POST", None),
        (b"POST /hoo", None),
        (b"", None),
        (b"X" * 20, False),
        (b"PROPPATCH /hooks", False),
        (b"MKCALENDAR /hook", False),  # a long method: all the peek shows
    ],
)
def test_connections_are_routed_by_their_first_request_line(head, bound):
    assert hooks_bound(head) is bound


def test_frames_cross_whole_however_the_stream_cuts_them():
    data = (
        frame(TAKE, {"a": [1, "é"]}, b"\x00\xffbody")
        + frame(PLAN, {"b": None})
        + frame(TAKE, {}, b"x" * 70_000)
    )
    frames = Frames()
    got = []
    for i in range(0, len(data), 997):
        got += frames.feed(data[i : i + 997])
    assert got == [
        (TAKE, {"a": [1, "é"]}, b"\x00\xffbody"),
        (PLAN, {"b": None}, b""),
        (TAKE, {}, b"x" * 70_000),
    ]


def test_a_plan_and_a_binary_request_survive_the_link():
    from katya_tui.core.models import Capture
    from katya_tui.core.receiver.intake import Intake

    plan = Plan(429, b"\x00slow down", {"Retry-After": "3"}, 0, "answer", 0.0, "rate limit")
    ((kind, h, raw),) = Frames().feed(plan_frame(7, plan))
    assert kind == PLAN and read_plan(h, raw) == (7, plan)
    cap = Capture(
        "cap_1",
        "e",
        "POST",
        "/hooks/e",
        "a=%20",
        [["X", "1"]],
        "",
        "utf8",
        3,
        "0" * 64,
        True,
        None,
        1.0,
        verdict={"status": "unsigned"},
    )
    took = Intake(
        cap, Body(b"\xff\x00\x01", 9, True, "incomplete", "cut"), None, time.perf_counter(), "origin-1"
    )
    ((kind, h, raw),) = Frames().feed(take_frame(3, took))
    n, back = read_take(h, raw)
    assert n == 3 and back.cap.body_encoding == "base64" and back.cap.body_bytes == b"\xff\x00\x01"
    assert (back.body, back.origin, back.cap.query, back.cap.verdict) == (
        took.body,
        "origin-1",
        "a=%20",
        cap.verdict,
    )


async def test_a_worker_takes_requests_in_and_the_server_records_them(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        worker_pid = svc.receiver.workers.workers[0].proc.pid
        await put_endpoint(svc, "shop", {"secrets": [SECRET], "scheme": "katya"})
        async with aiohttp.ClientSession() as http:
            body, headers = signed("evt_w1")
            async with http.post(f"{svc.url}/hooks/shop/sub?x=a%20b", data=body, headers=headers) as r:
                assert (r.status, await r.json()) == (200, {"status": "ok"})
            async with http.post(f"{svc.url}/hooks/shop", data=body, headers=headers) as r:  # the same again
                assert r.status == 200
            async with http.post(f"{svc.url}/hooks/other", data=b"\xff\x00not json") as r:
                assert r.status == 200
        rows = {(c["path"], c["verdict"]["status"]): c for c in await captures(svc, limit=50)}
        first = rows[("/hooks/shop/sub", "valid")]
        assert first["query"] == "x=a%20b" and first["eventId"] == "evt_w1"
        again = rows[("/hooks/shop", "duplicate")]
        assert again["duplicateOf"] == first["id"] and again["eventId"] is None
        assert "already seen" in again["verdict"]["reason"]
        assert rows[("/hooks/other", "unsigned")]["bodySize"] == 10
        assert svc.events.get("evt_w1")["capture_id"] == first["id"]
        assert svc.receiver.workers.workers[0].taken == 3  # every webhook went through the worker process
        assert os.getpid() != worker_pid and svc.receiver.workers.workers[0].proc.poll() is None


async def test_chaos_limits_and_a_mixed_keep_alive_connection_through_a_worker(settings):
    async with running(settings, workers=1, body_limit=2000) as svc:
        await ready(svc)
        await put_endpoint(svc, "flaky", {"response": {"sequence": [503, 200], "headers": {"X-Chaos": "on"}}})
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:  # one connection
            statuses = []
            for _ in range(3):
                async with http.post(f"{svc.url}/hooks/flaky", data=b"{}") as r:
                    statuses.append((r.status, r.headers.get("X-Chaos"), r.headers.get("Retry-After")))
            assert statuses == [(503, "on", "1"), (200, "on", None), (200, "on", None)]
            assert svc.receiver.workers.workers[0].taken == 3
            # the API on a connection that began with a webhook: relayed to the server
            async with http.get(f"{svc.url}/v1/captures", params={"endpoint": "flaky"}, headers=AUTH) as r:
                assert r.status == 200 and len((await r.json())["data"]) == 3
            async with http.get(f"{svc.url}/v1/captures") as r:
                assert r.status == 401
            async with http.post(f"{svc.url}/hooks/big", data=b"x" * 5000) as r:
                assert r.status == 413
            assert svc.receiver.workers.workers[0].taken == 4
        big = (await captures(svc, endpoint="big"))[0]
        assert big["truncated"] and big["bodySize"] >= 5000 and big["response"]["status"] == 413


async def test_a_dropped_connection_and_an_early_close_through_a_worker(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        await put_endpoint(svc, "gone", {"response": {"mode": "drop"}})
        answer = await raw_request(
            svc.port, b"POST /hooks/gone HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
        )
        assert answer == b""  # the connection was dropped, as configured
        cut = b"POST /hooks/cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly this"
        await raw_request(svc.port, cut, close_after=True)
        await asyncio.sleep(0.3)
        assert (await captures(svc, endpoint="gone"))[0]["response"]["action"] == "drop"
        cut_row = (await captures(svc, endpoint="cut"))[0]
        assert cut_row["truncated"] and cut_row["bodySize"] == 9


async def test_a_worker_that_dies_is_replaced_and_nothing_is_refused_meanwhile(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        dead = svc.receiver.workers.workers[0]
        os.kill(dead.proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while dead.ready:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http, http.post(f"{svc.url}/hooks/after", data=b"{}") as r:
            assert r.status == 200
        assert len(await captures(svc, endpoint="after")) == 1
        assert dead.taken == 0  # taken in by the server itself
        await ready(svc)  # a new worker, started a second later
        fresh = svc.receiver.workers.workers[0]
        assert fresh is not dead and fresh.proc.pid != dead.proc.pid and dead.proc.poll() is not None
        async with aiohttp.ClientSession() as http, http.post(f"{svc.url}/hooks/again", data=b"{}") as r:
            assert r.status == 200
        assert fresh.taken == 1


async def test_stopping_refuses_new_connections_and_ends_the_workers(settings):
    async with running(settings, workers=2) as svc:
        await ready(svc)
        procs = [w.proc for w in svc.receiver.workers.workers]
        port = svc.port
    for p in procs:
        assert p.poll() is not None
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.parametrize("workers", [0, 1])
async def test_every_address_the_host_resolves_to_is_listened_on_one_port(settings, monkeypatch, workers):
    # `localhost` may resolve to ::1 and 127.0.0.1: both are bound, as aiohttp's own site binds them
    real = socket.getaddrinfo

    def two(host, port, *args, **kwargs):
        if host == "two.test":
            return [info for ip in ("127.0.0.1", "127.0.0.2") for info in real(ip, port, *args, **kwargs)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two)
    async with running(settings, host="two.test", workers=workers) as svc:
        for ip in ("127.0.0.1", "127.0.0.2"):
            reader, writer = await asyncio.open_connection(ip, svc.port)
            writer.write(
                b"POST /hooks/both HTTP/1.1\r\nHost: two.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
            )
            async with asyncio.timeout(10):
                assert (await reader.read()).startswith(b"HTTP/1.1 200")
            writer.close()
        assert len([c for c in await captures(svc) if c["endpoint"] == "both"]) == 2
