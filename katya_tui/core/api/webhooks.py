"""`/v1/webhooks`: subscriptions (SPEC 3.2; seed 000's shapes, seed 001's filters, PATCH and stats)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .. import queries
from ..appkeys import DISPATCHER, STORE
from ..catalog import is_known, sample_data, types_matching
from ..dispatcher import Dispatcher
from ..errors import ValidationFailed
from ..models import iso
from .common import invalid, json_body, not_found, ok, page_params, paginated

LIST_FIELDS = (
    "id",
    "name",
    "url",
    "events",
    "active",
    "createdAt",
    "lastDelivery",
    "profile",
    "serialization",
)


def _dispatcher(request: web.Request) -> Dispatcher:
    return request.app[DISPATCHER]


def find_hook(request: web.Request) -> dict[str, Any]:
    """The subscription `{id}` of the path names, else 404."""
    wid = request.match_info["id"]
    hook = _dispatcher(request).get_webhook(wid)
    if hook is None:
        raise not_found("webhook", wid)
    return hook


def parse_time(name: str, raw: str | None, *, end: bool = False) -> float | None:
    """Unix seconds from an ISO date (`2024-01-01`: the whole day, so an end date includes it) or date-time,
    or from a number of Unix seconds; None when absent. 422 when unreadable."""
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(
            {name: [f"not a date (2024-01-01), an ISO date-time or Unix seconds: {raw!r}"]}
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ts = dt.timestamp()
    if end and len(raw) == 10:  # a bare date as the end: up to the end of that day
        ts += 86400
    return ts


def _bool(name: str, raw: str | None) -> bool | None:
    if raw is None:
        return None
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(raw.lower())
    if value is None:
        raise invalid({name: ["must be true or false"]})
    return value


async def create(request: web.Request) -> web.Response:
    body = await json_body(request)
    try:
        doc = _dispatcher(request).create_webhook(body)
    except ValidationFailed as exc:
        raise invalid(exc.fields) from None
    await request.app[STORE].commit()
    return ok(doc, 201)


async def list_(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    event_type = request.query.get("event_type") or request.query.get("eventType")
    active = _bool("is_active", request.query.get("is_active", request.query.get("active")))
    hooks = queries.webhooks(request.app[STORE], active=active, event_type=event_type)
    hooks.sort(key=lambda h: h.get("createdAt") or "", reverse=True)
    page = [{k: h.get(k) for k in LIST_FIELDS} for h in hooks[offset : offset + limit]]
    return paginated(page, len(hooks), limit, offset)


async def get(request: web.Request) -> web.Response:
    return ok(find_hook(request))


async def update(request: web.Request) -> web.Response:
    hook = find_hook(request)
    body = await json_body(request)
    try:
        doc = _dispatcher(request).update_webhook(hook["id"], body, partial=request.method == "PATCH")
    except ValidationFailed as exc:
        raise invalid(exc.fields) from None
    await request.app[STORE].commit()
    return ok(doc)


async def delete(request: web.Request) -> web.Response:
    hook = find_hook(request)
    _dispatcher(request).delete_webhook(hook["id"])
    await request.app[STORE].commit()
    return web.Response(status=204)


async def test(request: web.Request) -> web.Response:
    hook = find_hook(request)
    body = await json_body(request) if request.can_read_body else {}
    if not isinstance(body, dict):
        raise invalid({"body": ["must be a JSON object like {eventType, data}"]})
    event_type = body.get("eventType") or body.get("type")
    if event_type is None:  # the first catalogue type the subscription asks for
        event_type = next(
            (t for p in hook.get("events") or ["*"] for t in types_matching(p)), "message.created"
        )
    if not isinstance(event_type, str) or not is_known(event_type):
        raise invalid({"eventType": [f"unknown event type {event_type!r}"]})
    data = body.get("data")
    if data is None:
        data = sample_data(event_type)
    event = await _dispatcher(request).send_test(hook["id"], event_type, data)
    return ok(event, 202)


def _period(request: web.Request) -> tuple[float | None, float | None]:
    start = parse_time("startDate", request.query.get("startDate"))
    end = parse_time("endDate", request.query.get("endDate"), end=True)
    if start is not None and end is not None and end < start:
        raise invalid({"endDate": ["must not be before startDate"]})
    return start, end


async def hook_stats(request: web.Request) -> web.Response:
    hook = find_hook(request)
    start, end = _period(request)
    return ok(queries.stats(request.app[STORE], hook["id"], start, end))


async def all_stats(request: web.Request) -> web.Response:
    start, end = _period(request)
    return ok(queries.stats_overall(request.app[STORE], start, end))


def log_entry(d: dict[str, Any]) -> dict[str, Any]:
    """Seed 000's log line for one delivery (plus its webhook, creation time and next attempt)."""
    attempts = d.get("attempts") or []
    last = attempts[-1] if attempts else {}
    done = next((a for a in attempts if a.get("outcome") == "delivered"), None)
    return {
        "id": d["id"],
        "webhookId": d.get("webhook_id"),
        "eventId": d.get("event_id"),
        "eventType": d.get("event_type"),
        "status": d.get("state"),
        "responseTime": last.get("latency_ms"),
        "attempts": len(attempts),
        "createdAt": iso(d.get("created_at")),
        "deliveredAt": iso(done["started_at"]) if done else None,
        "nextAttemptAt": iso(d.get("next_attempt_at")),
        "response": {"statusCode": last.get("status_code"), "body": last.get("response_body", "")}
        if last
        else None,
        "error": (
            {"class": last.get("error_class"), "reason": last.get("reason")}
            if last and last.get("outcome") != "delivered"
            else None
        ),
    }


def deliveries_of(request: web.Request, webhook_id: str | None, limit: int, offset: int) -> queries.Page:
    """One page of the deliveries matching the query's `status`, `type` and `since`, newest first."""
    status = request.query.get("status")
    if status is not None and status not in queries.DELIVERY_STATES:
        raise invalid({"status": ["must be pending, success (delivered), failed or cancelled"]})
    return queries.deliveries_page(
        request.app[STORE],
        limit=limit,
        offset=offset,
        status=status,
        webhook=webhook_id,
        type=request.query.get("type"),
        since=parse_time("since", request.query.get("since")),
    )


async def logs(request: web.Request) -> web.Response:
    hook = find_hook(request)
    limit, offset = page_params(request)
    found = deliveries_of(request, hook["id"], limit, offset)
    return paginated([log_entry(d) for d in found.items], found.total, limit, offset)


routes = [
    web.post("/v1/webhooks", create),
    web.get("/v1/webhooks", list_),
    web.get("/v1/webhooks/stats", all_stats),
    web.get("/v1/webhooks/{id}", get),
    web.put("/v1/webhooks/{id}", update),
    web.patch("/v1/webhooks/{id}", update),
    web.delete("/v1/webhooks/{id}", delete),
    web.post("/v1/webhooks/{id}/test", test),
    web.get("/v1/webhooks/{id}/stats", hook_stats),
    web.get("/v1/webhooks/{id}/logs", logs),
]
