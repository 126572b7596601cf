"""The dispatcher: fans each event out to the matching subscriptions as signed webhooks, retries by policy,
records every attempt, and goes on after a restart with nothing lost.

- Fan-out runs inside `service.publish_event` (a lossless event hook): one pending Delivery document per active
  matching subscription, written in the same store commit as the event.
- Each pending delivery has `next_attempt_at` in the store. A timer per delivery puts it on a queue when due; a
  bounded pool of workers sends (through `outbound`), records the attempt, and schedules the retry or finishes.
- On start every pending delivery is scheduled again, so a crash loses none (one in flight may be sent twice).
- At most `per_subscription` deliveries of one subscription are in flight at once (a quarter of the workers by
  default): a slow target (timeouts up to 600 s) holds that many workers, never all of them. A delivery that is
  due while its subscription is at the cap waits in line for it (`_parked`), not on a worker.
- An attempt is appended to its delivery (`Book.append`): the journal gets the attempt and the changed fields, not
  the delivery with all its attempts again.
- The hot path (one attempt) reads the stored documents in place through `_peek` instead of copying them,
  serialises a delivery's body once (retries reuse it; the timestamp and signature are fresh on every attempt),
  and writes deliveries and attempts as plain dicts with the fields of `models.Delivery` and `models.Attempt`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from .. import outbound, queries, signing
from ..errors import ValidationFailed
from ..facts import DeliveryUpdated
from ..host import Host, open_store
from ..models import Event, iso, new_id
from ..store import Store
from ..store.book import Book
from . import attempts, profiles, retry, subscriptions

log = logging.getLogger(__name__)

NOT_SENT_RETRY_S = 0.2  # a request that found no free connection waits this long and tries again
BODY_CACHE_MAX = (
    10_000  # bodies of pending deliveries kept for their retries; past this, retries re-serialise
)


class NotPending(ValueError):
    """Retry-now and cancel act on pending deliveries only."""


class Dispatcher:
    def __init__(
        self,
        service: Host,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        per_subscription: int | None = None,
    ) -> None:
        """`rand` draws the retries' jitter (see `retry`); `per_subscription`: the most deliveries of one
        subscription in flight at once (None: a quarter of the workers, at least one)."""
        self.service = service
        self.clock = clock
        self.rand = rand
        self.workers = int(service.settings.delivery_concurrency)
        self.per_subscription = per_subscription or max(1, self.workers // 4)
        self._busy: Counter[str] = Counter()  # subscription id -> its deliveries in flight
        self._parked: dict[str, deque[tuple[str, str, float | None]]] = {}  # waiting for their subscription
        self.default_timeout = float(service.settings.delivery_timeout)
        # the store is open from start() to stop(): ask the service for it on each use
        self.webhooks = Book(lambda: self.store.table("webhooks"))
        self.deliveries = Book(lambda: self.store.table("deliveries"))
        self.client: outbound.Outbound | None = None
        self._queue: asyncio.Queue[tuple[str, str, float | None]] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._inflight: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self.last_fan_out: list[str] = []
        self._touched: dict[str, float] = {}
        self._hook_cache: list[dict[str, Any]] | None = None
        self._wanting: dict[str, list[dict[str, Any]]] = {}  # event type -> active subscriptions that take it
        self._committing: asyncio.Task | None = None
        # delivery id -> ((profile, serialization), body) for pending deliveries: the bytes of their next retry
        self._bodies: dict[str, tuple[tuple[str, str], bytes]] = {}

    @property
    def store(self) -> Store:
        """The service's store, which the dispatcher uses only while it is open (from `start()` to `stop()`)."""
        return open_store(self.service)

    @property
    def _open(self) -> bool:
        return self.service.store is not None

    # -- component life ------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.store.table("deliveries").protect = _is_pending  # retention never prunes work still to do
        self.client = outbound.Outbound(max_connections=self.workers, origin=self.service.instance_id)
        self.service.event_hooks.append(self.fan_out)
        self._tasks = [asyncio.get_running_loop().create_task(self._work()) for _ in range(self.workers)]
        pending = 0
        for doc in self.deliveries.docs():
            if doc.get("state") == "pending":
                self._schedule(doc["id"], doc.get("next_attempt_at") or doc["created_at"])
                pending += 1
        if pending:
            log.info("resuming %d pending deliveries", pending)

    async def stop(self) -> None:
        if self.fan_out in self.service.event_hooks:
            self.service.event_hooks.remove(self.fan_out)
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._busy.clear()
        self._parked.clear()
        if self._committing is not None:
            await asyncio.gather(self._committing, return_exceptions=True)
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    # -- fan-out and scheduling ----------------------------------------------------------------------------

    def fan_out(self, event: Event) -> list[str]:
        """Create a pending delivery for each active subscription that wants `event` (synchronous, lossless)."""
        hooks = self._wanting.get(event.type)
        if hooks is None:
            hooks = [h for h in self._hooks() if h.get("active", True) and subscriptions.wants(h, event.type)]
            if len(self._wanting) > 4096:
                self._wanting.clear()
            self._wanting[event.type] = hooks
        made = [self._create(hook, event) for hook in hooks]
        self.last_fan_out = made  # read right after publish_event returns (same tick) to learn the ids
        return made

    def _hooks(self) -> list[dict[str, Any]]:
        """Every subscription (cached for the fan-out; the writes below clear the cache)."""
        if self._hook_cache is None:
            self._hook_cache = (
                [h for h in (self.webhooks.get(i) for i in self.webhooks.ids()) if h] if self._open else []
            )
        return self._hook_cache

    def _forget_hooks(self) -> None:
        self._hook_cache = None
        self._wanting = {}

    def _create(self, hook: dict[str, Any], event: Event) -> str:
        now = self.clock()
        did = new_id("dlv")
        # models.Delivery's fields in order, as a dict: no dataclass and no copy of it on the hot path
        doc = {
            "id": did,
            "webhook_id": hook["id"],
            "event_id": event.id,
            "event_type": event.type,
            "url": hook["url"],
            "state": "pending",
            "created_at": now,
            "attempts": [],
            "next_attempt_at": now,
            "verdict": event.verdict,
            "data": event.data,
            "event_created_at": event.created_at,
        }
        self.deliveries.insert(doc)
        self.service.bus.publish(DeliveryUpdated(doc))
        self._schedule(did, now)
        return did

    def _schedule(self, did: str, due: float) -> None:
        old = self._timers.pop(did, None)
        if old is not None:
            old.cancel()
        wait = due - self.clock()
        if wait <= 0:
            self._queue.put_nowait(("auto", did, due))
        else:
            self._timers[did] = asyncio.get_running_loop().call_later(wait, self._due, did, due)

    def _due(self, did: str, due: float) -> None:
        self._timers.pop(did, None)
        self._queue.put_nowait(("auto", did, due))

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            kind, did, due = job
            doc = self._peek(did)
            if kind == "auto" and (
                not doc
                or doc["state"] != "pending"
                or doc.get("next_attempt_at") != due
                or did in self._inflight
            ):
                continue  # finished, cancelled, rescheduled or already being sent
            hook_id = doc["webhook_id"] if doc else ""
            if self._busy[hook_id] >= self.per_subscription:
                self._parked.setdefault(hook_id, deque()).append(job)  # its turn comes when one of them ends
                continue
            self._busy[hook_id] += 1
            self._inflight.add(did)
            try:
                await self._attempt(did, manual=kind == "manual", doc=doc if kind == "auto" else None)
            except Exception:
                log.exception("delivery %s: attempt failed unexpectedly", did)
            finally:
                self._inflight.discard(did)
                self._release(hook_id)

    def _release(self, hook_id: str) -> None:
        """One delivery of this subscription is done: the next one waiting for it goes to the workers."""
        self._busy[hook_id] -= 1
        if self._busy[hook_id] <= 0:
            del self._busy[hook_id]
        parked = self._parked.get(hook_id)
        if parked:
            self._queue.put_nowait(parked.popleft())
            if not parked:
                del self._parked[hook_id]

    # -- one attempt ---------------------------------------------------------------------------------------

    async def _attempt(
        self, did: str, *, manual: bool, doc: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """One attempt; `doc`: the delivery as `_peek` just gave it (same tick), or None to look it up."""
        if doc is None:
            doc = self._peek(did)  # the stored documents themselves: read only, never mutated here
        if doc is None:
            return None
        hook = self._peek(doc["webhook_id"], webhooks=True)
        if hook is None:
            return self._finish_orphan(doc) if not manual else dict(doc)
        now = self.clock()
        attempts_done = doc.get("attempts") or []
        n = len(attempts_done) + 1
        retry_info = attempts.retry_info(attempts_done, manual, now)
        url, timeout = hook["url"], float(hook.get("timeout") or self.default_timeout)
        try:
            body = self._body(hook, doc)
            headers, body = profiles.request_for(hook, doc, now=now, retry=retry_info, body=body)
        except signing.SigningConfigError as exc:
            result = outbound.OutboundResult(None, error_class="config", reason=f"cannot sign: {exc}")
            headers = []
        else:
            assert self.client is not None
            result = await self.client.send("POST", url, headers, body, timeout)
        if not result.sent:  # no free connection: not an attempt; try again shortly
            if manual:
                await asyncio.sleep(NOT_SENT_RETRY_S)
                return await self._attempt(did, manual=True)
            self._schedule(did, doc.get("next_attempt_at") or now)
            return dict(doc)
        doc = self._record(did, hook, (n, now, url, headers), result, manual)
        if manual:
            await self.store.commit()
        return doc

    def _body(self, hook: dict[str, Any], doc: dict[str, Any]) -> bytes:
        """The delivery's body under the subscription's current profile and serialization, serialised once per
        delivery while it is pending (a change of profile or serialization between attempts makes it anew)."""
        key = (hook.get("profile") or "katya", hook.get("serialization") or "compact")
        did = doc["id"]
        cached = self._bodies.get(did)
        if cached is not None and cached[0] == key:
            return cached[1]
        body = profiles.body_of(hook, self.deliveries.get(did) or doc)  # (the event's data is kept on disk)
        if doc.get("state") == "pending" and len(self._bodies) < BODY_CACHE_MAX:
            self._bodies[did] = (key, body)
        return body

    def _record(
        self,
        did: str,
        hook: dict[str, Any],
        sent: tuple[int, float, str, list[tuple[str, str]]],
        result: outbound.OutboundResult,
        manual: bool,
    ) -> dict[str, Any] | None:
        """Append attempt `sent` = (n, started, url, request headers) and its `result` to the delivery, and
        schedule what follows."""
        doc = self._peek(did)  # fresh: it may have changed while the request was out
        if doc is None:
            self._bodies.pop(did, None)
            return None
        attempt, fields = attempts.settle(doc, hook, sent, result, manual, self.clock(), self.rand)
        doc = self.deliveries.append(did, "attempts", attempt, fields)  # a copy: the snapshot the bus carries
        if doc["state"] != "pending":
            self._bodies.pop(did, None)
            self._unschedule(did)
        elif not manual:
            self._schedule(did, doc["next_attempt_at"])
        self._touch(hook["id"], sent[1])
        self.service.bus.publish(DeliveryUpdated(doc))
        if not manual:
            self._commit_soon()  # (a resend's caller awaits the commit itself)
        return doc

    def _commit_soon(self) -> None:
        """Make the attempts recorded so far durable without holding the worker: one group commit at a time
        gathers every record made while the previous fsync ran. A crash before it lands at worst repeats an
        attempt (at least once), never loses a delivery: the pending delivery itself was committed with its event."""
        if self._committing is None or self._committing.done():
            self._committing = asyncio.get_running_loop().create_task(self.store.commit())

    def _touch(self, webhook_id: str, at: float) -> None:
        """Set the subscription's `lastDelivery`, writing it at most once a second (it is a display)."""
        if (
            at - self._touched.get(webhook_id, 0.0) >= 1.0
            and self._peek(webhook_id, webhooks=True) is not None
        ):
            self._touched[webhook_id] = at
            self.webhooks.update(webhook_id, {"lastDelivery": iso(at)})

    def _finish_orphan(self, doc: dict[str, Any]) -> dict[str, Any]:
        self._bodies.pop(doc["id"], None)
        doc = self.deliveries.update(doc["id"], {"state": "cancelled", "next_attempt_at": None})
        self.service.bus.publish(DeliveryUpdated(doc))
        return doc

    def _peek(self, ident: str, *, webhooks: bool = False) -> dict[str, Any] | None:
        """The stored delivery (or subscription) with this `id` itself, not a copy (`Book.get` copies).

        For the attempt's hot path only: read it, never mutate it, and expect it to change under you across an
        `await` (the store updates documents in place). Anything handed out (bus facts, API answers) is a copy.
        Found through the store's id index, like `Book.get`."""
        book = self.webhooks if webhooks else self.deliveries
        return book.peek(ident) if self._open else None

    def _unschedule(self, did: str) -> None:
        handle = self._timers.pop(did, None)
        if handle is not None:
            handle.cancel()

    # -- deliveries: resend, retry now, cancel -------------------------------------------------------------

    def _delivery(self, did: str) -> dict[str, Any]:
        doc = self.deliveries.get(did) if self._open else None
        if doc is None:
            raise KeyError(did)
        return doc

    async def resend(self, delivery_id: str) -> dict[str, Any]:
        """A new attempt now, whatever the state; the delivery after it. KeyError for an unknown id."""
        self._delivery(delivery_id)
        doc = await self._attempt(delivery_id, manual=True)
        if doc is None:
            raise KeyError(delivery_id)
        return doc

    def resend_many(
        self,
        *,
        status: str | None = None,
        webhook: str | None = None,
        type: str | None = None,
        since: float | None = None,
    ) -> int:
        """Queue a resend of every delivery matching the filter (oldest first); how many were queued."""
        docs = queries.deliveries(self.store, status=status, webhook=webhook, type=type, since=since)
        for d in reversed(docs):
            self._queue.put_nowait(("manual", d["id"], None))
        return len(docs)

    def retry_now(self, delivery_id: str) -> dict[str, Any]:
        doc = self._delivery(delivery_id)
        if doc["state"] != "pending":
            raise NotPending(f"delivery {delivery_id} is {doc['state']}, not pending")
        now = self.clock()
        doc = self.deliveries.update(delivery_id, {"next_attempt_at": now})
        self._schedule(delivery_id, now)
        self.service.bus.publish(DeliveryUpdated(doc))
        return doc

    def cancel(self, delivery_id: str) -> dict[str, Any]:
        doc = self._delivery(delivery_id)
        if doc["state"] != "pending":
            raise NotPending(f"delivery {delivery_id} is {doc['state']}, not pending")
        self._unschedule(delivery_id)
        self._bodies.pop(delivery_id, None)
        doc = self.deliveries.update(delivery_id, {"state": "cancelled", "next_attempt_at": None})
        self.service.bus.publish(DeliveryUpdated(doc))
        return doc

    # -- subscriptions -------------------------------------------------------------------------------------

    def get_webhook(self, webhook_id: str) -> dict[str, Any] | None:
        return self.webhooks.get(webhook_id) if self._open else None

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Fresh copies (the fan-out's cache does not see `lastDelivery` change)."""
        return [h for h in (self.webhooks.get(i) for i in self.webhooks.ids()) if h] if self._open else []

    def create_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        doc = subscriptions.validate(body)
        self.webhooks.insert(doc)
        self._forget_hooks()
        return dict(doc)

    def update_webhook(self, webhook_id: str, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        """PATCH (`partial`): the given fields change, `retryPolicy` keys merge. PUT: the same, except that a
        given `retryPolicy` replaces the whole policy (missing keys take the defaults). KeyError: no such id."""
        existing = self.webhooks.get(webhook_id) if self._open else None
        if existing is None:
            raise KeyError(webhook_id)
        base = dict(existing)
        if not partial and isinstance(body, dict) and "retryPolicy" in body:
            base["retryPolicy"] = dict(retry.DEFAULT_POLICY)
        doc = subscriptions.validate(body, base)
        self._forget_hooks()
        return self.webhooks.update(webhook_id, doc)

    def delete_webhook(self, webhook_id: str) -> bool:
        """Remove the subscription; its pending deliveries are cancelled."""
        self._forget_hooks()
        if not self._open or not self.webhooks.remove(webhook_id):
            return False
        for d in queries.deliveries(self.store, status="pending", webhook=webhook_id):
            self.cancel(d["id"])
        return True

    def set_active(self, webhook_id: str, active: bool) -> dict[str, Any]:
        return self.update_webhook(webhook_id, {"active": bool(active)}, partial=True)

    async def send_test(self, webhook_id: str, event_type: str, data: Any) -> dict[str, Any]:
        """Publish a `test` event to this subscription alone (whatever its filter); the event, with `deliveryId`."""
        from ..events import publish_event

        hook = self.get_webhook(webhook_id)
        if hook is None:
            raise KeyError(webhook_id)
        if not isinstance(event_type, str) or not event_type.strip():
            raise ValidationFailed({"eventType": ["required: an event type"]})
        made: list[str] = []
        event = publish_event(
            self.store,
            self.service.bus,
            event_type,
            data,
            source="test",
            hooks=[lambda ev: made.append(self._create(hook, ev))],
        )
        await self.store.commit()
        return {**event.to_doc(), "deliveryId": made[0]}


def _is_pending(doc: dict[str, Any]) -> bool:
    return doc.get("state") == "pending"
