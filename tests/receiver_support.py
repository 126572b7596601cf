"""Helpers for the receiver tests: a started service with chosen settings, a recording sink, raw socket requests."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import web

from katya_tui.core.service import Service

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def running(settings, **changes: Any):
    """A started Service with `changes` applied to the settings."""
    svc = Service(replace(settings, **changes))
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


class Sink:
    """A local target that records every request and answers `status` (or runs `behaviour`)."""

    def __init__(self, status: int = 200, body: bytes = b'{"got":"it"}') -> None:
        self.status = status
        self.body = body
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "headers": [(k.decode(), v.decode()) for k, v in request.raw_headers],
                "body": await request.read(),
            }
        )
        return web.Response(status=self.status, body=self.body, headers={"X-Sink": "1"})

    async def __aenter__(self) -> Sink:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


async def raw_request(port: int, data: bytes, *, close_after: bool = False, read: bool = True) -> bytes:
    """Write raw bytes and read one answer: until its Content-Length is in, the server closes, or 5 s pass."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    if close_after:
        writer.write_eof()
    out = b""
    if read:
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(5):
                while chunk := await reader.read(65536):
                    out += chunk
                    if _complete(out):
                        break
    writer.close()
    return out


async def answer_to(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Write raw bytes and read one whole answer. No answer in `timeout` seconds (a hang) or a close before a
    whole answer (a silent close) fails the test."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    out = b""
    try:
        writer.write(data)
        async with asyncio.timeout(timeout):
            while not _complete(out):
                chunk = await reader.read(65536)
                if not chunk:
                    head, sep, _ = out.partition(b"\r\n\r\n")
                    assert sep and b"content-length:" not in head.lower(), (
                        f"closed without an answer: {out!r}"
                    )
                    break  # (an answer framed by the close)
                out += chunk
    except TimeoutError:
        raise AssertionError(f"no answer in {timeout:g} s (got {out!r})") from None
    except ConnectionResetError:
        raise AssertionError(f"reset without an answer (got {out!r})") from None
    finally:
        writer.close()
    return out


async def captures(svc: Service, **params: Any) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"{svc.url}/v1/captures", params={k: str(v) for k, v in params.items()}, headers=AUTH)
        assert r.status == 200, await r.text()
        return (await r.json())["data"]


async def capture(svc: Service, cid: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        r = await s.get(f"{svc.url}/v1/captures/{cid}", headers=AUTH)
        assert r.status == 200, await r.text()
        return (await r.json())["data"]


async def wait_for(cond, timeout: float = 10.0) -> None:
    """Poll `cond()` until it is true (a bound on waiting, not a timing assertion)."""
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)
