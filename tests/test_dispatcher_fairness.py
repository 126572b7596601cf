"""Deliveries that no odd answer can wedge, retries that spread out, attempts appended at a flat cost, and a
slow subscription that cannot take every delivery slot."""

from __future__ import annotations

import asyncio
import random
from email.utils import formatdate

import orjson
import pytest
from aiohttp import web
from dispatcher_support import fast_policy, settle, subscribe
from raw_server import RawServer

from katya_tui.config import load_settings
from katya_tui.core.dispatcher import retry
from katya_tui.core.service import Service
from katya_tui.core.store import Store

NOW = 1_700_000_000.0


def after(value: str) -> float | None:
    return retry.retry_after_s([["Retry-After", value]], NOW)


@pytest.mark.parametrize(
    "value",
    ["²", "١٢", "𝟗", "-5", "+5", "1.5", "", "soon", "0x10", "Fri, 99 Foo 2024 00:00:00 GMT"],
)
def test_retry_after_that_is_neither_seconds_nor_a_date_is_ignored(value):
    assert after(value) is None  # (a Unicode digit passes str.isdigit() but is no delay-seconds)
    p = fast_policy(delay=1000, cap=30000)
    assert retry.next_delay_s(p, 0, [["Retry-After", value]], NOW) == 1.0  # the schedule instead


def test_retry_after_seconds_huge_values_and_dates():
    assert after(" 7 ") == 7
    assert after("9" * 5000) == retry._HUGE_S  # longer than int() takes: as good as forever
    assert retry.next_delay_s(fast_policy(cap=2000), 0, [["Retry-After", "9" * 5000]], NOW) == 2.0
    assert after(formatdate(NOW + 12, usegmt=True)) == pytest.approx(12)
    assert after(formatdate(NOW - 3600, usegmt=True)) == 0  # a date in the past: now
    assert after("Tue, 14 Nov 2023 22:13:32 -0000") == pytest.approx(12)  # no zone said: UTC
    assert after("Tue, 14 Nov 99999 22:13:32 GMT") is None


def test_jitter_stays_within_ten_percent_and_under_the_cap():
    p = fast_policy(retries=10, delay=1000, mult=2, cap=5000)
    assert retry.next_delay_s(p, 0, [], NOW, lambda: 0.0) == pytest.approx(0.9)
    assert retry.next_delay_s(p, 0, [], NOW, lambda: 0.5) == pytest.approx(1.0)
    assert retry.next_delay_s(p, 1, [], NOW, lambda: 0.999999) == pytest.approx(2.2, rel=1e-5)
    assert retry.next_delay_s(p, 5, [], NOW, lambda: 0.999999) == 5.0  # capped at maxRetryDelay
    rng = random.Random(15)
    draws = [retry.next_delay_s(p, 1, [], NOW, rng.random) for _ in range(500)]
    assert all(d is not None and 1.8 <= d <= 2.2 for d in draws) and len(set(draws)) > 100
    # a Retry-After is the target's word: no jitter on it
    assert retry.next_delay_s(p, 0, [["Retry-After", "3"]], NOW, lambda: 0.0) == 3.0


async def publish(service) -> str:
    service.publish_event("message.created", {"id": "msg_1"}, source="test")
    await service.store.commit()
    [did] = service.dispatcher.last_fan_out
    return did


def finished(service, did: str):
    d = service.dispatcher.deliveries.get(did)
    return d if d["state"] != "pending" else None


class SuperscriptRetryAfter(RawServer):
    """Answers 503 with `Retry-After: ²` (the byte 0xB2, read as latin-1 like any header), then 200."""

    answers = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        self.answers += 1
        status = b"503 Busy\r\nRetry-After: \xb2" if self.answers == 1 else b"200 OK"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


async def test_a_unicode_digit_retry_after_is_recorded_and_retried_by_the_schedule(service):
    server = SuperscriptRetryAfter()
    async with server as url:
        subscribe(service, url + "/hook")
        did = await publish(service)
        d = await settle(lambda: finished(service, did), timeout=10)
    assert d["state"] == "delivered" and [a["status_code"] for a in d["attempts"]] == [503, 200]
    assert ["Retry-After", "\xb2"] in d["attempts"][0]["response_headers"]


async def test_the_dispatcher_draws_its_jitter_from_the_injected_source(service, sink):
    service.dispatcher.clock = lambda: NOW
    service.dispatcher.rand = lambda: 0.0
    sink.plan = [503]
    subscribe(service, sink.url, retryPolicy=fast_policy(delay=10_000, cap=60_000))
    did = await publish(service)
    d = await settle(lambda: (x := service.dispatcher.deliveries.get(did))["attempts"] and x)
    assert d["state"] == "pending" and d["next_attempt_at"] - NOW == pytest.approx(9.0)


async def test_each_attempt_adds_the_same_bytes_to_the_journal(service, sink, data_dir):
    sink.default = 503
    subscribe(service, sink.url, retryPolicy=fast_policy(retries=40, delay=1, mult=1, cap=1))
    did = await publish(service)
    d = await settle(lambda: finished(service, did), timeout=30)
    assert d["state"] == "failed" and len(d["attempts"]) == 41
    await service.store.commit()
    records = [orjson.loads(line) for line in service.store.journal.path.read_bytes().splitlines()]
    doc_id = service.store.table("deliveries").doc_id_of(did)
    sizes = [len(orjson.dumps(r)) for r in records if r[0] == "deliveries" and r[2] == doc_id][1:]
    assert len(sizes) == 41  # one record per attempt after the one that made the delivery
    assert max(sizes) < 1.2 * min(sizes)  # flat: the 41st costs what the first did
    # and the store opens to the same delivery, every attempt in order
    reread = Store(data_dir, readonly=True).record("deliveries", did)
    assert reread is not None and [a["n"] for a in reread["attempts"]] == list(range(1, 42))
    assert reread["state"] == "failed"


async def test_a_slow_subscription_does_not_take_every_slot(data_dir):
    release = asyncio.Event()
    slow_now = 0
    slow_most = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal slow_now, slow_most
        await request.read()
        slow_now += 1
        slow_most = max(slow_most, slow_now)
        try:
            await release.wait()
        finally:
            slow_now -= 1
        return web.Response(text="late")

    async def fast(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/slow", slow)
    app.router.add_post("/fast", fast)
    runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    settings = load_settings(
        {"port": 0, "data_dir": str(data_dir), "token": "test-token-123", "delivery_concurrency": "4"}, env={}
    )
    svc = Service(settings)
    await svc.start()
    try:
        assert svc.dispatcher.per_subscription == 1  # a quarter of 4
        subscribe(svc, f"http://127.0.0.1:{port}/slow", name="slow", timeout=600)
        subscribe(svc, f"http://127.0.0.1:{port}/fast", name="fast")
        for _ in range(8):
            svc.publish_event("message.created", {"id": "msg_1"}, source="test")
        await svc.store.commit()
        fast_ones = [d["id"] for d in svc.dispatcher.deliveries.docs() if d["url"].endswith("/fast")]
        assert len(fast_ones) == 8
        # every fast delivery lands while all 8 slow ones are still held by their target
        await settle(lambda: all(finished(svc, i) for i in fast_ones), timeout=10)
        assert all(finished(svc, i)["state"] == "delivered" for i in fast_ones)
        assert slow_most == 1
        release.set()
        slow_ones = [d["id"] for d in svc.dispatcher.deliveries.docs() if d["url"].endswith("/slow")]
        await settle(lambda: all(finished(svc, i) for i in slow_ones), timeout=20)
        assert slow_most == 1
    finally:
        release.set()
        await svc.stop()
        await runner.cleanup()
