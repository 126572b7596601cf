"""Pure rules of the dispatcher: the retry schedule and status codes, subscription validation, profiles and
serializations (checked with the receivers of seeds 000, 001 and 003 and Standard Webhooks), and stats."""

from __future__ import annotations

import hashlib
import hmac
import json
from email.utils import formatdate

import pytest

from katya_tui.core import signing
from katya_tui.core.dispatcher import profiles, retry, subscriptions
from katya_tui.core.errors import ValidationFailed
from katya_tui.core.queries import delivery_stats as stats

# -- retries -------------------------------------------------------------------------------------------------


def test_schedule_is_seed_000s_doubling_capped():
    p = dict(retry.DEFAULT_POLICY)
    assert [retry.delay_ms(p, n) for n in range(1, 8)] == [1000, 2000, 4000, 8000, 16000, 30000, 30000]
    assert retry.next_delay_s(p, 0, [], 0) == 1.0
    assert retry.next_delay_s(p, 2, [], 0) == 4.0
    assert retry.next_delay_s(p, 3, [], 0) is None  # maxRetries 3: no fourth retry


@pytest.mark.parametrize(
    ("status", "error", "verdict"),
    [
        (200, None, "delivered"),
        (204, None, "delivered"),
        (301, None, "fail"),
        (304, None, "fail"),
        (400, None, "fail"),
        (401, None, "fail"),
        (404, None, "fail"),
        (422, None, "fail"),
        (408, None, "retry"),
        (429, None, "retry"),
        (500, None, "retry"),
        (503, None, "retry"),
        (None, "timeout", "retry"),
        (None, "refused", "retry"),
        (None, "reset", "retry"),
        (None, "dns", "retry"),
    ],
)
def test_status_rules_of_seed_003(status, error, verdict):
    assert retry.judge(status, error).verdict == verdict


def test_retry_after_seconds_and_dates_up_to_the_cap():
    p = {"maxRetries": 3, "retryDelay": 1000, "backoffMultiplier": 2, "maxRetryDelay": 30000}
    assert retry.next_delay_s(p, 0, [["Retry-After", "7"]], 0) == 7
    assert retry.next_delay_s(p, 0, [["retry-after", "3600"]], 0) == 30
    now = 1_700_000_000.0
    assert retry.next_delay_s(
        p, 0, [["Retry-After", formatdate(now + 12, usegmt=True)]], now
    ) == pytest.approx(12)
    assert retry.next_delay_s(p, 0, [["Retry-After", "soon"]], now) == 1.0  # unreadable: the schedule


# -- subscriptions -------------------------------------------------------------------------------------------

GOOD = {"name": "orders", "url": "http://localhost:3000/hooks", "events": ["message.created", "trust.*"]}


def test_a_seed_000_webhook_object_with_defaults():
    doc = subscriptions.validate({**GOOD, "secret": "my_webhook_secret"})
    assert doc["id"].startswith("webhook_") and doc["active"] is True and doc["lastDelivery"] is None
    assert doc["retryPolicy"] == retry.DEFAULT_POLICY and doc["profile"] == "katya"
    assert doc["serialization"] == "compact" and doc["secret"] == "my_webhook_secret"
    assert doc["createdAt"].endswith("Z")


def test_seed_001_forms_are_accepted():
    doc = subscriptions.validate(
        {
            "name": "n",
            "url": "https://example.com/webhook",
            "event_type": "user.created",
            "is_active": False,
            "profile": "admin",
            "description": "new users",
        }
    )
    assert doc["events"] == ["user.created"] and doc["active"] is False and doc["serialization"] == "sorted"


def test_every_bad_field_is_named():
    with pytest.raises(ValidationFailed) as exc:
        subscriptions.validate(
            {
                "url": "ftp://x",
                "events": ["message.craeted", "nope.*"],
                "retryPolicy": {"maxRetries": -1, "retryDelay": 1e12, "backoffMultiplier": "x"},
                "profile": "katya2",
                "colour": "red",
            }
        )
    f = exc.value.fields
    assert set(f) == {"name", "url", "events", "retryPolicy", "profile", "colour"}
    assert any("did you mean 'message.created'" in m for m in f["events"]) and len(f["events"]) == 2
    assert len(f["retryPolicy"]) == 3 and "http://" in f["url"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://"}, "url"),
        ({"url": "http://a b/"}, "url"),
        ({"events": []}, "events"),
        ({"events": "message.*"}, None),
        ({"events": ["*"]}, None),
        ({"name": "  "}, "name"),
        ({"retryPolicy": {"retryDelay": 10, "maxRetryDelay": 5}}, "retryPolicy"),
        ({"retryPolicy": {"retryDelay": 10, "maxRetryDelay": 100}}, None),
        ({"retryPolicy": {"maxRetries": 2.5}}, "retryPolicy"),
        ({"retryPolicy": {"backoffMultiplier": 0.5}}, "retryPolicy"),
        ({"retryPolicy": []}, "retryPolicy"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 0.05}, None),
        ({"profile": "standard", "secret": "not base64!"}, "secret"),
        ({"profile": "admin", "serialization": "compact"}, "serialization"),
        ({"profile": "admin", "secret": ""}, None),
        ({"secret": ""}, "secret"),
        ({"active": "yes"}, "active"),
    ],
)
def test_field_rules(body, field):
    try:
        subscriptions.validate({**GOOD, **body})
    except ValidationFailed as exc:
        assert field is not None and set(exc.fields) == {field}, exc.fields
    else:
        assert field is None


def test_update_keeps_what_is_not_given():
    doc = subscriptions.validate({**GOOD, "retryPolicy": {"maxRetries": 5}})
    new = subscriptions.validate({"name": "renamed", "retryPolicy": {"retryDelay": 50}, "id": "ignored"}, doc)
    assert new["id"] == doc["id"] and new["url"] == GOOD["url"] and new["secret"] == doc["secret"]
    assert new["retryPolicy"]["maxRetries"] == 5 and new["retryPolicy"]["retryDelay"] == 50


def test_a_secret_is_made_to_fit_the_profile():
    std = subscriptions.validate({**GOOD, "profile": "standard"})
    assert std["secret"].startswith("whsec_")
    signing.sign("standard", b"{}", std["secret"])  # a valid Standard Webhooks secret


# -- profiles ------------------------------------------------------------------------------------------------

DATA = {
    "id": "msg_456",
    "content": "Привет, мир",
    "metadata": {"priority": "normal", "encrypted": True},
    "n": 1.5,
}
DELIVERY = {
    "id": "dlv_1",
    "event_id": "evt_1",
    "event_type": "message.created",
    "created_at": 1_704_110_400.0,
    "event_created_at": 1_704_110_400.0,
    "data": DATA,
}


def hook(**kw) -> dict:
    return {
        "id": "webhook_1",
        "secret": "my_webhook_secret",
        "profile": "katya",
        "serialization": "compact",
        **kw,
    }


def test_katya_profile_headers_and_envelope():
    headers, body = profiles.request_for(hook(), DELIVERY, now=1_704_110_405)
    h = dict(headers)
    assert list(h) == [
        "Content-Type",
        "X-Katya-Event",
        "X-Katya-Signature",
        "X-Katya-Delivery",
        "X-Katya-Timestamp",
        "User-Agent",
    ]
    assert h["X-Katya-Event"] == "message.created" and h["X-Katya-Delivery"] == "dlv_1"
    assert h["X-Katya-Timestamp"] == "1704110405" and h["User-Agent"] == "Katya-Webhooks/1.0"
    expected = hmac.new(b"my_webhook_secret", body, hashlib.sha256).hexdigest()
    assert h["X-Katya-Signature"] == f"sha256={expected}"
    assert json.loads(body) == {
        "id": "evt_1",
        "type": "message.created",
        "createdAt": "2024-01-01T12:00:00.000Z",
        "data": DATA,
    }
    assert (
        "Привет".encode() in body and b'"type":"message.created"' in body
    )  # JSON.stringify: UTF-8, no spaces


def test_retry_headers_and_a_fresh_signature_per_attempt():
    h1, b1 = profiles.request_for(hook(), DELIVERY, now=1000)
    h2, b2 = profiles.request_for(hook(), DELIVERY, now=1004, retry=(2, "timeout", 4.0))
    assert b1 == b2
    d2 = dict(h2)
    assert (d2["X-Katya-Retry-Count"], d2["X-Katya-Retry-Reason"], d2["X-Katya-Retry-After"]) == (
        "2",
        "timeout",
        "4",
    )
    assert dict(h1)["X-Katya-Timestamp"] != d2["X-Katya-Timestamp"]


def seed_000_python_receiver(body: bytes, headers: dict, secret: str) -> bool:
    """Seed 000's Flask example: it signs `json.dumps(request.get_json())`, not the raw body."""
    payload = json.dumps(json.loads(body))
    expected = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Katya-Signature"].replace("sha256=", ""))


def seed_001_python_receiver(body: bytes, headers: dict, secret: str) -> bool:
    """Seed 001's FastAPI example: `json.dumps(payload, sort_keys=True)`."""
    payload_json = json.dumps(json.loads(body), sort_keys=True)
    expected = hmac.new(secret.encode(), payload_json.encode(), hashlib.sha256).hexdigest()
    signature = headers.get("X-Katya-Signature") or headers.get("X-Webhook-Signature")
    return hmac.compare_digest(expected, signature.replace("sha256=", ""))


@pytest.mark.parametrize(
    ("serialization", "seed_000", "seed_001"),
    [
        ("compact", False, False),
        ("python", True, False),
        ("sorted", True, True),
    ],
)
def test_which_serialization_fits_which_seed_receiver(serialization, seed_000, seed_001):
    headers, body = profiles.request_for(hook(serialization=serialization), DELIVERY, now=1000)
    h = dict(headers)
    assert seed_000_python_receiver(body, h, "my_webhook_secret") is seed_000
    assert seed_001_python_receiver(body, h, "my_webhook_secret") is seed_001
    # whatever the serialization, the raw bytes verify (the bytes signed are the bytes sent)
    v = signing.verify("katya", body=body, headers=headers, secrets=["my_webhook_secret"], now=1000)
    assert v.status == "valid"


def test_admin_profile_is_seed_001():
    headers, body = profiles.request_for(hook(profile="admin", serialization="sorted"), DELIVERY, now=1000)
    h = dict(headers)
    assert body == json.dumps(DATA, sort_keys=True).encode()
    assert h["X-Webhook-Event"] == "message.created" and h["X-Webhook-Id"] == "webhook_1"
    assert seed_001_python_receiver(body, h, "my_webhook_secret")
    unsigned, _ = profiles.request_for(hook(profile="admin", secret=""), DELIVERY, now=1000)
    assert "X-Webhook-Signature" not in dict(unsigned)


def test_job_profile_is_seed_003():
    job = {"job_id": "job_1", "status": "completed", "timestamp": "2024-01-01T12:00:00Z", "total_lots": 3}
    headers, body = profiles.request_for(hook(profile="job"), {**DELIVERY, "data": job}, now=1000)
    h = dict(headers)
    assert json.loads(body) == job and h["User-Agent"] == "Generation-Service/1.0"
    assert h["X-Signature"] == hmac.new(b"my_webhook_secret", body, hashlib.sha256).hexdigest()


def test_standard_profile_verifies_as_standard_webhooks():
    secret = subscriptions.new_secret("standard")
    headers, body = profiles.request_for(hook(profile="standard", secret=secret), DELIVERY, now=1000)
    assert json.loads(body) == {
        "type": "message.created",
        "timestamp": "2024-01-01T12:00:00.000Z",
        "data": DATA,
    }
    h = dict(headers)
    assert h["webhook-id"] == "dlv_1" and h["webhook-signature"].startswith("v1,")
    v = signing.verify("standard", body=body, headers=headers, secrets=[secret], now=1000)
    assert v.status == "valid"


# -- stats ---------------------------------------------------------------------------------------------------


def _delivery(
    state: str, created: float, latencies: list[float], wid: str = "w1", type: str = "message.created"
):
    return {
        "webhook_id": wid,
        "state": state,
        "created_at": created,
        "event_type": type,
        "attempts": [{"status_code": 200, "latency_ms": ms} for ms in latencies],
    }


def test_stats_from_attempts_over_a_period():
    docs = [_delivery("delivered", 10 + i, [float(i + 1)]) for i in range(100)]
    docs += [
        _delivery("failed", 50, [1000.0, 1000.0], type="trust.x"),
        _delivery("pending", 60, []),
        _delivery("delivered", 500, [1.0]),
        _delivery("delivered", 20, [1.0], wid="w2"),
    ]
    s = stats.compute(docs, webhook_id="w1", start=0, end=200)
    assert s["delivery"] == {
        "total": 101,
        "successful": 100,
        "failed": 1,
        "successRate": 0.99,
        "pending": 1,
        "cancelled": 0,
        "attempts": 102,
    }
    assert s["events"] == {"message.created": 101, "trust.x": 1}
    assert s["responseTimes"]["p50"] == 51.0 and s["responseTimes"]["p99"] == 1000.0
    assert s["responseTimes"]["p95"] == 97.0  # nearest rank: the 97th of 102
    assert stats.compute(docs, webhook_id=None, start=None, end=None)["delivery"]["total"] == 103
    empty = stats.compute([], webhook_id=None, start=None, end=None)
    assert empty["delivery"]["successRate"] is None and empty["responseTimes"]["p50"] is None


def test_percentile_nearest_rank():
    assert stats.percentile([1, 2, 3, 4], 50) == 2 and stats.percentile([1, 2, 3, 4], 99) == 4
    assert stats.percentile([7], 95) == 7 and stats.percentile([], 50) is None
