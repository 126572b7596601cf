"""Fuzz every `/v1` route: random methods, JSON bodies, path values and query strings, with the token.

The routes are read from the service's route tables (`service.ROUTES`), so a new route is fuzzed without
touching this file. Every request gets an answer (no answer in time fails), never a 5xx (nothing here injects a
fault), a `/v1` answer is seed 000's JSON envelope, and nothing is logged at ERROR."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import orjson
import pytest
from fuzz_support import FUZZ, no_logged_errors
from hypothesis import given, settings
from hypothesis import strategies as st

from katya_tui.core.service import ROUTES

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WAIT = 10.0  # a deadline for an answer (a hang fails), never a speed assertion

ROUTED = sorted(
    {(r.method, r.path) for table in ROUTES for r in table.routes if r.path.startswith("/v1")}
    - {("GET", "/v1/ws")}
)  # (the WebSocket feed has its own fuzz test)
PATHS = sorted({path for _, path in ROUTED})
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
FIELDS = [
    "active",
    "attempts",
    "backoffMultiplier",
    "body",
    "bodyEncoding",
    "data",
    "description",
    "endDate",
    "endpoint",
    "eventType",
    "events",
    "forward",
    "headers",
    "id",
    "ids",
    "is_active",
    "maxRetries",
    "maxRetryDelay",
    "method",
    "name",
    "path",
    "profile",
    "publish",
    "query",
    "reason",
    "resign",
    "response",
    "retryDelay",
    "retryPolicy",
    "routes",
    "scheme",
    "secret",
    "secrets",
    "serialization",
    "source",
    "startDate",
    "status",
    "timeout",
    "to",
    "type",
    "url",
    "webhook",
    "webhook_id",
]
QUERY = [
    "limit",
    "offset",
    "endpoint",
    "verdict",
    "type",
    "source",
    "status",
    "webhook",
    "webhook_id",
    "since",
    "startDate",
    "endDate",
    "q",
    "event",
    "eventType",
]
PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()  # (the stdlib writes integers past 64 bits, which orjson refuses)


words = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "message.created",
            "*",
            "http://127.0.0.1:9/x",
            "stripe",
            "all",
            "-1",
            "0",
            "1e400",
            "2024-01-01",
            "null",
            "true",
            "%00",
            "../x",
        ]
    ),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), words),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), words), inner, max_size=5),
    ),
    max_leaves=15,
)
bodies = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(dump),
    json_values.map(dump),
    st.binary(max_size=100),
)
queries = st.dictionaries(st.sampled_from(QUERY), words, max_size=3)


@pytest.fixture
async def known(service, sink) -> dict[str, list[str]]:
    """Real values for the path's placeholders (a subscription, a capture, an event's delivery), so the fuzzer
    reaches past the 404s."""
    async with aiohttp.ClientSession(service.url, headers=AUTH) as s:
        r = await s.post("/v1/webhooks", json={"url": sink.url + "/in", "events": ["*"], "name": "fuzz"})
        assert r.status == 201, await r.text()
        hook = (await r.json())["data"]["id"]
        r = await s.post("/hooks/fuzz", data=b'{"id": "evt_1", "type": "message.created", "data": {}}')
        assert r.status == 200, await r.text()
        r = await s.get("/v1/captures")
        capture = (await r.json())["data"][0]["id"]
        r = await s.post("/v1/events", json={"type": "message.created", "data": {"x": 1}})
        assert r.status < 300, await r.text()
        r = await s.get("/v1/deliveries")
        deliveries = [d["id"] for d in (await r.json())["data"]]
    return {"id": [hook, capture, *deliveries], "name": ["fuzz", "other"]}


def fill(path: str, known: dict[str, list[str]], picks: list[int | str]) -> str:
    """The path with each placeholder replaced: a known value (an index into `known`) or a random segment."""
    picks = list(picks)

    def value(m: re.Match[str]) -> str:
        pick = picks.pop() if picks else 0
        choices = known.get(m.group(1)) or ["x"]
        return choices[pick % len(choices)] if isinstance(pick, int) else pick

    return PLACEHOLDER.sub(value, path)


@settings(FUZZ, max_examples=300)
@given(
    route=st.one_of(
        st.sampled_from(ROUTED),
        st.sampled_from(ROUTED),
        st.tuples(st.sampled_from(METHODS), st.sampled_from(PATHS)),
    ),
    picks=st.lists(
        st.one_of(st.integers(0, 9), st.text("abc_-.%0123456789~", min_size=1, max_size=10)), max_size=2
    ),
    body=bodies,
    query=queries,
)
async def test_every_v1_route_answers_random_requests(service, known, route, picks, body, query):
    method, path = route
    url = fill(path, known, picks)
    with no_logged_errors():
        async with aiohttp.ClientSession(
            service.url, headers=AUTH, timeout=aiohttp.ClientTimeout(total=WAIT)
        ) as s:
            try:
                r = await s.request(method, url, params=query, data=body)
                raw = await r.read()
            except TimeoutError:
                raise AssertionError(f"no answer in {WAIT:g} s: {method} {url}") from None
    assert r.status < 500, (r.status, raw[:300])
    if method != "HEAD" and r.status != 204:
        envelope = orjson.loads(raw)
        assert isinstance(envelope, dict) and isinstance(envelope.get("success"), bool), raw[:300]
        assert envelope["success"] == (r.status < 400), raw[:300]
