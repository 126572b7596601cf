"""`GET /healthz` (no token)."""

from aiohttp import web


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


routes = [web.get("/healthz", healthz)]
