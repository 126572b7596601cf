"""The management API of SPEC 3.2 for subscriptions, events and deliveries, over real HTTP with the token."""

from __future__ import annotations

import httpx
import pytest
from dispatcher_support import AUTH, fast_policy, settle


@pytest.fixture
async def api(service):
    async with httpx.AsyncClient(base_url=service.url, headers=AUTH, timeout=10) as c:
        yield c


def hook_body(url: str, **kw) -> dict:
    return {
        "name": "My Webhook",
        "url": url,
        "events": ["message.created", "trust.*"],
        "secret": "my_webhook_secret",
        "retryPolicy": fast_policy(),
        **kw,
    }


async def test_create_get_list_update_delete(api, sink):
    r = await api.post("/v1/webhooks", json=hook_body(sink.url))
    assert r.status_code == 201 and r.json()["success"] is True
    hook = r.json()["data"]
    assert hook["id"].startswith("webhook_") and hook["secret"] == "my_webhook_secret"
    assert (await api.get(f"/v1/webhooks/{hook['id']}")).json()["data"] == hook
    listed = (await api.get("/v1/webhooks")).json()
    assert listed["pagination"] == {"total": 1, "limit": 50, "offset": 0, "hasMore": False}
    assert "secret" not in listed["data"][0] and listed["data"][0]["id"] == hook["id"]

    r = await api.put(
        f"/v1/webhooks/{hook['id']}",
        json={"name": "Updated Webhook Name", "active": False, "retryPolicy": {"maxRetries": 1}},
    )
    put = r.json()["data"]
    assert r.status_code == 200 and put["name"] == "Updated Webhook Name" and put["active"] is False
    assert put["retryPolicy"] == {
        "maxRetries": 1,
        "retryDelay": 1000,
        "backoffMultiplier": 2,
        "maxRetryDelay": 30000,
    }
    r = await api.patch(
        f"/v1/webhooks/{hook['id']}", json={"is_active": True, "retryPolicy": {"retryDelay": 5}}
    )
    patched = r.json()["data"]
    assert (
        patched["active"] is True
        and patched["retryPolicy"]["maxRetries"] == 1
        and patched["retryPolicy"]["retryDelay"] == 5
    )

    r = await api.delete(f"/v1/webhooks/{hook['id']}")
    assert r.status_code == 204 and r.content == b""
    r = await api.get(f"/v1/webhooks/{hook['id']}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert (await api.delete(f"/v1/webhooks/{hook['id']}")).status_code == 404


async def test_list_filters_and_pagination(api, sink):
    for i in range(5):
        await api.post(
            "/v1/webhooks",
            json=hook_body(
                sink.url, name=f"h{i}", active=i % 2 == 0, events=["message.*"] if i < 3 else ["user.created"]
            ),
        )
    page = (await api.get("/v1/webhooks", params={"limit": 2, "offset": 1})).json()
    assert len(page["data"]) == 2 and page["pagination"] == {
        "total": 5,
        "limit": 2,
        "offset": 1,
        "hasMore": True,
    }
    active = (await api.get("/v1/webhooks", params={"is_active": "true"})).json()
    assert {h["name"] for h in active["data"]} == {"h0", "h2", "h4"}
    typed = (await api.get("/v1/webhooks", params={"event_type": "message.created"})).json()
    assert {h["name"] for h in typed["data"]} == {"h0", "h1", "h2"}
    r = await api.get("/v1/webhooks", params={"is_active": "maybe"})
    assert r.status_code == 422 and "is_active" in r.json()["error"]["fields"]


async def test_invalid_input_is_422_with_fields_and_no_token_is_401(api, service, sink):
    r = await api.post(
        "/v1/webhooks",
        json={"url": "not a url", "events": ["message.nope"], "retryPolicy": {"maxRetries": -3}},
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "VALIDATION_ERROR" and set(err["fields"]) == {
        "name",
        "url",
        "events",
        "retryPolicy",
    }
    r = await api.post("/v1/webhooks", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    hook = (await api.post("/v1/webhooks", json=hook_body(sink.url))).json()["data"]
    r = await api.patch(f"/v1/webhooks/{hook['id']}", json={"url": "ftp://x"})
    assert r.status_code == 422 and list(r.json()["error"]["fields"]) == ["url"]
    assert (await api.get(f"/v1/webhooks/{hook['id']}")).json()["data"]["url"] == sink.url  # nothing changed
    async with httpx.AsyncClient(base_url=service.url) as anon:
        assert (await anon.get("/v1/webhooks")).status_code == 401
        assert (await anon.post("/v1/events", json={"type": "message.created"})).status_code == 401
        r = await anon.get("/v1/webhooks", headers={"Authorization": "Bearer wrong-token"})
        assert r.status_code == 401


async def test_publish_events_and_follow_the_deliveries(api, service, sink):
    hook = (await api.post("/v1/webhooks", json=hook_body(sink.url))).json()["data"]
    r = await api.post(
        "/v1/events", json={"type": "message.created", "data": {"id": "m1"}, "id": "evt_fixed_1"}
    )
    assert r.status_code == 202
    ev = r.json()["data"]
    assert ev["id"] == "evt_fixed_1" and ev["data"] == {"id": "m1"} and len(ev["deliveries"]) == 1
    again = (await api.post("/v1/events", json={"type": "message.created", "id": "evt_fixed_1"})).json()[
        "data"
    ]
    assert again["duplicate"] is True and again["deliveries"] == []
    batch = await api.post(
        "/v1/events", json=[{"type": "trust.verification.created"}, {"type": "room.created"}]
    )
    assert batch.status_code == 202 and [len(e["deliveries"]) for e in batch.json()["data"]] == [1, 0]
    assert batch.json()["data"][0]["data"]  # a sample payload when none is given
    bad = await api.post("/v1/events", json={"type": "message.craeted", "data": 5})
    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"type", "data"}

    events = (await api.get("/v1/events", params={"type": "message.*"})).json()
    assert [e["id"] for e in events["data"]] == ["evt_fixed_1"] and events["pagination"]["total"] == 1
    assert (await api.get("/v1/events")).json()["pagination"]["total"] == 3

    did = ev["deliveries"][0]
    other = batch.json()["data"][0]["deliveries"][0]
    await settle(lambda: _state(service, did) == _state(service, other) == "delivered")
    d = (await api.get(f"/v1/deliveries/{did}")).json()["data"]
    assert d["state"] == "delivered" and d["eventId"] == "evt_fixed_1"
    listed = (await api.get("/v1/deliveries", params={"webhook": hook["id"], "status": "success"})).json()
    assert listed["pagination"]["total"] == 2
    logs = (await api.get(f"/v1/webhooks/{hook['id']}/logs")).json()
    entry = next(e for e in logs["data"] if e["id"] == did)
    assert entry["eventId"] == "evt_fixed_1" and entry["status"] == "delivered" and entry["attempts"] == 1
    assert entry["response"] == {"statusCode": 200, "body": "OK"} and entry["deliveredAt"].endswith("Z")
    per_hook = (await api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"status": "failed"})).json()
    assert per_hook["data"] == []
    assert (await api.get("/v1/deliveries/dlv_nope")).status_code == 404
    assert (await api.get("/v1/deliveries", params={"status": "weird"})).status_code == 422


async def test_stats_test_event_resend_retry_cancel(api, service, sink):
    hook = (await api.post("/v1/webhooks", json=hook_body(sink.url))).json()["data"]
    sink.plan = [500, 400]
    r = await api.post(
        f"/v1/webhooks/{hook['id']}/test", json={"eventType": "message.created", "data": {"id": "t"}}
    )
    assert r.status_code == 202
    did = r.json()["data"]["deliveryId"]
    d = await settle(lambda: _state(service, did) != "pending" and service.dispatcher.deliveries.get(did))
    assert d["state"] == "failed" and [a["status_code"] for a in d["attempts"]] == [500, 400]
    bad = await api.post(f"/v1/webhooks/{hook['id']}/test", json={"eventType": "nope"})
    assert bad.status_code == 422
    sink.plan = [200]
    plain = (await api.post(f"/v1/webhooks/{hook['id']}/test")).json()["data"]
    assert plain["type"] == "message.created" and plain["source"] == "test" and plain["data"]
    await settle(lambda: _state(service, plain["deliveryId"]) == "delivered")

    r = await api.post(f"/v1/deliveries/{did}/resend")
    assert (
        r.status_code == 200
        and r.json()["data"]["state"] == "delivered"
        and len(r.json()["data"]["attempts"]) == 3
    )
    stats = (
        await api.get(
            f"/v1/webhooks/{hook['id']}/stats", params={"startDate": "2000-01-01", "endDate": "2999-01-01"}
        )
    ).json()["data"]
    assert stats["webhookId"] == hook["id"] and stats["delivery"]["successful"] == 2
    assert stats["events"] == {"message.created": 2} and stats["responseTimes"]["p99"] is not None
    assert stats["period"]["startDate"] == "2000-01-01T00:00:00.000Z"
    old = (await api.get(f"/v1/webhooks/{hook['id']}/stats", params={"endDate": "2001-01-01"})).json()["data"]
    assert old["delivery"]["total"] == 0
    assert (
        await api.get(f"/v1/webhooks/{hook['id']}/stats", params={"startDate": "yesterday"})
    ).status_code == 422
    overall = (await api.get("/v1/webhooks/stats")).json()["data"]
    assert overall["webhooks"] == {"total": 1, "active": 1} and overall["delivery"]["total"] == 2

    assert (await api.post(f"/v1/deliveries/{did}/cancel")).status_code == 409
    sink.default = 503
    await api.patch(
        f"/v1/webhooks/{hook['id']}", json={"retryPolicy": {"retryDelay": 60000, "maxRetryDelay": 60000}}
    )
    ev = (await api.post("/v1/events", json={"type": "message.created"})).json()["data"]
    pending = ev["deliveries"][0]
    await settle(lambda: (service.dispatcher.deliveries.get(pending) or {}).get("attempts"))
    assert (await api.post(f"/v1/deliveries/{pending}/retry")).json()["data"]["state"] == "pending"
    r = await api.post(f"/v1/deliveries/{pending}/cancel")
    assert r.status_code == 200 and r.json()["data"]["state"] == "cancelled"

    sink.default = 200
    r = await api.post("/v1/deliveries/resend", json={"status": "cancelled", "webhook": hook["id"]})
    assert r.status_code == 202 and r.json()["data"] == {"queued": 1}
    await settle(lambda: _state(service, pending) == "delivered")
    r = await api.post("/v1/deliveries/resend", json={"colour": "red"})
    assert r.status_code == 422


def _state(service, did: str) -> str | None:
    d = service.dispatcher.deliveries.get(did)
    return d and d["state"]
