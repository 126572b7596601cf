"""`GET /v1/captures`, `GET /v1/captures/{id}`, `POST /v1/captures/{id}/replay` (seed 000's envelope)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from aiohttp import web

from .. import queries
from ..appkeys import RECEIVER, STORE
from ..errors import ValidationFailed
from ..models import iso
from ..signing.verdict import STATUSES
from .common import ApiError, invalid, json_body, not_found, ok, page_params, paginated


def capture_view(doc: dict[str, Any], with_body: bool) -> dict[str, Any]:
    """A capture as the API shows it: camelCase, ISO times; the body (text or base64) only when asked."""
    out = {
        "id": doc["id"],
        "endpoint": doc["endpoint"],
        "method": doc["method"],
        "path": doc["path"],
        "query": doc["query"],
        "headers": doc["headers"],
        "bodySize": doc["body_size"],
        "bodySha256": doc["body_sha256"],
        "truncated": doc["truncated"],
        "bodyNote": doc.get("body_note"),
        "remote": doc["remote"],
        "receivedAt": iso(doc["received_at"]),
        "verdict": doc.get("verdict"),
        "response": doc.get("response"),
        "forward": doc.get("forward"),
        "eventId": doc.get("event_id"),
        "eventType": doc.get("event_type"),
        "duplicateOf": doc.get("duplicate_of"),
        "replayOf": doc.get("replay_of"),
        "browser": doc.get("browser", False),
    }
    if with_body:
        out["body"] = doc["body"]
        out["bodyEncoding"] = doc["body_encoding"]
    return out


def _filters(request: web.Request) -> dict[str, str | None]:
    verdict = request.query.get("verdict")
    if verdict is not None and verdict not in STATUSES:
        raise invalid({"verdict": [f"must be one of {', '.join(STATUSES)}"]})
    return {"endpoint": request.query.get("endpoint"), "verdict": verdict}


def _replay_body(payload: dict[str, Any]) -> bytes | None:
    if "bodyBase64" in payload and payload["bodyBase64"] is not None:
        try:
            return base64.b64decode(payload["bodyBase64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise invalid({"bodyBase64": ["must be base64"]}) from None
    body = payload.get("body")
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    return orjson.dumps(body)


async def list_captures(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    found = queries.captures(request.app[STORE], **_filters(request), limit=limit, offset=offset)
    return paginated([capture_view(d, False) for d in found.items], found.total, limit, offset)


async def get_capture(request: web.Request) -> web.Response:
    found = queries.get(request.app[STORE], "capture", request.match_info["id"])
    if found is None:
        raise not_found("capture", request.match_info["id"])
    return ok(capture_view(found, True))


async def replay(request: web.Request) -> web.Response:
    cid = request.match_info["id"]
    payload = await json_body(request) if (await request.read()).strip() else {}
    if not isinstance(payload, dict):
        raise ApiError(400, "INVALID_JSON", 'send a JSON object like {"to": URL, "resign": true}')
    unknown = set(payload) - {"to", "resign", "body", "bodyBase64", "headers"}
    if unknown:
        raise invalid({k: ["unknown field (known: to, resign, body, bodyBase64, headers)"] for k in unknown})
    if not isinstance(payload.get("resign", False), bool):
        raise invalid({"resign": ["must be true or false"]})
    try:
        cap = await request.app[RECEIVER].replay(
            cid,
            to=payload.get("to"),
            resign=payload.get("resign", False),
            body=_replay_body(payload),
            headers=payload.get("headers"),
        )
    except LookupError:
        raise not_found("capture", cid) from None
    except ValidationFailed as exc:
        raise invalid(exc.fields) from None
    return ok(capture_view(cap.to_doc(), True), status=201)


routes = [
    web.get("/v1/captures", list_captures),
    web.get("/v1/captures/{id}", get_capture),
    web.post("/v1/captures/{id}/replay", replay),
]
