"""Publishing: every source of events (captures, upstream feed, trigger, demo, API) goes through `publish_event`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from .bus import Bus
from .facts import EventPublished
from .models import Event, new_id
from .store import Store
from .store.book import Book
from .store.cold import DATA_AT


def publish_event(
    store: Store,
    bus: Bus,
    type: str,
    data: Any,
    *,
    source: str,
    event_id: str | None = None,
    capture_id: str | None = None,
    verdict: str | None = None,
    endpoint: str | None = None,
    data_at: str | None = None,
    hooks: Iterable[Callable[[Event], object]] = (),
    known: Book | None = None,
) -> Event:
    """Store the event, run the lossless `hooks` (the dispatcher's fan-out, which stores its deliveries in the
    same commit), then announce it on the (lossy, bounded) bus for the feed, the UI and `serve`'s log.

    An `event_id` already in `known` (the events index) is not published again: the stored event is returned
    (seed 000: deduplicate by event id). An event of a hook `endpoint` repeats only one of the same endpoint (see
    `_slot`). The caller awaits `store.commit()` when it must not answer before the event is durable.

    `data_at` says the data is in the body of capture `capture_id`, stored just before (see `cold.DATA_AT`):
    the store then keeps it once, as that body.
    """
    ident = event_id or new_id("evt")
    if event_id and known is not None:
        old, ident = _slot(known, event_id, endpoint, verdict)
        if old is not None:
            return Event.from_doc(old)
    event = Event(
        id=ident,
        type=type,
        data=data,
        created_at=time.time(),
        source=source,
        capture_id=capture_id,
        verdict=verdict,
        endpoint=endpoint,
    )
    doc = event.to_doc()  # the table stores its own copy; the bus's readers share this one, read-only
    kept = doc if data_at is None else {**doc, DATA_AT: data_at}
    if known is not None:
        known.insert(kept)
    else:
        store.table("events").insert(kept)
    for hook in hooks:
        hook(event)
    bus.publish(EventPublished(doc))
    return event


def _slot(known: Book, event_id: str, endpoint: str | None, verdict: str | None) -> tuple[dict | None, str]:
    """(the stored event this one repeats, or None; the id to store it under).

    Outside hooks (`endpoint` None: the API, the upstream feed) an id is one event whoever sent it. A sender's id
    on a hook endpoint is a claim only that endpoint's signature can back, so it is judged per endpoint: another
    endpoint's event (or an API one) with the id never makes this one a repeat, and an unverified event of the
    same endpoint does not make a validly signed one a repeat either. Such an event is stored as
    `<id>@<endpoint>` (then `<id>@<endpoint>+2`): deterministic, so a repeat of it finds it."""
    if endpoint is None:
        return known.peek(event_id), event_id
    for ident in (event_id, f"{event_id}@{endpoint}", f"{event_id}@{endpoint}+2"):
        old = known.peek(ident)
        if old is None:
            return None, ident
        if old.get("endpoint") == endpoint and (old.get("verdict") == "valid" or verdict != "valid"):
            return old, ident
    return None, new_id("evt")
