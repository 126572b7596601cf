"""Exports of the store: JSON lines, HAR 1.2, curl scripts and pytest fixture modules.

Credentials in captured headers (Authorization, cookies, API keys) and subscription secrets are masked unless
the caller asks for them. Each format is a generator of text taking records one at a time, so an export of a
large store holds one record's body in memory, not all of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .core.models import decode_body, iso
from .curl import request_url, to_curl

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
MASK = "***"
_SINCE = re.compile(r"^(\d+)([smhd])$")


def parse_since(text: str, now: float | None = None) -> float:
    """`10m`, `2h`, `1d`, `30s`, or an ISO 8601 time → Unix seconds."""
    now = time.time() if now is None else now
    m = _SINCE.match(text.strip())
    if m:
        return now - int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    from datetime import UTC, datetime

    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"since: expected 10m, 2h, 1d or an ISO 8601 time, got {text!r}") from None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def masked(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    """A copy of `doc` with credentials replaced by `***`."""
    doc = dict(doc)
    if kind == "captures":
        doc["headers"] = [
            [n, MASK if n.lower() in SECRET_HEADERS else v] for n, v in doc.get("headers") or []
        ]
    elif kind == "webhooks" and doc.get("secret"):
        doc["secret"] = MASK
    return doc


def jsonl(docs: Iterable[dict[str, Any]]) -> Iterator[str]:
    for doc in docs:
        yield orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS).decode() + "\n"


def har(captures: Iterable[dict[str, Any]], base_url: str) -> Iterator[str]:
    """One HAR 1.2 log. HAR 1.2 carries a request body only as `postData.text`, a string its consumers send as
    UTF-8, and has no `encoding` there (only a response's content has one): a body that is not UTF-8 has no
    `text` (a consumer then sends no body, visibly, rather than other bytes that look right), and its exact
    bytes are in base64 in the entry's `_katya.bodyBase64` (a custom field, as HAR allows), which `katya-tui
    import` reads; `postData.comment` says so. Each entry's `_katya` also names its capture, endpoint and time."""
    creator = orjson.dumps({"name": "katya-tui", "version": "0.1.0"}).decode()
    yield f'{{\n  "log": {{\n    "version": "1.2",\n    "creator": {creator},\n    "entries": ['
    for i, c in enumerate(captures):
        headers = [{"name": n, "value": v} for n, v in c.get("headers") or []]
        ctype = next((v for n, v in c.get("headers") or [] if n.lower() == "content-type"), "")
        ours: dict[str, Any] = {
            "captureId": c.get("id"),
            "endpoint": c.get("endpoint"),
            "receivedAt": c.get("received_at"),
            "truncated": bool(c.get("truncated")),
        }
        post: dict[str, Any] = {"mimeType": ctype}
        if c.get("body_encoding") == "base64":
            ours["bodyBase64"] = c.get("body") or ""
            post["comment"] = (
                f"binary body ({c.get('body_size', 0)} bytes, not UTF-8): HAR 1.2 cannot carry it as text; "
                "its bytes are in base64 in _katya.bodyBase64"
            )
        else:
            post["text"] = c.get("body") or ""
        resp = c.get("response") or {}
        entry = orjson.dumps(
            {
                "startedDateTime": iso(c.get("received_at")),
                "time": resp.get("latency_ms") or 0,
                "request": {
                    "method": c.get("method", "GET"),
                    "url": request_url(c, base_url),
                    "httpVersion": "HTTP/1.1",
                    "headers": headers,
                    "queryString": [
                        {"name": k, "value": v} for k, v in parse_qsl(c.get("query") or "", True)
                    ],
                    "cookies": [],
                    "headersSize": -1,
                    "bodySize": c.get("body_size", 0),
                    "postData": post,
                },
                "response": {
                    "status": resp.get("status", 0),
                    "statusText": "",
                    "httpVersion": "HTTP/1.1",
                    "headers": [{"name": n, "value": v} for n, v in _pairs(resp.get("headers"))],
                    "cookies": [],
                    "content": {
                        "size": len(str(resp.get("body", ""))),
                        "mimeType": "",
                        "text": str(resp.get("body", "")),
                    },
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": -1,
                },
                "cache": {},
                "timings": {"send": 0, "wait": resp.get("latency_ms") or 0, "receive": 0},
                "comment": f"katya-tui capture {c.get('id')} verdict {(c.get('verdict') or {}).get('status', '-')}",
                "_katya": ours,
            },
            option=orjson.OPT_INDENT_2,
        ).decode()
        yield ("," if i else "") + "\n      " + entry.replace("\n", "\n      ")
    yield "\n    ]\n  }\n}\n"


def _pairs(headers: Any) -> list[tuple[str, str]]:
    if isinstance(headers, dict):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(p[0]), str(p[1])) for p in headers or []]


def curl_script(captures: Iterable[dict[str, Any]], base_url: str) -> Iterator[str]:
    yield "#!/usr/bin/env bash\n# Requests captured by katya-tui, sent again with the same bytes.\nset -eu\n"
    for c in captures:
        yield f"\n# {c.get('id')}  {c.get('method')} {c.get('path')}  {iso(c.get('received_at'))}\n"
        yield to_curl(c, base_url) + "\n"


def pytest_module(captures: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A module defining `CAPTURES` and a parametrised `katya_capture` fixture with the exact bytes."""
    head = [
        '"""Requests captured by katya-tui, as pytest fixtures: `def test_x(katya_capture): ...`."""',
        "",
        "import hashlib",
        "",
        "import pytest",
        "",
        "CAPTURES = [",
        "",
    ]
    yield "\n".join(head)
    for c in captures:
        body = decode_body(c.get("body") or "", c.get("body_encoding") or "utf8")
        item = {
            "id": c.get("id"),
            "method": c.get("method"),
            "path": c.get("path"),
            "query": c.get("query") or "",
            "headers": [tuple(h) for h in c.get("headers") or []],
            "verdict": (c.get("verdict") or {}).get("status"),
            "sha256": c.get("body_sha256"),
        }
        fields = ", ".join(f"{k!r}: {v!r}" for k, v in item.items())
        yield f"    {{{fields}, 'body': {body!r}}},\n"
    tail = [
        "]",
        "",
        "",
        '@pytest.fixture(params=CAPTURES, ids=[c["id"] for c in CAPTURES])',
        "def katya_capture(request):",
        '    """One captured request: method, path, query, headers (in order), body (bytes), verdict."""',
        "    return request.param",
        "",
        "",
        "def test_capture_bytes_are_intact(katya_capture):",
        '    """Run alone, this module checks itself: each body is the one katya-tui hashed when it arrived."""',
        '    assert hashlib.sha256(katya_capture["body"]).hexdigest() == katya_capture["sha256"]',
        "",
    ]
    yield "\n".join(tail)
