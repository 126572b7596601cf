"""`/v1/deliveries`: the delivery log, resend (one, or many by filter), retry now and cancel."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import queries
from ..appkeys import DISPATCHER, STORE
from ..dispatcher import Dispatcher, NotPending
from ..models import iso
from .common import ApiError, invalid, json_body, not_found, ok, page_params, paginated
from .webhooks import deliveries_of, find_hook, parse_time

FILTERS = ("status", "webhook", "type", "since")
_TIMES = {"created_at", "next_attempt_at", "started_at", "event_created_at"}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p.capitalize() for p in rest)


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A delivery as the API shows it (seed 000's style): camelCase keys, ISO 8601 times, attempts alike."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _TIMES:
            value = iso(value)
        elif key == "attempts":
            value = [public(a) for a in value]
        out[_camel(key)] = value
    return out


def _dispatcher(request: web.Request) -> Dispatcher:
    return request.app[DISPATCHER]


async def _durable(request: web.Request, doc: dict[str, Any]) -> web.Response:
    await request.app[STORE].commit()
    return ok(public(doc))


def _delivery(request: web.Request) -> dict[str, Any]:
    did = request.match_info["id"]
    doc = queries.get(request.app[STORE], "delivery", did)
    if doc is None:
        raise not_found("delivery", did)
    return doc


async def list_(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    found = deliveries_of(
        request, request.query.get("webhook") or request.query.get("webhook_id"), limit, offset
    )
    return paginated([public(d) for d in found.items], found.total, limit, offset)


async def get(request: web.Request) -> web.Response:
    return ok(public(_delivery(request)))


async def resend(request: web.Request) -> web.Response:
    """A new attempt now, whatever the state; answers with the delivery after that attempt."""
    doc = _delivery(request)
    return ok(public(await _dispatcher(request).resend(doc["id"])))


async def resend_many(request: web.Request) -> web.Response:
    """Queue a resend of every delivery matching `{status?, webhook?, type?, since?}`; answers `{queued: n}`."""
    body = await json_body(request) if request.can_read_body else {}
    if not isinstance(body, dict):
        raise invalid({"body": ["must be a JSON object like {status, webhook, type, since}"]})
    errors = {k: [f"unknown filter (known: {', '.join(FILTERS)})"] for k in body if k not in FILTERS}
    status = body.get("status")
    if status is not None and status not in ("pending", "success", "delivered", "failed", "cancelled"):
        errors["status"] = ["must be pending, success (delivered), failed or cancelled"]
    for key in ("webhook", "type"):
        if body.get(key) is not None and not isinstance(body[key], str):
            errors[key] = ["must be text"]
    if errors:
        raise invalid(errors)
    since = body.get("since")
    since = parse_time("since", str(since)) if since is not None else None
    n = _dispatcher(request).resend_many(
        status=status, webhook=body.get("webhook"), type=body.get("type"), since=since
    )
    return ok({"queued": n}, 202)


async def _on_pending(request: web.Request, action: str) -> web.Response:
    """`retry_now` or `cancel` on a pending delivery; 409 when it is not pending any more."""
    doc = _delivery(request)
    try:
        return await _durable(request, getattr(_dispatcher(request), action)(doc["id"]))
    except NotPending as exc:
        raise ApiError(409, "NOT_PENDING", str(exc)) from None


async def retry_now(request: web.Request) -> web.Response:
    return await _on_pending(request, "retry_now")


async def cancel(request: web.Request) -> web.Response:
    return await _on_pending(request, "cancel")


async def hook_deliveries(request: web.Request) -> web.Response:
    hook = find_hook(request)
    limit, offset = page_params(request)
    found = deliveries_of(request, hook["id"], limit, offset)
    return paginated([public(d) for d in found.items], found.total, limit, offset)


routes = [
    web.get("/v1/deliveries", list_),
    web.post("/v1/deliveries/resend", resend_many),
    web.get("/v1/deliveries/{id}", get),
    web.post("/v1/deliveries/{id}/resend", resend),
    web.post("/v1/deliveries/{id}/retry", retry_now),
    web.post("/v1/deliveries/{id}/cancel", cancel),
    web.get("/v1/webhooks/{id}/deliveries", hook_deliveries),
]
