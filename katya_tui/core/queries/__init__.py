"""Reads of what the store keeps, for `/v1` and the UI alike: pages with filters, records by id, the deliveries
of events, failed deliveries matching a filter (bulk resend), statistics, counts.

Every function takes the `Store` and reads it only through `Store.record` (the id index: O(1)) and
`Store.records` (a list of the documents taken at once), never through a TinyDB table. So any of them may run
on a worker thread while the event loop writes: the UI runs whatever scans on one; `/v1` handlers call them on
the loop. Documents handed out are shallow copies (nested values shared with the store: never mutate them).

Records keep only an index in memory (see `store/cold.py`): scans and filters read that, and so do the lists of
the UI; `whole` documents (a record by id, the API's pages, a detail) have their large fields read from disk.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from ..catalog import matches
from ..store import Store
from . import delivery_stats as _stats

Where = Callable[[dict[str, Any]], bool] | None

KINDS = {"capture": "captures", "event": "events", "delivery": "deliveries", "webhook": "webhooks"}
"""Record kind -> the table that keeps it."""
FOUND_BY_ID = ("capture", "event", "delivery")  # the kinds "go to" searches
DELIVERY_STATES = ("pending", "success", "delivered", "failed", "cancelled")  # "success" = "delivered"


@dataclass
class Page:
    items: list[dict[str, Any]]  # newest first
    total: int  # every match, not just this page


# -- the building blocks ----------------------------------------------------------------------------------------


def newest(store: Store, table: str, where: Where = None) -> Iterator[dict[str, Any]]:
    """The live documents of `table` matching `where`, newest first (lazy: stop when you have enough)."""
    docs = store.records(table)
    return reversed(docs) if where is None else (d for d in reversed(docs) if where(d))


def page(store: Store, table: str, where: Where = None, limit: int = 50, offset: int = 0) -> Page:
    """One page of `table`, newest first, with the number of all matches: whole records (bodies left out)."""
    docs = store.records(table)
    if where is None:
        end = max(0, len(docs) - offset)
        items = list(reversed(docs[max(0, end - limit) : end]))
        total = len(docs)
    else:
        found = [d for d in reversed(docs) if where(d)]
        items, total = found[offset : offset + limit], len(found)
    return Page([store.thaw(table, d, body=False) for d in items], total)


def first(
    store: Store, table: str, where: Where = None, limit: int = 50, whole: bool = False
) -> list[dict[str, Any]]:
    """The newest `limit` documents of `table` matching `where` (copies, `whole` records or as in memory),
    newest first."""
    out: list[dict[str, Any]] = []
    for doc in newest(store, table, where):
        if len(out) >= limit:
            break
        out.append(store.thaw(table, doc, body=False) if whole else dict(doc))
    return out


def get(store: Store | None, kind: str, ident: str) -> dict[str, Any] | None:
    """The capture, event, delivery or webhook (`kind`, or its table's name) with this id, or None. O(1)."""
    if store is None or not ident:
        return None
    return store.record(KINDS.get(kind, kind), ident)


def counts(store: Store | None) -> dict[str, int]:
    return store.counts() if store is not None else {}


# -- captures and events ----------------------------------------------------------------------------------------


def capture_filter(endpoint: str | None = None, verdict: str | None = None) -> Where:
    if endpoint is None and verdict is None:
        return None

    def where(doc: dict[str, Any]) -> bool:
        if endpoint is not None and doc.get("endpoint") != endpoint:
            return False
        return verdict is None or (doc.get("verdict") or {}).get("status") == verdict

    return where


def captures(
    store: Store, *, endpoint: str | None = None, verdict: str | None = None, limit: int = 50, offset: int = 0
) -> Page:
    return page(store, "captures", capture_filter(endpoint, verdict), limit, offset)


def recent_captures(store: Store, since: float, limit: int) -> list[dict[str, Any]]:
    """Captures received at or after `since`, at most `limit`, newest first (stops at the first older one)."""
    out: list[dict[str, Any]] = []
    for doc in newest(store, "captures"):
        if len(out) >= limit or doc.get("received_at", 0) < since:
            break
        out.append(dict(doc))
    return out


def events(
    store: Store, *, type: str | None = None, source: str | None = None, limit: int = 50, offset: int = 0
) -> Page:
    """Events, newest first; `type` may be a pattern (`message.*`)."""
    where = None
    if type is not None or source is not None:

        def where(d: dict[str, Any]) -> bool:
            return (type is None or matches(type, d.get("type", ""))) and (
                source is None or d.get("source") == source
            )

    return page(store, "events", where, limit, offset)


def ids_starting(store: Store, prefix: str, limit: int = 5) -> list[tuple[str, str]]:
    """(kind, id) of records whose id starts with `prefix`, newest first within each kind: an exact id through
    the index, else a scan of the ids (run it off the loop)."""
    out: list[tuple[str, str]] = []
    for kind in FOUND_BY_ID:
        table = KINDS[kind]
        if store.record(table, prefix) is not None:
            out.append((kind, prefix))
            continue
        for doc in newest(store, table, lambda d: str(d.get("id", "")).startswith(prefix)):
            out.append((kind, doc["id"]))
            if len(out) >= limit:
                return out
    return out[:limit]


def window(
    store: Store, capture_where: Where, event_where: Where, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The newest `limit` captures and events matching, and the deliveries of those events (the live stream's
    window)."""
    caps = first(store, "captures", capture_where, limit)
    evts = first(store, "events", event_where, limit)
    ids = {d["id"] for d in evts} | {d["event_id"] for d in caps if d.get("event_id")}
    return caps, evts, deliveries_of(store, ids)


def event_activity(store: Store, now: float, since: float | None) -> tuple[list[int], Counter[str]]:
    """Events per minute over the 60 minutes before `now` (oldest first), and event counts per type since
    `since` (None: all time). One pass over every event."""
    per_minute = [0] * 60
    types: Counter[str] = Counter()
    hour_ago = now - 3600
    for doc in newest(store, "events"):  # (newest first: types seen as often rank newest first)
        ts = doc.get("created_at") or 0.0
        if hour_ago <= ts < now:
            per_minute[min(59, int((ts - hour_ago) // 60))] += 1
        if since is None or ts >= since:
            types[doc.get("type") or "?"] += 1
    return per_minute, types


# -- deliveries -------------------------------------------------------------------------------------------------


def delivery_filter(
    *,
    status: str | None = None,
    webhook: str | None = None,
    type: str | None = None,
    since: float | None = None,
    event: str | None = None,
    where: Where = None,
) -> Where:
    """One predicate for the API's filters (`status` "success" is "delivered"; `type` may be a pattern), an
    event id, and any further `where` (the UI's filter)."""
    state = {"success": "delivered"}.get(status or "", status)
    if state is None and webhook is None and type is None and since is None and event is None:
        return where

    def wanted(d: dict[str, Any]) -> bool:
        return (
            (state is None or d.get("state") == state)
            and (webhook is None or d.get("webhook_id") == webhook)
            and (event is None or d.get("event_id") == event)
            and (type is None or matches(type, d.get("event_type", "")))
            and (since is None or d.get("created_at", 0) >= since)
            and (where is None or where(d))
        )

    return wanted


def deliveries(store: Store, **filters: Any) -> list[dict[str, Any]]:
    """Every delivery matching `delivery_filter(**filters)` (copies), newest first."""
    return [dict(d) for d in newest(store, "deliveries", delivery_filter(**filters))]


def deliveries_page(store: Store, *, limit: int = 50, offset: int = 0, **filters: Any) -> Page:
    return page(store, "deliveries", delivery_filter(**filters), limit, offset)


def deliveries_of(
    store: Store, event_ids: Collection[str], limit: int | None = None, whole: bool = False
) -> list[dict[str, Any]]:
    """The deliveries of these events (copies, `whole` records or as in memory), newest first, at most `limit`."""
    if not event_ids:
        return []
    out: list[dict[str, Any]] = []
    for doc in newest(store, "deliveries", lambda d: d.get("event_id") in event_ids):
        if limit is not None and len(out) >= limit:
            break
        out.append(store.thaw("deliveries", doc, body=False) if whole else dict(doc))
    return out


def failed_matching(store: Store, where: Where = None, **filters: Any) -> list[str]:
    """Ids of the failed deliveries matching the filters and `where`, over the whole store, newest first: what
    a bulk resend sends again."""
    wanted = delivery_filter(status="failed", where=where, **filters)
    return [d["id"] for d in newest(store, "deliveries", wanted)]


# -- subscriptions and statistics -------------------------------------------------------------------------------


def webhooks(
    store: Store, *, active: bool | None = None, event_type: str | None = None
) -> list[dict[str, Any]]:
    """Subscriptions (copies) in the order they were made; `event_type`: those whose patterns take it."""
    return [
        dict(h)
        for h in store.records("webhooks")
        if "id" in h
        and (active is None or h.get("active", True) == active)
        and (
            event_type is None
            or any(matches(p, event_type) or p == event_type for p in h.get("events") or ())
        )
    ]


def stats(store: Store, webhook_id: str | None, start: float | None, end: float | None) -> dict[str, Any]:
    """Seed 000's statistics of one subscription's deliveries (or of all, `webhook_id` None) in a period."""
    return _stats.compute(store.records("deliveries"), webhook_id=webhook_id, start=start, end=end)


def stats_by_webhook(
    store: Store, start: float | None, end: float | None
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """The overall `stats` and, for each subscription, (subscription, its `stats`), from one pass that groups
    the deliveries by subscription (not one pass per subscription)."""
    docs = store.records("deliveries")
    by_hook: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in docs:
        by_hook[d.get("webhook_id") or ""].append(d)
    overall = _stats.compute(docs, webhook_id=None, start=start, end=end)
    per = [
        (h, _stats.compute(by_hook.get(h["id"], ()), webhook_id=h["id"], start=start, end=end))
        for h in webhooks(store)
    ]
    return overall, per


def stats_overall(store: Store, start: float | None, end: float | None) -> dict[str, Any]:
    """`stats` of every delivery, plus the subscriptions' count and each one's delivery figures (`byWebhook`)."""
    data, per = stats_by_webhook(store, start, end)
    data["webhooks"] = {"total": len(per), "active": sum(1 for h, _ in per if h.get("active", True))}
    data["byWebhook"] = {h["id"]: s["delivery"] for h, s in per}
    return data
