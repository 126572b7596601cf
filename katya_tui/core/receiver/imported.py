"""Requests read from an export (`katya-tui import`) kept as captures: verified as the receiver verifies (its
`intake`, against this instance's endpoint configs, as of the time each arrived), marked `imported`, and
published only when asked. A capture id already in the store is not imported again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..models import Event
from ..store import Store
from .capture import Body
from .endpoints import Endpoints
from .intake import intake
from .publishing import publishable

Publish = Callable[..., Event]  # `Service.publish_event`


@dataclass
class Incoming:
    """One request read from a file, as the receiver would have taken it in."""

    key: str  # the capture id it is stored under: the original capture's, else one made from the request
    endpoint: str
    method: str
    target: str  # path?query, as sent
    headers: list[list[str]]
    body: bytes
    truncated: bool  # the original capture was cut
    received_at: float
    remote: str | None
    response: dict[str, Any] | None  # the answer the original request got, when the file says
    source: str  # "jsonl" | "har"


def keep_imported(
    store: Store, endpoints: Endpoints, rec: Incoming, body_limit: int, publish: Publish | None
) -> bool:
    """Store `rec` as a capture (and, with `publish`, its event, as the receiver would); False when a capture
    with its id is there already. The caller commits."""
    table = store.table("captures")
    if table.doc_id_of(rec.key) is not None:
        return False
    over = len(rec.body) > body_limit
    body = Body(
        rec.body[:body_limit],
        len(rec.body),
        rec.truncated or over,
        "too_large" if over else None,
        f"body of {len(rec.body)} bytes is over the {body_limit} byte limit" if over else "",
    )
    cfg = endpoints.config_for(rec.endpoint)
    others = endpoints.secrets_of_others(rec.endpoint)
    took = intake(cfg, others, rec.method, rec.target, rec.headers, rec.remote, body, 0.0, rec.received_at)
    cap = took.cap
    cap.id = rec.key
    cap.imported = {"from": rec.source, "at": time.time()}
    cap.response = rec.response
    if publish is not None and took.found and not cap.browser and publishable(cfg, cap.verdict):
        event = publish(
            took.found[0],
            took.found[1],
            source="import",
            event_id=took.found[2],
            capture_id=cap.id,
            verdict=cap.verdict["status"] if cap.verdict is not None else None,
            endpoint=cap.endpoint,
        )
        cap.event_id = event.id
    table.insert(dict(vars(cap)))
    return True
