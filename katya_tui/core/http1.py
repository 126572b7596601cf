"""A keep-alive connection pool for plain `http://` requests: llhttp (httptools) reads the answers, aiohappyeyeballs
connects.

Why it exists: aiohttp's client spends most of its CPU a request in per-request objects (request, response,
stream reader, writer task, timer context), more than the dispatcher's own work. Here a request is one `write`
and its answer is parsed in `data_received`. It parses with the leniencies aiohttp's response parser uses and
writes the request head as aiohttp does, so both paths send the same bytes and read answers alike
(`tests/test_outbound_http1_parity.py`). HTTPS and URLs with user info are not taken (`target`), nor HEAD
requests (see `outbound`). The caller bounds each exchange's time (a cancelled exchange closes its connection) and
the number in flight.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple, cast

import aiohappyeyeballs
import httptools
from yarl import URL

HAPPY_EYEBALLS_S = 0.25  # a host's next address is tried this long after the one before (as aiohttp)
IDEMPOTENT = frozenset({"GET", "OPTIONS", "TRACE", "PUT", "DELETE"})
_NO_LENGTH = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # the rest send `Content-Length: 0` (as aiohttp)
_FRAMING = ("content-length", "transfer-encoding")


class BadResponse(ValueError):
    """The server's answer is not HTTP/1.x as llhttp reads it."""


class Answer(NamedTuple):
    status: int
    reason: str
    headers: list[list[str]]
    body: bytes
    truncated: bool


@functools.lru_cache(maxsize=1024)
def target(url: str) -> tuple[str, int, str, str] | None:
    """(host, port, Host header, request target) for a plain `http://` URL without user info, else None."""
    try:
        u = URL(url)
        if u.scheme == "http" and u.raw_host and not u.user and not u.password and u.port:
            return u.raw_host, u.port, u.host_port_subcomponent or u.raw_host, u.raw_path_qs
    except (ValueError, TypeError):
        pass
    return None


def request_head(method: str, host: str, path: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """The request line and headers, UTF-8 as aiohttp writes them. ValueError for a CR or LF inside a header."""
    lines = "".join([f"{k}: {v}\r\n" for k, v in headers])
    if lines.count("\n") != len(headers) or lines.count("\r") != len(headers):
        raise ValueError("a header name or value contains a line break")
    length = f"Content-Length: {len(body)}\r\n" if body or method not in _NO_LENGTH else ""
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{lines}{length}\r\n".encode()


class Connection(asyncio.Protocol):
    """One connection, one exchange at a time; the parser's callbacks collect the answer."""

    transport: asyncio.Transport

    def __init__(self, pool: Pool, key: tuple[str, int]) -> None:
        self.pool, self.key = pool, key
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpResponseParser(self)
        self.parser.set_dangerous_leniencies(  # what aiohttp's response parser accepts (outside its debug mode)
            lenient_headers=True, lenient_optional_cr_before_lf=True, lenient_spaces_after_chunk_size=True
        )
        self.waiter: asyncio.Future[Answer] | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.answer: Answer | None = None
        self.cap, self.heard, self.keep = 0, False, True
        self.status, self.reason, self.headers, self.body = 0, b"", list[list[str]](), bytearray()

    def exchange(self, head: bytes, body: bytes, cap: int) -> asyncio.Future[Answer]:
        self.waiter = self.loop.create_future()
        self.cap, self.heard, self.answer, self.keep, self.body = cap, False, None, True, bytearray()
        self.status, self.reason, self.headers = 0, b"", []
        if len(body) < 65536:
            self.transport.write(head + body)
        else:  # two writes rather than a copy of a large body
            self.transport.write(head)
            self.transport.write(body)
        return self.waiter

    # -- the parser's callbacks ----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.answer is not None:  # bytes after the answer: the connection can't be trusted any more
            self.keep = False
        self.status, self.reason, self.headers = 0, b"", []

    def on_status(self, data: bytes) -> None:
        self.reason += data

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.status:  # (not the trailers after chunks)
            self.headers.append([name.decode("latin-1"), value.decode("latin-1")])

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep = self.keep and self.parser.should_keep_alive()

    def on_body(self, data: bytes) -> None:
        if self.answer is None:
            self.body += data
            if len(self.body) > self.cap:  # cut: the rest is not read, so the connection goes
                self.keep = False
                self._answer(truncated=True)

    def on_message_complete(self) -> None:
        if self.answer is None and (self.status >= 200 or self.status == 101):
            self._answer()  # (an interim 1xx answer is skipped: the real one follows)

    def _answer(self, truncated: bool = False) -> Answer:
        body = bytes(self.body[: self.cap] if truncated else self.body)
        self.answer = Answer(self.status, self.reason.decode("latin-1"), self.headers, body, truncated)
        return self.answer

    # -- asyncio.Protocol ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's transports are not asyncio's classes)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for
            self.close()
            return
        self.heard = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.keep = False
        except httptools.HttpParserError as exc:
            self.keep = False
            if self.answer is None:
                self._finish(BadResponse(str(exc) or type(exc).__name__))
        if self.answer is not None:
            self._finish(self.answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.forget(self)
        if self.waiter is None:
            return
        if exc is None and self.status >= 200:  # the head came: either the body ran to the end, or it was cut
            if any(k.lower() in _FRAMING for k, _ in self.headers):
                exc = BadResponse("the connection ended before the whole body came")
            else:
                self.keep = False
                self._finish(self._answer())
                return
        self._finish(exc or ConnectionResetError("the server closed the connection before answering"))

    def _finish(self, outcome: Answer | BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if isinstance(outcome, Answer) and self.keep and not self.transport.get_write_buffer_size():
            self.pool.release(self)  # kept only after a clean exchange: nothing unread, nothing still unsent
        else:
            self.close()
        if waiter is not None and not waiter.done():
            if isinstance(outcome, Answer):
                waiter.set_result(outcome)
            else:
                waiter.set_exception(outcome)

    def close(self) -> None:
        try:  # abort, not close: that waits to send what is still buffered, for ever if the server reads no more
            self.transport.abort()
        except RuntimeError:  # its event loop has ended: no connection_lost will come
            self.pool.forget(self)


class Pool:
    """Idle keep-alive connections per (host, port), at most `limit` each, closed after `keepalive` idle seconds
    (as aiohttp does: a server that serves one connection at a time is not held for ever by an idle one)."""

    def __init__(self, limit: int, keepalive: float) -> None:
        self.limit, self.keepalive = limit, keepalive
        self.idle: dict[tuple[str, int], deque[Connection]] = {}
        self.open: set[Connection] = set()

    async def request(
        self,
        method: str,
        where: tuple[str, int, str, str],
        headers: list[tuple[str, str]],
        body: bytes,
        cap: int,
    ) -> Answer:
        """One exchange. Raises OSError (connect, reset), BadResponse, ValueError (a header with a line break).

        A kept connection the server closed before answering is tried once more on a new one for idempotent
        methods only (as aiohttp does)."""
        host, port, host_header, path = where
        head = request_head(method, host_header, path, headers, body)
        for attempt in (1, 2):
            conn = self._take((host, port)) if attempt == 1 else None
            reused = conn is not None
            if conn is None:
                conn = await self._connect(host, port)
            try:
                return await conn.exchange(head, body, cap)
            except (ConnectionResetError, BrokenPipeError):
                if not (reused and not conn.heard and method in IDEMPOTENT):
                    raise
            except asyncio.CancelledError:
                conn.close()  # its answer will never be read
                raise
        raise AssertionError("unreachable")

    def _take(self, key: tuple[str, int]) -> Connection | None:
        """The most recently used idle connection of this event loop that is still open."""
        idle = self.idle.get(key)
        loop = asyncio.get_running_loop()
        while idle:
            conn = idle.pop()
            if conn.idle_timer is not None:
                conn.idle_timer.cancel()
            if conn.loop is loop and not conn.transport.is_closing():
                return conn
            conn.close()
        return None

    async def _connect(self, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        infos: Sequence[aiohappyeyeballs.AddrInfoType]
        try:
            ipaddress.ip_address(host)
            infos = aiohappyeyeballs.addr_to_addr_infos((host, port)) or []
        except ValueError:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        sock = await aiohappyeyeballs.start_connection(infos, happy_eyeballs_delay=HAPPY_EYEBALLS_S)
        _, conn = await loop.create_connection(lambda: Connection(self, (host, port)), sock=sock)
        self.open.add(conn)
        return conn

    def release(self, conn: Connection) -> None:
        idle = self.idle.setdefault(conn.key, deque())
        if len(idle) >= self.limit:
            conn.close()
            return
        conn.idle_timer = conn.loop.call_later(self.keepalive, conn.close)
        idle.append(conn)

    def forget(self, conn: Connection) -> None:
        self.open.discard(conn)
        idle = self.idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        for conn in list(self.open):
            conn.close()
        self.open.clear()
        self.idle.clear()
