"""The event catalogue: counts from the seeds, samples, patterns, the envelope, body recognition."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from katya_tui.core import catalog
from katya_tui.core.catalog import (
    CHANNELS,
    EVENT_TYPES,
    GROUPS,
    channel_for,
    classify_body,
    envelope,
    is_known,
    matches,
    sample_data,
    types_matching,
    validate_pattern,
)
from katya_tui.core.samples import GENERATORS, iso_utc

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)

SEED_000 = {
    "trust": [
        "trust.identity.created",
        "trust.identity.updated",
        "trust.verification.created",
        "trust.verification.updated",
        "trust.reputation.updated",
    ],
    "message": ["message.created", "message.updated", "message.deleted"],
    "room": ["room.created", "room.updated", "room.member.joined", "room.member.left"],
    "analytics": ["analytics.report.created", "analytics.report.completed", "analytics.metric.updated"],
    "security": ["security.alert.created", "security.alert.updated", "security.scan.completed"],
    "system": ["system.maintenance.start", "system.maintenance.end", "system.status.changed"],
}


def by_source(source: str) -> list[str]:
    return [t.name for t in EVENT_TYPES.values() if t.source == source]


def headers_from(mapping: dict[str, str]):
    lowered = {k.lower(): v for k, v in mapping.items()}
    return lambda name: lowered.get(name.lower())


# --- counts and structure ----------------------------------------------------------------------


def test_katya_types_are_seed_000_plus_scan_started_from_seed_002():
    katya = by_source("katya")
    from_000 = [name for names in SEED_000.values() for name in names]
    assert len(from_000) == 21  # the seed's tables; its index says 23
    assert sorted(katya) == sorted([*from_000, "security.scan.started"])
    assert [t for t in katya if EVENT_TYPES[t].seed == "002"] == ["security.scan.started"]
    assert {EVENT_TYPES[t].group for t in katya} == set(SEED_000) == set(catalog.KATYA_GROUPS)
    for group, names in SEED_000.items():
        assert set(names) <= set(GROUPS[group])


def test_admin_job_wazzup_counts():
    assert by_source("admin") == [
        "user.created",
        "payment.completed",
        "transaction.created",
        "ticket.created",
        "ticket.status_changed",
        "ticket.message_added",
    ]
    assert by_source("job") == ["job.completed", "job.failed", "job.partially_completed"]
    assert by_source("wazzup") == ["wazzup.message", "wazzup.status", "wazzup.contact"]
    assert len(EVENT_TYPES) == 22 + 6 + 3 + 3
    assert {EVENT_TYPES[f"wazzup.{e}"].raw_name for e in ("message", "status", "contact")} == {
        "message",
        "status",
        "contact",
    }
    assert EVENT_TYPES["job.partially_completed"].raw_name == "partially_completed"


def test_groups_cover_every_type_once():
    flat = [name for names in GROUPS.values() for name in names]
    assert sorted(flat) == sorted(EVENT_TYPES)
    for group, names in GROUPS.items():
        assert all(EVENT_TYPES[n].group == group for n in names)


def test_fields_are_filled():
    for event in EVENT_TYPES.values():
        assert event.description and event.description[0].isupper()
        assert event.source in catalog.SOURCES
        assert (
            event.profile == {"katya": "katya", "admin": "admin", "job": "job", "wazzup": None}[event.source]
        )
        assert event.channel == (channel_for(event.name) if event.source == "katya" else None)


def test_channels():
    assert CHANNELS == ("messages", "rooms", "trust", "analytics", "security", "system", "webhooks")
    assert channel_for("message.created") == "messages"
    assert channel_for("room.member.left") == "rooms"
    assert channel_for("trust.reputation.updated") == "trust"
    assert channel_for("analytics.metric.updated") == "analytics"
    assert channel_for("security.scan.started") == "security"
    assert channel_for("system.status.changed") == "system"
    assert channel_for("delivery.failed") == "webhooks"
    assert channel_for("capture.recorded") == "webhooks"
    assert channel_for("messages.created") is None
    assert channel_for("user.created") is None
    assert channel_for("job.failed") is None
    assert channel_for("") is None
    katya_channels = {EVENT_TYPES[n].channel for n in by_source("katya")}
    assert katya_channels == set(CHANNELS) - {"webhooks"}


def test_is_known():
    assert is_known("message.created")
    assert is_known("wazzup.message")
    assert not is_known("message")
    assert not is_known("message.*")
    assert not is_known("Message.Created")


# --- samples -----------------------------------------------------------------------------------


def test_generators_match_the_catalogue():
    assert set(GENERATORS) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_every_sample_is_json_and_deterministic(event_type):
    first = sample_data(event_type, rng=random.Random(7), now=NOW)
    again = sample_data(event_type, rng=random.Random(7), now=NOW)
    other = sample_data(event_type, rng=random.Random(8), now=NOW)
    assert isinstance(first, dict) and first
    assert json.loads(json.dumps(first)) == first
    assert first == again
    assert first is not again
    assert first != other
    json.dumps(sample_data(event_type))  # default rng and clock


def test_sample_shapes_follow_the_seeds():
    message = sample_data("message.created", rng=random.Random(1), now=NOW)
    assert set(message) == {"id", "roomId", "senderId", "content", "messageType", "createdAt", "metadata"}
    assert message["id"].startswith("msg_") and message["createdAt"] == "2024-01-01T12:00:00Z"
    assert set(message["metadata"]) == {"priority", "encrypted"}

    joined = sample_data("room.member.joined", rng=random.Random(1), now=NOW)
    assert set(joined) == {"room", "member"}

    verification = sample_data("trust.verification.created", rng=random.Random(1), now=NOW)
    assert verification["identityId"].startswith("idn_")

    alert = sample_data("security.alert.created", rng=random.Random(1), now=NOW)
    assert {"id", "title", "description", "severity", "category", "source", "createdAt", "metadata"} <= set(
        alert
    )

    metric = sample_data("analytics.metric.updated", rng=random.Random(1), now=NOW)
    assert {"name", "value", "unit", "timestamp", "metadata"} == set(metric)

    user = sample_data("user.created", rng=random.Random(1), now=NOW)
    assert set(user) == {
        "user_id",
        "telegram_id",
        "username",
        "first_name",
        "last_name",
        "referral_code",
        "referred_by_id",
    }

    job_keys = {
        "job_id",
        "status",
        "timestamp",
        "total_lots",
        "completed_lots",
        "failed_lots",
        "webhook_url",
        "results_available",
    }
    for status in catalog.JOB_STATUSES:
        for seed in range(20):
            job = sample_data(f"job.{status}", rng=random.Random(seed), now=NOW)
            assert set(job) == job_keys and job["status"] == status
            assert job["completed_lots"] + job["failed_lots"] == job["total_lots"]
            assert re.fullmatch(
                r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", job["job_id"]
            )
            if status == "completed":
                assert job["failed_lots"] == 0 and job["results_available"]
            elif status == "failed":
                assert job["completed_lots"] == 0 and not job["results_available"]
            else:
                assert job["failed_lots"] > 0 and job["completed_lots"] > 0

    wz = sample_data("wazzup.message", rng=random.Random(1), now=NOW)
    assert {"id", "chatId", "text", "type", "from", "timestamp", "contact"} <= set(wz)
    assert wz["timestamp"] == int(NOW.timestamp())
    assert set(sample_data("wazzup.status", rng=random.Random(1), now=NOW)) == {
        "messageId",
        "status",
        "timestamp",
    }
    assert set(sample_data("wazzup.contact", rng=random.Random(1), now=NOW)) == {
        "phone",
        "name",
        "avatar",
        "timestamp",
    }


def test_sample_of_unknown_type_raises():
    with pytest.raises(KeyError):
        sample_data("message.exploded")


# --- envelope ----------------------------------------------------------------------------------


def test_envelope():
    data = {"id": "msg_1"}
    env = envelope("message.created", data, event_id="evt_123", created_at=NOW)
    assert env == {
        "id": "evt_123",
        "type": "message.created",
        "createdAt": "2024-01-01T12:00:00Z",
        "data": data,
    }

    fresh = envelope("message.created", data)
    assert re.fullmatch(r"evt_[0-9a-f]{24}", fresh["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", fresh["createdAt"])
    assert envelope("x.y", {})["id"] != envelope("x.y", {})["id"]
    assert envelope("x.y", {}, rng=random.Random(3))["id"] == envelope("x.y", {}, rng=random.Random(3))["id"]

    plus3 = timezone(timedelta(hours=3))
    assert (
        envelope("x.y", {}, created_at=datetime(2024, 1, 1, 15, 0, tzinfo=plus3))["createdAt"]
        == "2024-01-01T12:00:00Z"
    )
    assert envelope("x.y", {}, created_at=datetime(2024, 1, 1, 12, 0))["createdAt"] == "2024-01-01T12:00:00Z"
    assert envelope("x.y", {}, created_at="2024-01-01T12:00:00Z")["createdAt"] == "2024-01-01T12:00:00Z"
    assert iso_utc(NOW.replace(microsecond=250_999)) == "2024-01-01T12:00:00.250Z"


def test_wazzup_body():
    assert catalog.wazzup_body("wazzup.status", {"a": 1}) == {"event": "status", "data": {"a": 1}}
    with pytest.raises(ValueError):
        catalog.wazzup_body("message.created", {})


# --- patterns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("*", "message.created", True),
        ("*", "anything.at.all", True),
        ("message.created", "message.created", True),
        ("message.created", "message.updated", False),
        ("message.*", "message.created", True),
        ("message.*", "messages.x", False),
        ("message.*", "message", False),
        ("message.*", "wazzup.message", False),
        ("trust.*", "trust.identity.created", True),
        ("trust.identity.*", "trust.identity.updated", True),
        ("trust.identity.*", "trust.identityx.updated", False),
        ("trust.identity.*", "trust.verification.created", False),
        ("room.member.*", "room.member.left", True),
        ("room.member.*", "room.created", False),
        ("job.*", "job.partially_completed", True),
        ("message", "message.created", False),
        ("message.created", "message.created.extra", False),
    ],
)
def test_matches(pattern, event_type, expected):
    assert matches(pattern, event_type) is expected


def test_types_matching():
    assert types_matching("message.*") == ["message.created", "message.updated", "message.deleted"]
    assert types_matching("room.member.*") == ["room.member.joined", "room.member.left"]
    assert types_matching("*") == list(EVENT_TYPES)
    assert types_matching("nope.*") == []


@pytest.mark.parametrize(
    "pattern",
    [
        "*",
        "message.created",
        "message.*",
        "trust.identity.*",
        "room.member.*",
        "ticket.*",
        "job.*",
        "job.failed",
        "wazzup.*",
        "wazzup.contact",
        "user.created",
        "security.scan.started",
    ],
)
def test_valid_patterns(pattern):
    assert validate_pattern(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "fragments"),
    [
        ("message.craeted", ["unknown event type 'message.craeted'", "did you mean 'message.created'?"]),
        ("Message.Created", ["unknown event type", "did you mean 'message.created'?"]),
        ("messages.*", ["unknown event group 'messages'", "did you mean 'message.*'?"]),
        ("trust.identty.*", ["unknown event group", "did you mean 'trust.identity.*'?"]),
        ("message", ["'message' is a group", "did you mean 'message.*'?"]),
        ("ticket.status.changed", ["unknown event type", "did you mean 'ticket.status_changed'?"]),
        ("message.*.created", ["wildcard"]),
        ("mess*", ["wildcard"]),
        ("**", ["wildcard"]),
        (" message.created", ["whitespace"]),
        ("", ["non-empty"]),
    ],
)
def test_invalid_patterns(pattern, fragments):
    error = validate_pattern(pattern)
    assert error is not None
    for fragment in fragments:
        assert fragment in error


def test_invalid_pattern_without_suggestion():
    error = validate_pattern("zzzzqqq")
    assert error == "unknown event type 'zzzzqqq'"
    assert validate_pattern(None) is not None
    assert validate_pattern(42) is not None


# --- classify_body -----------------------------------------------------------------------------

NO_HEADERS = headers_from({})


def test_classify_katya_envelope():
    body = envelope("message.created", {"id": "msg_456"}, event_id="evt_123", created_at=NOW)
    assert classify_body(body, NO_HEADERS) == ("message.created", {"id": "msg_456"}, "evt_123")
    custom = {**body, "type": "custom.thing"}
    assert classify_body(custom, NO_HEADERS) == ("custom.thing", {"id": "msg_456"}, "evt_123")


def test_classify_admin_payload():
    payload = sample_data("user.created", rng=random.Random(1), now=NOW)
    got = classify_body(payload, headers_from({"x-webhook-event": "user.created", "X-WEBHOOK-ID": "1"}))
    assert got == ("user.created", payload, None)  # X-Webhook-Id names the webhook, not the event
    assert classify_body(payload, headers_from({"X-Webhook-Event": "ticket.created"})) == (
        "ticket.created",
        payload,
        None,
    )
    assert classify_body(payload, NO_HEADERS) is None
    assert classify_body(payload, None) is None
    assert classify_body(payload, headers_from({"X-Webhook-Event": "  "})) is None
    assert classify_body([payload], headers_from({"X-Webhook-Event": "user.created"})) is None


def test_classify_job_result():
    for status in catalog.JOB_STATUSES:
        body = sample_data(f"job.{status}", rng=random.Random(2), now=NOW)
        assert classify_body(body, NO_HEADERS) == (f"job.{status}", body, f"{body['job_id']}:{status}")
    body = sample_data("job.completed", rng=random.Random(2), now=NOW)
    assert classify_body({**body, "status": "processing"}, NO_HEADERS) is None
    assert classify_body({"job_id": "j1"}, NO_HEADERS) is None
    assert classify_body({"job_id": 5, "status": "completed"}, NO_HEADERS) is None


def test_classify_wazzup():
    for event in catalog.WAZZUP_EVENTS:
        data = sample_data(f"wazzup.{event}", rng=random.Random(3), now=NOW)
        assert classify_body({"event": event, "data": data}, NO_HEADERS) == (f"wazzup.{event}", data, None)
    signed = {"event": "message", "data": {"id": "m"}, "signature": "sha256=abc"}
    assert classify_body(signed, NO_HEADERS) == ("wazzup.message", {"id": "m"}, None)
    assert classify_body({"event": "typing", "data": {}}, NO_HEADERS) is None
    assert classify_body({"event": "message"}, NO_HEADERS) is None
    assert classify_body({"event": "message", "data": "text"}, NO_HEADERS) is None


@pytest.mark.parametrize(
    "body",
    [
        None,
        "message.created",
        42,
        1.5,
        True,
        [],
        [{"id": "e", "type": "t", "createdAt": "c", "data": {}}],
        {},
        {"status": "ok"},
        {"id": "evt_1", "type": "message.created", "createdAt": "2024-01-01T12:00:00Z"},
        {"id": "evt_1", "type": "message.created", "data": {}},
        {"id": "evt_1", "type": "message.created", "createdAt": "2024-01-01T12:00:00Z", "data": [1]},
        {"id": 1, "type": "message.created", "createdAt": "2024-01-01T12:00:00Z", "data": {}},
        {"id": "evt_1", "type": "", "createdAt": "2024-01-01T12:00:00Z", "data": {}},
        {"status": ["completed"], "job_id": "x"},
        {"event": ["message"], "data": {}},
    ],
)
def test_classify_non_events(body):
    assert classify_body(body, NO_HEADERS) is None
