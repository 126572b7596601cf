"""What a web page or a forged request can do to /hooks: be captured and shown, never drive katya-tui (no event,
no delivery, no forward), never learn a signature, never make the real event a repeat."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from dispatcher_support import subscribe
from receiver_support import AUTH, Sink, capture, captures, wait_for

from katya_tui.core.signing import sign

SECRET = "endpoint-secret-1"


def envelope(event_id: str) -> bytes:
    body = {"id": event_id, "type": "message.created", "createdAt": "2024-01-01T12:00:00Z", "data": {"n": 1}}
    return json.dumps(body, separators=(",", ":")).encode()


async def post(service, endpoint: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{service.url}/hooks/{endpoint}", data=body, headers=headers or {}) as r,
    ):
        return r.status


async def put_endpoint(service, name: str, cfg: dict) -> dict:
    async with (
        aiohttp.ClientSession() as http,
        http.put(f"{service.url}/v1/endpoints/{name}", json=cfg, headers=AUTH) as r,
    ):
        assert r.status in (200, 201), await r.text()
        return (await r.json())["data"]


@pytest.mark.parametrize(
    "marks",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-origin"}],
)
async def test_a_request_with_a_browser_s_marks_is_captured_and_shown_but_drives_nothing(service, marks):
    async with Sink() as sink:
        await put_endpoint(service, "open", {"forward_to": sink.url})
        assert await post(service, "open", envelope("evt_page"), marks) == 200
        [row] = await captures(service)
        full = await capture(service, row["id"])
        assert full["browser"] is True and full["eventId"] is None and full["forward"] is None
        assert service.events.get("evt_page") is None
        assert (
            await post(service, "open", envelope("evt_tool")) == 200
        )  # the same without the marks drives it
        await wait_for(lambda: len(sink.requests) == 1)
        assert service.events.get("evt_tool") is not None
        assert [r["body"] for r in sink.requests] == [envelope("evt_tool")]


async def test_sec_fetch_site_none_is_a_person_s_own_request_not_a_page_s(service):
    assert await post(service, "open", envelope("evt_typed"), {"Sec-Fetch-Site": "none"}) == 200
    assert service.events.get("evt_typed") is not None


async def test_an_endpoint_with_secrets_publishes_only_validly_signed_requests_unless_told_otherwise(service):
    cfg = await put_endpoint(service, "signed", {"secrets": [SECRET], "scheme": "katya"})
    assert cfg["publish"] == "verified"
    assert await post(service, "signed", envelope("evt_unsigned")) == 200
    assert service.events.get("evt_unsigned") is None
    assert (await captures(service))[0]["verdict"]["status"] == "missing"
    body = envelope("evt_signed")
    assert await post(service, "signed", body, dict(sign("katya", body, SECRET).headers)) == 200
    assert service.events.get("evt_signed") is not None
    assert (await put_endpoint(service, "signed", {"secrets": [SECRET], "publish": "all"}))[
        "publish"
    ] == "all"
    assert await post(service, "signed", envelope("evt_anyway")) == 200
    assert service.events.get("evt_anyway") is not None


async def test_a_forged_request_that_takes_an_id_first_does_not_make_the_real_event_a_repeat(service):
    await put_endpoint(service, "bank", {"secrets": [SECRET], "scheme": "katya"})
    body = envelope("evt_guessed")
    forged = dict(sign("katya", body, "not-the-secret").headers)
    assert await post(service, "bank", body, forged) == 200
    real = dict(sign("katya", body, SECRET, now=time.time()).headers)
    assert await post(service, "bank", body, real) == 200
    assert await post(service, "bank", body, real) == 200  # the sender retries
    rows = {r["verdict"]["status"]: r for r in await captures(service)}
    assert set(rows) == {"invalid", "valid", "duplicate"}
    assert rows["valid"]["duplicateOf"] is None and rows["valid"]["eventId"] == "evt_guessed"
    assert rows["duplicate"]["duplicateOf"] == rows["valid"]["id"] and rows["duplicate"]["eventId"] is None
    assert rows["invalid"]["eventId"] is None
    assert service.events.get("evt_guessed")["capture_id"] == rows["valid"]["id"]


async def test_a_failed_check_never_hands_out_the_signature_that_would_pass(service):
    await put_endpoint(service, "shop", {"secrets": [SECRET], "scheme": "katya"})
    body = envelope("evt_probe")
    right = dict(sign("katya", body, SECRET).headers)["X-Katya-Signature"]
    wrong = dict(sign("katya", body, "guess").headers)
    assert await post(service, "shop", body, wrong) == 200
    assert await post(
        service, "shop", envelope("evt_ok"), dict(sign("katya", envelope("evt_ok"), SECRET).headers)
    )
    by_status = {r["verdict"]["status"]: r for r in await captures(service)}
    failed = (await capture(service, by_status["invalid"]["id"]))["verdict"]
    assert failed["expected"] != right and right.startswith(failed["expected"].rstrip("…"))
    assert len(failed["expected"].rstrip("…")) < len(right) // 2
    valid = (await capture(service, by_status["valid"]["id"]))["verdict"]
    assert valid["expected"] == dict(sign("katya", envelope("evt_ok"), SECRET).headers)["X-Katya-Signature"]


async def test_an_id_taken_on_one_endpoint_does_not_block_a_signed_event_on_another(service, sink):
    """Event ids are judged per endpoint: an unsigned request to an open endpoint (published: it checks nothing)
    that carries a guessed id must not make the real, signed event on another endpoint a repeat."""
    subscribe(service, sink.url)
    await put_endpoint(service, "bank", {"secrets": [SECRET], "scheme": "katya"})
    body = envelope("evt_shared")
    assert await post(service, "open", body) == 200
    real = dict(sign("katya", body, SECRET, now=time.time()).headers)
    assert await post(service, "bank", body, real) == 200
    assert await post(service, "bank", body, real) == 200  # the sender's retry: a repeat on its endpoint
    rows = {r["endpoint"] + "/" + r["verdict"]["status"]: r for r in await captures(service)}
    opened, signed, again = rows["open/unsigned"], rows["bank/valid"], rows["bank/duplicate"]
    assert signed["duplicateOf"] is None and again["duplicateOf"] == signed["id"]
    assert signed["eventId"] and signed["eventId"] != opened["eventId"] and again["eventId"] is None
    event = service.events.get(signed["eventId"])
    assert event["capture_id"] == signed["id"] and event["verdict"] == "valid" and event["endpoint"] == "bank"
    received = await sink.wait_for(2)
    assert sorted(json.loads(r.body)["id"] for r in received) == sorted(
        [opened["eventId"], signed["eventId"]]
    )
    assert {r.header("X-Katya-Event") for r in received} >= {"message.created"}


async def test_an_authentic_event_is_published_after_an_unverified_one_with_its_id_on_the_same_endpoint(
    service, sink
):
    """`publish = "all"` publishes what is unverified too; the signed request that comes later with the same id is
    still its own event (the first stays flagged by its verdict)."""
    subscribe(service, sink.url)
    await put_endpoint(service, "loose", {"secrets": [SECRET], "scheme": "katya", "publish": "all"})
    body = envelope("evt_first")
    assert await post(service, "loose", body) == 200
    real = dict(sign("katya", body, SECRET, now=time.time()).headers)
    assert await post(service, "loose", body, real) == 200
    rows = {r["verdict"]["status"]: r for r in await captures(service)}
    assert rows["missing"]["eventId"] and rows["valid"]["eventId"]
    assert rows["missing"]["eventId"] != rows["valid"]["eventId"]
    assert service.events.get(rows["valid"]["eventId"])["capture_id"] == rows["valid"]["id"]
    assert len(await sink.wait_for(2)) == 2
