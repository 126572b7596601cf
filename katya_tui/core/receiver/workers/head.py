"""HTTP/1.1 heads as aiohttp's server reads and writes them, for the receiver worker's server (`http.py`):
the request being read, the checks aiohttp's parser makes that llhttp alone does not (a 400), and the head of an
answer (the status line in the request's version, `Connection` as aiohttp writes it, no body after a 204, 304 or
1xx).
"""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus

from aiohttp.http import SERVER_SOFTWARE

from ..capture import Body, BodyReader

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
OWN_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})  # written here, never as given
BODILESS = frozenset((204, 304, *range(100, 200)))  # no body and no Content-Length, as aiohttp answers them
MAX_LINE = MAX_FIELD = 8190  # aiohttp's parser limits: the request target; a header's name, and its value
MAX_HEADERS = 128
MAX_HEAD = MAX_LINE + MAX_HEADERS * (2 * MAX_FIELD + 4)  # a head still unfinished past this is refused
SINGLETONS = {
    n.lower().encode(): n
    for n in (
        "Content-Length",
        "Content-Location",
        "Content-Range",
        "Content-Type",
        "ETag",
        "Host",
        "Max-Forwards",
        "Server",
        "Transfer-Encoding",
        "User-Agent",
    )
}
"""The headers aiohttp's parser takes only once."""


class Refused(Exception):
    """A request head aiohttp's parser refuses where llhttp alone would not: a 400 with this text."""


class Request:
    """One request as read: the head as sent, the body as it came (`Body` once whole, cut, or given up on)."""

    __slots__ = (
        "target",
        "method",
        "version",
        "headers",
        "reader",
        "keep_alive",
        "started",
        "now",
        "body",
        "answer",
        "upgrade",
        "ignored",
        "owed_continue",
    )

    def __init__(self, ignored: bool = False) -> None:
        self.target = b""
        self.method = ""  # known once the head is whole
        self.ignored = ignored  # read after the connection was given up on: never served
        self.version = "1.1"
        self.headers: list[tuple[bytes, bytes]] = []
        self.reader: BodyReader | None = None  # the body as it arrives, once the head is whole
        self.keep_alive = True
        self.started = time.perf_counter()
        self.now = time.time()
        self.body: Body | None = None  # set when the request is complete (or given up on)
        self.answer: tuple[int, list[tuple[str, str]], bytes] | None = None  # a fixed answer: no handler runs
        self.upgrade: bytes | None = None  # the `Upgrade` asked for (declined: read as a plain request)
        self.owed_continue = False  # `Expect: 100-continue` behind answers still owed: sent at its turn

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def fixed(status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> tuple:
    return status, [("Content-Type", content_type)], body


def too_long(data: bytes | bytearray, limit: int) -> Refused:
    return Refused(f"Got more than {limit} bytes when reading: {data[:100] + b'...'!r}.")  # (aiohttp's words)


_reasons: dict[int, str] = {}
_date: tuple[str, int] = ("", 0)


def _reason(status: int) -> str:
    """`200 OK`: the status and its phrase (none for a code HTTP does not name)."""
    if status not in _reasons:
        try:
            _reasons[status] = f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            _reasons[status] = f"{status} "
    return _reasons[status]


def _http_date() -> str:
    global _date
    now = int(time.time())
    if _date[1] != now:
        _date = formatdate(now, usegmt=True), now
    return _date[0]


def check_head(req: Request, method: str, version: str) -> None:
    """What aiohttp's parser refuses in a head that llhttp takes: repeated single headers, a WebSocket draft
    header, HTTP/1.1 with no Host, CONNECT."""
    seen = set()
    for k, _ in req.headers:
        low = k.lower()
        if low in SINGLETONS:
            if low in seen:
                raise Refused(f"Duplicate '{SINGLETONS[low]}' header found.")
            seen.add(low)
        elif low == b"sec-websocket-key1":
            raise Refused("Invalid HTTP header: 'Sec-WebSocket-Key1'")
    if version == "1.1" and b"host" not in seen:
        raise Refused("Missing 'Host' header in request.")
    if method == "CONNECT":  # (a tunnel; llhttp would take all that follows for it)
        raise Refused(f"Invalid URL: {req.target.decode('latin-1')!r}")


def answer_head(version: str, status: int, headers: list[tuple[str, str]], length: int, keep: bool) -> bytes:
    """The head of an answer of `length` body bytes (none after a 204, 304 or 1xx: see `BODILESS`)."""
    parts = [f"HTTP/{version} {_reason(status)}\r\n"]  # (in the request's version, as aiohttp)
    given = set()
    for k, v in headers:
        if (low := k.lower()) not in OWN_HEADERS:
            parts.append(f"{k}: {v}\r\n")
            given.add(low)
    if status not in BODILESS:
        parts.append(f"Content-Length: {length}\r\n")
    if "date" not in given:
        parts.append(f"Date: {_http_date()}\r\n")
    if "server" not in given:
        parts.append(f"Server: {SERVER_SOFTWARE}\r\n")
    if keep:
        if version == "1.0":
            parts.append("Connection: keep-alive\r\n")
    elif version == "1.1":
        parts.append("Connection: close\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")
