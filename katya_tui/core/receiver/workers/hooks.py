"""`/hooks` in a receiver worker process, over its narrow HTTP/1.1 server (`http.py`). Each request is taken in
(`intake`), its plan asked of the server process over the link, and carried out (`respond.carry_out`). Any other request that arrives on such a connection is relayed to the
server's own port (the API, health); a WebSocket for the server's feed is answered 421 (open a new connection).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from aiohttp import ClientError, ClientSession, ClientTimeout
from yarl import URL

from ..capture import HOP_BY_HOP, raw_headers
from ..endpoints import ConfigSet
from ..intake import Intake, intake
from ..respond import carry_out
from .head import Request
from .http import Connection, Server

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
    """`configs()` gives the endpoint configs; `ask(took)` a future of the request's `Plan` (from the server)."""

    def __init__(
        self,
        configs: Callable[[], ConfigSet],
        ask: Callable[[Intake], asyncio.Future],
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
        assert req.body is not None
        others = configs.secrets_of_others(name)
        headers = raw_headers(req.headers)
        took = intake(cfg, others, req.method, target, headers, conn.remote, req.body, req.started, req.now)
        self.ask(took).add_done_callback(lambda fut: self.planned(conn, took, fut))

    def planned(self, conn: Connection, took: Intake, fut: asyncio.Future) -> None:
        exc = fut.exception() if not fut.cancelled() else ConnectionError("cancelled")
        if isinstance(exc, ConnectionError):
            conn.respond(503, JSON, b'{"status": "error", "message": "katya-tui is stopping"}')
        elif exc is not None:  # aiohttp's answer to a handler that failed (the server process logged why)
            conn.respond(500, TEXT, b"500 Internal Server Error\n\nServer got itself in trouble", close=True)
        else:
            carry_out(fut.result(), conn, took)

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
                data=body.data if req.reader and (req.reader.got or req.reader.claimed is not None) else None,
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
