"""`GET /v1/ws` (seed 002's dialect) and `GET /ws` (seed 001's): the WebSocket feed (SPEC 6)."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import FEED


async def feed_002(request: web.Request) -> web.StreamResponse:
    return await request.app[FEED].handle(request, "002")


async def feed_001(request: web.Request) -> web.StreamResponse:
    return await request.app[FEED].handle(request, "001")


routes = [web.get("/v1/ws", feed_002), web.get("/ws", feed_001)]
