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
    hooks: Iterable[Callable[[Event], object]] = (),
    known: Book | None = None,
) -> Event:
    """Store the event, run the lossless `hooks` (the dispatcher's fan-out, which stores its deliveries in the
    same commit), then announce it on the (lossy, bounded) bus for the feed, the UI and `serve`'s log.

    An `event_id` already in `known` (the events index) is not published again: the stored event is returned
    (seed 000: deduplicate by event id). This also ends loops such as a subscription pointed at these hooks.
    The caller awaits `store.commit()` when it must not answer before the event is durable.
    """
    if event_id and known is not None and (old := known.get(event_id)) is not None:
        return Event.from_doc(old)
    event = Event(
        id=event_id or new_id("evt"),
        type=type,
        data=data,
        created_at=time.time(),
        source=source,
        capture_id=capture_id,
        verdict=verdict,
    )
    doc = event.to_doc()  # the table stores its own copy; the bus's readers share this one, read-only
    if known is not None:
        known.insert(doc)
    else:
        store.table("events").insert(doc)
    for hook in hooks:
        hook(event)
    bus.publish(EventPublished(doc))
    return event
