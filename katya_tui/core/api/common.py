"""Shared by every `/v1` route: seed 000's response envelope, errors with per-field details, pagination, and the
Host check."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()


def ok(data: Any, status: int = 200, **extra: Any) -> web.Response:
    return web.json_response({"success": True, "data": data, **extra}, status=status, dumps=dumps)


def paginated(items: Sequence[Any], total: int, limit: int, offset: int) -> web.Response:
    pagination = {"total": total, "limit": limit, "offset": offset, "hasMore": offset + len(items) < total}
    return ok(list(items), pagination=pagination)


class ApiError(web.HTTPException):
    """Raise anywhere in a handler; the middleware turns it into `{"success": false, "error": {...}}`."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
    ) -> None:
        self.status_code = status
        error: dict[str, Any] = {"code": code, "message": message}
        if fields:
            error["fields"] = fields
        super().__init__(text=dumps({"success": False, "error": error}), content_type="application/json")


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} {ident!r} not found")


def not_writable(reason: str) -> web.Response:
    """503 for a write the disk refused (`StoreNotWritable`): made in memory, not acknowledged as durable."""
    err = ApiError(
        503,
        "STORE_NOT_WRITABLE",
        f"store not writable: {reason}; the change is not on disk (it is written once the disk takes writes "
        "again, unless the service stops first)",
    )
    return web.Response(
        status=503, text=err.text, content_type="application/json", headers={"Retry-After": "5"}
    )


def invalid(fields: dict[str, list[str]]) -> ApiError:
    names = ", ".join(sorted(fields))
    return ApiError(422, "VALIDATION_ERROR", f"invalid fields: {names}", fields)


async def json_body(request: web.Request) -> Any:
    """The request's JSON body, or a 400 that says what is wrong with it."""
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "INVALID_JSON", "the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "INVALID_JSON", f"the request body is not valid JSON: {exc}") from None


def page_params(request: web.Request, default_limit: int = 50, max_limit: int = 1000) -> tuple[int, int]:
    errors: dict[str, list[str]] = {}
    out = []
    for name, default, hi in (("limit", default_limit, max_limit), ("offset", 0, 10**9)):
        raw = request.query.get(name)
        if raw is None:
            out.append(default)
            continue
        try:
            value = int(raw)
            if value < (1 if name == "limit" else 0) or value > hi:
                raise ValueError
            out.append(value)
        except ValueError:
            errors[name] = [f"must be a whole number from {1 if name == 'limit' else 0} to {hi}"]
    if errors:
        raise invalid(errors)
    return out[0], out[1]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def origin_allowed(origin: str, bind_host: str, port: int, scheme: str = "http") -> bool:
    """An `Origin` that is this server's own page: our scheme (https with TLS), a local name, and our port (an
    origin with no port is its scheme's default port's, not ours)."""
    parts = urlsplit(origin)
    try:
        oport = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    return parts.scheme == scheme and oport == port and host_allowed(parts.netloc, bind_host, port)


def host_allowed(host_header: str, bind_host: str, port: int) -> bool:
    """A `Host` (or Origin netloc) naming this server: loopback names, the bound host, on our port."""
    parts = urlsplit("//" + host_header)
    try:
        hport = parts.port
    except ValueError:
        return False
    name = (parts.hostname or "").lower()
    if hport is not None and hport != port:
        return False
    local = {"localhost", "127.0.0.1", "::1", bind_host.lower().strip("[]")}
    if name in local:
        return True
    return bind_host in ("0.0.0.0", "::") and _is_ip(name)
