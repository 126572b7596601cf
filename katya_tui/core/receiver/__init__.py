"""The receiver: capture every request on `/hooks/{endpoint}[/...]`, verify it, answer as configured, forward it,
replay it. `service.receiver` is the component; `service.receiver.endpoints` the endpoint configs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import HttpVersion11, web

from .. import queries
from ..facts import CaptureForwarded, CaptureRecorded
from ..host import Host, open_store
from ..models import Capture
from ..signing.verdict import mark_duplicate
from ..store import StoreNotWritable
from .capture import Body, BodyReader, summary
from .dedup import SeenIds
from .endpoints import Endpoints
from .intake import Intake, take
from .publishing import publishable
from .respond import Plan, Responder, answer, not_stored

if TYPE_CHECKING:
    from ..outbound import Outbound

log = logging.getLogger(__name__)

# `/hooks/NAME` and any sub-path of it ((?s: an escaped newline in the sub-path is part of it too)
HOOK_ROUTES = ("/hooks/{endpoint}", "/hooks/{endpoint}/{tail:(?s:.*)}")


class Receiver:
    """`ANY /hooks/{endpoint}` and sub-paths (`handle`), the captures (`find`, `replay`) and the endpoint configs."""

    forward_timeout = 30.0
    forward_concurrency = 64
    body_idle_timeout = 30.0  # seconds without body bytes before a stalled sender gets 408
    body_total_timeout = 300.0  # seconds from the head to the body's end before a trickling sender gets 408

    def __init__(self, service: Host) -> None:
        self.service = service
        self._endpoints: Endpoints | None = None  # set in setup, once the store is open
        self.responder = Responder()
        self.seen = SeenIds()
        self._tasks: set[asyncio.Task] = set()
        self._client: Outbound | None = None
        self._closing = asyncio.Event()
        self._forward_slots = asyncio.Semaphore(self.forward_concurrency)

    # -- life ----------------------------------------------------------------------------------------------

    def setup(self) -> None:
        """Once the store is open: the endpoint configs, with the TOML file's. (The service adds the routes,
        `api/hooks.py` and the `/v1` tables.)"""
        self._endpoints = Endpoints(open_store(self.service), on_change=self._endpoint_changed)
        self._endpoints.load_toml(self.service.settings.endpoints)

    @property
    def endpoints(self) -> Endpoints:
        """The endpoint configs, from `setup()` on."""
        assert self._endpoints is not None, "the receiver is not set up"
        return self._endpoints

    async def start(self) -> None:
        self._remember_recent()

    async def stop(self) -> None:
        self._closing.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
            for t in self._tasks:
                t.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _remember_recent(self) -> None:
        """Refill the seen-ids window from recent captures, so duplicates are flagged across a restart."""
        since = time.time() - self.seen.window_s
        recent = queries.recent_captures(open_store(self.service), since, self.seen.cap)
        for doc in reversed(recent):
            for mid in _ids_of(doc.get("verdict"), doc.get("event_id")):
                authentic = (doc.get("verdict") or {}).get("status") == "valid"
                self.seen.add(doc["endpoint"], mid, doc["id"], doc["received_at"], authentic)

    @property
    def client(self) -> Outbound:
        if self._client is None:
            from ..outbound import Outbound

            self._client = Outbound(origin=self.service.instance_id)
        return self._client

    def _endpoint_changed(self, name: str) -> None:
        self.responder.reset(name)

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- capture -------------------------------------------------------------------------------------------

    async def handle(self, request: web.Request, body: Body | None = None) -> web.StreamResponse:
        """`/hooks` on this process's aiohttp server (`body`: one already decided on, see `expect`)."""
        name = request.match_info["endpoint"]
        cfg = self.endpoints.config_for(name)
        others = self.endpoints.secrets_of_others(name)
        limit = self.service.settings.body_limit
        took = await take(
            request, cfg, others, limit, self.body_idle_timeout, self.body_total_timeout, body=body
        )
        return await answer(request, await self.take_in(took), took, self._sleep)

    async def expect(self, request: web.Request) -> web.StreamResponse | None:
        """`Expect:` on `/hooks` (aiohttp's `expect_handler`): a Content-Length over the limit is answered 413 at
        once, and captured like any body cut at the limit, before a `100 Continue` invites the body."""
        limit = self.service.settings.body_limit
        if request.content_length is not None and request.content_length > limit:
            return await self.handle(request, BodyReader(limit, request.content_length).too_large())
        if request.version != HttpVersion11:
            return None  # (HTTP/1.0 has no interim answers: its sender does not wait for one)
        expect = request.headers.get("Expect", "")
        if expect.lower() != "100-continue":
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # as aiohttp's default handler
        request.writer.output_size = 0  # (as aiohttp's default: the interim answer is not the response)
        return None

    async def take_in(self, took: Intake) -> Plan:
        """Decide the answer to a request taken in, wait its `delay_ms`, then keep it; a 2xx answer leaves only
        once the capture is on disk."""
        cfg = self.endpoints.config_for(took.cap.endpoint)
        plan = self.decide(cfg, took)
        if plan.delay_ms:
            await self._sleep(plan.delay_ms / 1000)
        if self.keep(cfg, took, plan):
            try:
                await open_store(self.service).commit()
            except StoreNotWritable as exc:
                return self._not_stored(took, exc.reason)
        return plan

    def _not_stored(self, took: Intake, reason: str) -> Plan:
        """The disk refused the group commit of this capture: answer 503, and record that answer in the capture,
        which stays in memory and reaches the disk with a later commit."""
        plan = not_stored(reason)
        table = open_store(self.service).table("captures")
        doc_id = table.doc_id_of(took.cap.id)
        if doc_id is not None:
            took.cap.response = {
                **plan.to_record(),
                "latency_ms": (took.cap.response or {}).get("latency_ms"),
            }
            table.update({"response": took.cap.response}, doc_ids=[doc_id])
        return plan

    async def _commit_quietly(self) -> None:
        """A commit no answer waits for: a refusal is the store's to report (`StoreNotWritable` facts)."""
        with contextlib.suppress(StoreNotWritable):
            await open_store(self.service).commit()

    def decide(self, cfg: dict[str, Any], took: Intake) -> Plan:
        """Flag repeats (of the signature's message id, else the event id), then choose the answer: a limit
        (413, 408, 429, seed 004's 400) or the endpoint's response, with the next step of its chaos sequence."""
        cap, found = took.cap, took.found
        name, now = cap.endpoint, cap.received_at
        verdict = cap.verdict  # (set by `intake`)
        authentic = verdict is not None and verdict["status"] == "valid"
        for mid in _ids_of(verdict, found[2] if found else None):
            first = self.seen.first(name, mid, now)
            if first is None or (authentic and not first.authentic):
                self.seen.add(name, mid, cap.id, now, authentic)  # the first, or the first authentic one
                continue
            cap.duplicate_of = first.capture_id
            if verdict is not None and authentic and verdict["msg_id"] == mid:
                mark_duplicate(verdict)
        limited = self.responder.limits(cfg, cap.method, took.body, now)
        took.limited = limited is not None
        return limited or self.responder.answer(cfg, cap.method, took.body.data)

    def keep(self, cfg: dict[str, Any], took: Intake, plan: Plan) -> bool:
        """Publish the event (an accepted first sighting, not our own loop), store and announce the capture, start
        its forward. True when the answer is a 2xx: the caller awaits `store.commit()` before answering; any
        other answer does not wait for the disk."""
        cap, found = took.cap, took.found
        accepted = plan.action == "answer" and 200 <= plan.status < 300
        if took.origin == self.service.instance_id:
            cap.loopback = (
                True  # sent by this very instance (a delivery or forward to its own hooks): no loop
            )
        elif cap.browser:
            pass  # a web page can look, not drive: shown, never published, forwarded or routed
        elif accepted and found and cap.duplicate_of is None and publishable(cfg, cap.verdict):
            event = self.service.publish_event(
                found[0],
                found[1],
                source="relay" if cap.relay else "hook",
                event_id=found[2],
                capture_id=cap.id,
                verdict=cap.verdict["status"] if cap.verdict is not None else None,
                endpoint=cap.endpoint,
                data_at=(took.body.data, cap.body_sha256, found[3]),  # (the store keeps it once: see cold.py)
            )
            cap.event_id = event.id
        cap.response = {
            **plan.to_record(),
            "latency_ms": round((time.perf_counter() - took.started) * 1000, 3),
        }
        store = open_store(self.service)
        doc = dict(
            vars(cap)
        )  # = cap.to_doc(), without asdict's deep copy: `cap` is ours and not changed after
        doc_id = store.table("captures").insert(doc)
        if not accepted:
            self._spawn(self._commit_quietly())
        self.service.bus.publish(CaptureRecorded(summary(doc)))
        if (
            not took.limited
            and not cap.loopback
            and not cap.browser
            and (cfg.get("routes") or cfg.get("forward_to"))
        ):
            self._maybe_forward(cfg, cap, doc_id, took.body.data)
        return accepted

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # -- forward -------------------------------------------------------------------------------------------

    def _maybe_forward(self, cfg: dict[str, Any], cap: Capture, doc_id: int, data: bytes) -> None:
        from .forward import target_for  # (the relay's client is only loaded when a forward is configured)

        target = target_for(cfg, cap.event_type)
        if target is not None:
            self._spawn(self._forward(cap, doc_id, data, *target))

    async def _forward(self, cap: Capture, doc_id: int, data: bytes, url: str, why: str) -> None:
        from .forward import end_to_end, send, with_query

        async with self._forward_slots:
            record = await send(
                self.client,
                cap.method,
                with_query(url, cap.query),
                end_to_end(cap.headers),
                data,
                self.forward_timeout,
                why,
            )
        store = self.service.store
        if store is None:
            return
        table = store.table("captures")
        if table.contains(doc_id=doc_id):
            table.update({"forward": record}, doc_ids=[doc_id])
        self.service.bus.publish(CaptureForwarded(cap.id, record))
        await store.commit()

    # -- replay --------------------------------------------------------------------------------------------

    async def replay(
        self,
        capture_id: str,
        *,
        to: str | None = None,
        resign: bool = False,
        body: bytes | None = None,
        headers: list[list[str]] | None = None,
    ) -> Capture:
        """Send a capture again (verbatim, re-signed now, or edited); the replay is recorded, linked by `replay_of`."""
        from .replay import replay

        return await replay(self, capture_id, to=to, resign_now=resign, body=body, headers=headers)

    def find(self, capture_id: str) -> tuple[int, dict[str, Any]] | None:
        """(doc id, the whole record) of a capture, by the store's id index."""
        table = open_store(self.service).table("captures")
        doc_id, found = table.doc_id_of(capture_id), table.whole(capture_id)
        return (doc_id, found) if doc_id is not None and found is not None else None


def _ids_of(verdict: dict[str, Any] | None, event_id: str | None) -> list[str]:
    """What marks a repeat: the message id the signature carried, else the event id of the body."""
    mid = (verdict or {}).get("msg_id") or event_id
    return [str(mid)] if mid else []
