"""Relay channels, the serving side: `GET /relay/{channel}` streams each capture of a relayed endpoint as a
server-sent event in smee.io's message shape, so that the real `smee-client` follows a katya-tui channel unchanged.

smee.io's shape is the request's headers as keys (lower-cased, repeats joined), `body` (the parsed JSON, as
smee.io's server parses it; a body that is not JSON is given as text, or null when it is not UTF-8 either), `query`
(an object) and `timestamp` (milliseconds). smee-client forwards every other key as a request header, so the exact
request (headers in order, the body as base64, its sha256) is added under the key `katya` only for a client that
asks with `X-Katya-Relay: raw` (katya-tui's follower): a body carried in a header would break any large webhook.
Each event's `id:` is the capture id; a client that reconnects with `Last-Event-ID` gets what it missed from the
store (within retention), then the live captures.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from .. import queries
from ..facts import CaptureRecorded
from ..host import Host, open_store
from ..models import decode_body
from ..receiver.endpoints import Endpoints

log = logging.getLogger(__name__)

RAW_HEADER = "X-Katya-Relay"  # `X-Katya-Relay: raw`: add the exact request under `katya`
RAW_KEY = "katya"
CAPTURE_PREFIX = "cap_"  # what a Last-Event-ID from this server looks like (smee.io's are counters)


def smee_body(data: bytes) -> Any:
    """The body as smee.io gives it: parsed JSON; else the text; else (not UTF-8) null."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def query_object(query: str) -> dict[str, Any]:
    """`a=1&b=2&b=3` -> {"a": "1", "b": ["2", "3"]}, as Node's querystring (smee.io's server) reads it."""
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(query, keep_blank_values=True).items()}


def message(doc: dict[str, Any], *, raw: bool) -> str:
    """The SSE `data` of one capture document (a full record: headers and body included)."""
    data = decode_body(doc["body"], doc["body_encoding"])
    out: dict[str, Any] = {}
    for name, value in doc["headers"]:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value  # (as Node joins a repeated header)
    out["body"] = smee_body(data)
    out["query"] = query_object(doc["query"])
    out["timestamp"] = int(doc["received_at"] * 1000)
    if raw:
        out[RAW_KEY] = {
            "capture": doc["id"],
            "endpoint": doc["endpoint"],
            "method": doc["method"],
            "path": doc["path"],
            "query": doc["query"],
            "headers": doc["headers"],
            "body": base64.b64encode(data).decode("ascii"),
            "sha256": doc["body_sha256"],
            "truncated": doc["truncated"],
            "received_at": doc["received_at"],
        }
    try:
        return orjson.dumps(out).decode()
    except orjson.JSONEncodeError:  # JSON nested deeper than orjson writes: the body goes as text
        out["body"] = data.decode("utf-8", "replace")
        return orjson.dumps(out).decode()


def relayed(doc: dict[str, Any]) -> bool:
    """Captures received on the endpoint are relayed; replays (requests this instance sent) are not."""
    return not doc.get("replay_of")


class Channels:
    """The relay channels of one service: `stream` serves `GET /relay/{channel}`; `stop` ends every stream."""

    ping_interval = (
        15.0  # seconds between SSE comments that keep proxies and followers sure the line is alive
    )
    queue = 10_000  # captures a slow client may fall behind before it is caught up from the store instead

    def __init__(self, service: Host, endpoints: Callable[[], Endpoints]) -> None:
        self.service = service
        self._endpoints = endpoints
        self._open: set[EventSourceResponse] = set()

    @property
    def streams(self) -> int:
        """Clients connected now."""
        return len(self._open)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for resp in list(self._open):
            with contextlib.suppress(RuntimeError):
                resp.stop_streaming()

    def backlog(self, name: str, last_id: str) -> list[str]:
        """Ids of the captures of `name` after `last_id`, oldest first: those stored after it, or (when it has
        left the store) those whose id sorts after it (ids begin with their millisecond)."""
        found: list[str] = []
        for doc in queries.newest(open_store(self.service), "captures", lambda d: d.get("endpoint") == name):
            if doc["id"] == last_id:
                return found[::-1]
            found.append(doc["id"])
        return [i for i in reversed(found) if i > last_id]

    async def stream(self, request: web.Request) -> web.StreamResponse:
        channel = request.match_info["channel"]
        name = self._endpoints().by_channel(channel)
        if name is None:
            return web.json_response({"error": "no such relay channel"}, status=404)
        if "text/event-stream" not in request.headers.get("Accept", ""):
            return web.json_response(
                {"error": "a relay channel is read as server-sent events: send Accept: text/event-stream"},
                status=406,
            )
        raw = request.headers.get(RAW_HEADER, "").strip().lower() == "raw"

        def wanted(fact: Any) -> bool:
            return isinstance(fact, CaptureRecorded) and fact.capture.get("endpoint") == name

        sub = self.service.bus.subscribe(self.queue, accept=wanted)
        try:
            async with sse_response(request, ping_interval=self.ping_interval) as resp:
                self._open.add(resp)
                try:
                    last = resp.last_event_id or ""
                    # (no await since the subscription: nothing stored in between is missed or sent twice)
                    pending = self.backlog(name, last) if last.startswith(CAPTURE_PREFIX) else []
                    await resp.send("{}", event="ready")  # (as smee.io; no id: the last event id stays)
                    await self._pump(resp, sub, channel, name, raw, pending)
                finally:
                    self._open.discard(resp)
            return resp
        finally:
            sub.close()

    async def _pump(
        self, resp: EventSourceResponse, sub: Any, channel: str, name: str, raw: bool, pending: list[str]
    ) -> None:
        store = open_store(self.service)
        closed = asyncio.ensure_future(resp.wait())
        dropped = 0
        last = ""
        try:
            while True:
                for cid in pending:
                    doc = queries.get(store, "captures", cid)
                    if doc is not None and relayed(doc):
                        await resp.send(message(doc, raw=raw), id=cid)
                        last = cid
                batch = asyncio.ensure_future(sub.get_batch(1000))
                await asyncio.wait((batch, closed), return_when=asyncio.FIRST_COMPLETED)
                if not batch.done():
                    batch.cancel()
                    return  # the client went away, or the service is stopping
                if self._endpoints().by_channel(channel) != name:
                    return  # the endpoint is no longer relayed on this channel
                if sub.dropped != dropped:  # fell behind the bus: catch up from the store
                    dropped = sub.dropped
                    sub.drain()
                    pending = self.backlog(name, last) if last else [f.capture["id"] for f in batch.result()]
                else:
                    pending = [f.capture["id"] for f in batch.result()]
        finally:
            closed.cancel()
