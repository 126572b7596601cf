"""The API token as every management surface checks it: the `/v1` guard and the WebSocket feed's handshake."""

from __future__ import annotations

import hmac

from aiohttp import web


def token_matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def bearer(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None
