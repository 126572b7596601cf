"""`GET|POST /v1/endpoints`, `GET|PUT|DELETE /v1/endpoints/{name}`: the receiver's endpoint configs (SPEC 3.3)."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import ENDPOINTS, STORE
from ..errors import ValidationFailed
from .common import ApiError, invalid, json_body, not_found, ok, paginated


async def list_endpoints(request: web.Request) -> web.Response:
    items = request.app[ENDPOINTS].list()
    return paginated(items, len(items), max(len(items), 1), 0)


async def get_endpoint(request: web.Request) -> web.Response:
    cfg = request.app[ENDPOINTS].get(request.match_info["name"])
    if cfg is None:
        raise not_found("endpoint", request.match_info["name"])
    return ok(cfg)


async def create_endpoint(request: web.Request) -> web.Response:
    endpoints = request.app[ENDPOINTS]
    body = await json_body(request)
    if isinstance(body, dict) and isinstance(body.get("name"), str) and endpoints.get(body["name"]):
        raise ApiError(
            409,
            "CONFLICT",
            f"endpoint {body['name']!r} exists; PUT /v1/endpoints/{body['name']} replaces it",
        )
    try:
        cfg = endpoints.put(body)
    except ValidationFailed as exc:
        raise invalid(exc.fields) from None
    await request.app[STORE].commit()
    return ok(cfg, status=201)


async def put_endpoint(request: web.Request) -> web.Response:
    endpoints = request.app[ENDPOINTS]
    name = request.match_info["name"]
    body = await json_body(request)
    if not isinstance(body, dict):
        raise invalid({"body": ["must be a JSON object"]})
    if body.get("name", name) != name:
        raise invalid({"name": [f"does not match the endpoint in the path ({name!r})"]})
    existed = endpoints.get(name) is not None
    try:
        cfg = endpoints.put({**body, "name": name})
    except ValidationFailed as exc:
        raise invalid(exc.fields) from None
    await request.app[STORE].commit()
    return ok(cfg, status=200 if existed else 201)


async def delete_endpoint(request: web.Request) -> web.Response:
    if not request.app[ENDPOINTS].delete(request.match_info["name"]):
        raise not_found("endpoint", request.match_info["name"])
    await request.app[STORE].commit()
    return web.Response(status=204)


routes = [
    web.get("/v1/endpoints", list_endpoints),
    web.post("/v1/endpoints", create_endpoint),
    web.get("/v1/endpoints/{name}", get_endpoint),
    web.put("/v1/endpoints/{name}", put_endpoint),
    web.delete("/v1/endpoints/{name}", delete_endpoint),
]
