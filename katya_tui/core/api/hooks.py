"""`ANY /hooks/{endpoint}[/...]` on the server's own connections: the receiver takes it (SPEC 3.1)."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import RECEIVER
from ..receiver import HOOK_ROUTES


async def hook(request: web.Request) -> web.StreamResponse:
    return await request.app[RECEIVER].handle(request)


routes = [web.route("*", path, hook) for path in HOOK_ROUTES]
