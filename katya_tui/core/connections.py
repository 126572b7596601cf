"""The listening side of the one port: a cap on open connections, and a quiet back-off when descriptors run out.

aiohttp's `web.Server` is the protocol factory of every connection and lists the ones it serves
(`Server.connections`); `CappedSite` (an aiohttp `BaseSite`, as `SockSite` is) puts a gate in front of it. Past
the cap a new connection is answered `503` with `Retry-After` at once and closed, rather than closed silently: a
webhook sender reads a 503 as "retry later" (a silent close looks like a crash of the receiver), and the answer
needs no request parsing, so it costs one write.

Out of descriptors, asyncio's accept loop stops accepting for a second at a time (`ACCEPT_RETRY_DELAY`) but logs
the failure, with its traceback, once per connection it could not accept: `AcceptLog` turns that flood into one
warning per episode, and one line when accepting works again.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

TLS_HANDSHAKE_TIMEOUT = 10.0  # seconds a connection has for its TLS handshake (asyncio's default is 60)
LINGER_S = (
    1.0  # how long a refused connection stays open for its request to arrive (its close then resets nothing)
)
ACCEPT_FAILED = "socket.accept() out of system resource"  # asyncio's message (selector_events)


def effective_cap(configured: int) -> int:
    """The cap in force: the configured one, but at most half the process's descriptors (the store, deliveries
    and forwards need the rest), so the cap is reached before the descriptors run out."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft // 2))


def refusal(cap: int) -> bytes:
    body = (
        f'{{"status":"error","message":"too many open connections (the cap is {cap}); retry later"}}'.encode()
    )
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Refused(asyncio.Protocol):
    """A connection past the cap: the 503 is written at once; the connection is closed when the client closes or
    after `LINGER_S` (closing with its request unread would reset the connection, and the answer with it), at
    once when too many refused ones linger already."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.gate.answer)
        if self.gate.lingering >= max(1, self.gate.cap // 8):
            transport.close()
            return
        self.gate.lingering += 1
        self.timer = asyncio.get_running_loop().call_later(LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        pass  # the request is not read: it is answered already

    def eof_received(self) -> bool:
        return False  # the client is done: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
            self.gate.lingering -= 1


class Gate:
    """The protocol factory in front of aiohttp's server: aiohttp's protocol under the cap, `Refused` past it.
    (Connections accepted in the same instant are counted once aiohttp has them, so a burst may pass the cap by
    the few accepted together.)"""

    def __init__(self, runner: web.BaseRunner, cap: int, on_accept: Callable[[], None]) -> None:
        self.runner = runner
        self.cap = cap
        self.answer = refusal(cap)
        self.on_accept = on_accept
        self.refused = 0  # connections refused so far
        self.lingering = 0  # refused connections still open

    def __call__(self) -> asyncio.BaseProtocol:
        self.on_accept()
        server = self.runner.server
        assert server is not None, "the runner is not set up"
        if len(server.connections) >= self.cap:
            self.refused += 1
            return Refused(self)
        return server()


class CappedSite(web.BaseSite):
    """aiohttp's `SockSite` with a `Gate` as the protocol factory (a site, so `runner.cleanup()` stops it)."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, gate: Gate, tls: Any = None) -> None:
        super().__init__(runner, ssl_context=tls)
        self.sock = sock
        self.gate = gate
        self.tls = tls
        self.listener: asyncio.AbstractServer | None = None

    @property
    def name(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        self.listener = await asyncio.get_running_loop().create_server(
            self.gate,
            sock=self.sock,
            ssl=self.tls,
            backlog=128,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if self.tls else None,
        )

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        await super().stop()


class AcceptLog:
    """The event loop's exception handler while the service listens: asyncio's "out of system resource" on
    accept is logged once when it starts and once when an accept succeeds again; anything else goes to the
    handler that was there before."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.previous = loop.get_exception_handler()
        self.starved = 0  # accepts that failed in the episode under way (0: none under way)
        loop.set_exception_handler(self.handle)

    def handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != ACCEPT_FAILED:
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        if not self.starved:
            log.warning(
                "cannot accept connections: %s; pausing accepts a second at a time until descriptors are free "
                "(raise `ulimit -n`, or lower max_connections)",
                context.get("exception"),
            )
        self.starved += 1

    def accepted(self) -> None:
        if self.starved:
            log.warning("accepting connections again (%d accepts failed meanwhile)", self.starved)
            self.starved = 0

    def close(self) -> None:
        if self.loop.get_exception_handler() == self.handle:
            self.loop.set_exception_handler(self.previous)
