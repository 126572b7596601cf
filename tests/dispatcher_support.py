"""A local webhook sink that fails on command, for the dispatcher's tests."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Received:
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    at: float

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Sink:
    """Answers from `plan` in order (then `default`): an int status, ("sleep", s), ("status", n, headers) or
    "drop" (close the connection)."""

    plan: list = field(default_factory=list)
    default: object = 200
    received: list[Received] = field(default_factory=list)
    url: str = ""
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(
            Received(
                request.path,
                [(k, v) for k, v in request.headers.items()],
                body,
                asyncio.get_running_loop().time(),
            )
        )
        self.arrived.set()
        step = self.plan.pop(0) if self.plan else self.default
        if step == "drop":
            request.transport.close()
            await asyncio.sleep(0.5)
            return web.Response()
        if isinstance(step, tuple) and step[0] == "sleep":
            await asyncio.sleep(step[1])
            return web.Response(text="late")
        if isinstance(step, tuple):
            return web.Response(status=step[1], headers=step[2], text="planned")
        return web.Response(
            status=int(step),
            text="OK" if int(step) < 300 else "nope",
            headers={"Location": "/elsewhere"} if 300 <= int(step) < 400 else None,
        )

    async def start(self, port: int = 0) -> Sink:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, n: int, timeout: float = 20.0) -> list[Received]:
        """Wait until at least `n` requests arrived (fails the test after `timeout`)."""
        async with asyncio.timeout(timeout):
            while len(self.received) < n:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def settle(check, timeout: float = 20.0, step: float = 0.01):
    """Poll `check()` until it returns something truthy; that value (fails the test after `timeout`)."""
    async with asyncio.timeout(timeout):
        while not (value := check()):
            await asyncio.sleep(step)
    return value


def fast_policy(retries: int = 3, delay: float = 10, mult: float = 2, cap: float = 1000) -> dict:
    return {"maxRetries": retries, "retryDelay": delay, "backoffMultiplier": mult, "maxRetryDelay": cap}


def subscribe(service: Any, url: str, **kw: Any) -> dict:
    """A subscription to `message.*` with a fast retry policy."""
    body = {"name": "t", "url": url, "events": ["message.*"], "retryPolicy": fast_policy(), **kw}
    return service.dispatcher.create_webhook(body)
