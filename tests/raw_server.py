"""Servers for the HTTP client tests: a raw asyncio TCP server (a subclass writes `handle`; `async with` gives its
URL), an aiohttp app answering every path with one handler (`serve_app`), and both client paths
(`on_both_paths`)."""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from katya_tui.core import outbound


async def on_both_paths(send) -> list[outbound.OutboundResult]:
    """`await send(client)` on an `Outbound` with its HTTP/1.1 pool, then on one sending through aiohttp's client
    (the path HTTPS takes), each closed after: the two results, to compare."""
    results = []
    for http1 in (True, False):
        client = outbound.Outbound(http1=http1)
        try:
            results.append(await send(client))
        finally:
            await client.aclose()
    return results


async def serve_app(handle) -> tuple[web.AppRunner, int]:
    """`handle` on every method and path of 127.0.0.1 on a free port: (runner to clean up, port)."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, sock.getsockname()[1]


class RawServer:
    server: asyncio.Server

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
