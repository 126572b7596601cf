"""Deliveries to a real local sink that fails on command: retries by policy, final failures, every attempt kept,
signatures that verify, resend, retry now, cancel, and pending deliveries resumed after a restart."""

from __future__ import annotations

import json

import pytest
from dispatcher_support import fast_policy, free_port, settle, subscribe

from katya_tui.core import signing
from katya_tui.core.service import Service


async def publish(service, type: str = "message.created", data: dict | None = None) -> tuple[str, list[str]]:
    event = service.publish_event(type, data or {"id": "msg_1", "content": "héllo"}, source="test")
    await service.store.commit()
    return event.id, list(service.dispatcher.last_fan_out)


def delivery(service, did: str) -> dict:
    return service.dispatcher.deliveries.get(did)


def finished(service, did: str):
    d = delivery(service, did)
    return d if d["state"] != "pending" else None


async def test_5xx_then_200_retries_by_the_schedule_with_retry_headers(service, sink):
    sink.plan = [503, 500]
    hook = subscribe(service, sink.url, retryPolicy=fast_policy(delay=40, mult=2))
    event_id, [did] = await publish(service)
    d = await settle(lambda: finished(service, did))
    assert d["state"] == "delivered" and [a["status_code"] for a in d["attempts"]] == [503, 500, 200]
    assert [a["outcome"] for a in d["attempts"]] == ["retry", "retry", "delivered"]
    got = sink.received
    assert [r.header("X-Katya-Retry-Count") for r in got] == [None, "1", "2"]
    assert [r.header("X-Katya-Retry-Reason") for r in got] == [None, "status_503", "status_500"]
    # waits follow retryDelay * multiplier^(n-1), less at most 10 % of jitter: 40 ms, then 80 ms
    assert got[1].at - got[0].at >= 0.036 and got[2].at - got[1].at >= 0.072
    assert float(got[2].header("X-Katya-Retry-After")) >= 0.072
    # same delivery and event ids and the same body on every attempt; each one signed and verifiable
    assert {r.header("X-Katya-Delivery") for r in got} == {did}
    assert {json.loads(r.body)["id"] for r in got} == {event_id}
    assert len({r.body for r in got}) == 1
    for r in got:
        v = signing.verify("katya", body=r.body, headers=r.headers, secrets=[hook["secret"]], now=_ts(r))
        assert v.status == "valid", v.reason
    assert service.dispatcher.get_webhook(hook["id"])["lastDelivery"] is not None


def _ts(r) -> float:
    return float(r.header("X-Katya-Timestamp"))


async def test_4xx_is_final_and_3xx_is_a_failure_not_followed(service, sink):
    sink.plan = [404, 302]
    subscribe(service, sink.url)
    _, [first] = await publish(service)
    d = await settle(lambda: finished(service, first))
    assert d["state"] == "failed" and len(d["attempts"]) == 1
    assert d["attempts"][0]["status_code"] == 404 and d["attempts"][0]["error_class"] == "http"
    _, [second] = await publish(service)
    d = await settle(lambda: finished(service, second))
    assert d["state"] == "failed" and d["attempts"][0]["error_class"] == "redirect"
    assert [r.path for r in sink.received] == ["/hook", "/hook"]  # the Location was never followed


async def test_408_and_429_are_retried_and_retry_after_is_honoured_up_to_the_cap(service, sink):
    sink.plan = [("status", 429, {"Retry-After": "1"}), 408]
    subscribe(service, sink.url, retryPolicy=fast_policy(delay=10, cap=150))
    _, [did] = await publish(service)
    d = await settle(lambda: finished(service, did))
    assert [a["status_code"] for a in d["attempts"]] == [429, 408, 200]
    # Retry-After asked 1 s; the cap is 150 ms, so the wait is the cap
    assert sink.received[1].at - sink.received[0].at >= 0.15
    assert float(sink.received[1].header("X-Katya-Retry-After")) < 1


async def test_retries_run_out_and_every_attempt_is_kept(service, sink):
    sink.default = 502
    subscribe(service, sink.url, retryPolicy=fast_policy(retries=2))
    _, [did] = await publish(service)
    d = await settle(lambda: finished(service, did))
    assert d["state"] == "failed" and [a["n"] for a in d["attempts"]] == [1, 2, 3]
    a = d["attempts"][0]
    assert (
        a["response_body"] == "nope"
        and ["Content-Type", "text/plain; charset=utf-8"] in a["response_headers"]
    )
    assert a["latency_ms"] > 0 and a["reason"].startswith("502")
    assert ["X-Katya-Delivery", did] in a["request_headers"]


async def test_timeout_and_connection_refused_are_classified_and_retried(service, sink):
    sink.plan = [("sleep", 2)]
    subscribe(service, sink.url, timeout=0.2, retryPolicy=fast_policy(retries=1))
    _, [did] = await publish(service)
    d = await settle(lambda: finished(service, did))
    assert [a["error_class"] for a in d["attempts"]] == ["timeout", None]
    assert d["state"] == "delivered" and sink.received[1].header("X-Katya-Retry-Reason") == "timeout"

    service.dispatcher.create_webhook(
        {
            "name": "down",
            "url": f"http://127.0.0.1:{free_port()}/",
            "events": ["trust.*"],
            "retryPolicy": fast_policy(retries=1),
        }
    )
    _, [down] = await publish(service, "trust.verification.created")
    d = await settle(lambda: finished(service, down))
    assert d["state"] == "failed" and [a["error_class"] for a in d["attempts"]] == ["refused", "refused"]


async def test_only_active_matching_subscriptions_get_deliveries(service, sink):
    subscribe(service, sink.url, events=["message.created"])
    other = subscribe(service, sink.url, events=["trust.*"])
    paused = subscribe(service, sink.url, events=["*"], active=False)
    _, made = await publish(service, "message.created")
    assert len(made) == 1
    service.dispatcher.set_active(paused["id"], True)
    _, made = await publish(service, "trust.verification.created")
    assert {delivery(service, d)["webhook_id"] for d in made} == {other["id"], paused["id"]}


async def test_resend_makes_a_new_attempt_whatever_the_state(service, sink):
    sink.plan = [400]
    subscribe(service, sink.url)
    _, [did] = await publish(service)
    await settle(lambda: finished(service, did))
    d = await service.dispatcher.resend(did)
    assert d["state"] == "delivered" and [a["manual"] for a in d["attempts"]] == [False, True]
    assert sink.received[1].header("X-Katya-Retry-Reason") == "manual"
    assert sink.received[0].header("X-Katya-Timestamp") is not None
    d = await service.dispatcher.resend(did)  # even when delivered
    assert len(d["attempts"]) == 3 and d["state"] == "delivered"
    with pytest.raises(KeyError):
        await service.dispatcher.resend("dlv_nope")


async def test_bulk_resend_by_filter(service, sink):
    sink.default = 400
    subscribe(service, sink.url)
    made = [(await publish(service))[1][0] for _ in range(3)]
    await settle(lambda: all(finished(service, d) for d in made))
    sink.default = 200
    assert service.dispatcher.resend_many(status="failed", type="message.*") == 3
    assert service.dispatcher.resend_many(status="failed", type="trust.*") == 0
    await settle(lambda: all(delivery(service, d)["state"] == "delivered" for d in made))
    assert len(sink.received) == 6


async def test_retry_now_and_cancel_act_on_pending_deliveries(service, sink):
    sink.default = 503
    subscribe(service, sink.url, retryPolicy=fast_policy(retries=5, delay=60_000, cap=60_000))
    _, [a] = await publish(service)
    _, [b] = await publish(service)
    await settle(lambda: len(sink.received) >= 2)
    assert delivery(service, a)["state"] == "pending" and delivery(service, a)["next_attempt_at"] is not None
    sink.default = 200
    service.dispatcher.retry_now(a)
    assert (await settle(lambda: finished(service, a)))["state"] == "delivered"
    cancelled = service.dispatcher.cancel(b)
    assert cancelled["state"] == "cancelled" and cancelled["next_attempt_at"] is None
    from katya_tui.core.dispatcher import NotPending

    with pytest.raises(NotPending):
        service.dispatcher.cancel(b)
    with pytest.raises(NotPending):
        service.dispatcher.retry_now(a)


async def test_pending_deliveries_resume_after_a_restart(settings, sink):
    sink.default = 503
    first = Service(settings)
    await first.start()
    subscribe(first, sink.url, retryPolicy=fast_policy(retries=3, delay=1500, cap=1500))
    made = [(await publish(first))[1][0] for _ in range(5)]
    await settle(lambda: len(sink.received) >= 5)
    await (
        first.stop()
    )  # each delivery now waits for its first retry, due in 1.5 s (long enough to stop first)
    sink.default = 200
    second = Service(settings)
    await second.start()
    try:
        assert all(delivery(second, did)["state"] == "pending" for did in made)
        done = await settle(
            lambda: [finished(second, d) for d in made] if all(finished(second, d) for d in made) else None
        )
        assert {d["state"] for d in done} == {"delivered"}
        assert all([a["status_code"] for a in d["attempts"]] == [503, 200] for d in done)
        assert {r.header("X-Katya-Delivery") for r in sink.received[5:]} == set(made)
    finally:
        await second.stop()


async def test_deleting_a_subscription_cancels_its_pending_deliveries(service, sink):
    sink.default = 503
    hook = subscribe(service, sink.url, retryPolicy=fast_policy(retries=5, delay=60_000, cap=60_000))
    _, [did] = await publish(service)
    await settle(lambda: sink.received)
    assert service.dispatcher.delete_webhook(hook["id"]) is True
    assert delivery(service, did)["state"] == "cancelled"
    assert service.dispatcher.delete_webhook(hook["id"]) is False


async def test_send_test_reaches_one_subscription_whatever_its_filter(service, sink):
    hook = subscribe(service, sink.url, events=["trust.*"])
    subscribe(service, sink.url, events=["*"])
    event = await service.dispatcher.send_test(hook["id"], "message.created", {"id": "test_msg_123"})
    d = await settle(lambda: finished(service, event["deliveryId"]))
    assert d["webhook_id"] == hook["id"] and len(sink.received) == 1
    assert json.loads(sink.received[0].body)["data"] == {"id": "test_msg_123"}


async def test_delivery_timeout_setting_applies_when_the_subscription_has_none(data_dir, sink):
    from katya_tui.config import load_settings

    settings = load_settings(
        {
            "port": 0,
            "data_dir": str(data_dir),
            "token": "test-token-123",
            "delivery_timeout": "0.2",
            "delivery_concurrency": "2",
        },
        env={},
    )
    svc = Service(settings)
    await svc.start()
    try:
        assert svc.dispatcher.workers == 2
        sink.plan = [("sleep", 2)]
        subscribe(svc, sink.url, retryPolicy=fast_policy(retries=0))
        _, [did] = await publish(svc)
        d = await settle(lambda: finished(svc, did))
        assert d["state"] == "failed" and d["attempts"][0]["error_class"] == "timeout"
        assert d["attempts"][0]["latency_ms"] < 2000
    finally:
        await svc.stop()
