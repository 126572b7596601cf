"""The WebSocket feed: `/v1/ws` speaks seed 002's protocol, `/ws` seed 001's event shape; both on the core's app.

One bus subscription feeds every client: a pump task takes facts in batches, encodes each event once per dialect,
and appends the bytes to the queue of each client that wants it. Each client has a writer task, so a slow socket
only ever fills its own bounded queue; when that overflows the client is told (error 4008) and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web

from ...config import Settings
from .. import catalog
from ..bus import Bus
from ..facts import CaptureRecorded, DeliveryUpdated, EventPublished
from ..store.cold import REFS
from ..tokens import bearer, token_matches
from . import protocol as p

log = logging.getLogger(__name__)

_WANTED = (EventPublished, CaptureRecorded, DeliveryUpdated)


class Client:
    """One socket: its subscriptions, its bounded queue of encoded messages, and the task that writes them."""

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, dialect: str, limit: int, queue_limit: int
    ):
        self.ws = ws
        self.request = request
        self.dialect = dialect  # "002" (/v1/ws) or "001" (/ws)
        self.subs = p.Subscriptions(limit)
        if dialect == "001":
            self.subs.events.add("*")  # seed 001's clients get every event and never subscribe
        self.queue: deque[bytes] = deque()
        self.queue_limit = queue_limit
        self.ready = asyncio.Event()
        self.authed = False
        self.dropped = False  # kicked out (slow, silent or shutdown): take no more messages
        self.unanswered = 0  # server pings without a pong since
        self.writer: asyncio.Task | None = None

    def push(self, msg: dict[str, Any]) -> None:
        """Queue a control message (response, error, ping, pong): never refused for being over the limit."""
        self.queue.append(p.text_frame(p.encode(msg)))
        self.ready.set()

    def offer(self, data: bytes) -> bool:
        """Queue an event's frame; False when the queue is full (the client has fallen behind)."""
        if len(self.queue) >= self.queue_limit:
            return False
        self.queue.append(data)
        self.ready.set()
        return True

    def start(self) -> None:
        self.writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Write every queued frame in one go, then wait while the socket's buffer is over `high` bytes.

        Frames go straight to the transport (whole frames, in one synchronous write, so they never interleave
        with the control frames aiohttp writes itself): one system call for many messages."""
        q, transport = self.queue, self.request.transport
        high = 256 * 1024
        while transport is not None and not transport.is_closing():
            if not q:
                self.ready.clear()
                await self.ready.wait()
                continue
            n = len(q)
            transport.write(q.popleft() if n == 1 else b"".join([q.popleft() for _ in range(n)]))
            while transport.get_write_buffer_size() > high and not transport.is_closing():
                await asyncio.sleep(0.005)  # a slow reader: its queue grows, and past the limit it is dropped

    async def close(
        self, code: int, reason: str, error: dict[str, Any] | None = None, timeout: float = 1.0
    ) -> None:
        """Stop writing, send `error` if given, close with `code`; abort the connection if the peer does not read."""
        self.dropped = True
        if self.writer is not None:
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.writer
        try:
            async with asyncio.timeout(timeout):
                if error is not None and not self.ws.closed:
                    await self.ws.send_str(p.encode(error).decode())
                await self.ws.close(code=code, message=reason.encode()[:120])
        except (TimeoutError, ConnectionError, RuntimeError):
            transport = self.request.transport
            if transport is not None:
                transport.abort()


class Feed:
    """The `/v1/ws` and `/ws` server (`service.feed`)."""

    auth_timeout = 5.0  # seconds a client without a token in the URL or headers has to send its auth message
    close_timeout = 1.0  # seconds to wait for a client's close frame
    queue_limit = 5_000  # events queued for one client before it counts as stalled
    batch = 1_000  # facts taken from the bus at a time

    def __init__(self, bus: Bus, settings: Settings) -> None:
        self.bus = bus
        self.settings = settings  # (the token and the ping interval: fixed for the service's life)
        self.clients: set[Client] = set()
        self.dropped_slow = 0  # clients dropped for falling behind
        self.dropped_silent = 0  # clients dropped for not answering pings
        self.sent = 0  # event messages queued to clients
        self.pings = 0  # server pings sent
        self._tasks: list[asyncio.Task] = []
        self._sub: Any = None
        self._closing = False

    @property
    def client_count(self) -> int:
        return sum(1 for c in self.clients if c.authed and not c.dropped)

    # -- life ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        # facts are queued only while someone listens: with no client, publishing costs the feed nothing
        self._sub = self.bus.subscribe(
            100_000, accept=lambda f: bool(self.clients) and isinstance(f, _WANTED)
        )
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._pump()), loop.create_task(self._pinger())]

    async def stop(self) -> None:
        """Close every socket now (aiohttp would otherwise wait for their handlers)."""
        self._closing = True
        for t in self._tasks:
            t.cancel()
        if self._sub is not None:
            self._sub.close()
        clients = [c for c in self.clients if not c.dropped]
        await asyncio.gather(
            *(
                c.close(p.GOING_AWAY_CLOSE, "server shutting down", timeout=self.close_timeout)
                for c in clients
            ),
            return_exceptions=True,
        )

    # -- connections -----------------------------------------------------------------------------------------

    async def handle(self, request: web.Request, dialect: str) -> web.StreamResponse:
        """One client in seed 002's (`/v1/ws`) or seed 001's (`/ws`) dialect, until it or the server leaves."""
        s = self.settings
        heartbeat = (
            s.ws_ping_interval if dialect == "001" else None
        )  # seed 001's clients only know ping frames
        ws = web.WebSocketResponse(
            timeout=self.close_timeout,
            compress=False,
            heartbeat=heartbeat,
            max_msg_size=1024 * 1024,
            autoping=dialect == "001",  # `/v1/ws` answers pings itself and counts pongs as signs of life
        )
        await ws.prepare(request)
        if self._closing:
            await ws.close(code=p.GOING_AWAY_CLOSE, message=b"server shutting down")
            return ws
        client = Client(ws, request, dialect, s.ws_max_subscriptions, self.queue_limit)
        self.clients.add(client)
        try:
            if await self._authenticate(client):
                client.authed = True
                client.start()
                client.push(p.connected_message(dialect))
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        self._on_message(client, msg.data)
                    elif msg.type == WSMsgType.PING:
                        await ws.pong(msg.data)
                    elif msg.type == WSMsgType.PONG:
                        client.unanswered = 0  # a client that answers protocol pings is alive (a browser's)
                    elif msg.type == WSMsgType.BINARY:
                        client.push(
                            p.error_message(p.BAD_MESSAGE, "binary frames are not understood; send JSON text")
                        )
        finally:
            self.clients.discard(client)
            if not client.dropped:
                client.dropped = True
                if client.writer is not None:
                    client.writer.cancel()
        return ws

    async def _authenticate(self, client: Client) -> bool:
        """Token from the header, `?token=`, `?api_key=`, or a first auth message; on failure 4001 and close."""
        token = self.settings.token or ""
        req = client.request
        given = bearer(req) or req.query.get("token") or req.query.get("api_key")
        if given is not None:
            if token_matches(given, token):
                return True
            return await self._refuse(client, "wrong token")
        try:
            first = await client.ws.receive(timeout=self.auth_timeout)
        except TimeoutError:
            return await self._refuse(
                client,
                f'no token: send {{"type":"auth","token":...}} within '
                f"{self.auth_timeout:g} s, or connect with ?token=",
            )
        if first.type != WSMsgType.TEXT:
            return (
                False
                if first.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
                else await self._refuse(client, "authenticate first with a JSON auth message")
            )
        try:
            msg = p.parse_client_message(first.data)
        except p.ProtocolError as exc:
            return await self._refuse(client, f"authenticate first: {exc.message}")
        if msg["type"] != "auth":
            return await self._refuse(
                client, f'authenticate first: got {msg["type"]!r} before {{"type":"auth"}}'
            )
        if not isinstance(msg.get("token"), str) or not token_matches(msg["token"], token):
            return await self._refuse(
                client, "wrong token" if msg.get("token") else "auth message has no token"
            )
        return True

    async def _refuse(self, client: Client, why: str) -> bool:
        log.info("ws client %s refused: %s", client.request.remote, why)
        await client.close(
            p.AUTH_FAILED,
            why,
            p.error_message(p.AUTH_FAILED, f"authentication failed: {why}"),
            timeout=self.close_timeout,
        )
        return False

    def _on_message(self, client: Client, raw: str) -> None:
        try:
            msg = p.parse_client_message(raw)
            kind = msg["type"]
            if kind == "pong":
                client.unanswered = 0
            elif kind == "ping":
                client.push(p.server_message("pong", requestId=msg.get("id")))
            elif kind == "auth":
                if not isinstance(msg.get("token"), str) or not token_matches(
                    msg["token"], self.settings.token or ""
                ):
                    client.dropped = True
                    asyncio.get_running_loop().create_task(self._refuse(client, "wrong token"))
                    return
                client.push(
                    p.server_message("response", {"action": "auth", "status": "ok"}, requestId=msg.get("id"))
                )
            else:
                channels, events = p.subscription_request(msg)
                if kind == "subscribe":
                    client.subs.add(channels, events)
                else:
                    client.subs.remove(channels, events)
                data = {"action": kind, "status": "ok", **client.subs.snapshot()}
                client.push(p.server_message("response", data, requestId=msg.get("id")))
        except p.ProtocolError as exc:
            client.push(p.error_message(exc.code, exc.message, **exc.extra))
        except Exception:  # a bug of ours must not cost the client its connection
            log.exception("ws message handling failed: %.200s", raw)
            client.push(
                p.error_message(p.INTERNAL, "internal error while handling the message; see the server log")
            )

    # -- fan-out ---------------------------------------------------------------------------------------------

    async def _pump(self) -> None:
        while True:
            facts = await self._sub.get_batch(self.batch)
            clients = [c for c in self.clients if c.authed and not c.dropped]
            if not clients:
                continue
            for fact in facts:
                self._fan_out(clients, *_event_of(fact))

    def _fan_out(
        self, clients: list[Client], etype: str, data: Any, eid: str, created_at: float | None
    ) -> None:
        channel = catalog.channel_for(etype)
        encoded: dict[str, bytes] = {}
        for c in clients:
            if c.dropped or not c.subs.wants(etype, channel):
                continue
            raw = encoded.get(c.dialect)
            if raw is None:
                build = p.event_message if c.dialect == "002" else p.event_message_001
                raw = encoded[c.dialect] = p.text_frame(p.encode(build(etype, data, eid, created_at)))
            if c.offer(raw):
                self.sent += 1
            else:
                self.dropped_slow += 1
                c.dropped = True
                log.warning("ws client %s fell behind (%d queued): dropped", c.request.remote, len(c.queue))
                err = p.error_message(
                    p.TOO_SLOW, f"you fell behind: {len(c.queue)} events queued unread; reconnect"
                )
                asyncio.get_running_loop().create_task(
                    c.close(p.TOO_SLOW, "too slow", err, self.close_timeout)
                )

    async def _pinger(self) -> None:
        """Every `ws_ping_interval` s: ping each `/v1/ws` client (a JSON ping and a protocol one); close one that
        answered neither of the last two."""
        interval = self.settings.ws_ping_interval
        while True:
            await asyncio.sleep(interval)
            for c in [c for c in self.clients if c.authed and not c.dropped and c.dialect == "002"]:
                if c.unanswered >= 2:
                    self.dropped_silent += 1
                    c.dropped = True
                    asyncio.get_running_loop().create_task(
                        c.close(p.PING_TIMEOUT_CLOSE, "no pong to the last 2 pings", None, self.close_timeout)
                    )
                else:
                    c.unanswered += 1
                    self.pings += 1
                    c.push(p.server_message("ping"))
                    asyncio.get_running_loop().create_task(self._ping_frame(c))

    async def _ping_frame(self, client: Client) -> None:
        """A protocol ping beside seed 002's JSON one: generic clients (a browser's WebSocket, wscat) answer only
        these, and either answer keeps a client."""
        with contextlib.suppress(Exception):
            await client.ws.ping()


def _event_of(fact: Any) -> tuple[str, Any, str, float | None]:
    """(type, data, id, created_at) of the event message a fact becomes."""
    if isinstance(fact, EventPublished):
        e = fact.event
        return e["type"], e.get("data"), e["id"], e.get("created_at")
    if isinstance(fact, CaptureRecorded):
        c = fact.capture
        return "capture.recorded", c, c.get("id", ""), c.get("received_at")
    d = {k: v for k, v in fact.delivery.items() if k != REFS}  # (as kept in memory: see `store/cold.py`)
    attempts = d.pop("attempts", None) or []
    d["attemptCount"] = len(attempts)
    if attempts:
        last = attempts[-1]
        d["lastAttempt"] = {
            k: last.get(k)
            for k in ("n", "started_at", "latency_ms", "status_code", "error_class", "reason", "manual")
        }
    return "delivery.updated", d, d.get("id", ""), None
