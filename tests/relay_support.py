"""Helpers for the relay tests: a relayed endpoint, an SSE reader with a deadline on every event, signed bodies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from katya_tui.core.service import Service
from katya_tui.core.signing import sign

AUTH = {"Authorization": "Bearer test-token-123"}
SECRET = "whsec_relay_test_secret"
WAIT = 15.0  # seconds any one wait may take before it is a failure


async def relay_endpoint(svc: Service, name: str, **cfg: Any) -> str:
    """Configure `name` as relayed (through the API) and return its channel id."""
    async with aiohttp.ClientSession() as http:
        r = await http.put(f"{svc.url}/v1/endpoints/{name}", json={"relay": True, **cfg}, headers=AUTH)
        assert r.status in (200, 201), await r.text()
        channel = (await r.json())["data"]["relay"]
    assert isinstance(channel, str) and len(channel) >= 22
    return channel


def signed(scheme: str, body: bytes, secret: str = SECRET) -> dict[str, str]:
    """Headers of `body` signed now under `scheme`, plus its content type."""
    headers = dict(sign(scheme, body, secret).headers)
    return {**headers, "Content-Type": "application/json"}


class SSEReader:
    """Reads `event`, `data` and `id` fields off an aiohttp response; every read has a deadline."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def next(self, timeout: float = WAIT) -> dict[str, str]:
        """The next event (comments skipped); a silence past `timeout` or a closed stream fails the test."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            while True:
                line = await self.resp.content.readline()
                assert line, "the stream ended"
                text = line.decode().rstrip("\r\n")
                if not text:
                    if fields:
                        return fields
                    continue
                if text.startswith(":"):
                    continue
                name, _, value = text.partition(":")
                value = value[1:] if value.startswith(" ") else value
                fields[name] = f"{fields[name]}\n{value}" if name == "data" and name in fields else value

    async def message(self, timeout: float = WAIT) -> tuple[str, dict[str, Any]]:
        """(id, parsed data) of the next `message` event."""
        while True:
            ev = await self.next(timeout)
            if ev.get("event", "message") == "message":
                return ev.get("id", ""), json.loads(ev["data"])
