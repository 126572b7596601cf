"""The upstream follower (`--upstream WS_URL --upstream-token T`): relays a seed 002 feed into katya-tui's stream.

It connects with the token as a Bearer header, subscribes, answers pings, and publishes every `event` message as
an event (`source="ws"`, the upstream's id kept), so it reaches the stream, the subscriptions and our own feed.
Seed 001 feeds (`{type: <event type>, payload, timestamp}`) are understood too. A lost connection is retried
with capped exponential backoff and jitter; a refused token (4001, or HTTP 401/403) stops it for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .. import catalog
from ..facts import UpstreamMessageSkipped, UpstreamStateChanged
from ..host import Host
from . import protocol as p

log = logging.getLogger(__name__)

SEED_002_CHANNELS = tuple(c for c in catalog.CHANNELS if c != catalog.WEBHOOKS_CHANNEL)


class _Fatal(Exception):
    """Retrying cannot help (wrong token, bad URL)."""


def safe_url(url: str) -> str:
    """The URL without its query (which may hold a token), for logs and the UI."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code} instead of a WebSocket handshake"
    if isinstance(exc, ConnectionClosed):
        code = exc.rcvd.code if exc.rcvd else 1006
        reason = exc.rcvd.reason if exc.rcvd else "no close frame"
        return f"connection closed ({code}{': ' + reason if reason else ''})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Upstream:
    """`service.upstream`: follows `settings.upstream`; `state` is connecting | connected | retrying in N s | failed: …"""

    def __init__(self, service: Host) -> None:
        s = service.settings
        self.service = service
        assert s.upstream, "an upstream feed is made only when the settings name one"
        self.url: str = s.upstream
        self.token: str | None = s.upstream_token
        self.channels: list[str] = list(s.upstream_channels) or list(SEED_002_CHANNELS)
        self.events: list[str] = list(s.upstream_events)
        self.retry_initial: float = s.upstream_retry_initial
        self.retry_max: float = s.upstream_retry_max
        self.state = "idle"
        self.detail = ""
        self.connects = 0  # successful handshakes
        self.relayed = 0  # events published
        self.duplicates = 0  # events skipped because their id was relayed already
        self.malformed = 0  # messages skipped as malformed
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        self._rng = random.Random()
        self._task: asyncio.Task | None = None
        self._committing: asyncio.Task | None = None
        self._dirty = False

    # -- life ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 3.0)
        if self._committing is not None:
            with contextlib.suppress(Exception):
                await self._committing
        if not self.state.startswith("failed"):
            self._set_state("stopped", "")

    def _set_state(self, state: str, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        log.info("upstream %s: %s%s", safe_url(self.url), state, f" ({detail})" if detail else "")
        self.service.bus.publish(UpstreamStateChanged(state, detail))

    def backoff(self, failures: int) -> float:
        """Delay before retry number `failures` (1, 2, ...): doubling from `retry_initial`, capped at `retry_max`,
        with jitter taking it down to half at random."""
        d = min(self.retry_max, self.retry_initial * 2 ** min(failures - 1, 30))
        return d * (0.5 + self._rng.random() / 2)

    # -- the connection loop ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        while True:
            self._set_state("connecting", safe_url(self.url))
            try:
                async with connect(
                    self.url,
                    additional_headers=headers,
                    open_timeout=10,
                    close_timeout=2,
                    max_size=16 * 1024 * 1024,
                ) as ws:
                    self.connects += 1
                    await self._subscribe(ws)
                    self._set_state("connected", safe_url(self.url))
                    async for raw in ws:
                        failures = 0  # the upstream talks to us: the next failure starts the backoff afresh
                        await self._on_message(ws, raw)
                    reason = f"closed by the upstream ({ws.close_code}{': ' + ws.close_reason if ws.close_reason else ''})"
            except _Fatal as exc:
                self._set_state(f"failed: {exc}", safe_url(self.url))
                return
            except InvalidURI as exc:
                self._set_state(f"failed: not a WebSocket URL ({exc})", safe_url(self.url))
                return
            except InvalidStatus as exc:
                if exc.response.status_code in (401, 403):
                    self._set_state(
                        f"failed: the upstream token is wrong (HTTP {exc.response.status_code})",
                        safe_url(self.url),
                    )
                    return
                reason = _describe(exc)
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code == p.AUTH_FAILED:
                    self._set_state(
                        f"failed: the upstream token is wrong (4001: {exc.rcvd.reason})", safe_url(self.url)
                    )
                    return
                reason = _describe(exc)
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                reason = _describe(exc)
            except Exception as exc:  # a bug of ours: say so, and try again rather than go silent
                log.exception("upstream follower failed")
                reason = f"internal error: {_describe(exc)}"
            failures += 1
            delay = self.backoff(failures)
            self._set_state(
                f"retrying in {delay:.1f} s" if delay < 10 else f"retrying in {delay:.0f} s", reason
            )
            await asyncio.sleep(delay)

    async def _subscribe(self, ws: ClientConnection) -> None:
        """As seed 002's client does: one subscribe for the channels, one for the events."""
        if self.channels:
            await ws.send(orjson.dumps({"type": "subscribe", "channels": self.channels}).decode())
        if self.events:
            await ws.send(orjson.dumps({"type": "subscribe", "events": self.events}).decode())

    async def _on_message(self, ws: ClientConnection, raw: str | bytes) -> None:
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return self._skip("not JSON", raw)
        if not isinstance(msg, dict):
            return self._skip(f"a JSON {type(msg).__name__}, not an object", raw)
        kind = msg.get("type")
        if kind == "event":
            etype = msg.get("event")
            if not isinstance(etype, str) or not etype.strip():
                return self._skip("event message without an 'event' name", raw)
            return self._relay(etype, msg.get("data"), msg.get("id"), raw)
        if kind == "ping":
            await ws.send('{"type":"pong"}')
        elif kind == "error":
            data = msg.get("data")
            if not isinstance(data, dict):
                data = {}
            code, text = str(data.get("code", "")), str(data.get("message", ""))
            if code == str(p.AUTH_FAILED):
                raise _Fatal(f"the upstream token is wrong (4001: {text})")
            log.warning("upstream error %s: %s", code, text)
            self._set_state(self.state, f"upstream error {code}: {text}")
        elif kind in ("connection", "response", "pong"):
            return
        elif isinstance(kind, str) and "payload" in msg:  # seed 001: {type: <event type>, payload, timestamp}
            return self._relay(kind, msg["payload"], msg.get("id"), raw)
        else:
            self._skip(f"unknown message type {kind!r}", raw)

    def _relay(self, etype: str, data: Any, eid: Any, raw: str | bytes) -> None:
        if eid is not None and (not isinstance(eid, str) or not eid.strip()):
            return self._skip(f"event id must be a non-empty string, got {eid!r}", raw)
        if eid is not None:
            if eid in self._seen:
                self.duplicates += 1
                return
            self._remember(eid)
        self.service.publish_event(etype, data, source="ws", event_id=eid)
        self.relayed += 1
        self._commit_soon()

    def _remember(self, eid: str, keep: int = 10_000) -> None:
        """Bounded memory of relayed ids: two instances following each other do not echo events for ever."""
        self._seen.add(eid)
        self._seen_order.append(eid)
        if len(self._seen_order) > keep:
            self._seen.discard(self._seen_order.popleft())

    def _skip(self, reason: str, raw: str | bytes) -> None:
        self.malformed += 1
        text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        log.warning("upstream message skipped (%s): %.200s", reason, text)
        self.service.bus.publish(UpstreamMessageSkipped(reason, text[:200]))

    def _commit_soon(self) -> None:
        """Make relayed events durable in the background, many per fsync."""
        self._dirty = True
        if self._committing is None:
            self._committing = asyncio.get_running_loop().create_task(self._commit())

    async def _commit(self) -> None:
        try:
            while self._dirty and self.service.store is not None:
                self._dirty = False
                await self.service.store.commit()
        finally:
            self._committing = None
