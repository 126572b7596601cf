"""The core service: store, bus and the HTTP/WS server on one port, wired together; `start()` and `stop()`.

`katya-tui serve` and the TUI both run exactly this object on their event loop. This is the one place that wires:
the service builds the components (receiver, dispatcher, WebSocket feed, ...), giving each what it uses, puts them
under their `appkeys` and adds the route tables of `api/`. The components never import the service or `api/`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import secrets
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from aiohttp import web

from ..config import Settings, ensure_token, server_ssl_context
from . import appkeys, datadir, facts
from .api import captures, deliveries, endpoints, feed, health, hooks, relay, webhooks
from .api import demo as demo_api
from .api import events as events_api
from .api.guard import make_guard
from .bus import Bus
from .connections import AcceptLog, CappedSite, Gate, effective_cap
from .demo import Demo
from .dispatcher import Dispatcher
from .errors import PortInUse
from .events import publish_event
from .facts import ServiceStarted, ServiceStopping, StoreDamaged, StoreRecovered
from .models import Event
from .receiver import Receiver
from .relay import Channels, Follower
from .store import Store
from .store.book import Book
from .ws import Feed, Upstream

log = logging.getLogger(__name__)

ROUTES = (health, hooks, relay, captures, endpoints, webhooks, events_api, deliveries, feed)
"""The route tables every service serves, in this order (aiohttp matches routes in the order they were added)."""


def _bind(host: str, port: int) -> list[socket.socket]:
    """Listening TCP sockets on every address `host` resolves to (`localhost`: ::1 and 127.0.0.1), all on one port
    (the first one's, when 0 asks for a free one), as aiohttp's `TCPSite` binds them."""
    for _ in range(4 if port == 0 else 1):
        try:
            return _bind_once(host, port)
        except OSError as exc:  # a free port on the first address taken on another: pick again
            if port != 0 or exc.errno != errno.EADDRINUSE:
                raise
    return _bind_once(host, port)


def _bind_once(host: str, port: int) -> list[socket.socket]:
    socks: list[socket.socket] = []
    seen = set()
    try:
        for family, kind, proto, _, addr in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            if (family, addr[0]) in seen:
                continue
            seen.add((family, addr[0]))
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # (its IPv4 twin is bound apart)
            sock.bind((addr[0], socks[0].getsockname()[1] if len(socks) > 1 else port, *addr[2:]))
            sock.listen(1024)
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


class Component(Protocol):
    """A part of the core that takes part in the server's life: started once the server listens, stopped (in
    reverse order) when it shuts down."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Service:
    head_timeout = 30.0
    """Seconds a connection has to send a whole request head, from its opening or its previous answer (aiohttp's
    `keepalive_timeout`, which also closes idle keep-alive connections): a head sent a byte at a time is cut."""

    def __init__(self, settings: Settings, *, headless: bool = False, tool: bool = False) -> None:
        """`headless` (`serve`): no UI shares the event loop, so the store syncs its journal on the loop's own
        thread, which answers sooner under load (see `store/journal.py`). `tool`: a short-lived service for a
        command (`import --publish`), whose address is not recorded as the instance's. Raises `DataDirUnsafe`."""
        datadir.prepare(settings.data_dir)  # before the token is read or written there
        self.settings = ensure_token(settings)
        self.headless = headless
        self.tool = tool
        self.bus = Bus()
        # marks requests this process sends (see outbound.ORIGIN_HEADER)
        self.instance_id = secrets.token_hex(8)
        self.store: Store | None = None  # open from start() to stop()
        self.events: Book | None = None  # events by id: deduplication and lookups, while the store is open
        self.port = settings.port
        # lossless listeners, e.g. the dispatcher's fan-out
        self.event_hooks: list[Callable[[Event], object]] = []
        s = self.settings
        self.receiver = Receiver(self)
        self.dispatcher = Dispatcher(self)
        self.feed = Feed(self.bus, s)
        self.upstream = Upstream(self) if s.upstream else None
        self.channels = Channels(self, lambda: self.receiver.endpoints)
        self.followers = [Follower(self, self.receiver, spec) for spec in s.follow]
        self.demo = Demo(self, self.dispatcher, self.receiver, s.demo_rate) if s.demo_rate else None
        self.components: list[Component] = [self.receiver, self.dispatcher, self.feed]
        self.components += [self.channels, *self.followers]
        self.components += [c for c in (self.upstream, self.demo) if c is not None]
        self._runner: web.AppRunner | None = None
        self.gate: Gate | None = None  # the connection cap, while listening
        self._accept_log: AcceptLog | None = None
        self._stopped = asyncio.Event()

    @property
    def url(self) -> str:
        return f"{self.settings.scheme}://{self._url_host}:{self.port}"

    @property
    def reachable_url(self) -> str:
        """`url`, with a wildcard address (listening on all) replaced by loopback: an address to connect to."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self.settings.host, self._url_host)
        return f"{self.settings.scheme}://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.settings.tls_cert else 'ws'}://{self._url_host}:{self.port}/v1/ws"

    @property
    def _url_host(self) -> str:
        h = self.settings.host
        return f"[{h}]" if ":" in h else h

    async def start(self) -> None:
        """Open the store (refusing a second owner), then listen. Raises StoreLocked or PortInUse."""
        s = self.settings
        self.store = Store(
            s.data_dir, caps=s.caps, max_bytes=s.store_bytes, fsync=s.fsync, inline_sync=self.headless
        )
        store = self.store
        store.on_writable = self._writable_changed
        self.events = Book(lambda: store.table("events"))  # events by id: deduplication and lookups
        try:
            await self._listen()
        except BaseException:
            self.store.close()
            self.store = None
            raise
        if self.store.report.torn_bytes:
            self.bus.publish(StoreRecovered(self.store.report.torn_bytes, self.store.report.torn_file))
        if self.store.report.damaged:
            self.bus.publish(StoreDamaged([str(d) for d in self.store.report.damaged]))
        if not self.tool:
            datadir.record_address(s.data_dir, self.reachable_url)
        self.bus.publish(ServiceStarted(self.url, self.ws_url, str(s.data_dir)))
        log.info("listening on %s (data dir %s)", self.url, s.data_dir)

    def _writable_changed(self, reason: str | None) -> None:
        self.bus.publish(facts.StoreWritable() if reason is None else facts.StoreNotWritable(reason))

    async def _listen(self) -> None:
        s = self.settings
        app = web.Application(
            client_max_size=s.body_limit + 1024 * 1024,
            middlewares=[make_guard(s.token or "", s.host, lambda: self.port, s.scheme)],
        )
        self._wire(app)
        app.on_shutdown.append(self._on_shutdown)
        # auto_decompress off: a compressed webhook is captured (and verified) as the bytes its sender signed
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=2.0,
            auto_decompress=False,
            keepalive_timeout=self.head_timeout,
        )
        await self._runner.setup()
        # https and wss on the same port (settings checked that both files load)
        tls = server_ssl_context(s.tls_cert, s.tls_key) if s.tls_cert and s.tls_key else None
        cap = effective_cap(s.max_connections)
        if cap < s.max_connections:
            log.info("max_connections lowered to %d: half the descriptors this process may open", cap)
        self._accept_log = AcceptLog(asyncio.get_running_loop())
        self.gate = Gate(self._runner, cap, self._accept_log.accepted)
        try:
            socks = _bind(s.host, s.port)
            self.port = socks[0].getsockname()[1]
            self.settings = replace(self.settings, port=self.port)
            for sock in socks:
                await CappedSite(self._runner, sock, self.gate, tls).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            self._accept_log.close()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(s.host, s.port) from None
            raise
        for c in self.components:
            await c.start()

    def _wire(self, app: web.Application) -> None:
        """Once the store is open: each component under its key, then the routes."""
        assert self.store is not None
        self.receiver.setup()
        app[appkeys.STORE] = self.store
        app[appkeys.PUBLISHER] = self
        app[appkeys.RECEIVER] = self.receiver
        app[appkeys.ENDPOINTS] = self.receiver.endpoints
        app[appkeys.DISPATCHER] = self.dispatcher
        app[appkeys.FEED] = self.feed
        app[appkeys.CHANNELS] = self.channels
        for table in ROUTES:
            app.add_routes(table.routes)
        if self.demo is not None:
            app[appkeys.DEMO] = self.demo
            app.add_routes(demo_api.routes)

    async def _on_shutdown(self, app: web.Application) -> None:
        for c in reversed(self.components):
            await c.stop()

    async def stop(self, reason: str = "stopped") -> None:
        """Stop listening, let the components finish, flush the store and release the data dir."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.bus.publish(ServiceStopping(reason))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._accept_log is not None:
            self._accept_log.close()
            self._accept_log = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def publish_event(self, type: str, data: Any, *, source: str, **kw: Any) -> Event:
        """Every source of events calls this; see `events.publish_event`. Await `store.commit()` to make it durable."""
        assert self.store is not None, "the service is not started"
        return publish_event(
            self.store, self.bus, type, data, source=source, hooks=self.event_hooks, known=self.events, **kw
        )

    def counts(self) -> dict[str, Any]:
        return self.store.counts() if self.store else {}
