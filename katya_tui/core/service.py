"""The core service: store, bus and the HTTP/WS server on one port, wired together; `start()` and `stop()`.

`katya-tui serve` and the TUI both run exactly this object on their event loop. Components (receiver, dispatcher,
WebSocket feed, ...) are added in `_components()`; each gets the service and may add routes and background tasks.
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

from ..config import Settings, auto_workers, ensure_token
from .api import health
from .api.guard import make_guard
from .bus import Bus
from .events import publish_event
from .facts import ServiceStarted, ServiceStopping, StoreRecovered
from .models import Event
from .store import Store
from .store.book import Book

log = logging.getLogger(__name__)

SERVICE: web.AppKey[Service] = web.AppKey("service")
"""`request.app[SERVICE]` is the running Service, for route handlers."""


class PortInUse(OSError):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use; pick another with --port (0 picks a free one)"
        )


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
    def setup(self, app: web.Application) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Service:
    def __init__(self, settings: Settings, *, headless: bool = False) -> None:
        """`headless` (`serve`): no UI shares the event loop, so the store syncs its journal on the loop's own
        thread, which answers sooner under load (see `store/journal.py`)."""
        self.settings = ensure_token(settings)
        self.headless = headless
        self.bus = Bus()
        self.instance_id = secrets.token_hex(
            8
        )  # marks requests this process sends (see outbound.ORIGIN_HEADER)
        self.store: Store | None = None
        self.events: Book | None = None
        self.port = settings.port
        self.components: list[Component] = []
        self.receiver: Any = None  # the Receiver component, once started
        self.event_hooks: list[
            Callable[[Event], None]
        ] = []  # lossless listeners, e.g. the dispatcher's fan-out
        self._runner: web.AppRunner | None = None
        self._stopped = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._url_host}:{self.port}/v1/ws"

    @property
    def _url_host(self) -> str:
        h = self.settings.host
        return f"[{h}]" if ":" in h else h

    def _components(self) -> list[Component]:
        """Every part of the core that takes part in the server's life; later parts plug in here."""
        from .dispatcher import Dispatcher
        from .receiver import Receiver
        from .ws import Feed, Upstream

        self.receiver = Receiver(self)
        self.dispatcher = Dispatcher(self)
        self.feed = Feed(self)
        self.upstream = Upstream(self) if self.settings.upstream else None
        parts: list[Component] = [self.receiver, self.dispatcher, self.feed]
        if self.upstream:
            parts.append(self.upstream)
        if self.settings.demo_rate:
            from .demo import Demo

            parts.append(Demo(self, self.settings.demo_rate))
        return parts

    async def start(self) -> None:
        """Open the store (refusing a second owner), then listen. Raises StoreLocked or PortInUse."""
        s = self.settings
        self.store = Store(s.data_dir, caps=s.caps, fsync=s.fsync, inline_sync=self.headless)
        store = self.store
        self.events = Book(lambda: store.table("events"))  # events by id: deduplication and lookups
        try:
            await self._listen()
        except BaseException:
            self.store.close()
            self.store = None
            raise
        if self.store.report.torn_bytes:
            self.bus.publish(StoreRecovered(self.store.report.torn_bytes, self.store.report.torn_file))
        self.bus.publish(ServiceStarted(self.url, self.ws_url, str(s.data_dir)))
        log.info("listening on %s (data dir %s)", self.url, s.data_dir)

    async def _listen(self) -> None:
        s = self.settings
        app = web.Application(
            client_max_size=s.body_limit + 1024 * 1024,
            middlewares=[make_guard(s.token or "", s.host, lambda: self.port)],
        )
        app[SERVICE] = self
        health.add_routes(app)
        self.components = self._components()
        for c in self.components:
            c.setup(app)
        app.on_shutdown.append(self._on_shutdown)
        # auto_decompress off: a compressed webhook is captured (and verified) as the bytes its sender signed
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=2.0, auto_decompress=False
        )
        await self._runner.setup()
        try:
            workers = auto_workers() if s.workers is None else s.workers
            socks = _bind(s.host, s.port)
            self.port = socks[0].getsockname()[1]
            self.settings = replace(self.settings, port=self.port)
            if workers:  # /hooks connections to the workers, the rest here (see receiver/workers)
                self.receiver.listen_with_workers(socks, self._runner.server, workers)
            else:
                for sock in socks:
                    await web.SockSite(self._runner, sock).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(s.host, s.port) from None
            raise
        for c in self.components:
            await c.start()

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
            if self.receiver is not None:
                self.receiver.close_listener()
            await self._runner.cleanup()
            self._runner = None
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
