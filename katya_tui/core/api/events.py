"""`/v1/events`: publish events (one object or a list) and page through the stream."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import queries
from ..appkeys import DISPATCHER, PUBLISHER, STORE
from ..catalog import is_known, sample_data, validate_pattern
from ..models import iso, storable
from .common import invalid, json_body, ok, page_params, paginated

MAX_BATCH = 10_000


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """An event as the API shows it: seed 000's envelope fields plus where it came from."""
    return {
        "id": doc["id"],
        "type": doc["type"],
        "createdAt": iso(doc.get("created_at")),
        "data": doc.get("data"),
        "source": doc.get("source"),
        "captureId": doc.get("capture_id"),
        "verdict": doc.get("verdict"),
        "endpoint": doc.get("endpoint"),
    }


def check(item: Any, where: str = "") -> dict[str, list[str]]:
    """Per-field problems of one `{type, data?, id?}` (field names prefixed with `where` in a batch)."""
    if not isinstance(item, dict):
        return {where or "body": ["must be a JSON object like {type, data, id?}"]}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(item) - {"type", "data", "id"})
    if unknown:
        errors[f"{where}{unknown[0]}"] = [f"unknown field (known: type, data, id); got {', '.join(unknown)}"]
    t = item.get("type")
    if not isinstance(t, str) or not is_known(t):
        problem = validate_pattern(t) if isinstance(t, str) and t else "required: an event type"
        errors[f"{where}type"] = [problem or f"{t!r} is a pattern; publish one event type"]
    if "data" in item and item["data"] is not None and not isinstance(item["data"], dict | list):
        errors[f"{where}data"] = ["must be a JSON object (or leave it out for a sample payload)"]
    elif "data" in item and not storable(item["data"]):
        errors[f"{where}data"] = ["nests deeper than the store can write (255 levels)"]
    if (
        "id" in item
        and item["id"] is not None
        and (not isinstance(item["id"], str) or not item["id"].strip())
    ):
        errors[f"{where}id"] = ["must be a non-empty string"]
    return errors


def _existing(request: web.Request, event_id: str) -> dict[str, Any] | None:
    return queries.get(request.app[STORE], "event", event_id)


async def publish(request: web.Request) -> web.Response:
    """202 once the events and their pending deliveries are on disk. An `id` already stored is not published
    again: the stored event comes back with `duplicate: true`."""
    body = await json_body(request)
    batch = isinstance(body, list)
    items = body if batch else [body]
    if batch and not 1 <= len(items) <= MAX_BATCH:
        raise invalid({"body": [f"a list of 1 to {MAX_BATCH} events"]})
    errors: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        errors.update(check(item, f"[{i}]." if batch else ""))
    if errors:
        raise invalid(errors)
    publisher = request.app[PUBLISHER]
    dispatcher = request.app[DISPATCHER]
    out = []
    for item in items:
        eid = item.get("id")
        if eid and (old := _existing(request, eid)) is not None:
            out.append({**public(old), "duplicate": True, "deliveries": []})
            continue
        data = item.get("data")
        if data is None:
            data = sample_data(item["type"])
        event = publisher.publish_event(item["type"], data, source="api", event_id=eid)
        made = list(dispatcher.last_fan_out)
        out.append({**public(event.to_doc()), "deliveries": made})
    await request.app[STORE].commit()
    return ok(out if batch else out[0], 202)


async def list_(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    found = queries.events(
        request.app[STORE],
        type=request.query.get("type"),
        source=request.query.get("source"),
        limit=limit,
        offset=offset,
    )
    return paginated([public(d) for d in found.items], found.total, limit, offset)


routes = [web.post("/v1/events", publish), web.get("/v1/events", list_)]
