"""Fuzz the WebSocket protocol on `/v1/ws` after auth: random JSON and non-JSON text frames and binary frames.

Every frame gets an answer (a response, a pong or an error) or its documented silence (a `pong` message); an auth
with a wrong token is answered 4001 and the socket closed with that code. A sentinel ping after each frame proves
the server is still there: its pong comes after the frame's answer (one reader, in order), so no answer before it
is a failure, and so is a hang or any other close. Nothing is logged at ERROR."""

from __future__ import annotations

import json
from typing import Any

import websockets
from fuzz_support import FUZZ, no_logged_errors
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ws_support import TOKEN, WAIT, authed, recv

from katya_tui.core.ws import protocol as p

KEYS = ["type", "channels", "events", "id", "token", "data"]
names = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        ["messages", "webhooks", "*", "message.*", "message.created", "capture.recorded", "delivery.*"]
    ),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), names),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=3)),
    max_leaves=10,
)
messages = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from([*p.CLIENT_TYPES, "event", ""]), json_values)},
    optional={
        "channels": st.one_of(st.lists(names, max_size=4), json_values),
        "events": st.one_of(st.lists(names, max_size=4), json_values),
        "id": json_values,
        "token": st.one_of(st.just(TOKEN), names),
    },
)
frames = st.one_of(
    messages.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=60),
    st.binary(max_size=60),
)

ANSWERS = ("response", "pong", "error")


async def answers_until_sentinel(ws: Any, n: int) -> list[dict[str, Any]]:
    """The messages that arrive before the pong to sentinel ping `n` (server pings and events skipped)."""
    got = []
    while True:
        msg = await recv(ws, WAIT)
        if msg.get("type") == "pong" and msg.get("requestId") == f"sentinel-{n}":
            return got
        if msg.get("type") in ANSWERS:
            got.append(msg)


def expects_silence(frame: str | bytes) -> bool:
    if isinstance(frame, bytes):
        return False
    try:
        msg = json.loads(frame)
    except ValueError:
        return False
    return isinstance(msg, dict) and msg.get("type") == "pong"


def wrong_auth(frame: str | bytes) -> bool:
    try:
        msg = json.loads(frame)
    except ValueError:
        return False
    return isinstance(msg, dict) and msg.get("type") == "auth" and msg.get("token") != TOKEN


@settings(FUZZ, max_examples=150)
@given(sent=st.lists(frames, min_size=1, max_size=5))
@example(sent=['{"type": "subscribe", "events": ["message.*"], "id": {"a": [1]}}'])
@example(sent=['{"type": "auth", "token": "wrong"}', '{"type": "ping"}'])
async def test_every_frame_is_answered(service, sent):
    with no_logged_errors():
        async with authed(service) as ws:
            for n, frame in enumerate(sent):
                await ws.send(frame)
                if wrong_auth(frame):
                    try:
                        msg = await recv(ws, WAIT)
                        assert msg["type"] == "error" and msg["data"]["code"] == str(p.AUTH_FAILED), msg
                        await recv(ws, WAIT)
                    except websockets.ConnectionClosed as exc:
                        assert exc.rcvd is not None and exc.rcvd.code == p.AUTH_FAILED, exc
                        return
                    raise AssertionError("still open after a wrong token")
                await ws.send(json.dumps({"type": "ping", "id": f"sentinel-{n}"}))
                got = await answers_until_sentinel(ws, n)
                if expects_silence(frame):
                    assert got == [], got
                    continue
                assert len(got) == 1, (frame, got)
                answer = got[0]
                if answer["type"] == "error":
                    assert answer["data"]["code"] in {str(c) for c in (4003, 4004, 4005)}, answer
                    assert answer["data"]["message"], answer
