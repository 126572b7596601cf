"""Reading exports back: katya-tui's JSON lines and HAR files (katya-tui's own, or a browser's), one `Incoming`
request per record, or a `Problem` naming the record and what is wrong with it. Storing them is
`core/receiver/imported.py`'s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from .core.models import decode_body
from .core.receiver.imported import Incoming


@dataclass
class Problem:
    where: str  # "line 3", "entry 2"
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.why}"


class NotAnExport(ValueError):
    """The file as a whole is not one of the formats (a `.har` that is not a HAR log)."""


def read(raw: bytes, name: str) -> Iterator[Incoming | Problem]:
    """The records of a file: HAR when it is one JSON object with a `log` (or its name ends in `.har`), else
    JSON lines."""
    head = raw.lstrip()[:1]
    if name.lower().endswith(".har") or head == b"{" and b"\n{" not in raw.strip():
        yield from _har(raw)
    else:
        yield from _jsonl(raw)


def _jsonl(raw: bytes) -> Iterator[Incoming | Problem]:
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield _capture(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            yield Problem(f"line {n}", f"not JSON ({exc})")
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            yield Problem(f"line {n}", f"not a katya-tui capture ({_why(exc)})")


def _capture(doc: Any) -> Incoming:
    """A capture document of `katya-tui export captures` (JSON lines)."""
    if not isinstance(doc, dict):
        raise TypeError("expected a JSON object")
    body = decode_body(_str(doc, "body"), doc.get("body_encoding") or "utf8")
    query = doc.get("query") or ""
    return Incoming(
        key=_str(doc, "id"),
        endpoint=_str(doc, "endpoint"),
        method=_str(doc, "method"),
        target=_str(doc, "path") + (f"?{query}" if query else ""),
        headers=_headers(doc.get("headers") or [], lambda h: (h[0], h[1])),
        body=body,
        truncated=bool(doc.get("truncated")),
        received_at=float(doc["received_at"]),
        remote=doc.get("remote"),
        response=doc.get("response") if isinstance(doc.get("response"), dict) else None,
        source="jsonl",
    )


def _har(raw: bytes) -> Iterator[Incoming | Problem]:
    try:
        log = orjson.loads(raw)["log"]
        entries = log["entries"]
        if not isinstance(entries, list):
            raise TypeError("log.entries is not a list")
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise NotAnExport(f"not a HAR file ({_why(exc)})") from None
    for n, entry in enumerate(entries, 1):
        try:
            yield _entry(entry)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            yield Problem(f"entry {n}", f"not a HAR request ({_why(exc)})")


def _entry(entry: Any) -> Incoming:
    """A HAR entry: katya-tui's (its `_katya` names the capture, and holds a binary body's bytes) or any other
    tool's (a browser's dev tools: HTTP/2 pseudo-headers dropped, the body as UTF-8)."""
    req = entry["request"]
    ours = entry.get("_katya") if isinstance(entry.get("_katya"), dict) else {}
    post = req.get("postData") or {}
    if ours.get("bodyBase64") is not None:
        body = base64.b64decode(ours["bodyBase64"], validate=True)
    elif post.get("encoding") == "base64":  # (what katya-tui wrote before HAR 1.2 was followed)
        body = base64.b64decode(post.get("text") or "", validate=True)
    else:
        body = str(post.get("text") or "").encode("utf-8")
    url = urlsplit(_str(req, "url"))
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = _headers(req.get("headers") or [], lambda h: (h["name"], h["value"]))
    headers = [h for h in headers if not h[0].startswith(":")]
    when = ours.get("receivedAt")
    received_at = (
        float(when) if when is not None else datetime.fromisoformat(entry["startedDateTime"]).timestamp()
    )
    method = _str(req, "method")
    key = ours.get("captureId") or _made_key(
        method, _str(req, "url"), str(entry.get("startedDateTime")), body
    )
    resp = entry.get("response") or {}
    return Incoming(
        key=str(key),
        endpoint=str(ours.get("endpoint") or _endpoint_of(url.path)),
        method=method,
        target=target,
        headers=headers,
        body=body,
        truncated=bool(ours.get("truncated")),
        received_at=received_at,
        remote=None,
        response={
            "status": resp.get("status"),
            "headers": _headers(resp.get("headers") or [], lambda h: (h["name"], h["value"])),
            "body": str((resp.get("content") or {}).get("text") or ""),
        }
        if resp.get("status")
        else None,
        source="har",
    )


def _made_key(method: str, url: str, started: str, body: bytes) -> str:
    """A capture id for a request with none of its own: the same request (method, URL, time, body) gives the
    same id, so importing a file again adds nothing."""
    h = hashlib.sha256(b"\0".join([method.encode(), url.encode(), started.encode(), body])).digest()
    return "cap_" + base64.b32encode(h[:16]).decode().lower().rstrip("=")[:26]


def _endpoint_of(path: str) -> str:
    """`/hooks/NAME/...` → NAME; any other path (a browser's HAR of some API) → `imported`."""
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "hooks" and parts[2] else "imported"


def _headers(raw: Any, pair: Any) -> list[list[str]]:
    if not isinstance(raw, list):
        raise TypeError("headers are not a list")
    out = []
    for h in raw:
        name, value = pair(h)
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"header {h!r} is not a name and a value")
        out.append([name, value])
    return out


def _str(doc: dict[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str) or (key != "body" and not value):
        raise TypeError(f"{key} is not a string")
    return value


def _why(exc: BaseException) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
