"""A raw asyncio TCP server for the HTTP client tests: a subclass writes `handle`; `async with` gives its URL."""

from __future__ import annotations

import asyncio


class RawServer:
    server: asyncio.Server

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
