"""Replay a capture: verbatim (same bytes and headers), re-signed now under the endpoint's scheme and secret, or
with its body or headers replaced; each replay is recorded as a capture linked to its original by `replay_of`."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import ValidationFailed
from ..facts import CaptureRecorded
from ..host import open_store
from ..models import Capture, encode_body, new_id
from ..signing import SigningConfigError, detect_scheme, sign, verify
from .capture import summary
from .forward import end_to_end, send, target_for, with_query

if TYPE_CHECKING:
    from . import Receiver


def _scheme_for(
    cfg: dict[str, Any], original: dict[str, Any], headers: list[tuple[str, str]], body: bytes
) -> str:
    if cfg["scheme"] != "auto":
        return cfg["scheme"]
    seen = (original.get("verdict") or {}).get("scheme")
    if seen:
        return seen
    found = detect_scheme(headers, body)
    if not found:
        raise ValidationFailed(
            {"resign": [f"cannot tell which scheme to sign with: set endpoint {cfg['name']!r}'s scheme"]}
        )
    return found[0]


def resign(
    cfg: dict[str, Any], original: dict[str, Any], headers: list[tuple[str, str]], body: bytes, now: float
) -> tuple[list[tuple[str, str]], bytes]:
    """Replace the signature headers (or body field) with a fresh signature made now with the first secret."""
    if not cfg["secrets"]:
        raise ValidationFailed(
            {"resign": [f"endpoint {cfg['name']!r} has no secret to sign with; add one to its secrets"]}
        )
    scheme = _scheme_for(cfg, original, headers, body)
    msg_id = (original.get("verdict") or {}).get("msg_id")
    try:
        signed = sign(scheme, body, cfg["secrets"][0], msg_id=msg_id, now=now)
    except SigningConfigError as exc:
        raise ValidationFailed({"resign": [f"cannot sign under {scheme}: {exc}"]}) from None
    replaced = {k.lower() for k, _ in signed.headers}
    kept = [(k, v) for k, v in headers if k.lower() not in replaced]
    return kept + list(signed.headers), signed.body


def _headers_arg(headers: Any) -> list[tuple[str, str]]:
    pairs = headers.items() if isinstance(headers, dict) else headers
    try:
        out = [(str(k), str(v)) for k, v in pairs]
    except (TypeError, ValueError):
        raise ValidationFailed(
            {"headers": ['must be [["Name", "value"], ...] or {"Name": "value"}']}
        ) from None
    if any(not k.strip() or any(c in k + v for c in "\r\n") for k, v in out):
        raise ValidationFailed(
            {"headers": ["names must not be empty; names and values must not hold line breaks"]}
        )
    return out


async def replay(
    receiver: Receiver,
    capture_id: str,
    *,
    to: str | None,
    resign_now: bool = False,
    body: bytes | None,
    headers: Any,
) -> Capture:
    found = receiver.find(capture_id)
    if found is None:
        raise LookupError(capture_id)
    original = found[1]
    cfg = receiver.endpoints.config_for(original["endpoint"])
    if to is None:
        target = target_for(cfg, original.get("event_type"))
        if target is None:
            raise ValidationFailed(
                {"to": [f"no target: give one, or set endpoint {cfg['name']!r}'s forward_to"]}
            )
        url, why = with_query(target[0], original["query"]), target[1]
    else:
        parts = urlsplit(to) if isinstance(to, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationFailed({"to": ["must be an http:// or https:// URL"]})
        url, why = to, "replay to"
    sent_body = Capture.from_doc(original).body_bytes if body is None else body
    sent_headers = end_to_end(original["headers"] if headers is None else _headers_arg(headers))
    now = time.time()
    if resign_now:
        sent_headers, sent_body = resign(cfg, original, sent_headers, sent_body, now)
    text, encoding = encode_body(sent_body)
    parts = urlsplit(url)
    cap = Capture(
        id=new_id("cap"),
        endpoint=original["endpoint"],
        method=original["method"],
        path=parts.path or "/",
        query=parts.query,
        headers=[[k, v] for k, v in sent_headers],
        body=text,
        body_encoding=encoding,
        body_size=len(sent_body),
        body_sha256=hashlib.sha256(sent_body).hexdigest(),
        truncated=False,
        remote=None,
        received_at=now,
        replay_of=capture_id,
        event_type=original.get("event_type"),
        event_id=original.get("event_id"),
    )
    cap.verdict = verify(
        cfg["scheme"],
        body=sent_body,
        headers=sent_headers,
        secrets=list(cfg["secrets"]),
        now=now,
        tolerance_s=cfg["tolerance_s"],
        other_endpoints=receiver.endpoints.secrets_of_others(cfg["name"]),
    ).to_dict()
    cap.forward = await send(
        receiver.client,
        cap.method,
        url,
        sent_headers,
        sent_body,
        receiver.forward_timeout,
        why + (" (re-signed)" if resign_now else ""),
    )
    store = open_store(receiver.service)
    store.table("captures").insert(cap.to_doc())
    await store.commit()
    receiver.service.bus.publish(CaptureRecorded(summary(cap.to_doc())))
    return cap
