"""The event catalogue: every event type the seeds describe, their WebSocket channels, sample payloads,
the envelope, subscription patterns, and recognition of inbound bodies as events.

Pure data and pure functions: no I/O, no Textual or Rich.

Sources (``EventType.source``) and the names chosen for them:

- ``katya`` (seed 000, plus seed 002): the dotted types of seed 000's tables, in six groups
  (trust, message, room, analytics, security, system). Seed 000 lists 21 types (5+3+4+3+3+3), not the 23
  its index announces; seed 002's ``security`` channel adds ``security.scan.started``, which seed 000 lacks.
  The catalogue holds those 22 (``EventType.seed`` says where each was found) and invents none.
- ``admin`` (seed 001): its six types, kept as the seed spells them (``user.created``,
  ``ticket.status_changed``...). ``ticket.message_added`` is listed for its WebSocket only, not in its list
  of webhook types; katya-tui treats it like the other five.
- ``job`` (seed 003): the job-completion callback has no type name of its own, only a ``status`` of
  ``completed``, ``failed`` or ``partially_completed``. Each status is a type: ``job.completed``,
  ``job.failed``, ``job.partially_completed`` (so a subscription can ask for ``job.failed`` alone, or ``job.*``).
- ``wazzup`` (seed 004): ``wazzup.message``, ``wazzup.status``, ``wazzup.contact``; the seed's own names
  (the body's ``"event": "message"``) are kept in ``EventType.raw_name``.

``EventType.raw_name`` is the name as it appears on the wire: the type itself for katya and admin, the
``status`` value for job, the ``event`` value for wazzup. ``EventType.profile`` is the delivery profile of
SPEC 4.2 that fits the type (katya, admin, job; None for wazzup, which has no delivery profile).

Channels: seed 002's six, plus ``webhooks`` (katya-tui's own notices about captures and delivery outcomes,
whose types start with ``capture.`` or ``delivery.``). Only Katya types belong to a seed 002 channel; the
other sources have none (a WebSocket client reaches them by subscribing to the event names).
"""

from __future__ import annotations

import difflib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeGuard

from katya_tui.core.samples import GENERATORS, iso_utc

__all__ = [
    "CHANNELS",
    "EVENT_TYPES",
    "GROUPS",
    "JOB_STATUSES",
    "KATYA_GROUPS",
    "SOURCES",
    "WAZZUP_EVENTS",
    "WEBHOOKS_CHANNEL",
    "EventType",
    "channel_for",
    "classify_body",
    "envelope",
    "is_known",
    "iso_utc",
    "matches",
    "new_event_id",
    "sample_data",
    "types_matching",
    "validate_pattern",
    "wazzup_body",
]

Source = Literal["katya", "admin", "job", "wazzup"]
SOURCES: tuple[str, ...] = ("katya", "admin", "job", "wazzup")


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    group: str  # first dotted segment; for Katya types one of KATYA_GROUPS
    source: str  # "katya" | "admin" | "job" | "wazzup"
    description: str
    channel: str | None  # seed 002 WebSocket channel, or None
    profile: str | None  # delivery profile (SPEC 4.2) that fits the type
    raw_name: str  # the name on the wire (seed 004's "event", seed 003's "status")
    seed: str  # the seed document it comes from: "000", "001", "002", "003", "004"


# --- channels ----------------------------------------------------------------------------------

KATYA_GROUPS: tuple[str, ...] = ("trust", "message", "room", "analytics", "security", "system")
WEBHOOKS_CHANNEL = "webhooks"
CHANNELS: tuple[str, ...] = (
    "messages",
    "rooms",
    "trust",
    "analytics",
    "security",
    "system",
    WEBHOOKS_CHANNEL,
)

_GROUP_CHANNEL: dict[str, str] = {
    "message": "messages",
    "room": "rooms",
    "trust": "trust",
    "analytics": "analytics",
    "security": "security",
    "system": "system",
    # katya-tui's own notices
    "capture": WEBHOOKS_CHANNEL,
    "delivery": WEBHOOKS_CHANNEL,
}


def channel_for(event_type: str) -> str | None:
    """The WebSocket channel of ``event_type``, from its first segment (``message.*`` → ``messages``,
    ``room.*`` → ``rooms``, ``capture.*``/``delivery.*`` → ``webhooks``), or None."""
    return _GROUP_CHANNEL.get(event_type.split(".", 1)[0])


# --- the catalogue -----------------------------------------------------------------------------

_JOB_DESCRIPTIONS = {
    "completed": "A generation job finished; every lot was processed",
    "failed": "A generation job failed; no lot was processed",
    "partially_completed": "A generation job finished with some lots failed",
}
JOB_STATUSES: tuple[str, ...] = tuple(_JOB_DESCRIPTIONS)

_WAZZUP_DESCRIPTIONS = {
    "message": "New incoming WhatsApp/Telegram message from Wazzup24",
    "status": "A message's delivery status changed in Wazzup24",
    "contact": "A contact was updated in Wazzup24",
}
WAZZUP_EVENTS: tuple[str, ...] = tuple(_WAZZUP_DESCRIPTIONS)

# (name, description, seed)
_KATYA: tuple[tuple[str, str, str], ...] = (
    ("trust.identity.created", "A new identity was created", "000"),
    ("trust.identity.updated", "An identity was updated", "000"),
    ("trust.verification.created", "A new verification was created", "000"),
    ("trust.verification.updated", "A verification was updated", "000"),
    ("trust.reputation.updated", "A reputation score was updated", "000"),
    ("message.created", "A new message was created", "000"),
    ("message.updated", "A message was updated", "000"),
    ("message.deleted", "A message was deleted", "000"),
    ("room.created", "A new room was created", "000"),
    ("room.updated", "A room was updated", "000"),
    ("room.member.joined", "A user joined a room", "000"),
    ("room.member.left", "A user left a room", "000"),
    ("analytics.report.created", "A new report was created", "000"),
    ("analytics.report.completed", "A report was completed", "000"),
    ("analytics.metric.updated", "A metric was updated", "000"),
    ("security.alert.created", "A new security alert was raised", "000"),
    ("security.alert.updated", "A security alert was updated", "000"),
    ("security.scan.started", "A security scan started (seed 002 only)", "002"),
    ("security.scan.completed", "A security scan completed", "000"),
    ("system.maintenance.start", "Scheduled maintenance started", "000"),
    ("system.maintenance.end", "Scheduled maintenance ended", "000"),
    ("system.status.changed", "The system status changed", "000"),
)

_ADMIN: tuple[tuple[str, str], ...] = (
    ("user.created", "A new user was created"),
    ("payment.completed", "A payment (balance top-up) completed"),
    ("transaction.created", "A transaction was created"),
    ("ticket.created", "A new support ticket was created"),
    ("ticket.status_changed", "A support ticket's status changed"),
    ("ticket.message_added", "A message (from the user or an admin) was added to a ticket"),
)


def _build() -> dict[str, EventType]:
    types: list[EventType] = []
    for name, description, seed in _KATYA:
        group = name.split(".", 1)[0]
        types.append(EventType(name, group, "katya", description, channel_for(name), "katya", name, seed))
    for name, description in _ADMIN:
        types.append(EventType(name, name.split(".", 1)[0], "admin", description, None, "admin", name, "001"))
    for status, description in _JOB_DESCRIPTIONS.items():
        types.append(EventType(f"job.{status}", "job", "job", description, None, "job", status, "003"))
    for event, description in _WAZZUP_DESCRIPTIONS.items():
        types.append(EventType(f"wazzup.{event}", "wazzup", "wazzup", description, None, None, event, "004"))
    return {t.name: t for t in types}


EVENT_TYPES: dict[str, EventType] = _build()

GROUPS: dict[str, list[str]] = {}
for _t in EVENT_TYPES.values():
    GROUPS.setdefault(_t.group, []).append(_t.name)
del _t

# Every proper dotted prefix of a known type ("trust", "trust.identity", ...): what "prefix.*" may name.
_PREFIXES: frozenset[str] = frozenset(
    ".".join(parts[:i]) for parts in (n.split(".") for n in EVENT_TYPES) for i in range(1, len(parts))
)


def is_known(event_type: str) -> bool:
    return event_type in EVENT_TYPES


# --- patterns ----------------------------------------------------------------------------------


def matches(pattern: str, event_type: str) -> bool:
    """Subscription / WebSocket filter: ``*`` matches everything, ``a.b.*`` matches any type that starts
    with ``a.b.`` (so ``message.*`` matches ``message.created`` but not ``messages.x`` nor ``message``),
    anything else must be equal. Purely syntactic: unknown types can match too."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def types_matching(pattern: str) -> list[str]:
    """The catalogue's types that ``pattern`` matches, in catalogue order."""
    return [name for name in EVENT_TYPES if matches(pattern, name)]


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[c] for c in close]
    return f"; did you mean '{close[0]}'?" if close else ""


def validate_pattern(pattern: object) -> str | None:
    """None when ``pattern`` is ``*``, a known type or ``prefix.*`` of a known group; otherwise a one-line
    error message, with a "did you mean" suggestion when one is close."""
    if not isinstance(pattern, str) or not pattern.strip():
        return "event type must be a non-empty string"
    if pattern != pattern.strip() or any(c.isspace() for c in pattern):
        return f"event type '{pattern}' must not contain whitespace"
    if pattern == "*":
        return None
    if pattern.endswith(".*"):
        prefix = pattern[:-2]
        if "*" in prefix:
            return f"'{pattern}': a wildcard may only stand alone ('*') or end a group ('message.*')"
        if prefix in _PREFIXES:
            return None
        return f"unknown event group '{prefix}'" + _suggest(pattern, [p + ".*" for p in sorted(_PREFIXES)])
    if "*" in pattern:
        return f"'{pattern}': a wildcard may only stand alone ('*') or end a group ('message.*')"
    if pattern in EVENT_TYPES:
        return None
    if pattern in _PREFIXES:
        return f"'{pattern}' is a group, not an event type; did you mean '{pattern}.*'?"
    return f"unknown event type '{pattern}'" + _suggest(pattern, list(EVENT_TYPES))


# --- samples and the envelope ------------------------------------------------------------------

_DEFAULT_RNG = random.Random()


def sample_data(event_type: str, *, rng: random.Random | None = None, now: datetime | None = None) -> dict:
    """A fresh, realistic payload for ``event_type`` in its seed's shape (for Katya types the envelope's
    ``data``; for job types the whole callback body; for wazzup types the body's ``data``).

    Ids and values are drawn from ``rng``; times derive from ``now`` (default: the current UTC time).
    The same seeded ``rng`` and the same ``now`` give the same payload. Raises KeyError for unknown types.
    """
    try:
        generate = GENERATORS[event_type]
    except KeyError:
        raise KeyError(f"no sample for unknown event type {event_type!r}") from None
    moment = datetime.now(UTC) if now is None else now
    return generate(rng or _DEFAULT_RNG, moment)


def new_event_id(rng: random.Random | None = None) -> str:
    """``evt_`` and 24 hex digits: random, or drawn from ``rng`` when given."""
    if rng is not None:
        return f"evt_{rng.getrandbits(96):024x}"
    return "evt_" + uuid.uuid4().hex[:24]


def envelope(
    event_type: str,
    data: Any,
    *,
    event_id: str | None = None,
    created_at: datetime | str | None = None,
    rng: random.Random | None = None,
) -> dict:
    """Seed 000's envelope ``{id, type, createdAt, data}``; ``createdAt`` is ISO 8601 UTC with ``Z``.
    ``created_at`` may be a datetime (naive means UTC) or an already formatted string; default now."""
    stamp = created_at if isinstance(created_at, str) else iso_utc(created_at or datetime.now(UTC))
    return {"id": event_id or new_event_id(rng), "type": event_type, "createdAt": stamp, "data": data}


def wazzup_body(event_type: str, data: dict) -> dict:
    """Seed 004's body ``{"event": raw_name, "data": data}`` for a ``wazzup.*`` type."""
    event = EVENT_TYPES.get(event_type)
    if event is None or event.source != "wazzup":
        raise ValueError(f"{event_type!r} is not a Wazzup24 event type")
    return {"event": event.raw_name, "data": data}


# --- recognising inbound bodies ----------------------------------------------------------------

HeaderGet = Callable[[str], "str | None"]


def _nonempty_str(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def classify_body(obj: object, headers: HeaderGet | None = None) -> tuple[str, dict, str | None] | None:
    """Recognise a parsed JSON body as an event: ``(type, data, event id or None)``, or None.

    ``headers`` is a case-insensitive ``get(name) -> str | None`` (e.g. ``request.headers.get``).
    Checked in this order:
    1. a Katya envelope ``{id, type, createdAt, data}`` (strings, ``data`` an object) → ``(type, data, id)``;
       the type need not be in the catalogue;
    2. header ``X-Webhook-Event`` present and the body an object (seed 001) → ``(header value, body, None)``
       (seed 001's ``X-Webhook-Id`` names the sending webhook, not the event);
    3. a job result: ``job_id`` and ``status`` strings, status one of JOB_STATUSES (seed 003) →
       ``("job.<status>", body, "<job_id>:<status>")`` (a retried callback repeats it; a job's next status does not);
    4. ``{event, data}`` with event message/status/contact and ``data`` an object (seed 004) →
       ``("wazzup.<event>", data, None)``.
    """
    if not isinstance(obj, dict):
        return None
    if all(_nonempty_str(obj.get(k)) for k in ("id", "type", "createdAt")) and isinstance(
        obj.get("data"), dict
    ):
        return obj["type"], obj["data"], obj["id"]
    if headers is not None:
        admin_event = headers("X-Webhook-Event")
        if _nonempty_str(admin_event):
            return admin_event.strip(), obj, None
    if _nonempty_str(obj.get("job_id")) and obj.get("status") in JOB_STATUSES:
        return f"job.{obj['status']}", obj, f"{obj['job_id']}:{obj['status']}"
    if obj.get("event") in WAZZUP_EVENTS and isinstance(obj.get("data"), dict):
        return f"wazzup.{obj['event']}", obj["data"], None
    return None
