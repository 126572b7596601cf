"""The `/` filter language of the stream and the delivery log; pure, no Textual.

    type:message.* verdict:invalid,stale status>=500 since:10m stripe

Terms are separated by spaces and all must hold:
- `field:value` compares (`type` takes `*` globs; a comma lists alternatives; `-field:value` negates);
- `field>=N`, `>`, `<`, `<=`, `=`, `!=` compare numbers (`status`, `attempts`, `latency` in ms, `size` in bytes);
- `since:10m` / `until:2h` (s, m, h, d) keep records newer / older than that, or since an ISO date-time;
- anything else is free text, found case-insensitively in the record's id, type, endpoint, path, URL or name.
Quoted values (`"a b"`) keep their spaces.

A record is a mapping with any of: `id`, `kind`, `type`, `verdict`, `status`, `source`, `endpoint`, `method`,
`path`, `state`, `url`, `webhook`, `attempts`, `latency`, `size`, `time` (Unix seconds), `text` (extra words).
A term on a field the record lacks does not match.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TEXT_FIELDS = ("id", "type", "endpoint", "path", "url", "webhook", "method", "source", "text")
WORD_FIELDS = {
    "type",
    "verdict",
    "source",
    "endpoint",
    "method",
    "state",
    "kind",
    "id",
    "webhook",
    "path",
    "url",
}
NUMBER_FIELDS = {"status", "attempts", "latency", "size"}
TIME_FIELDS = {"since", "until"}
ALIASES = {"event": "type", "ep": "endpoint", "sub": "webhook", "subscription": "webhook", "code": "status"}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_OP_RE = re.compile(r"^(-?)([a-z_]+)(>=|<=|!=|>|<|=|:)(.*)$", re.S)


class FilterError(ValueError):
    """The expression cannot be read; the message says which term and why."""


@dataclass(frozen=True)
class Term:
    field: str
    op: str
    values: tuple[Any, ...]
    negate: bool = False

    def test(self, record: Mapping[str, Any]) -> bool:
        return self._test(record) != self.negate

    def _test(self, r: Mapping[str, Any]) -> bool:
        if self.field == "*":  # free text
            needle = self.values[0]
            return any(needle in str(r.get(f) or "").lower() for f in TEXT_FIELDS)
        if self.field in TIME_FIELDS:
            t = r.get("time")
            if t is None:
                return False
            return t >= self.values[0] if self.field == "since" else t < self.values[0]
        value = r.get(self.field)
        if value is None:
            return False
        if self.field in NUMBER_FIELDS:
            try:
                value = float(value)
            except (TypeError, ValueError):
                return False
            return _compare(value, self.op, self.values[0])
        text = str(value).lower()
        hit = any(fnmatch.fnmatchcase(text, v) if _is_glob(v) else text == v for v in self.values)
        return hit if self.op in (":", "=") else not hit


def _is_glob(v: str) -> bool:
    return any(c in v for c in "*?[")


def _compare(a: float, op: str, b: float) -> bool:
    return {
        ":": a == b,
        "=": a == b,
        "!=": a != b,
        ">": a > b,
        ">=": a >= b,
        "<": a < b,
        "<=": a <= b,
    }[op]


@dataclass(frozen=True)
class Filter:
    """A parsed expression; `Filter.parse("")` matches everything."""

    source: str = ""
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, record: Mapping[str, Any]) -> bool:
        return all(t.test(record) for t in self.terms)

    def fields(self) -> set[str]:
        return {t.field for t in self.terms}

    def value_of(self, name: str) -> tuple[Any, ...] | None:
        """The values of the first positive `name:` term, e.g. for passing a type down to the core."""
        for t in self.terms:
            if t.field == name and not t.negate:
                return t.values
        return None

    @classmethod
    def parse(cls, text: str, *, now: float) -> Filter:
        """Parse `text`; `now` (Unix seconds) anchors `since:10m`. Raises FilterError."""
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise FilterError(f"unbalanced quotes: {exc}") from None
        return cls(text.strip(), tuple(_term(w, now) for w in words))


def _term(word: str, now: float) -> Term:
    m = _OP_RE.match(word)
    if m is None or (m.group(2) not in _known() and m.group(2) not in ALIASES):
        if m is not None and m.group(3) == ":" and m.group(4):
            raise FilterError(
                f"unknown field {m.group(2)!r} in {word!r} (fields: {', '.join(sorted(_known()))})"
            )
        return Term("*", ":", (word.lower(),))
    negate, name, op, raw = m.group(1) == "-", ALIASES.get(m.group(2), m.group(2)), m.group(3), m.group(4)
    if not raw:
        raise FilterError(f"{word!r} needs a value after {op!r}")
    if name in TIME_FIELDS:
        if op != ":":
            raise FilterError(f"write {name}:10m (a duration or ISO time), not {word!r}")
        return Term(name, op, (_instant(raw, now, word),), negate)
    if name in NUMBER_FIELDS:
        try:
            return Term(name, op, (float(raw),), negate)
        except ValueError:
            raise FilterError(f"{name} takes a number: {word!r}") from None
    if op not in (":", "=", "!="):
        raise FilterError(f"{name} is not a number; write {name}:value, not {word!r}")
    values = tuple(v.strip().lower() for v in raw.split(",") if v.strip())
    if not values:
        raise FilterError(f"{word!r} needs a value")
    return Term(name, op, values, negate)


def _known() -> set[str]:
    return WORD_FIELDS | NUMBER_FIELDS | TIME_FIELDS


def _instant(raw: str, now: float, word: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", raw)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"{word!r}: expected a duration like 10m, 2h, 1d or an ISO time") from None
    return dt.timestamp()


def capture_record(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a filter sees of a capture document."""
    verdict = doc.get("verdict") or {}
    response = doc.get("response") or {}
    return {
        "kind": "capture",
        "id": doc.get("id"),
        "endpoint": doc.get("endpoint"),
        "method": doc.get("method"),
        "path": doc.get("path"),
        "verdict": verdict.get("status"),
        "status": response.get("status"),
        "latency": response.get("latency_ms"),
        "size": doc.get("body_size"),
        "time": doc.get("received_at"),
        "source": "replay" if doc.get("replay_of") else "relay" if doc.get("relay") else "hook",
        "type": doc.get("event_type"),
        "text": doc.get("event_id"),
    }


def event_record(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What a filter sees of an event document."""
    return {
        "kind": "event",
        "id": doc.get("id"),
        "type": doc.get("type"),
        "source": doc.get("source"),
        "verdict": doc.get("verdict"),
        "time": doc.get("created_at"),
        "text": doc.get("capture_id"),
    }


def delivery_record(doc: Mapping[str, Any], webhook_name: str | None = None) -> dict[str, Any]:
    """What a filter sees of a delivery document: its last attempt gives status and latency."""
    attempts = doc.get("attempts") or []
    last = attempts[-1] if attempts else {}
    return {
        "kind": "delivery",
        "id": doc.get("id"),
        "type": doc.get("event_type"),
        "state": doc.get("state"),
        "verdict": doc.get("verdict"),
        "status": last.get("status_code"),
        "latency": last.get("latency_ms"),
        "attempts": len(attempts),
        "url": doc.get("url"),
        "webhook": webhook_name or doc.get("webhook_id"),
        "time": doc.get("created_at"),
        "text": f"{doc.get('event_id')} {doc.get('webhook_id')}",
    }
