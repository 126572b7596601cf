"""A lean HTTP/1.1 client for plain `http://` targets: keep-alive connections on asyncio protocols.

aiohttp's client spends ~100 us of CPU a request here, mostly in its per-request objects (request, response,
stream reader, writer task, timer context). This one writes the request head and body in one `write` and parses
the answer in `data_received`: ~30 us. `outbound.send` uses it for `http://` URLs without user info; HTTPS and
anything unusual go through aiohttp as before.

What it does: headers exactly as given (order, case, repeats) after `Host`, then `Content-Length`; answers framed
by Content-Length, chunked encoding or the end of the connection; 1xx answers skipped; bodies kept up to `cap`
bytes (the connection is closed past that); one deadline for the whole exchange, checked every 20 ms by one timer
per pool rather than one timer per request. A reused connection that the server closed before answering is tried
once more on a new one for idempotent methods only (as aiohttp does). Idle connections are closed after `keepalive`
s (one timer per pool). The request goes out byte for byte as aiohttp sends it, and failures get the same error
class as there (`tests/test_outbound_http1_parity.py` compares the two paths); it reads more than llhttp does
(heads and chunk lines ended by bare LFs, lines over 8 KB, heads up to 64 KB).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections import deque

from aiohttp import ServerDisconnectedError
from yarl import URL

HEAD_MAX = 64 * 1024  # status line and headers of one answer
HAPPY_S = 0.25  # a host's next address is tried this long after the one before if that has not connected yet
TICK_S = 0.02  # deadlines are checked this often while requests are out (one timer for all, not one each)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_NO_LENGTH = frozenset(
    {"GET", "HEAD", "OPTIONS", "TRACE"}
)  # the rest get `Content-Length: 0` without a body (aiohttp)
_VERSION = b"HTTP/1."  # how every answer starts
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_TARGETS: dict[str, tuple[str, int, str, str] | None] = {}


class BadResponse(ValueError):
    """The server's answer is not HTTP/1.x as we can read it."""


def target(url: str) -> tuple[str, int, str, str] | None:
    """(host, port, Host header, request target) for a plain `http://` URL without user info, else None."""
    found = _TARGETS.get(url, False)
    if found is not False:
        return found  # type: ignore[return-value]
    try:
        u = URL(url)
        ok = u.scheme == "http" and u.raw_host and not u.user and not u.password and u.port
        found = (u.raw_host, u.port, u.host_port_subcomponent, u.raw_path_qs) if ok else None
    except (ValueError, TypeError):
        found = None
    if len(_TARGETS) > 1024:
        _TARGETS.clear()
    _TARGETS[url] = found  # type: ignore[assignment]
    return found


def request_head(
    method: str, host_header: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    """The request line and headers, UTF-8 like aiohttp. ValueError for a CR or LF inside a header."""
    lines = "".join([f"{k}: {v}\r\n" for k, v in headers])
    if lines.count("\n") != len(headers) or lines.count("\r") != len(headers):
        raise ValueError("a header name or value contains a line break")
    length = f"Content-Length: {len(body)}\r\n" if body or method not in _NO_LENGTH else ""
    return f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\n{lines}{length}\r\n".encode()


class Answer:
    """What came back: status, reason, headers as [[name, value]], the kept body, whether it was cut."""

    __slots__ = ("status", "reason", "headers", "body", "truncated")

    def __init__(
        self, status: int, reason: str, headers: list[list[str]], body: bytes, truncated: bool
    ) -> None:
        self.status, self.reason, self.headers, self.body, self.truncated = (
            status,
            reason,
            headers,
            body,
            truncated,
        )


class _Connection(asyncio.Protocol):
    """One connection, one exchange at a time. The parser keeps its state in `mode` and `left`:
    mode None: reading a head; "length": `left` bytes of body to go; "eof": body until the connection ends;
    "chunked": `left` > 0 bytes of chunk data to go, 0 a size line next, -1 the CRLF after data, -2 trailers."""

    def __init__(self, pool: Pool, key: tuple[str, int]) -> None:
        self.pool, self.key, self.loop = pool, key, pool.loop
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.idle_since = 0.0
        self.heard = False  # any byte of the current answer arrived

    # -- one exchange --------------------------------------------------------------------------------------

    def start(self, data: bytes, head_request: bool, cap: int, deadline: float) -> asyncio.Future:
        loop = self.loop
        self.waiter = waiter = loop.create_future()
        self.head_request, self.cap = head_request, cap
        self.mode: str | None = None
        self.left = 0
        self.keep = True
        self.heard = False
        self.status, self.reason, self.headers = 0, "", []
        self.body = bytearray()
        self.size = 0
        self.deadline = deadline
        self.pool.watch(self, loop)
        self.transport.write(data)  # type: ignore[union-attr]
        return waiter

    def _expired(self) -> None:
        self._fail(TimeoutError())

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        self.pool.busy.discard(self)
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _done(self) -> None:
        waiter, self.waiter = self.waiter, None
        self.pool.busy.discard(self)
        truncated = self.size > self.cap
        body = self.body
        answer = Answer(
            self.status, self.reason, self.headers, bytes(body[: self.cap] if truncated else body), truncated
        )
        # kept for the next request only when this exchange ended cleanly: nothing unread, nothing still unsent
        transport = self.transport
        if (
            self.keep
            and not truncated
            and not self.buf
            and self.mode != "eof"
            and not transport.get_write_buffer_size()
        ):  # type: ignore[union-attr]
            self.pool.release(self)
        else:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    # -- asyncio.Protocol ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: this connection can't be trusted any more
            self.close()
            return
        self.heard = True
        self.buf += data
        try:
            finished = self._parse()
        except (BadResponse, ValueError) as exc:
            self._fail(exc if isinstance(exc, BadResponse) else BadResponse(str(exc)))
            return
        if finished:
            self._done()

    def eof_received(self) -> bool:
        self.closed = self.waiter is None  # an idle connection the server closed: not to be taken again
        return False  # close; connection_lost ends an answer read to the end of the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.waiter is None:
            return
        if exc is None and self.mode == "eof":
            self._done()
        elif exc is None and self.mode in ("length", "chunked"):  # a protocol error, as aiohttp has it
            short = (
                f"{self.left} bytes short of its Content-Length"
                if self.mode == "length"
                else "inside its chunks"
            )
            self._fail(BadResponse(f"the connection ended {short}: the body is incomplete"))
        else:
            self._fail(ServerDisconnectedError() if exc is None else exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            try:
                self.transport.abort()  # not close(): that first waits to send what is still buffered, for ever if
                # the server reads no more (nothing is sent after the exchange: its answer came, or never will)
            except RuntimeError:  # its event loop has ended: no connection_lost will come
                self.pool.forget(self)

    # -- parsing -------------------------------------------------------------------------------------------

    def _parse(self) -> bool:
        buf = self.buf
        while self.mode is None:
            if (
                buf[:7] != _VERSION[: len(buf)]
            ):  # not HTTP/1.x (HTTP/2 only, TLS...): said now, not at the deadline
                raise BadResponse(f"not an HTTP/1.x answer: {bytes(buf[:40])!r}")
            end = buf.find(b"\r\n\r\n")
            if end >= 0 and buf.count(b"\n", 0, end) == buf.count(
                b"\r\n", 0, end
            ):  # CRLFs only, as nearly always
                lines = buf[:end].decode("latin-1").split("\r\n")
                del buf[: end + 4]
            else:  # some lines ended by a bare LF, as some servers do (llhttp reads them too): the first empty one ends it
                ends = [i for i in (buf.find(b"\n\n"), buf.find(b"\n\r\n")) if i >= 0]
                if not ends:
                    if len(buf) > HEAD_MAX:
                        raise BadResponse("the answer's head is over 64 KB")
                    return False
                end = min(ends)
                lines = [line.rstrip("\r") for line in buf[:end].decode("latin-1").split("\n")]
                del buf[: end + (2 if buf[end + 1] == 10 else 3)]
            self._head(lines)
        mode = self.mode
        if mode == "length":
            take = min(len(buf), self.left)
            self._keep(buf[:take])
            del buf[:take]
            self.left -= take
            return self.left == 0 or self.size > self.cap
        if mode == "eof":
            self._keep(buf)
            buf.clear()
            return self.size > self.cap
        if mode == "chunked":
            return self._chunks()
        return True  # no body

    def _head(self, lines: list[str]) -> None:
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise BadResponse(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(code)
        headers: list[list[str]] = []
        length = chunked = None
        close = version == "HTTP/1.0"
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:  # obsolete line folding
                headers[-1][1] = f"{headers[-1][1]} {line.strip()}"
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise BadResponse(f"bad header line: {line[:80]!r}")
            value = value.strip()
            headers.append([name, value])
            low = name.lower()
            if low == "content-length":
                if length is not None and length != value:
                    raise BadResponse("conflicting Content-Length headers")
                length = value
            elif low == "transfer-encoding":
                chunked = value.lower().rstrip().endswith("chunked")
            elif low == "connection":
                tokens = value.lower()
                if "close" in tokens:
                    close = True
                elif "keep-alive" in tokens:
                    close = False
        if 100 <= status < 200 and status != 101:
            return  # an interim answer: the real one follows
        self.status, self.reason, self.headers = status, reason, headers
        self.keep = not close
        if self.head_request or status in (204, 304) or status == 101:
            self.mode, self.keep = "none", self.keep and status != 101
        elif chunked is not None:
            self.mode = "chunked" if chunked else "eof"
            self.keep = (
                self.keep and length is None
            )  # with a Content-Length too: read as chunked, then not trusted
        elif length is not None:
            if not length.isdigit():
                raise BadResponse(f"bad Content-Length: {length[:40]!r}")
            self.mode, self.left = "length", int(length)
        else:
            self.mode = "eof"

    def _keep(self, data: bytes | bytearray) -> None:
        room = self.cap + 1 - len(self.body)
        if room > 0:
            self.body += data[:room]
        self.size += len(data)

    def _chunks(self) -> bool:
        buf = self.buf
        while True:
            if self.left > 0:
                take = min(len(buf), self.left)
                self._keep(buf[:take])
                del buf[:take]
                self.left -= take
                if self.size > self.cap:
                    return True
                if self.left:
                    return False
                self.left = -1
            nl = buf.find(b"\n")  # lines end with CRLF, or a bare LF as some servers send (as in heads)
            if nl < 0:
                if len(buf) > 8192:
                    raise BadResponse("a chunk line is too long")
                return False
            line = bytes(buf[: nl - 1 if nl and buf[nl - 1] == 13 else nl])
            del buf[: nl + 1]
            if self.left == -1:
                if line:
                    raise BadResponse("chunk data longer than its size")
                self.left = 0
            elif self.left == -2:
                if not line:
                    return True  # the end of the trailers
            else:
                size = line.split(b";", 1)[0].strip()
                if not _HEX.fullmatch(size):
                    raise BadResponse(f"bad chunk size: {size[:20]!r}")
                self.left = int(size, 16) or -2


class Pool:
    """Idle keep-alive connections per (host, port), at most `limit` each, reused while younger than `keepalive`
    and closed once older."""

    target = staticmethod(target)  # which URLs it takes

    def __init__(self, limit: int, keepalive: float = 5.0) -> None:
        self.limit, self.keepalive = limit, keepalive
        self.idle: dict[tuple[str, int], deque[_Connection]] = {}
        self.open: set[_Connection] = set()
        self.busy: set[_Connection] = set()  # exchanges under way, with their `deadline`
        self._ticking: asyncio.AbstractEventLoop | None = None  # the loop the deadline check runs on
        self._reaping: asyncio.AbstractEventLoop | None = (
            None  # the loop the idle connections' expiry runs on
        )
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    async def request(
        self,
        method: str,
        where: tuple[str, int, str, str],
        headers: list[tuple[str, str]],
        body: bytes,
        timeout: float,
        cap: int,
    ) -> Answer:
        """One exchange within `timeout` s. Raises OSError (connect, reset), TimeoutError, BadResponse, ValueError."""
        self.loop = loop = asyncio.get_running_loop()
        method = method.upper()  # as aiohttp sends it
        host, port, host_header, path = where
        head = request_head(method, host_header, path, headers, body)
        data = head + body if len(body) < 262_144 else None
        deadline = loop.time() + timeout
        for tries in (1, 2):
            conn = self._take((host, port), loop) if tries == 1 else None
            reused = conn is not None
            if conn is None:
                conn = await self._connect(host, port, deadline)
            if data is None:  # a large body: two writes rather than a copy of it
                conn.transport.write(head)  # type: ignore[union-attr]
            try:
                return await conn.start(data if data is not None else body, method == "HEAD", cap, deadline)
            except (
                ServerDisconnectedError,
                ConnectionResetError,
                BrokenPipeError,
            ):  # (a send that met a reset)
                if not (reused and not conn.heard and tries == 1 and method in IDEMPOTENT):
                    raise
            except asyncio.CancelledError:
                conn.close()  # its answer will never be read
                raise
        raise AssertionError("unreachable")

    def _take(self, key: tuple[str, int], loop: asyncio.AbstractEventLoop) -> _Connection | None:
        """The most recently used idle connection that is still open, young enough and of this event loop."""
        idle = self.idle.get(key)
        if idle:
            now = loop.time()
            while idle:
                conn = idle.pop()
                if (
                    not conn.closed
                    and conn.loop is loop
                    and now - conn.idle_since < self.keepalive
                    and not conn.transport.is_closing()
                ):  # type: ignore[union-attr]
                    return conn
                conn.close()
        return None

    async def _connect(self, host: str, port: int, deadline: float) -> _Connection:
        loop = self.loop
        key = (host, port)
        async with asyncio.timeout_at(deadline):
            try:
                ipaddress.ip_address(host)
                addrs = [host]
            except ValueError:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                addrs = list(dict.fromkeys(info[4][0] for info in infos))
            if len(addrs) == 1:
                _, conn = await loop.create_connection(lambda: _Connection(self, key), addrs[0], port)
            else:
                conn = await self._race(addrs, port, key)
        self.open.add(conn)
        return conn

    async def _race(self, addrs: list[str], port: int, key: tuple[str, int]) -> _Connection:
        """Happy eyeballs (RFC 8305), as aiohttp connects: the addresses in turn, the next one started alongside as
        soon as one fails or when the last started has not connected within HAPPY_S; the first connection made is
        kept, any other closed. All failing, the first address's failure is the one reported."""
        loop = self.loop
        tries: list[asyncio.Task] = []
        errors: dict[int, BaseException] = {}
        winner: asyncio.Task | None = None
        try:
            for n, addr in enumerate(addrs):
                tries.append(
                    loop.create_task(loop.create_connection(lambda: _Connection(self, key), addr, port))
                )
                last = n == len(addrs) - 1
                while True:
                    running = [t for t in tries if not t.done()]
                    if not running:
                        break
                    done, _ = await asyncio.wait(
                        running, timeout=None if last else HAPPY_S, return_when=asyncio.FIRST_COMPLETED
                    )
                    for t in tries:
                        if t in done and t.exception() is None and winner is None:
                            winner = t
                        elif t in done and t.exception() is not None:
                            errors[tries.index(t)] = t.exception()  # type: ignore[assignment]
                    if winner is not None:
                        return winner.result()[1]
                    if not last:
                        break  # one failed, or none connected in time: the next address now
        finally:
            for t in tries:
                if not t.done():
                    t.cancel()
                elif t is not winner and not t.cancelled() and t.exception() is None:
                    t.result()[1].close()  # connected too, but not needed
        raise errors[min(errors)] if errors else OSError(f"no address of {addrs} answered")

    def watch(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        """Check `conn.deadline` from now on, within TICK_S of it."""
        self.busy.add(conn)
        if self._ticking is not loop:
            self._ticking = loop
            loop.call_later(TICK_S, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for conn in [c for c in self.busy if c.deadline <= now or c.loop is not loop]:
            if conn.loop is loop:
                conn._expired()
            else:
                self.busy.discard(conn)  # left behind by an event loop that ended with it under way
        if self.busy:
            loop.call_later(TICK_S, self._tick, loop)
        else:
            self._ticking = None

    def release(self, conn: _Connection) -> None:
        idle = self.idle.setdefault(conn.key, deque())
        if len(idle) >= self.limit:
            conn.close()
            return
        loop = self.loop
        conn.idle_since = loop.time()
        idle.append(conn)
        if self._reaping is not loop:
            self._reaping = loop
            loop.call_later(self.keepalive + TICK_S, self._reap, loop)

    def _reap(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the connections idle for `keepalive` s, as aiohttp does: a server that serves one connection at a
        time (http.server's HTTPServer speaking HTTP/1.1) is not held for ever by one kept here and never used."""
        now = loop.time()
        oldest = None
        for key, idle in list(self.idle.items()):
            while idle and (
                idle[0].closed or idle[0].loop is not loop or now - idle[0].idle_since >= self.keepalive
            ):
                idle.popleft().close()  # (the oldest are on the left: `release` appends, `_take` pops the newest)
            if idle:
                oldest = idle[0].idle_since if oldest is None else min(oldest, idle[0].idle_since)
            else:
                del self.idle[key]
        if oldest is None:
            self._reaping = None
        else:
            loop.call_at(oldest + self.keepalive + TICK_S, self._reap, loop)

    def forget(self, conn: _Connection) -> None:
        self.open.discard(conn)

    def close(self) -> None:
        for conn in list(self.open):
            conn.close()
        self.open.clear()
        self.idle.clear()

    def __repr__(self) -> str:
        return f"<http1.Pool {len(self.open)} open, {sum(map(len, self.idle.values()))} idle>"
