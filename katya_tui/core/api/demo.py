"""`ANY /demo/consumer/{name}`: the demo's consumer, added only when the demo runs."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import DEMO


async def consume(request: web.Request) -> web.Response:
    return await request.app[DEMO].consume(request)


routes = [web.route("*", "/demo/consumer/{name}", consume)]
