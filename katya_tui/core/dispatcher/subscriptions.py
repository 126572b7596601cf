"""Subscriptions: seed 000's webhook object plus `profile`, `serialization` and `timeout`, validated field by field.

A stored webhook document: `{id: "webhook_…", name, url, events, secret, active, retryPolicy, createdAt,
lastDelivery, profile, serialization, timeout, description}`. Seed 001's forms are accepted on input:
`event_type` (one type) for `events`, `is_active` for `active`. Problems raise `ValidationFailed` with every field
that is wrong, each with a message a person can act on.
"""

from __future__ import annotations

import base64
import math
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .. import signing
from ..catalog import matches, validate_pattern
from ..errors import ValidationFailed
from ..models import iso, new_id
from .retry import DEFAULT_POLICY

PROFILES = ("katya", "admin", "job", "standard")
SERIALIZATIONS = ("compact", "python", "sorted")
EDITABLE = (
    "name",
    "url",
    "events",
    "secret",
    "active",
    "retryPolicy",
    "profile",
    "serialization",
    "timeout",
    "description",
)
READ_ONLY = ("id", "createdAt", "lastDelivery")  # echoed back by clients; ignored
ALIASES = {"event_type": "events", "is_active": "active"}  # seed 001
# Bounds: small enough values for tests (10 ms), large enough for real use, nothing absurd.
POLICY_BOUNDS: dict[str, tuple[float, float, bool]] = {  # key: (lo, hi, whole number)
    "maxRetries": (0, 100, True),
    "retryDelay": (0, 86_400_000, False),
    "backoffMultiplier": (1, 100, False),
    "maxRetryDelay": (0, 7 * 86_400_000, False),
}
TIMEOUT_BOUNDS = (0.001, 600.0)


def new_secret(profile: str) -> str:
    """A fresh secret: `whsec_` + base64 for Standard Webhooks, `whsec_` + hex otherwise."""
    if profile == "standard":
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return "whsec_" + secrets.token_hex(24)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _check_url(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return "required: an http:// or https:// URL"
    if url != url.strip() or any(c.isspace() for c in url):
        return "must not contain spaces"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"must start with http:// or https:// (got {parts.scheme + '://' if parts.scheme else url[:20]!r})"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has an invalid port"
    if not parts.hostname:
        return "has no host"
    return None


def _check_events(events: Any) -> tuple[list[str], list[str]]:
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events:
        return [], ["required: a list of event types, `group.*` patterns or `*`"]
    errors = [e for e in (validate_pattern(p) for p in events) if e]
    clean = list(dict.fromkeys(p for p in events if isinstance(p, str)))
    return clean, errors


def _check_policy(policy: Any, base: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(policy, dict):
        return base, ["must be an object like {maxRetries, retryDelay, backoffMultiplier, maxRetryDelay}"]
    errors = [
        f"unknown key {k!r} (known: {', '.join(POLICY_BOUNDS)})" for k in policy if k not in POLICY_BOUNDS
    ]
    out = dict(base)
    for key, (lo, hi, whole) in POLICY_BOUNDS.items():
        if key not in policy:
            continue
        value = _number(policy[key])
        if value is None or (whole and value != int(value)):
            errors.append(f"{key} must be a {'whole ' if whole else ''}number")
        elif not lo <= value <= hi:
            errors.append(f"{key} must be between {lo:g} and {hi:g}, got {value:g}")
        else:
            out[key] = int(value) if whole or value == int(value) else value
    if not errors and out["maxRetryDelay"] < out["retryDelay"]:
        errors.append(
            f"maxRetryDelay ({out['maxRetryDelay']:g}) must not be less than retryDelay ({out['retryDelay']:g})"
        )
    return out, errors


def validate(body: Any, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The webhook document `body` describes: a new one, or `existing` with the fields `body` gives replaced.

    `retryPolicy` keys merge into the current policy. Raises ValidationFailed with every problem found.
    """
    if not isinstance(body, dict):
        raise ValidationFailed({"body": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    given: dict[str, Any] = {}
    for key, value in body.items():
        name = ALIASES.get(key, key)
        if name in READ_ONLY:
            continue
        if name not in EDITABLE:
            errors.setdefault(key, []).append(f"unknown field (known: {', '.join(EDITABLE)})")
        elif name in given:
            errors.setdefault(key, []).append(f"given twice (as {name!r} and its alias)")
        else:
            given[name] = value
    doc: dict[str, Any] = (
        dict(existing)
        if existing
        else {
            "id": new_id("webhook"),
            "name": None,
            "url": None,
            "events": None,
            "secret": None,
            "active": True,
            "retryPolicy": dict(DEFAULT_POLICY),
            "createdAt": iso(time.time()),
            "lastDelivery": None,
            "profile": "katya",
            "serialization": None,
            "timeout": None,
            "description": None,
        }
    )

    def check(name: str, problem: str | None) -> None:
        if problem:
            errors.setdefault(name, []).append(problem)

    if "name" in given or existing is None:
        name = given.get("name")
        ok = isinstance(name, str) and name.strip() and len(name) <= 200
        check("name", None if ok else "required: a non-empty name of at most 200 characters")
        doc["name"] = name.strip() if ok and isinstance(name, str) else name
    if "url" in given or existing is None:
        check("url", _check_url(given.get("url")))
        doc["url"] = given.get("url")
    if "events" in given or existing is None:
        doc["events"], problems = _check_events(given.get("events"))
        for p in problems:
            check("events", p)
    if "active" in given:
        check("active", None if isinstance(given["active"], bool) else "must be true or false")
        doc["active"] = given["active"]
    if "retryPolicy" in given:
        doc["retryPolicy"], problems = _check_policy(given["retryPolicy"], doc["retryPolicy"])
        for p in problems:
            check("retryPolicy", p)
    if "profile" in given:
        ok = given["profile"] in PROFILES
        check("profile", None if ok else f"must be one of {', '.join(PROFILES)}")
        doc["profile"] = given["profile"]
    if "serialization" in given and given["serialization"] is not None:
        ok = given["serialization"] in SERIALIZATIONS
        check("serialization", None if ok else f"must be one of {', '.join(SERIALIZATIONS)}")
        doc["serialization"] = given["serialization"]
    if doc["profile"] == "admin" and doc.get("serialization") not in (None, "sorted"):
        check(
            "serialization",
            "the admin profile (seed 001) signs and sends json.dumps(data, sort_keys=True): use 'sorted'",
        )
    if doc["profile"] in PROFILES:
        doc["serialization"] = doc.get("serialization") or (
            "sorted" if doc["profile"] == "admin" else "compact"
        )
    if "timeout" in given and given["timeout"] is not None:
        t = _number(given["timeout"])
        lo, hi = TIMEOUT_BOUNDS
        check(
            "timeout",
            None if t is not None and lo <= t <= hi else f"must be seconds between {lo:g} and {hi:g}",
        )
        doc["timeout"] = t
    if "description" in given:
        d = given["description"]
        check("description", None if d is None or isinstance(d, str) else "must be text")
        doc["description"] = d
    _settle_secret(doc, given, existing, check)
    if errors:
        raise ValidationFailed(errors)
    return doc


def _settle_secret(
    doc: dict[str, Any],
    given: dict[str, Any],
    existing: dict[str, Any] | None,
    check: Callable[[str, str | None], None],
) -> None:
    """A given secret must sign under the profile; none given keeps the current one or makes a new one.

    An empty secret ("") is allowed for the admin profile only (seed 001: unsigned deliveries)."""
    secret = given.get("secret")
    if secret is None:
        if existing is None or not doc.get("secret"):
            if doc["profile"] in PROFILES:
                doc["secret"] = new_secret(doc["profile"])
            return
        secret = doc["secret"]
    elif not isinstance(secret, str):
        check("secret", "must be text")
        return
    doc["secret"] = secret
    if secret == "" and doc["profile"] == "admin":
        return
    if doc["profile"] not in PROFILES:
        return
    try:
        signing.sign(doc["profile"], b"{}", secret)
    except signing.SigningConfigError as exc:
        check("secret", f"{exc} (profile {doc['profile']})")


def public(doc: dict[str, Any], *, with_secret: bool = True) -> dict[str, Any]:
    """The API's view: the stored document (without TinyDB's doc id), the secret only when asked for."""
    out = {k: v for k, v in doc.items() if with_secret or k != "secret"}
    return out


def wants(doc: dict[str, Any], event_type: str) -> bool:
    """Whether the subscription's `events` patterns take `event_type`."""
    return any(matches(p, event_type) for p in doc.get("events") or ())
