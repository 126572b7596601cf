"""The receiver worker's HTTP/1.1 server: one `Connection` a client connection, parsed by httptools
(llhttp, the parser of Node.js). A worker serves only connections that began with a `/hooks/` request, so
this is narrow: it reads requests (keep-alive, pipelining, chunked bodies, `Expect: 100-continue`), hands each
whole request to `serve` in order, and writes the answers in order. aiohttp's server spends far more CPU
a request (its per-request objects), and the worker's time is the receiver's.

A client sees what aiohttp's server would show it: its heads and its parser's limits and checks (see
`head.py`), 417 for an unknown expectation, an upgrade declined by reading the request on as a plain one
(`serve` answers 421 to a WebSocket that is not for a hook). What a sender can get wrong is handled as the server process handles it: a body over
the limit is cut and answered at once, a sender silent for `idle_s` mid-body (once it is that request's turn)
or a connection that ends mid-body leaves a capture of what came. A closing answer is followed by the end of
the sending side; what the client still sends is read and dropped for a while, so no reset loses the answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import cast

import httptools

from ..capture import Body, BodyReader, header_text
from .head import (
    BODILESS,
    CONTINUE,
    MAX_FIELD,
    MAX_HEAD,
    MAX_HEADERS,
    MAX_LINE,
    Refused,
    Request,
    answer_head,
    check_head,
    fixed,
    too_long,
)

log = logging.getLogger(__name__)

KEEPALIVE_S = 75.0  # with no request under way, a connection closes this long after its last answer (aiohttp)
LINGER_S = 10.0  # after a closing answer, what the client still sends is read and dropped this long (aiohttp)
QUEUE_MAX = 16  # pipelined requests read ahead of their answers before reading pauses


class Server:
    """Every connection of a worker: their limits, the handler, the sweep that times out stalled senders."""

    def __init__(self, serve: Callable[[Connection, Request], None], body_limit: int, idle_s: float) -> None:
        self.serve = serve  # called with each whole request in turn; it answers through `Connection.respond`
        self.body_limit = body_limit
        self.idle_s = idle_s
        self.connections: set[Connection] = set()
        self.closing = False
        self._sweep: asyncio.TimerHandle | None = None

    def connection(self) -> Connection:
        if self._sweep is None:
            self._tick()
        return Connection(self)

    def _tick(self) -> None:
        now = time.monotonic()
        for conn in list(self.connections):
            conn.check(now)
        self._sweep = asyncio.get_running_loop().call_later(min(1.0, self.idle_s / 4), self._tick)

    async def close(self, grace_s: float) -> None:
        """Close idle connections now, the others after the answers they owe (a request whose body is arriving
        is read to its end and answered); past `grace_s`, abort them."""
        self.closing = True
        for conn in list(self.connections):
            conn.close_when_idle()
        deadline = time.monotonic() + grace_s
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.abort()
        if self._sweep is not None:
            self._sweep.cancel()


class Connection(asyncio.Protocol):
    """One client connection: requests parsed as they arrive, served one at a time, answered in order."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.remote: str | None = None
        self.req: Request | None = None  # the request being read
        self.queue: deque[Request] = deque()  # read, waiting for their turn
        self.current: Request | None = None  # the request being served
        self.discard = False  # read no more: the connection closes after the answers owed
        self.taking = True  # False: the request being read is the last one served (the worker is stopping)
        self.pausing: set[str] = set()  # why reading is paused: "queue" (too many requests read ahead),
        # "write" (the client does not read its answers)
        self.ending = False  # closing after an answer, or dropped (chaos): the sweep leaves it be
        self.upgrading: Request | None = None  # an upgrade request, to be read again as a plain one
        self.carry: Request | None = None  # ... whose head (as sent) the request read again takes
        self.head_bytes = 0  # bytes fed while a request head stayed unfinished
        self.last = time.monotonic()  # the last bytes received, or the last answer
        self.idle_since = self.last  # the last answer (or the connection's start): the keep-alive clock

    # -- the connection --------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (a stream protocol's transport)
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if isinstance(peer, tuple) else None
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.transport = None
        self.pausing.clear()  # (what was read is still served, and recorded)
        req, self.req = self.req, None
        if req is not None and req.reader is not None and req.body is None and req.answer is None:  # mid-body
            req.body = req.reader.broken(exc or "Connection lost", lost=True)  # (aiohttp's words)
            self._queue(req)
        self._next()

    def pause_writing(self) -> None:
        """The client does not read its answers: serve no more and read no more until it does."""
        if not self.ending:
            self._pause("write")

    def resume_writing(self) -> None:
        self._resume("write")
        self._next()

    def data_received(self, data: bytes) -> None:
        self.last = time.monotonic()
        if self.discard:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as up:
            self._upgraded(data[up.args[0] if up.args else len(data) :])
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(exc, httptools.HttpParserCallbackError) and not isinstance(cause, Refused):
                log.error("a request could not be taken in", exc_info=cause)
            self._bad(str(cause) if isinstance(cause, Refused) else str(exc))
        else:
            req = self.req
            if req is not None and not req.method and not req.ignored:
                self.head_bytes += len(data)
                if self.head_bytes > MAX_HEAD:
                    self._bad(f"Got more than {MAX_HEAD} bytes when reading the request head.")

    def check(self, now: float) -> None:
        """Called about every second: give up on a sender silent mid-body, close a long-idle connection."""
        req = self.req
        if self.ending:
            return
        if (
            req is not None and req.reader is not None and req.body is None and not req.ignored
        ):  # a body coming
            if self.current is not None or self.queue or self.pausing:
                return  # (not its turn yet: its sender may rightly wait for the answers before it, or a 100)
            if now - self.last <= self.server.idle_s:
                return
            if req.answer is not None:  # answered already (417), and its body never came
                self._close()
                return
            self.discard = True
            self.req = None
            req.body = req.reader.timed_out(self.server.idle_s)
            self._queue(req)
        elif self.current is None and not self.queue and now - self.idle_since > KEEPALIVE_S:
            self._close()  # (a head half sent counts as idle, as in aiohttp)

    def close_when_idle(self) -> None:
        if self._reading_one():
            self.taking = False  # a body is arriving: read it, answer it (after what is queued), then close
            return
        self.discard = True
        if self.current is None and not self.queue:
            self._close()

    def _close(self) -> None:
        self.discard = True
        self.req = None
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _pause(self, why: str) -> None:
        if not self.pausing and self.transport is not None:
            self.transport.pause_reading()
        self.pausing.add(why)

    def _resume(self, why: str) -> None:
        if why in self.pausing:
            self.pausing.discard(why)
            if not self.pausing and self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()

    def _reading_one(self) -> bool:
        """A request to be served is being read: its head is in, its body is still coming."""
        req = self.req
        return bool(req and req.method and req.body is None and not req.ignored and not self.discard)

    # -- parser callbacks ------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.req = Request(self.discard or not self.taking)
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        req = self.req
        assert req is not None
        req.target += url
        if len(req.target) > MAX_LINE:
            raise too_long(bytearray(req.target), MAX_LINE)

    def on_header(self, name: bytes, value: bytes) -> None:
        req = self.req
        assert req is not None
        if req.method:
            return  # a trailer after a chunked body: aiohttp drops them too
        value = value.rstrip(b" \t")  # (llhttp keeps the whitespace after a value; aiohttp strips it)
        if len(name) > MAX_FIELD or len(value) > MAX_FIELD:
            raise too_long(name if len(name) > MAX_FIELD else value, MAX_FIELD)
        req.headers.append((name, value))
        if len(req.headers) > MAX_HEADERS:
            raise Refused("Too many headers received")

    def on_headers_complete(self) -> None:
        req, p = self.req, self.parser
        assert req is not None
        method = p.get_method().decode("ascii", "replace")
        version = p.get_http_version()
        check_head(req, method, version)
        req.method, req.version, req.keep_alive = method, version, p.should_keep_alive()
        self.head_bytes = 0
        if (carry := self.carry) is not None:  # the upgrade request read again: the head as it was sent
            self.carry = None
            req.headers, req.target, req.upgrade = carry.headers, carry.target, carry.upgrade
            req.started, req.now = carry.started, carry.now
        elif p.should_upgrade():  # (llhttp's word on it: `Upgrade` and an `upgrade` token in `Connection`)
            req.upgrade = req.header(b"upgrade") or b""
            self.upgrading = req  # llhttp reads no body for it: read again in `_upgraded`
            return
        length = req.header(b"content-length")
        claimed = int(length) if length is not None and req.header(b"transfer-encoding") is None else None
        req.reader = BodyReader(self.server.body_limit, claimed)  # (llhttp refused a length not a number)
        expect = req.header(b"expect")
        if expect is not None and version == "1.1" and not req.ignored:
            if expect.lower() == b"100-continue":
                if self.current is None and not self.queue and not self.pausing and self.transport:
                    self.transport.write(CONTINUE)
                else:
                    req.owed_continue = True
            else:  # answered in its turn, as aiohttp's router does; its body (if it comes) is dropped
                req.answer = fixed(417, f"Unknown Expect: {header_text(expect)}".encode())
                self._queue(req)

    def on_body(self, chunk: bytes) -> None:
        req = self.req
        if req is None or req.reader is None or req.body is not None or req.answer is not None:
            return
        if (cut := req.reader.add(chunk)) is not None:
            req.body = cut
            self.discard = True  # the rest is not read: answered now, then the connection closes
            self._queue(req)

    def on_message_complete(self) -> None:
        req, self.req = self.req, None
        if req is None or req is self.upgrading:
            self.req = req  # (an upgrade: finished in `_upgraded`, once the parser has said where it ends)
            return
        if req.body is not None or req.answer is not None:
            return  # queued already
        req.body = req.reader.whole() if req.reader is not None else Body(b"", 0, False)
        self._queue(req)

    # -- what the parser could not take ----------------------------------------------------------------------

    def _upgraded(self, rest: bytes) -> None:
        """An upgrade request (a WebSocket, curl's h2c): declined as aiohttp declines one it does not take, by
        reading it again as a plain request: its head without `Upgrade`, then its body and what follows."""
        req, self.upgrading, self.req = self.upgrading, None, None
        if req is None:
            return self._bad("an upgrade with no request")
        head = [f"{req.method} ".encode() + req.target + f" HTTP/{req.version}\r\n".encode()]
        head += [k + b": " + v + b"\r\n" for k, v in req.headers if k.lower() != b"upgrade"]
        self.carry = req
        self.parser = httptools.HttpRequestParser(self)
        self.data_received(b"".join(head) + b"\r\n" + rest)

    def _bad(self, why: str) -> None:
        """Bytes that are not HTTP: a request cut mid-body keeps what came; else a 400. Then the connection
        closes."""
        self.discard = True
        req, self.req = self.req, None
        self.upgrading = self.carry = None
        if (
            req is not None
            and req.reader is not None
            and req.body is None
            and req.answer is None
            and not req.ignored
        ):
            req.body = req.reader.broken(why, lost=False)
            req.keep_alive = False
            self._queue(req)
            return
        if not self.taking:
            return  # (stopping: what came after the last request is not answered)
        bad = Request()
        bad.version = "1.0"  # (aiohttp answers bytes it could not read in HTTP/1.0, its reason as the text)
        bad.answer = fixed(400, why.encode())
        bad.keep_alive = False
        self._queue(bad)

    # -- serving, in order -----------------------------------------------------------------------------------

    def _queue(self, req: Request) -> None:
        if req.ignored:
            return
        self.queue.append(req)
        if len(self.queue) > QUEUE_MAX:
            self._pause("queue")
        self._next()

    def _next(self) -> None:
        if not self.queue or self.current is not None or "write" in self.pausing:
            return
        req = self.current = self.queue.popleft()
        if len(self.queue) <= QUEUE_MAX // 2:
            self._resume("queue")
        if req.owed_continue and self.transport is not None:
            req.owed_continue = False
            self.transport.write(CONTINUE)  # (at its turn, as aiohttp sends it, even if the body is in)
        if req.answer is not None:
            self.respond(*req.answer)
        else:
            self.server.serve(self, req)

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes, close: bool) -> None:
        """`respond.Reply`: the answer a plan gives."""
        self.respond(status, headers, body, close=close)

    def respond(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        close: bool = False,
        length: int | None = None,
    ) -> None:
        """Answer the request being served, then serve the next one (or close). `length`: the Content-Length
        of a HEAD answer (which has no body to count)."""
        req = self.current
        assert req is not None
        self.current = None
        self.last = self.idle_since = time.monotonic()
        transport = self.transport
        if transport is None or transport.is_closing():
            return self._next()  # (the client is gone: the rest is still recorded)
        last = (self.server.closing or self.discard) and not self.queue and not self._reading_one()
        keep = req.keep_alive and not close and not last
        if status in BODILESS:
            body = b""
        head = answer_head(req.version, status, headers, len(body) if length is None else length, keep)
        transport.write(head if req.method == "HEAD" else head + body)
        if not keep:
            self.queue.clear()
            self._linger()
            return
        reading = self.req
        if not self.queue and reading is not None and reading.owed_continue and not reading.ignored:
            reading.owed_continue = False
            transport.write(CONTINUE)
        self._next()

    def _linger(self) -> None:
        """Close after the answer just written: end the sending side at once, then read (and drop) what the
        client still sends until it closes, LINGER_S at most. Closing with its bytes unread would reset the
        connection, and the client could lose the answer (a 413 to a sender still uploading, above all)."""
        transport = self.transport
        self.discard = True
        self.req = None  # (a request read meanwhile is not served: not recorded either)
        if transport is None:
            return
        if self.pausing:
            self.pausing.clear()
            transport.resume_reading()
        if not transport.can_write_eof():
            transport.close()
            return
        self.ending = True
        transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, self._close)

    def drop(self, after_s: float = 0.0) -> None:
        """End the connection with no answer: now (a dropped connection), or after `after_s` (a sender's
        timeout). Nothing more is served on it: a request read meanwhile is not recorded."""
        self.current = self.req = None
        self.discard = self.ending = True  # (the sweep leaves it be: a hold can last longer than KEEPALIVE_S)
        self.queue.clear()
        if after_s > 0:
            asyncio.get_running_loop().call_later(after_s, self.abort)
        else:
            self.abort()
