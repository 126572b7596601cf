"""The demo: its consumer answers like a real (sometimes failing) service, and its flows reach every stage."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from katya_tui.core.service import Service


async def test_demo_plays_flows_through_receiver_and_dispatcher(settings):
    svc = Service(replace(settings, demo_rate=40.0))
    await svc.start()
    try:
        names = {w["name"] for w in svc.dispatcher.list_webhooks()}
        assert {"demo: chat service", "demo: flaky analytics"} <= names
        assert svc.receiver.endpoints.get("demo")["secrets"] == ["demo_katya_secret"]
        verdicts: set[str] = set()
        sources: set[str] = set()
        delivered = 0
        for _ in range(150):  # the flows are random: wait until each kind has come at least once
            await asyncio.sleep(0.1)
            verdicts = {(c.get("verdict") or {}).get("status") for c in svc.store.all("captures")}
            delivered = sum(d["state"] == "delivered" for d in svc.store.all("deliveries"))
            sources = {e["source"] for e in svc.store.all("events")}
            if (
                {"valid", "unsigned"} <= verdicts
                and {"invalid", "stale"} & verdicts
                and delivered >= 5
                and {"hook", "demo"} <= sources
            ):
                break
        assert {"valid", "unsigned"} <= verdicts and {"invalid", "stale"} & verdicts
        assert delivered >= 5
        assert {"hook", "demo"} <= sources
    finally:
        await svc.stop()


async def test_demo_consumer_sometimes_fails_with_retry_after(settings):
    svc = Service(replace(settings, demo_rate=0.001))
    await svc.start()
    try:
        async with httpx.AsyncClient(base_url=svc.url, timeout=10) as c:
            answers = await asyncio.gather(
                *(c.post("/demo/consumer/flaky", content=b"{}") for _ in range(40))
            )
            statuses = [a.status_code for a in answers]
            assert all(a.headers["Retry-After"] == "1" for a in answers if a.status_code == 503)
            ok = await c.post("/demo/consumer/reliable", content=b"{}")
        assert 200 in statuses and 503 in statuses
        assert ok.status_code == 200 and ok.json()["received"] is True
    finally:
        await svc.stop()


async def test_demo_steps_do_not_wait_behind_a_slow_answer(settings, monkeypatch):
    """`--rate` is what is played: with every answer stalled, each lane has started its step, and the lanes are
    as many as the rate needs."""
    from katya_tui.core import demo

    stalled = asyncio.Event()
    started: list[str] = []

    async def one(self, http, etype):
        started.append(etype)
        await stalled.wait()

    monkeypatch.setattr(demo.Demo, "_one", one)
    svc = Service(replace(settings, demo_rate=5 * demo.LANE_RATE))
    await svc.start()
    try:
        for _ in range(100):
            if len(started) >= 5:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # (no lane starts a second step while its first is stalled)
        assert len(started) == 5
    finally:
        stalled.set()
        await svc.stop()
