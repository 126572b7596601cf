"""`/hooks` over the narrow HTTP/1.1 server (`worker_http.py`): in a receiver worker process, and in the server
process itself for `/hooks` connections no worker takes (with `workers = 0`, or while a worker is being replaced).
Each request is taken in (`intake`), its plan asked for (`ask`: over the link from a worker, `Receiver.record` in
the server process) and carried out. Any other request that arrives on such a connection is relayed to the
server's own port (the API, health); a WebSocket for the server's feed is answered 421 (open a new connection).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from yarl import URL

from .capture import HOP_BY_HOP, raw_headers
from .endpoints import ConfigSet
from .intake import Intake, intake
from .respond import Plan
from .worker_head import Request
from .worker_http import Connection, Server

log = logging.getLogger(__name__)

JSON = [("Content-Type", "application/json; charset=utf-8")]
TEXT = [("Content-Type", "text/plain; charset=utf-8")]
MISDIRECTED = (
    b'{"success":false,"error":{"code":"MISDIRECTED","message":"open a new connection for a WebSocket"}}'
)
RELAY_SKIPS = HOP_BY_HOP | {"expect"}  # (the 100 Continue was sent here already)

HOOK = re.compile(r"/hooks/([^{}/]+)(?:/.*)?", re.DOTALL)  # (a decoded %0a in the tail is still the tail)
"""What the server's router takes as `/hooks/{endpoint}` or `/hooks/{endpoint}/{tail:(?s:.*)}`, matched as it does: on
the path with every %-escape decoded but `%2F` and `%25` (yarl's `path_safe`), the name then unquoted as aiohttp
does (`_unquote_path_safe`)."""


class NotRecorded(Exception):
    """The server could not record a request (it logged why)."""


def endpoint_of(target: str) -> str | None:
    """The endpoint a request target is for, as the server's router would find it; None when no hook route matches."""
    if target.startswith("/"):
        path = target.partition("?")[0].partition("#")[0]
        if "%" in path:
            path = URL.build(path=path, encoded=True).path_safe
    else:  # absolute-form (a proxy's request line)
        try:
            path = URL(target, encoded=True).path_safe
        except ValueError:
            return None
    m = HOOK.fullmatch(path)
    if m is None:
        return None
    name = m[1]
    return name.replace("%2F", "/").replace("%25", "%") if "%" in name else name


class HookServer:
    """`configs()` gives the endpoint configs; `ask(cfg, took)` a future of the request's `Plan`."""

    def __init__(
        self,
        configs: Callable[[], ConfigSet],
        ask: Callable[[dict[str, Any], Intake], asyncio.Future],
        server_url: str,
        body_limit: int,
        idle_s: float,
    ) -> None:
        self.configs = configs
        self.ask = ask
        self.server_url = server_url
        self.http = Server(self.serve, body_limit, idle_s)
        self._session: ClientSession | None = None
        self._relays: set[asyncio.Task] = set()

    def connection(self) -> Connection:
        """The protocol for one connection (`loop.connect_accepted_socket(hooks.connection, sock)`)."""
        return self.http.connection()

    def serve(self, conn: Connection, req: Request) -> None:
        target = req.target.decode("latin-1")  # (llhttp takes only ASCII in a target)
        name = endpoint_of(target)
        if name is None:
            if target.startswith(
                "/hooks"
            ):  # as the server answers (its guard lets /hooks through to its 404)
                return conn.respond(404, TEXT, b"404: Not Found")
            if req.upgrade is not None and req.upgrade.lower() == b"websocket":
                return conn.respond(
                    421, JSON, MISDIRECTED, close=True
                )  # (the feed needs a connection of its own)
            task = asyncio.get_running_loop().create_task(self.relay(conn, req, target))
            self._relays.add(task)
            task.add_done_callback(self._relays.discard)
            return
        configs = self.configs()
        cfg = configs.config_for(name)
        took = intake(
            cfg,
            configs.secrets_of_others(name),
            req.method,
            target,
            raw_headers(req.headers),
            conn.remote,
            req.body,
            req.started,
            req.now,
        )  # type: ignore[arg-type]
        self.ask(cfg, took).add_done_callback(lambda fut: self.planned(conn, took, fut))

    def planned(self, conn: Connection, took: Intake, fut: asyncio.Future) -> None:
        exc = fut.exception() if not fut.cancelled() else ConnectionError("cancelled")
        if isinstance(exc, ConnectionError):
            conn.respond(503, JSON, b'{"status": "error", "message": "katya-tui is stopping"}')
        elif exc is not None:  # aiohttp's answer to a handler that failed
            if not isinstance(exc, NotRecorded):  # (the server process logged that one)
                log.error("a request to %s could not be recorded", took.cap.path, exc_info=exc)
            conn.respond(500, TEXT, b"500 Internal Server Error\n\nServer got itself in trouble", close=True)
        else:
            plan: Plan = fut.result()
            if plan.action in (
                "timeout",
                "drop",
            ):  # chaos: hold the connection past the sender's timeout, or drop it
                log.warning("%s %s: %s (chaos), no answer", took.cap.method, took.cap.path, plan.action)
                conn.drop(plan.hold_s if plan.action == "timeout" else 0.0)
            else:
                conn.respond(plan.status, list(plan.headers.items()), plan.body, close=took.body.truncated)

    async def relay(self, conn: Connection, req: Request, target: str) -> None:
        """A request for the server (API, health) that came on a connection that began with a webhook."""
        body = req.body
        assert body is not None
        if body.truncated:
            status = 413 if body.problem == "too_large" else 400
            return conn.respond(status, TEXT, f"{status}: {body.detail}".encode(), close=True)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in req.headers]
        headers = [(k, v) for k, v in headers if k.lower() not in RELAY_SKIPS or k.lower() == "host"]
        if not target.startswith("/"):  # absolute-form: sent on as origin-form
            target = URL(target, encoded=True).raw_path_qs
        if self._session is None:
            self._session = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False)
        # the target as sent (encoded=True: yarl would resolve `..` and decode %-escapes, which can make a /hooks/
        # path the server hands back to a worker); the server applies its own size limit
        try:
            async with self._session.request(
                req.method,
                URL(self.server_url + target, encoded=True),
                headers=headers,
                data=body.data if req.got or req.claimed is not None else None,
                allow_redirects=False,
            ) as r:
                data = await r.read()
                out = [(k, v) for k, v in r.headers.items() if k.lower() not in HOP_BY_HOP]
                head_length = (
                    r.headers.get("Content-Length") if req.method == "HEAD" else None
                )  # (no body to count)
                length = int(head_length) if head_length is not None else None
                conn.respond(r.status, out, data, length=length)
        except (TimeoutError, OSError, ClientError) as exc:
            conn.respond(502, TEXT, f"502: the server could not be reached: {exc}".encode(), close=True)

    async def close(self, grace_s: float) -> None:
        """Finish the requests under way (`grace_s` at most), then close every connection."""
        await self.http.close(grace_s)
        if self._relays:
            await asyncio.wait(self._relays, timeout=grace_s)
        if self._session is not None:
            await self._session.close()
            self._session = None
