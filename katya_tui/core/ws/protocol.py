"""Seed 002's WebSocket protocol: message shapes, error codes, subscriptions, and parsing of client messages.

Server messages are `{"type", "id", "timestamp", "data"}`; events add `event` and `channel`. Errors are
`{"type": "error", "data": {"code": "4005", "message": ...}}`: the code is a string, as seed 002's own example
handler compares it (`case '4001':`); the socket's close code, when it is closed, is the same number.
Seed 001's `/ws` dialect sends events as `{"type": <event type>, "payload", "timestamp", "id"}` instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets import Frame, Opcode

from .. import catalog
from ..models import iso, new_id

AUTH_FAILED = 4001
FORBIDDEN = 4002
BAD_MESSAGE = 4003
TOO_MANY_SUBSCRIPTIONS = 4004
NO_SUCH_CHANNEL = 4005
TOO_SLOW = 4008  # katya-tui's own: the client fell behind and was dropped (not in seed 002's table)
INTERNAL = 5001
UNAVAILABLE = 5002
PING_TIMEOUT_CLOSE = 1011  # close code when two pings went unanswered (RFC 6455 "unexpected condition")
GOING_AWAY_CLOSE = 1001  # close code on shutdown

CLIENT_TYPES = ("auth", "subscribe", "unsubscribe", "ping", "pong")

# The event types katya-tui itself emits on the `webhooks` channel.
NOTICE_TYPES = ("capture.recorded", "delivery.updated")


class ProtocolError(Exception):
    """A client message that is refused: `code` (one of the 4xxx above) and a message that says why."""

    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def encode(msg: dict[str, Any]) -> bytes:
    return orjson.dumps(msg)


def text_frame(payload: bytes) -> bytes:
    """An unmasked, uncompressed, final text frame (what a server sends), as the `websockets` library builds it:
    built once, written to every client that wants it."""
    return Frame(Opcode.TEXT, payload).serialize(mask=False)


def server_message(type: str, data: Any = None, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": type, "id": new_id("msg"), "timestamp": iso(time.time())}
    msg.update((k, v) for k, v in extra.items() if v is not None)
    if data is not None:
        msg["data"] = data
    return msg


def error_message(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return server_message("error", {"code": str(code), "message": message, **extra})


def connected_message(dialect: str) -> dict[str, Any]:
    if dialect == "001":  # seed 001 shows exactly this object
        return {"type": "connection", "status": "connected", "message": "WebSocket connection established"}
    return server_message(
        "connection",
        status="connected",
        message='Connected to katya-tui; subscribe with {"type":"subscribe","channels":[...]}',
        data={"channels": list(catalog.CHANNELS)},
    )


def event_message(event_type: str, data: Any, event_id: str, created_at: float | None) -> dict[str, Any]:
    """Seed 002's event message."""
    return {
        "type": "event",
        "id": event_id,
        "timestamp": iso(created_at if created_at is not None else time.time()),
        "event": event_type,
        "channel": catalog.channel_for(event_type),
        "data": data,
    }


def event_message_001(event_type: str, data: Any, event_id: str, created_at: float | None) -> dict[str, Any]:
    """Seed 001's event message (`/ws`)."""
    ts = iso(created_at if created_at is not None else time.time())
    return {"type": event_type, "payload": data, "timestamp": ts, "id": event_id}


# -- client messages --------------------------------------------------------------------------------------------


def parse_client_message(raw: str | bytes) -> dict[str, Any]:
    """The client's message as a dict with a known `type`, or ProtocolError(4003) saying what is wrong."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(BAD_MESSAGE, f"message is not JSON ({exc}); send a JSON object") from None
    if not isinstance(msg, dict):
        raise ProtocolError(BAD_MESSAGE, f"message must be a JSON object, got {type(msg).__name__}")
    kind = msg.get("type")
    if kind not in CLIENT_TYPES:
        what = "has no 'type'" if kind is None else f"has an unknown type {kind!r}"
        raise ProtocolError(BAD_MESSAGE, f"message {what}; known types: {', '.join(CLIENT_TYPES)}")
    return msg


def _names(msg: dict[str, Any], key: str) -> list[str]:
    value = msg.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ProtocolError(BAD_MESSAGE, f"'{key}' must be a list of non-empty strings")
    return list(dict.fromkeys(value))


def validate_event_pattern(pattern: str) -> str | None:
    """Like catalog.validate_pattern, plus katya-tui's own notice types (`capture.recorded`, `delivery.*`...)."""
    if pattern in NOTICE_TYPES or pattern in ("capture.*", "delivery.*"):
        return None
    return catalog.validate_pattern(pattern)


def subscription_request(msg: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(channels, events) of a subscribe/unsubscribe message, validated: 4005 for an unknown channel, 4003 else."""
    channels, events = _names(msg, "channels"), _names(msg, "events")
    if not channels and not events:
        raise ProtocolError(
            BAD_MESSAGE,
            f"{msg['type']} needs 'channels' and/or 'events', e.g. "
            '{"type":"subscribe","channels":["messages"]}',
        )
    unknown = [c for c in channels if c not in catalog.CHANNELS]
    if unknown:
        raise ProtocolError(
            NO_SUCH_CHANNEL,
            f"no such channel: {', '.join(unknown)}; the channels are {', '.join(catalog.CHANNELS)}",
            channels=list(catalog.CHANNELS),
        )
    problems = [p for p in (validate_event_pattern(e) for e in events) if p]
    if problems:
        raise ProtocolError(BAD_MESSAGE, "; ".join(problems))
    return channels, events


@dataclass
class Subscriptions:
    """One client's channels and event patterns, at most `limit` of them in all."""

    limit: int
    channels: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.channels) + len(self.events)

    def add(self, channels: list[str], events: list[str]) -> None:
        """All or nothing: ProtocolError(4004) when the total would pass the limit."""
        new = len(set(channels) - self.channels) + len(set(events) - self.events)
        if len(self) + new > self.limit:
            raise ProtocolError(
                TOO_MANY_SUBSCRIPTIONS,
                f"subscription limit exceeded: {len(self)} active + {new} new > {self.limit}; unsubscribe first",
                limit=self.limit,
            )
        self.channels.update(channels)
        self.events.update(events)

    def remove(self, channels: list[str], events: list[str]) -> None:
        self.channels.difference_update(channels)
        self.events.difference_update(events)

    def wants(self, event_type: str, channel: str | None) -> bool:
        if channel is not None and channel in self.channels:
            return True
        return any(catalog.matches(p, event_type) for p in self.events)

    def snapshot(self) -> dict[str, list[str]]:
        return {"channels": sorted(self.channels), "events": sorted(self.events)}
