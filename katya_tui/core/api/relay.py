"""`GET /relay/{channel}`: a relayed endpoint's captures as server-sent events (`relay.channel`). No token: the
channel id is the credential, as on smee.io (the guard lets `/relay/` through)."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import CHANNELS


async def channel(request: web.Request) -> web.StreamResponse:
    return await request.app[CHANNELS].stream(request)


routes = [web.get("/relay/{channel}", channel, allow_head=False)]
