"""Helpers for the WebSocket tests: settings, real `websockets` clients, and waiting for messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import websockets

from katya_tui.config import load_settings
from katya_tui.core.service import Service

TOKEN = "test-token-123"
WAIT = 10.0  # a deadline for things that must happen, never a speed assertion


def make_settings(data_dir: Any, **options: Any):
    return load_settings({"port": 0, "data_dir": str(data_dir), "token": TOKEN, **options}, env={})


@asynccontextmanager
async def running(settings):
    svc = Service(settings)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


def ws_url(service: Service, path: str = "/v1/ws", query: str = "") -> str:
    return f"ws://127.0.0.1:{service.port}{path}{'?' + query if query else ''}"


async def recv(ws, timeout: float = WAIT) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws, pred: Callable[[dict], bool], timeout: float = WAIT) -> dict[str, Any]:
    """The first message matching `pred` (server pings and other messages before it are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = json.loads(await ws.recv())
            if pred(msg):
                return msg


async def send(ws, obj: Any) -> None:
    await ws.send(obj if isinstance(obj, str) else json.dumps(obj))


@asynccontextmanager
async def authed(service: Service, path: str = "/v1/ws", **kw: Any):
    """A client authenticated by header whose `connection` message has been read."""
    async with websockets.connect(
        ws_url(service, path),
        additional_headers={"Authorization": f"Bearer {TOKEN}"},
        ping_interval=None,
        **kw,
    ) as ws:
        hello = await recv(ws)
        assert hello["type"] == "connection" and hello["status"] == "connected"
        yield ws


async def subscribe(ws, **what: Any) -> dict[str, Any]:
    await send(ws, {"type": "subscribe", **what})
    return await recv_until(ws, lambda m: m["type"] in ("response", "error"))


async def wait_for(pred: Callable[[], bool], timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.01)
