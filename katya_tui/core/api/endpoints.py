"""`GET|POST /v1/endpoints`, `GET|PUT|DELETE /v1/endpoints/{name}`: the receiver's endpoint configs (SPEC 3.3)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import ValidationFailed
from .common import ApiError, invalid, json_body, not_found, ok, paginated


def add_routes(app: web.Application, service: Any) -> None:
    def endpoints():
        return service.receiver.endpoints

    async def list_endpoints(request: web.Request) -> web.Response:
        items = endpoints().list()
        return paginated(items, len(items), max(len(items), 1), 0)

    async def get_endpoint(request: web.Request) -> web.Response:
        cfg = endpoints().get(request.match_info["name"])
        if cfg is None:
            raise not_found("endpoint", request.match_info["name"])
        return ok(cfg)

    async def create_endpoint(request: web.Request) -> web.Response:
        body = await json_body(request)
        if isinstance(body, dict) and isinstance(body.get("name"), str) and endpoints().get(body["name"]):
            raise ApiError(
                409,
                "CONFLICT",
                f"endpoint {body['name']!r} exists; PUT /v1/endpoints/{body['name']} replaces it",
            )
        try:
            cfg = endpoints().put(body)
        except ValidationFailed as exc:
            raise invalid(exc.fields) from None
        await service.store.commit()
        return ok(cfg, status=201)

    async def put_endpoint(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await json_body(request)
        if not isinstance(body, dict):
            raise invalid({"body": ["must be a JSON object"]})
        if body.get("name", name) != name:
            raise invalid({"name": [f"does not match the endpoint in the path ({name!r})"]})
        existed = endpoints().get(name) is not None
        try:
            cfg = endpoints().put({**body, "name": name})
        except ValidationFailed as exc:
            raise invalid(exc.fields) from None
        await service.store.commit()
        return ok(cfg, status=200 if existed else 201)

    async def delete_endpoint(request: web.Request) -> web.Response:
        if not endpoints().delete(request.match_info["name"]):
            raise not_found("endpoint", request.match_info["name"])
        await service.store.commit()
        return web.Response(status=204)

    app.router.add_get("/v1/endpoints", list_endpoints)
    app.router.add_post("/v1/endpoints", create_endpoint)
    app.router.add_get("/v1/endpoints/{name}", get_endpoint)
    app.router.add_put("/v1/endpoints/{name}", put_endpoint)
    app.router.add_delete("/v1/endpoints/{name}", delete_endpoint)
