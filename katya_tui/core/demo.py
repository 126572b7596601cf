"""The demo: a built-in consumer that sometimes fails or is slow, and a generator of realistic flows.

Mounted on the same port: `ANY /demo/consumer/{name}` plays the user's services (`reliable`, `flaky`: 503s with
Retry-After and slow answers, `legacy`: the seed 001 admin receiver). Demo subscriptions point at it with each
profile; a `demo` inbound endpoint verifies Katya signatures. The generator plays flows over the whole catalogue:
events published directly, and webhooks sent over HTTP to `/hooks/...` (signed, re-serialised, stale, unsigned,
job results, Wazzup24 messages) so every verdict shows up. A fast `--rate` plays several flows at once, each
in its own lane, so that the rate asked for is the rate played.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from typing import Any

import aiohttp
from aiohttp import web

from ..config import client_ssl_context
from . import signing
from .catalog import EVENT_TYPES, envelope, sample_data, wazzup_body
from .dispatcher import Dispatcher
from .errors import ValidationFailed
from .host import Host, open_store
from .receiver import Receiver

log = logging.getLogger(__name__)

DEMO_SECRET = "demo_katya_secret"
LANE_RATE = 20.0  # steps a second one lane plays; `--rate` above it plays on several lanes at once
CATCH_UP_S = 1.0  # how far behind its schedule a lane may fall before it forgets the steps it missed
FLOWS: tuple[tuple[str, ...], ...] = (
    ("room.created", "room.member.joined", "message.created", "message.updated", "room.member.left"),
    (
        "trust.identity.created",
        "trust.verification.created",
        "trust.verification.updated",
        "trust.reputation.updated",
    ),
    ("security.scan.completed", "security.alert.created", "security.alert.updated"),
    ("analytics.report.created", "analytics.metric.updated", "analytics.report.completed"),
    ("system.maintenance.start", "system.status.changed", "system.maintenance.end"),
    ("user.created", "payment.completed", "transaction.created", "ticket.created", "ticket.status_changed"),
)
SUBSCRIPTIONS: tuple[dict[str, Any], ...] = (
    {"name": "demo: chat service", "url": "/demo/consumer/reliable", "events": ["message.*", "room.*"]},
    {
        "name": "demo: flaky analytics",
        "url": "/demo/consumer/flaky",
        "events": ["analytics.*", "system.*"],
        "retryPolicy": {"maxRetries": 3, "retryDelay": 1000, "backoffMultiplier": 2, "maxRetryDelay": 8000},
    },
    {
        "name": "demo: security (Standard Webhooks)",
        "url": "/demo/consumer/reliable",
        "events": ["security.*", "trust.*"],
        "profile": "standard",
    },
    {
        "name": "demo: admin panel (seed 001)",
        "url": "/demo/consumer/legacy",
        "events": ["user.*", "payment.*", "transaction.*", "ticket.*"],
        "profile": "admin",
        "serialization": "sorted",
    },
)


class Demo:
    """A service component; enabled by `settings.demo_rate` (events a second)."""

    def __init__(
        self,
        service: Host,
        dispatcher: Dispatcher,
        receiver: Receiver,
        rate: float,
        *,
        seed: int | None = None,
    ) -> None:
        self.service = service
        self.dispatcher = dispatcher
        self.receiver = receiver
        self.rate = rate
        self.rng = random.Random(seed)
        self._task: asyncio.Task | None = None
        self._hits: dict[str, int] = {}

    async def consume(self, request: web.Request) -> web.Response:
        """Answer like a real service would: mostly fine, sometimes slow, sometimes down for a moment."""
        name = request.match_info["name"]
        await request.read()
        n = self._hits[name] = self._hits.get(name, 0) + 1
        if name == "flaky":
            roll = self.rng.random()
            if roll < 0.25:
                return web.json_response({"error": "overloaded"}, status=503, headers={"Retry-After": "1"})
            if roll < 0.35:
                await asyncio.sleep(1.5)
            if roll < 0.40:
                return web.json_response({"error": "bad gateway"}, status=502)
        await asyncio.sleep(self.rng.uniform(0.005, 0.06))
        return web.json_response({"received": True, "n": n})

    async def start(self) -> None:
        self._ensure_setup()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _ensure_setup(self) -> None:
        d = self.dispatcher
        existing = {w["name"] for w in d.list_webhooks()}
        for sub in SUBSCRIPTIONS:
            if sub["name"] not in existing:
                try:
                    d.create_webhook({**sub, "url": self.service.url + sub["url"]})
                except ValidationFailed as exc:  # a demo must not stop the tool
                    log.warning("demo subscription %s refused: %s", sub["name"], exc)
        if self.receiver.endpoints.get("demo") is None:
            self.receiver.endpoints.put({"name": "demo", "secrets": [DEMO_SECRET], "scheme": "katya"})

    async def _run(self) -> None:
        tls = (
            self.service.settings.tls_cert
        )  # with TLS, its own certificate is trusted as it is (self-signed too)
        connector = aiohttp.TCPConnector(ssl=client_ssl_context(tls)) if tls else None
        lanes = max(1, math.ceil(self.rate / LANE_RATE))
        async with aiohttp.ClientSession(connector=connector) as http:
            await asyncio.gather(*(self._lane(http, self.rate / lanes) for _ in range(lanes)))

    async def _lane(self, http: aiohttp.ClientSession, rate: float) -> None:
        """Flows one after another, their steps in order, `rate` steps a second on a schedule kept against the
        clock: the time a step's answer takes is not added to the gap before the next one, so `--rate` is the
        rate played (behind by at most `CATCH_UP_S` after a stall), and the other lanes go on meanwhile."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            for etype in self.rng.choice(FLOWS):
                due = max(due + self.rng.expovariate(rate), loop.time() - CATCH_UP_S)
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                try:
                    await self._one(http, etype)
                except (aiohttp.ClientError, OSError) as exc:
                    log.info("demo request failed: %s", exc)

    async def _one(self, http: aiohttp.ClientSession, etype: str) -> None:
        """One step: mostly a webhook over HTTP (with its verdict), sometimes a direct publish."""
        roll = self.rng.random()
        data = sample_data(etype, rng=self.rng)
        if roll < 0.25 or EVENT_TYPES[etype].source != "katya":
            self.service.publish_event(etype, data, source="demo")
            await open_store(self.service).commit()
            return
        env = envelope(etype, data)
        body = json.dumps(env, separators=(",", ":"), ensure_ascii=False).encode()
        now = time.time()
        if roll < 0.80:
            signed = signing.sign("katya", body, DEMO_SECRET)
        elif roll < 0.87:  # a sender that re-serialised before signing (seed 000's Python example)
            signed = signing.sign("katya", json.dumps(env).encode(), DEMO_SECRET)
        elif roll < 0.93:  # a replay from ten minutes ago
            signed = signing.sign("katya", body, DEMO_SECRET, timestamp=int(now) - 600)
        else:  # a sender with the wrong secret
            signed = signing.sign("katya", body, DEMO_SECRET + "-old")
        headers = dict(signed.headers) | {"Content-Type": "application/json", "X-Katya-Event": etype}
        await http.post(f"{self.service.url}/hooks/demo", data=body, headers=headers)
        if self.rng.random() < 0.15:  # other inbound shapes: a job callback, a Wazzup24 message, no signature
            job = sample_data("job.completed", rng=self.rng)
            await http.post(f"{self.service.url}/hooks/jobs", json=job)
            await http.post(
                f"{self.service.url}/hooks/wazzup",
                json=wazzup_body("wazzup.message", sample_data("wazzup.message")),
            )
