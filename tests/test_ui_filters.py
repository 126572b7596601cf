"""The `/` filter language: parsing, matching, errors."""

from __future__ import annotations

import pytest

from katya_tui.ui.filters import Filter, FilterError, capture_record, delivery_record, event_record

NOW = 1_700_000_000.0


def parse(text: str) -> Filter:
    return Filter.parse(text, now=NOW)


def test_empty_matches_everything():
    f = parse("   ")
    assert f.empty and f.matches({}) and f.matches({"type": "x"})


def test_type_glob_and_exact():
    f = parse("type:message.*")
    assert f.matches({"type": "message.created"})
    assert not f.matches({"type": "messages.x"})
    assert not f.matches({"type": "room.created"})
    assert not f.matches({})  # a record without a type does not match a type term
    assert parse("type:room.created").matches({"type": "ROOM.CREATED"})


def test_alternatives_and_negation():
    f = parse("verdict:invalid,stale")
    assert f.matches({"verdict": "stale"}) and f.matches({"verdict": "invalid"})
    assert not f.matches({"verdict": "valid"})
    g = parse("-verdict:valid")
    assert g.matches({"verdict": "invalid"}) and not g.matches({"verdict": "valid"})
    assert parse("verdict!=valid").matches({"verdict": "missing"})


@pytest.mark.parametrize(
    ("expr", "status", "expected"),
    [
        ("status>=500", 500, True),
        ("status>=500", 499, False),
        ("status<300", 204, True),
        ("status>400", 400, False),
        ("status=404", 404, True),
        ("status!=404", 404, False),
        ("status<=200", 200, True),
        ("code:201", 201, True),
    ],
)
def test_numbers(expr, status, expected):
    assert parse(expr).matches({"status": status}) is expected


def test_since_and_until():
    assert parse("since:10m").matches({"time": NOW - 599})
    assert not parse("since:10m").matches({"time": NOW - 601})
    assert parse("until:1h").matches({"time": NOW - 3601})
    assert parse("since:2d").matches({"time": NOW - 86400})
    assert parse("since:2023-11-14T22:00:00Z").matches({"time": NOW})
    assert not parse("since:5s").matches({})


def test_free_text_searches_ids_paths_and_urls():
    f = parse("STRIPE")
    assert f.matches({"endpoint": "stripe"})
    assert f.matches({"url": "http://localhost/stripe/hook"})
    assert not f.matches({"endpoint": "github"})
    quoted = parse('"hooks/a b"')
    assert quoted.matches({"path": "/hooks/a b/c"}) and not quoted.matches({"path": "/hooks/a"})


def test_all_terms_must_hold():
    f = parse("type:message.* verdict:invalid status>=500 since:10m")
    rec = {"type": "message.created", "verdict": "invalid", "status": 502, "time": NOW - 5}
    assert f.matches(rec)
    assert not f.matches({**rec, "status": 200})
    assert not f.matches({**rec, "time": NOW - 3600})
    assert f.value_of("type") == ("message.*",)
    assert f.fields() == {"type", "verdict", "status", "since"}


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("colour:red", "unknown field"),
        ("status>=abc", "takes a number"),
        ("since:yesterday", "duration"),
        ("type>=3", "not a number"),
        ("since>5m", "write since"),
        ('"open', "quotes"),
        ("type:", "needs a value"),
        ("verdict:,", "needs a value"),
    ],
)
def test_errors_name_the_term(expr, words):
    with pytest.raises(FilterError, match=words):
        parse(expr)


def test_a_colon_inside_free_text_is_text_when_the_field_is_unknown_and_empty():
    # "http:" has no value after the colon: it is free text, not an unknown field
    assert parse("http:").matches({"url": "http://x"})


def test_records_from_documents():
    cap = {
        "id": "cap_1",
        "endpoint": "stripe",
        "method": "POST",
        "path": "/hooks/stripe",
        "body_size": 10,
        "received_at": NOW,
        "verdict": {"status": "invalid"},
        "response": {"status": 200, "latency_ms": 1.5},
    }
    assert parse("verdict:invalid status=200 method:post stripe").matches(capture_record(cap))
    assert parse("source:replay").matches(capture_record({**cap, "replay_of": "cap_0"}))
    evt = {"id": "evt_1", "type": "room.created", "source": "demo", "created_at": NOW, "verdict": None}
    assert parse("type:room.* source:demo").matches(event_record(evt))
    dlv = {
        "id": "dlv_1",
        "webhook_id": "webhook_a",
        "event_id": "evt_1",
        "event_type": "room.created",
        "url": "http://x",
        "state": "failed",
        "created_at": NOW,
        "verdict": "valid",
        "attempts": [{"status_code": 500, "latency_ms": 3}, {"status_code": 503, "latency_ms": 9}],
    }
    rec = delivery_record(dlv, "orders")
    assert parse("state:failed status>=503 attempts=2 sub:orders latency>5").matches(rec)
    assert not parse("status=500").matches(rec)
