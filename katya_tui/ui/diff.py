"""Requests and attempts as text, and unified diffs between two of them.

Bodies are shown pretty-printed when they are JSON, as text when UTF-8, as a hex dump otherwise. A diff also says
when two bodies are the same JSON but different bytes (a re-serialised body: the usual reason a signature fails).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from ..core.models import decode_body

HEX_WIDTH = 16


def hexdump(data: bytes, limit: int | None = None) -> list[str]:
    """`offset  hex bytes  |ascii|` lines, 16 bytes a line."""
    shown = data if limit is None else data[:limit]
    lines = []
    for off in range(0, len(shown), HEX_WIDTH):
        chunk = shown[off : off + HEX_WIDTH]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{off:08x}  {hexes:<{HEX_WIDTH * 3 - 1}}  |{text}|")
    if limit is not None and len(data) > limit:
        lines.append(f"… {len(data) - limit:,} more bytes")
    return lines


def parse_json(data: bytes) -> tuple[bool, Any]:
    """(True, value) when `data` is a JSON document, else (False, None)."""
    if not data.strip():
        return False, None
    try:
        return True, json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return False, None


def body_kind(data: bytes) -> str:
    """ "empty", "json", "text" or "binary"."""
    if not data:
        return "empty"
    if parse_json(data)[0]:
        return "json"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return "text"


def body_lines(data: bytes) -> list[str]:
    """The body for reading: pretty JSON, text lines, or a hex dump."""
    kind = body_kind(data)
    if kind == "empty":
        return []
    if kind == "json":
        return json.dumps(parse_json(data)[1], indent=2, ensure_ascii=False).splitlines()
    if kind == "text":
        return data.decode("utf-8").splitlines()
    return hexdump(data)


def header_lines(headers: Sequence[Sequence[str]] | None) -> list[str]:
    return [f"{name}: {value}" for name, value in headers or []]


def capture_body(capture: dict[str, Any]) -> bytes:
    return decode_body(capture.get("body") or "", capture.get("body_encoding") or "utf8")


def request_lines(capture: dict[str, Any]) -> list[str]:
    """A capture as an HTTP message: request line, headers, a blank line, the body for reading."""
    q = capture.get("query") or ""
    target = (capture.get("path") or "/") + (f"?{q}" if q else "")
    return [
        f"{capture.get('method', 'GET')} {target}",
        *header_lines(capture.get("headers")),
        "",
        *body_lines(capture_body(capture)),
    ]


def attempt_lines(attempt: dict[str, Any]) -> list[str]:
    """An attempt: its outcome, the headers sent, the response headers and body."""
    status = attempt.get("status_code")
    outcome = (
        f"HTTP {status}" if status is not None else f"no response ({attempt.get('error_class') or 'error'})"
    )
    latency = attempt.get("latency_ms")
    lines = [
        f"attempt {attempt.get('n')}: {outcome}" + (f" in {latency:.0f} ms" if latency is not None else "")
    ]
    if attempt.get("reason"):
        lines.append(f"reason: {attempt['reason']}")
    lines += [
        "",
        "> request headers",
        *header_lines(attempt.get("request_headers")),
        "",
        "< response headers",
        *header_lines(attempt.get("response_headers")),
        "",
        "< response body",
        *body_lines((attempt.get("response_body") or "").encode("utf-8")),
    ]
    return lines


def unified(a: list[str], b: list[str], a_label: str, b_label: str, context: int = 3) -> list[str]:
    """Unified diff lines (`---`, `+++`, `@@`, ` `, `-`, `+`); empty when the texts are equal."""
    return list(difflib.unified_diff(a, b, a_label, b_label, n=context, lineterm=""))


def body_note(a: bytes, b: bytes) -> str | None:
    """One line about how two bodies differ as bytes, or None when they are the same bytes."""
    if a == b:
        return None
    ha, hb = hashlib.sha256(a).hexdigest()[:12], hashlib.sha256(b).hexdigest()[:12]
    same_json = parse_json(a)[0] and parse_json(a) == parse_json(b)
    if same_json:
        return (
            f"bodies are the same JSON but different bytes ({len(a)} vs {len(b)} bytes, sha256 {ha}… vs {hb}…):"
            " re-serialised, which breaks a signature over the raw body"
        )
    return f"bodies differ: {len(a)} vs {len(b)} bytes, sha256 {ha}… vs {hb}…"


def diff_captures(original: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """What changed from `original` to `other` (a replay or an edited request)."""
    lines = unified(
        request_lines(original),
        request_lines(other),
        original.get("id", "original"),
        other.get("id", "replay"),
    )
    note = body_note(capture_body(original), capture_body(other))
    if note:
        lines.insert(0, note)
    return lines or ["no difference: same method, path, headers and body bytes"]


def diff_attempts(previous: dict[str, Any], latest: dict[str, Any]) -> list[str]:
    """What changed between two attempts of one delivery."""
    lines = unified(
        attempt_lines(previous),
        attempt_lines(latest),
        f"attempt {previous.get('n')}",
        f"attempt {latest.get('n')}",
    )
    return lines or ["no difference between the two attempts"]
