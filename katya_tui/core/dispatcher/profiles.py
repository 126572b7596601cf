"""Delivery profiles (SPEC 4.2): the body and headers of one attempt, signed over exactly the bytes sent.

| profile  | body                        | signature header                              |
|----------|-----------------------------|-----------------------------------------------|
| katya    | {id, type, createdAt, data} | X-Katya-Signature: sha256=<hex>               |
| admin    | data, json.dumps sort_keys  | X-Webhook-Signature: sha256=<hex> (optional)  |
| job      | data (the job result)       | X-Signature: <hex>                            |
| standard | {type, timestamp, data}     | webhook-signature: v1,<base64>                |

`serialization` picks the JSON bytes: `compact` (JavaScript's JSON.stringify), `python` (json.dumps defaults),
`sorted` (json.dumps with sort_keys). The body is the same on every attempt; the timestamp and signature are fresh.
The default profile (`katya`) is signed here directly, from an HMAC whose key state is made once per secret and
copied for each body: the same header value as `signing.sign("katya", ...)`, without deriving the key and
building the scheme's headers again on every attempt.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from functools import lru_cache
from typing import Any

from .. import signing
from ..models import iso
from ..signing.katya import SCHEME as KATYA

JSON = ("Content-Type", "application/json")
KATYA_AGENT = ("User-Agent", "Katya-Webhooks/1.0")
JOB_AGENT = ("User-Agent", "Generation-Service/1.0")


# What json.dumps builds on every call with these arguments, built once (the same encoder, the same bytes).
_ENCODERS = {
    "python": json.JSONEncoder(),
    "sorted": json.JSONEncoder(sort_keys=True),
    "compact": json.JSONEncoder(separators=(",", ":"), ensure_ascii=False),
}


def serialize(obj: Any, serialization: str) -> bytes:
    """The JSON bytes for `serialization`: compact | python | sorted (anything else: compact). The same bytes as
    `json.dumps(obj)`, `json.dumps(obj, sort_keys=True)` and, for compact, JavaScript's `JSON.stringify(obj)`:
    `json.dumps(obj, separators=(",", ":"), ensure_ascii=False)` with numbers written as JavaScript writes them."""
    if serialization not in ("python", "sorted"):
        serialization, obj = "compact", _as_javascript_numbers(obj)
    return _ENCODERS[serialization].encode(obj).encode("utf-8", "surrogatepass")


def _as_javascript_numbers(obj: Any) -> Any:
    """`obj` with the floats JSON.stringify writes differently from Python: a whole one as an integer (`1`, not
    `1.0`), a non-finite one as `null`. (Python and JavaScript agree on the digits of every other float; they
    differ only on the exponent form of very small or very large ones.)"""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return int(obj) if obj.is_integer() and abs(obj) < 1e21 else obj
    if isinstance(obj, dict):
        return {k: _as_javascript_numbers(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_as_javascript_numbers(v) for v in obj]
    return obj


def iso_ms(ts: float) -> str:
    """`models.iso(ts)` (ISO 8601 UTC with milliseconds), the date and time of day made once per second: the same
    microsecond rounding as `datetime.fromtimestamp` (half to even), then milliseconds cut as `isoformat` does."""
    if not 0 <= ts < 253_402_300_799:  # (and not NaN): the general way
        return iso(ts)
    frac, whole = math.modf(ts)
    us, sec = round(frac * 1e6), int(whole)
    if us >= 1_000_000:
        sec, us = sec + 1, us - 1_000_000
    return f"{_day_time(sec)}.{us // 1000:03d}Z"


@lru_cache(maxsize=4096)
def _day_time(sec: int) -> str:
    """Unix second -> "YYYY-MM-DDTHH:MM:SS" (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


def body_of(webhook: dict[str, Any], delivery: dict[str, Any]) -> bytes:
    """The bytes a delivery sends under its subscription's profile and serialization."""
    profile = webhook.get("profile") or "katya"
    data = delivery.get("data")
    created = iso_ms(delivery.get("event_created_at") or delivery["created_at"])
    if profile == "admin":
        return serialize(data, "sorted")
    serialization = webhook.get("serialization") or "compact"
    if profile == "job":
        return serialize(data, serialization)
    if profile == "standard":
        return serialize({"type": delivery["event_type"], "timestamp": created, "data": data}, serialization)
    envelope = {
        "id": delivery["event_id"],
        "type": delivery["event_type"],
        "createdAt": created,
        "data": data,
    }
    return serialize(envelope, serialization)


def katya_signature(body: bytes, secret: str) -> str:
    """`X-Katya-Signature` for `body`: what `signing.sign("katya", body, secret)` puts there.
    SigningConfigError for an empty secret, as there."""
    mac = _katya_mac(secret).copy()
    mac.update(body)
    return KATYA.prefix + mac.hexdigest()


@lru_cache(maxsize=1024)
def _katya_mac(secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 holding the secret's key state, copied for each body."""
    if not isinstance(secret, str) or not secret.strip():
        raise signing.SigningConfigError("the secret is empty")
    return hmac.new(KATYA.key(secret), digestmod="sha256")


def request_for(
    webhook: dict[str, Any],
    delivery: dict[str, Any],
    *,
    now: float,
    retry: tuple[int, str, float] | None = None,
    body: bytes | None = None,
) -> tuple[list[tuple[str, str]], bytes]:
    """(headers, body) of one attempt. `retry` is (retry count, reason, seconds waited) for attempts after the first.
    `body`: `body_of(webhook, delivery)` made earlier (it does not change between attempts), else made here.
    The timestamp and signature are made now, over exactly the body returned.

    Raises signing.SigningConfigError when the secret cannot sign under the profile.
    """
    profile = webhook.get("profile") or "katya"
    secret = webhook.get("secret") or ""
    if body is None:
        body = body_of(webhook, delivery)
    did, etype = delivery["id"], delivery["event_type"]
    if profile == "admin":
        headers = [
            JSON,
            ("X-Webhook-Event", etype),
            ("X-Webhook-Id", str(webhook["id"])),
            ("X-Webhook-Delivery", did),
        ]
        if secret:
            headers += signing.sign("admin", body, secret, now=now).headers
    elif profile == "job":
        headers = [JSON, JOB_AGENT, *signing.sign("job", body, secret, now=now).headers]
    elif profile == "standard":
        headers = [JSON, KATYA_AGENT, *signing.sign("standard", body, secret, msg_id=did, now=now).headers]
    else:
        ts = int(now)
        if ts < 0:
            raise signing.SigningConfigError("the timestamp must not be negative")
        headers = [
            JSON,
            ("X-Katya-Event", etype),
            ("X-Katya-Signature", katya_signature(body, secret)),
            ("X-Katya-Delivery", did),
            ("X-Katya-Timestamp", str(ts)),
            KATYA_AGENT,
        ]
    if retry is not None:
        count, reason, waited = retry
        headers += [
            ("X-Katya-Retry-Count", str(count)),
            ("X-Katya-Retry-Reason", reason),
            ("X-Katya-Retry-After", f"{round(waited, 3):g}"),
        ]
    return headers, body
