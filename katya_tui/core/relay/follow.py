"""Following a relay channel (`--follow [ENDPOINT=]URL`): each message becomes a capture on a local endpoint,
through the receiver's own record step (`Receiver.take_in`): verified, explained, published and forwarded under the
local endpoint's config, like a request that came to `/hooks`.

A katya-tui channel (asked with `X-Katya-Relay: raw`) carries the exact request: method, path, headers in order
and the body's bytes, checked against their sha256. A smee.io message carries only the parsed body: the request is
rebuilt as smee-client would send it (POST, `JSON.stringify` of the body, its content-type and content-length),
and the verdict says so, and says when the signature holds over the body as the sender likely wrote it.

The stream is read with httpx-sse; a lost connection (or no byte for `idle_timeout`, pings included) is retried
with capped exponential backoff and jitter, resuming with `Last-Event-ID` from the last capture relayed; a capture
already relayed (same upstream id, remembered across restarts from the store) is never made twice.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import random
import time
from collections import deque
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import orjson
from httpx_sse import SSEError, aconnect_sse

from ...config import client_ssl_context, follow_spec
from .. import queries
from ..dispatcher.profiles import serialize
from ..facts import FollowStateChanged, UpstreamMessageSkipped
from ..host import Host, open_store
from ..models import Capture
from ..receiver import Receiver
from ..receiver.capture import Body
from ..receiver.intake import intake, verify_under
from ..signing._base import dumps_bytes
from ..signing.diagnose import RESERIALISATIONS
from .channel import RAW_HEADER, RAW_KEY

log = logging.getLogger(__name__)

REBUILT = (
    "rebuilt from a smee.io message as smee-client sends it (POST, JSON.stringify of the parsed body, "
    "content-type and content-length set): the sender's own bytes did not come through the relay"
)
SMEE_KEYS = ("body", "query", "timestamp", RAW_KEY)  # keys of a smee message that are not request headers


def safe_url(url: str) -> str:
    """The URL without its query (which may hold a token), for facts, logs and the UI."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _Skip(Exception):
    """A message that cannot become a capture (not JSON, a damaged raw request)."""


class Follower:
    """Follows one channel; `state` is idle | connecting | connected | retrying in N s (`detail`: why)."""

    idle_timeout = 60.0  # seconds without a byte (smee.io pings every 30 s, katya-tui every 15 s)
    remember = 10_000  # upstream capture ids kept to refuse repeats

    def __init__(self, service: Host, receiver: Receiver, spec: str) -> None:
        s = service.settings
        self.service = service
        self.receiver = receiver
        self.endpoint, self.url = follow_spec(spec)
        self.shown_url = safe_url(self.url)
        self.retry_initial = s.upstream_retry_initial
        self.retry_max = s.upstream_retry_max
        self.state = "idle"
        self.detail = ""
        self.last_id: str | None = None  # the last upstream capture relayed: Last-Event-ID
        self.relayed = 0
        self.duplicates = 0
        self.skipped = 0
        self._seen: set[str] = set()
        self._order: deque[str] = deque()
        self._rng = random.Random()
        self._task: asyncio.Task | None = None

    # -- life ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._recall()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 3.0)
        self._set_state("stopped", "")

    def _recall(self) -> None:
        """The upstream ids this channel already gave (from the store): resume after the newest, skip repeats."""
        ids: list[str] = []
        for doc in queries.newest(open_store(self.service), "captures"):
            relay = doc.get("relay")
            if isinstance(relay, dict) and relay.get("from") == self.shown_url and relay.get("id"):
                ids.append(relay["id"])
                if len(ids) >= self.remember:
                    break
        for uid in reversed(ids):
            self._remember(uid)
        self.last_id = ids[0] if ids else None

    def _remember(self, uid: str) -> None:
        self._seen.add(uid)
        self._order.append(uid)
        if len(self._order) > self.remember:
            self._seen.discard(self._order.popleft())

    def _set_state(self, state: str, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        log.info("follow %s: %s%s", self.shown_url, state, f" ({detail})" if detail else "")
        self.service.bus.publish(FollowStateChanged(self.shown_url, self.endpoint, state, detail))

    def backoff(self, failures: int) -> float:
        """Doubling from `retry_initial` up to `retry_max`, jittered down to half at random."""
        d = min(self.retry_max, self.retry_initial * 2 ** min(failures - 1, 30))
        return d * (0.5 + self._rng.random() / 2)

    # -- the connection loop ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        timeout = httpx.Timeout(10.0, read=self.idle_timeout)
        verify_tls = client_ssl_context(self.service.settings.tls_ca)
        async with httpx.AsyncClient(timeout=timeout, verify=verify_tls) as client:
            while True:
                self._set_state("connecting", self.shown_url)
                headers = {RAW_HEADER: "raw"}
                if self.last_id:
                    headers["Last-Event-ID"] = self.last_id
                try:
                    async with aconnect_sse(client, "GET", self.url, headers=headers) as source:
                        status = source.response.status_code
                        if status != 200:
                            raise SSEError(f"HTTP {status} instead of an event stream")
                        events = source.aiter_sse()
                        first = True
                        async for sse in events:
                            if first:  # (the content type was checked: this is a channel)
                                self._set_state("connected", self.shown_url)
                                failures, first = 0, False
                            if sse.event == "message":
                                await self._on_message(sse.data, sse.id)
                    reason = "the stream ended"
                except httpx.ReadTimeout:
                    reason = f"nothing heard for {self.idle_timeout:g} s"
                except (httpx.HTTPError, SSEError, OSError) as exc:
                    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                except Exception as exc:  # a bug of ours: say so, and try again rather than go silent
                    log.exception("follower of %s failed", self.shown_url)
                    reason = f"internal error: {type(exc).__name__}: {exc}"
                failures += 1
                delay = self.backoff(failures)
                self._set_state(
                    f"retrying in {delay:.1f} s" if delay < 10 else f"retrying in {delay:.0f} s", reason
                )
                await asyncio.sleep(delay)

    # -- one message -----------------------------------------------------------------------------------------

    async def _on_message(self, data: str, sse_id: str) -> None:
        try:
            msg = orjson.loads(data)
            if not isinstance(msg, dict):
                raise _Skip(f"a JSON {type(msg).__name__}, not an object")
            raw = msg.get(RAW_KEY)
            if isinstance(raw, dict):
                uid = str(raw.get("capture") or sse_id)
                if uid in self._seen:
                    self.duplicates += 1
                    return
                method, target, headers, body, now = self._exact(raw)
            else:
                uid = None
                method, target, headers, body, now = self._rebuilt(msg)
        except orjson.JSONDecodeError:
            return self._skip("not JSON", data)
        except _Skip as exc:
            return self._skip(str(exc), data)
        cfg = self.receiver.endpoints.config_for(self.endpoint)
        others = self.receiver.endpoints.secrets_of_others(self.endpoint)
        remote = urlsplit(self.url).hostname
        took = intake(cfg, others, method, target, headers, remote, body, time.perf_counter(), now)
        took.cap.relay = {"from": self.shown_url, "id": uid, "rebuilt": uid is None}
        if uid is None:
            self._explain_rebuilt(cfg, took.cap, msg.get("body"), now)
        await self.receiver.take_in(took)
        self.relayed += 1
        if uid is not None:
            self._remember(uid)
            self.last_id = uid

    def _exact(self, raw: dict[str, Any]) -> tuple[str, str, list[list[str]], Body, float]:
        """The request as the channel's server received it."""
        try:
            data = base64.b64decode(raw["body"], validate=True)
            headers = [[str(k), str(v)] for k, v in raw["headers"]]
            method, path, query = str(raw["method"]), str(raw["path"]), str(raw.get("query") or "")
            when = float(raw["received_at"])
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise _Skip(f"a damaged raw request ({type(exc).__name__}: {exc})") from None
        if hashlib.sha256(data).hexdigest() != raw.get("sha256"):
            raise _Skip("the body's sha256 is not the one the channel announced")
        truncated = bool(raw.get("truncated"))
        body = Body(data, len(data), truncated, "incomplete" if truncated else None)
        return method, path + ("?" + query if query else ""), headers, body, when

    def _rebuilt(self, msg: dict[str, Any]) -> tuple[str, str, list[list[str]], Body, float]:
        """What smee-client sends for a smee.io message (its `index.js`, `onmessage`)."""
        if "body" not in msg:
            raise _Skip("a message without a body")
        data = serialize(msg["body"], "compact")
        named = {k: _header_value(v) for k, v in msg.items() if k not in SMEE_KEYS and k != "host"}
        named["content-length"] = str(len(data))  # (in place when present, as a JavaScript object keeps it)
        named["content-type"] = "application/json"
        headers = [[k, v] for k, v in named.items()]
        query = msg.get("query")
        target = f"/hooks/{self.endpoint}"
        if isinstance(query, dict) and query:
            target += "?" + urlencode({str(k): _header_value(v) for k, v in query.items()})
        stamp = msg.get("timestamp")
        now = stamp / 1000 if isinstance(stamp, int | float) and not isinstance(stamp, bool) else time.time()
        return "POST", target, headers, Body(data, len(data), False), now

    def _explain_rebuilt(self, cfg: dict[str, Any], cap: Capture, payload: Any, now: float) -> None:
        """Say that the bytes were rebuilt, and whether the signature holds over the body as a sender writes it
        (pretty-printed, as Stripe does; Python's json.dumps; ...): then only the relay broke it."""
        verdict, relay = cap.verdict, cap.relay
        assert verdict is not None and relay is not None  # (set by `intake` and `_on_message`)
        lines = [REBUILT]
        if verdict["status"] == "invalid":
            for desc, kw in RESERIALISATIONS:
                body = dumps_bytes(payload, **kw)
                if body is None or body == cap.body_bytes:
                    continue
                again = verify_under(cfg, cap, body, now)
                if again.status in ("valid", "stale", "duplicate"):
                    lines.append(
                        f"the signature is valid over the body as {desc}: the sender signed its own bytes, "
                        "and it fails here only because smee.io re-serialised them (follow a katya-tui "
                        "channel to keep the bytes)"
                    )
                    relay["valid_as"] = desc
                    break
        verdict["diagnosis"] = [*lines, *verdict.get("diagnosis", [])]

    def _skip(self, reason: str, data: str) -> None:
        self.skipped += 1
        log.warning("relay message from %s skipped (%s): %.200s", self.shown_url, reason, data)
        self.service.bus.publish(UpstreamMessageSkipped(f"{self.shown_url}: {reason}", data[:200]))


def _header_value(value: Any) -> str:
    """A value as JavaScript's String() writes it into a header (smee-client passes keys through as they are)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join(_header_value(v) for v in value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    return serialize(value, "compact").decode()
