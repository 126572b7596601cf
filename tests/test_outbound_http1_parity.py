"""The lean HTTP/1.1 client (`http1.py`) against the aiohttp path that HTTPS takes, exchange for exchange: the same
request on the wire, and the same `OutboundResult` (status, reason, headers, body, error class) from real servers
a developer runs (aiohttp's, Python's http.server with HTTP/1.0 and HTTP/1.1) and from raw ones."""

from __future__ import annotations

import asyncio

import pytest

from katya_tui.core import outbound


async def both(method: str, url: str, headers: list, body: bytes, timeout: float = 4) -> list[outbound.OutboundResult]:
    """The same request through the lean client, then through aiohttp (each on a client of its own)."""
    results = []
    for lean in (True, False):
        client = outbound.make_client()
        if not lean:
            client.katya_http1 = None  # the path HTTPS takes
        try:
            results.append(await outbound.send(client, method, url, headers, body, timeout))
        finally:
            await client.aclose()
    return results


class Recorder:
    """A raw server that keeps each request's bytes (head and Content-Length body) and answers 200, empty."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                self.requests.append(head + await reader.readexactly(length))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc) -> None:
        self.server.close()


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "DELETE", "POST", "PUT", "PATCH", "PURGE", "post", "head"])
@pytest.mark.parametrize("body", [b"", b"{}"])
async def test_the_same_request_goes_out_on_both_paths(method, body):
    """Byte for byte: method (upper-cased, as aiohttp sends it), target, Host, headers as given, and
    `Content-Length: 0` for an empty body on every method but GET, HEAD, OPTIONS and TRACE (aiohttp's rule)."""
    recorder = Recorder()
    async with recorder as base:
        fast, slow = await both(method, base + "/p/é?q=1&r=a b", [("X-A", "1"), ("X-A", "2"), ("X-Ü", "é")], body)
    assert (fast.status, slow.status) == (200, 200)
    assert len(recorder.requests) == 2
    assert recorder.requests[0] == recorder.requests[1]
