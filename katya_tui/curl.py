"""A captured request as a curl command that sends the same bytes: method, headers in order, exact body.

Text bodies are quoted inline (`'...'`, or bash's `$'...'` when they hold control characters or bytes that are
not UTF-8); bodies holding a NUL byte, which no shell string can carry, and large bodies, which would pass the
kernel's limit on one argument of a command, are piped in as base64 from bash's builtin `printf` through
`--data-binary @-`. curl's own default headers (`User-Agent`, `Accept`, and the form `Content-Type` it adds to
`--data-binary`) are removed when the capture did not have them, so the target sees what the sender sent.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from .core.models import decode_body

# Headers that belong to one connection or that curl computes itself.
SKIP_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)
_CURL_DEFAULTS = ("User-Agent", "Accept")
_GLOB_CHARS = set("[]{}")
INLINE_MAX = 64 * 1024  # bytes of body written inline; one argument of a command may not pass 128 KiB (Linux)


def shell_quote_bytes(data: bytes) -> str | None:
    """A bash word that expands to exactly `data`, or None when `data` holds a NUL byte (no shell string can)."""
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c in "\n\t" or c.isprintable() for c in text):
        return shlex.quote(text) if text else "''"
    return "$'" + "".join(_ansi_c_escape(data)) + "'"


def _ansi_c_escape(data: bytes) -> Iterable[str]:
    special = {0x5C: "\\\\", 0x27: "\\'", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
    for b in data:
        if b in special:
            yield special[b]
        elif 0x20 <= b < 0x7F:
            yield chr(b)
        else:
            yield f"\\x{b:02x}"  # UTF-8 sequences come out byte by byte, which bash puts back together


def _header_arg(name: str, value: str) -> str:
    # `-H 'Name;'` is curl's way to send a header with an empty value (`-H 'Name:'` would remove it).
    return shlex.quote(f"{name};" if value == "" else f"{name}: {value}")


def request_url(capture: dict[str, Any], base_url: str) -> str:
    """`base_url` + the captured path and query string."""
    q = capture.get("query") or ""
    return base_url.rstrip("/") + (capture.get("path") or "/") + (f"?{q}" if q else "")


def to_curl(capture: dict[str, Any], base_url: str, *, url: str | None = None) -> str:
    """A bash command line that repeats `capture` (a Capture document) to `url` (default: `base_url` + its path)."""
    target = url or request_url(capture, base_url)
    method = (capture.get("method") or "GET").upper()
    headers: Sequence[Sequence[str]] = capture.get("headers") or []
    body = decode_body(capture.get("body") or "", capture.get("body_encoding") or "utf8")

    args: list[str] = ["curl", "-sS"]
    if method == "HEAD":
        args.append("-I")
    elif method != "GET" or body:
        args += ["-X", shlex.quote(method)]
    present = {name.lower() for name, _ in headers}
    for name, value in headers:
        if name.lower() not in SKIP_HEADERS:
            args += ["-H", _header_arg(name, value)]
    for name in _CURL_DEFAULTS:
        if name.lower() not in present:
            args += ["-H", shlex.quote(f"{name}:")]
    prefix = ""
    if body:
        if "content-type" not in present:
            args += ["-H", shlex.quote("Content-Type:")]
        quoted = shell_quote_bytes(body) if len(body) <= INLINE_MAX else None
        if quoted is None:
            prefix = f"printf %s {base64.b64encode(body).decode()} | base64 -d | "
            args += ["--data-binary", "@-"]
        else:
            args += ["--data-binary", quoted]
    if _GLOB_CHARS & set(target):
        args.append("--globoff")
    if "/./" in target or "/../" in target:
        args.append("--path-as-is")
    args.append(shlex.quote(target))
    return prefix + _wrap(args)


def _wrap(args: list[str]) -> str:
    """One option (with its value) a line, joined with backslash-newlines."""
    lines: list[str] = [args[0] + " " + args[1]]
    i = 2
    while i < len(args):
        if args[i].startswith("-") and i + 1 < len(args) and args[i] in ("-X", "-H", "--data-binary"):
            lines.append(f"{args[i]} {args[i + 1]}")
            i += 2
        else:
            lines.append(args[i])
            i += 1
    return " \\\n  ".join(lines)
