"""The core's records: plain dataclasses stored as TinyDB documents (`to_doc` / `from_doc`).

Table names: `captures`, `events`, `deliveries` (retention caps apply), `webhooks`, `endpoints`.
Times are Unix seconds (float) in the store and ISO 8601 UTC strings on the API.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self, overload

import orjson

_B32_PAIRS = [a + b for a in "abcdefghijklmnopqrstuvwxyz234567" for b in "abcdefghijklmnopqrstuvwxyz234567"]
_random_pool = bytearray()


def _random48() -> int:
    """48 bits from the OS's CSPRNG, read 4 KB at a time (one system call for ~680 ids)."""
    global _random_pool
    if len(_random_pool) < 6:
        _random_pool = bytearray(secrets.token_bytes(4096))
    n = int.from_bytes(_random_pool[-6:], "big")
    del _random_pool[-6:]
    return n


def new_id(prefix: str) -> str:
    """Sortable, unique ids like `cap_01JF...`: milliseconds then randomness, base32.

    The same text as `base32(ms.to_bytes(6) + 6 random bytes)` lower-cased without padding, built from a 100-bit
    integer two characters (10 bits) at a time: the hot path of every capture, event and delivery.
    """
    n = ((int(time.time() * 1000) & 0xFFFF_FFFF_FFFF) << 52) | (_random48() << 4)
    p = _B32_PAIRS
    return (
        f"{prefix}_{p[n >> 90]}{p[n >> 80 & 1023]}{p[n >> 70 & 1023]}{p[n >> 60 & 1023]}{p[n >> 50 & 1023]}"
        f"{p[n >> 40 & 1023]}{p[n >> 30 & 1023]}{p[n >> 20 & 1023]}{p[n >> 10 & 1023]}{p[n & 1023]}"
    )


@overload
def iso(ts: float) -> str: ...
@overload
def iso(ts: float | None) -> str | None: ...
def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_body(body: bytes) -> tuple[str, str]:
    """(text, "utf8") when the bytes are UTF-8, else (base64, "base64"): JSON-safe and exact."""
    try:
        return body.decode("utf-8"), "utf8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def decode_body(text: str, encoding: str) -> bytes:
    return base64.b64decode(text) if encoding == "base64" else text.encode("utf-8")


class Doc:
    """Dataclass <-> TinyDB document (a base of dataclasses only)."""

    if TYPE_CHECKING:  # what makes a dataclass to the type checker (`dataclasses.asdict`, `fields`)
        __dataclass_fields__: ClassVar[dict[str, Any]]

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass
class Capture(Doc):
    """One inbound HTTP request, byte for byte, with what katya-tui made of it."""

    id: str
    endpoint: str
    method: str
    path: str
    query: str
    headers: list[list[str]]  # as received: order and repeats kept
    body: str  # see encode_body
    body_encoding: str  # "utf8" | "base64"
    body_size: int  # bytes received (may exceed what is kept when truncated)
    body_sha256: str
    truncated: bool
    remote: str | None
    received_at: float
    verdict: dict[str, Any] | None = None  # signing.Verdict.to_dict()
    response: dict[str, Any] | None = None  # {status, headers, body, latency_ms}
    forward: dict[str, Any] | None = None  # {url, status, headers, body, latency_ms, error_class, reason}
    event_id: str | None = None
    replay_of: str | None = None  # the capture this one replays
    event_type: str | None = None  # the type of the event the body carried, if any
    duplicate_of: str | None = None  # the capture that first carried the same message/event id
    body_note: str | None = None  # why the body is incomplete (over the limit, stalled, cut short)
    loopback: bool = False  # sent by this instance itself (X-Katya-Origin): recorded, never published again
    browser: bool = (
        False  # carried a browser's marks (Origin, Sec-Fetch-Site): shown, never published or forwarded
    )
    imported: dict[str, Any] | None = (
        None  # {"from": "jsonl"|"har", "at": time}: loaded by `katya-tui import`
    )
    relay: dict[str, Any] | None = (
        None  # came through a followed relay channel: {from, id, rebuilt, valid_as}
    )

    @property
    def body_bytes(self) -> bytes:
        return decode_body(self.body, self.body_encoding)


@dataclass
class Event(Doc):
    """One event on the bus, whatever its source."""

    id: str
    type: str
    data: Any
    created_at: float
    source: str  # hook | relay | ws | trigger | demo | api | test
    capture_id: str | None = None
    verdict: str | None = None  # the verdict status of the capture it came from
    endpoint: str | None = None  # the hook endpoint it came in on: its id is judged there (events._slot)

    def to_doc(self) -> dict[str, Any]:
        """Shallow: `data` is shared, not deep-copied (publishing an event must not copy its payload).
        Treat an event's `data` as read-only wherever it travels (store, facts, deliveries)."""
        return dict(vars(self))


@dataclass
class Attempt(Doc):
    n: int  # 1 = first attempt
    started_at: float
    latency_ms: float | None
    status_code: int | None
    error_class: str | None  # refused | dns | tls | timeout | reset | http | redirect
    reason: str
    request_headers: list[list[str]] = field(default_factory=list)
    response_headers: list[list[str]] = field(default_factory=list)
    response_body: str = ""  # cut at 64 KB
    manual: bool = False  # a resend
    url: str | None = None  # where it was sent
    outcome: str | None = None  # delivered | retry | fail (what the dispatcher made of it)


@dataclass
class Delivery(Doc):
    """One event to one subscription, with every attempt."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    url: str
    state: str  # pending | delivered | failed | cancelled
    created_at: float
    attempts: list[dict[str, Any]] = field(default_factory=list)  # Attempt.to_doc()
    next_attempt_at: float | None = None
    verdict: str | None = None  # verdict status of the inbound request the event came from
    data: Any = None  # the event's data, kept so a delivery outlives its event's retention
    event_created_at: float | None = None


def storable(data: Any) -> bool:
    """Whether the store's writer (orjson) can serialise `data`: it reads JSON up to 1,024 levels deep but
    writes only 255, and an event it could not write would break the store, its compaction and the API."""
    try:
        orjson.dumps(data)
    except orjson.JSONEncodeError:
        return False
    return True
