"""A subscription or forward pointed at katya-tui's own hooks is recorded, never looped."""

from __future__ import annotations

import asyncio

import httpx

AUTH = {"Authorization": "Bearer test-token-123"}


async def test_subscriptions_to_our_own_hooks_do_not_loop(service):
    async with httpx.AsyncClient(base_url=service.url, headers=AUTH) as api:
        for profile in ("katya", "admin", "job"):
            body = {
                "name": f"self {profile}",
                "url": f"{service.url}/hooks/self-{profile}",
                "events": ["*"],
                "profile": profile,
            }
            assert (await api.post("/v1/webhooks", json=body)).status_code == 201
        r = await api.post("/v1/events", json={"type": "message.created", "data": {"id": "msg_1"}})
        assert r.status_code == 202
        await asyncio.sleep(1.0)  # a loop would have made hundreds of events by now
    captures = service.store.all("captures")
    events = service.store.all("events")
    assert sorted(c["endpoint"] for c in captures) == ["self-admin", "self-job", "self-katya"]
    assert all(c["loopback"] for c in captures)
    assert len(events) == 1
    assert all(any(n == "X-Katya-Origin" for n, _ in c["headers"]) for c in captures)


async def test_forward_to_our_own_hooks_does_not_loop(service):
    service.receiver.endpoints.put({"name": "fw", "forward_to": f"{service.url}/hooks/fw"})
    envelope = {"id": "evt_fw", "type": "room.created", "createdAt": "2024-01-01T00:00:00Z", "data": {}}
    async with httpx.AsyncClient() as c:
        assert (await c.post(f"{service.url}/hooks/fw", json=envelope)).status_code == 200
    await asyncio.sleep(0.8)
    caps = service.store.all("captures")
    assert len(caps) == 2  # the original and its one forward, which came back flagged
    assert [c["loopback"] for c in caps] == [False, True]
