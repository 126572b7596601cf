"""`ANY /hooks/{endpoint}[/...]` on the server's own connections: the receiver takes it (SPEC 3.1)."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import RECEIVER
from ..receiver import HOOK_ROUTES


async def hook(request: web.Request) -> web.StreamResponse:
    return await request.app[RECEIVER].handle(request)


async def expect(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue`: the length is checked before the body is invited (`Receiver.expect`)."""
    return await request.app[RECEIVER].expect(request)


routes = [web.route("*", path, hook, expect_handler=expect) for path in HOOK_ROUTES]
