"""Middleware for the management surfaces: refuse foreign browsers and hosts (403), require the token (401), and
answer 503 for a write the store could not make durable (the one place `StoreNotWritable` becomes an answer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..store import StoreNotWritable
from ..tokens import bearer, token_matches
from .common import ApiError, host_allowed, not_writable, origin_allowed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# WebSocket routes check the token themselves (seed 002 allows ?token=, ?api_key= and an auth message).
_TOKEN_FREE = ("/healthz", "/v1/ws", "/ws")


def make_guard(token: str, bind_host: str, port_of: Callable[[], int], scheme: str = "http") -> Callable:
    """`scheme`: the server's own (https with TLS), the one its own pages' `Origin` carries."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(("/hooks", "/relay/")):
            # third-party senders, and relay followers (the channel id in the path is their credential):
            # any Host, no token
            return await handler(request)
        try:
            port = port_of()
            if not host_allowed(request.host or "", bind_host, port):
                raise ApiError(403, "FORBIDDEN_HOST", f"Host {request.host!r} is not this server's address")
            origin = request.headers.get("Origin")
            if origin and origin != "null":
                if not origin_allowed(origin, bind_host, port, scheme):
                    raise ApiError(403, "FORBIDDEN_ORIGIN", f"requests from the page {origin} are refused")
            elif origin == "null":
                raise ApiError(403, "FORBIDDEN_ORIGIN", "requests from an opaque origin are refused")
            if path.startswith("/v1") and not path.startswith(_TOKEN_FREE):
                given = bearer(request)
                if given is None:
                    raise ApiError(401, "UNAUTHORIZED", "missing 'Authorization: Bearer TOKEN' header")
                if not token_matches(given, token):
                    raise ApiError(401, "UNAUTHORIZED", "wrong token")
            return await handler(request)
        except ApiError as exc:
            return web.Response(status=exc.status_code, text=exc.text, content_type="application/json")
        except StoreNotWritable as exc:
            return not_writable(exc.reason)
        except web.HTTPException as exc:
            if exc.status_code < 400:
                raise
            code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
            err = ApiError(exc.status_code, code, f"{exc.reason}: {request.method} {path}")
            return web.Response(status=err.status_code, text=err.text, content_type="application/json")

    return guard
