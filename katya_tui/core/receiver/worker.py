"""A receiver worker process: it takes `/hooks` requests in (body, capture, verdict, event) on connections the
server process hands it, asks the server what to answer (`Receiver.record` decides, stores and publishes), and
answers. Any other request that arrives on such a connection is relayed to the server's own port.

Started by `workers.py` as `python -m katya_tui.core.receiver.worker HANDOFF_FD LINK_FD PORT_URL BODY_LIMIT IDLE_S`;
it ends when the server closes the link.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import re
import socket
import sys
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from yarl import URL

from ..loops import fast_loop
from .capture import HOP_BY_HOP, raw_headers
from .endpoints import ConfigSet
from .intake import intake
from .respond import Plan
from .wire import CONFIGS, HELLO, LOG, PLAN, STOP, Frames, frame, read_plan, take_frame
from .worker_head import Request
from .worker_http import Connection, Server

log = logging.getLogger(__name__)
JSON = [("Content-Type", "application/json; charset=utf-8")]
TEXT = [("Content-Type", "text/plain; charset=utf-8")]

HOOK = re.compile(r"/hooks/([^{}/]+)(?:/.*)?")
"""What the server's router takes as `/hooks/{endpoint}` or `/hooks/{endpoint}/{tail:.*}`, matched as it does: on
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


RELAY_SKIPS = HOP_BY_HOP | {"expect"}  # (the 100 Continue was sent here already)
MISDIRECTED = (b'{"success":false,"error":{"code":"MISDIRECTED",'
               b'"message":"open a new connection for a WebSocket"}}')  # fmt: skip


class LinkLog(logging.Handler):
    """This process's log records go to the server over the link, to be written where its own go (a file; this
    process's stderr is the terminal the TUI draws on)."""

    def __init__(self, link: Link) -> None:
        super().__init__()
        self.link = link

    def emit(self, record: logging.LogRecord) -> None:
        try:
            transport = self.link.transport
            if transport is None or transport.is_closing():
                return
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            transport.write(frame(LOG, {"name": record.name, "level": record.levelno, "message": message}))
        except Exception:
            self.handleError(record)


class NotRecorded(Exception):
    """The server could not record a request (it logged why)."""


class Link(asyncio.Protocol):
    """The worker's end of the link to the server: sends requests taken in, receives answers and configs."""

    def __init__(self) -> None:
        self.configs = ConfigSet()
        self.closed = asyncio.get_running_loop().create_future()
        self._frames = Frames()
        self._numbers = itertools.count()
        self._waiting: dict[int, asyncio.Future] = {}
        self.transport: asyncio.Transport | None = None
        self.stopping = asyncio.get_running_loop().create_future()  # the server said STOP: finish and end

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(frame(HELLO, {}))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        for kind, h, raw in self._frames.feed(data):
            if kind == PLAN:
                fut = self._waiting.pop(h["n"], None)
                if fut is None or fut.done():
                    continue
                if "error" in h:  # the server could not record it
                    fut.set_exception(NotRecorded(h["error"]))
                else:
                    fut.set_result(read_plan(h, raw)[1])
            elif kind == CONFIGS:
                self.configs = ConfigSet(h)
            elif kind == STOP and not self.stopping.done():
                self.stopping.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ConnectionError("the server process went away"))
        if not self.closed.done():
            self.closed.set_result(None)

    def ask(self, took: Any) -> asyncio.Future:
        """The server's `Plan` for a request taken in, to come."""
        n = next(self._numbers)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[n] = fut
        if self.transport is None or self.transport.is_closing():
            fut.set_exception(ConnectionError("the server process went away"))
            return fut
        self.transport.write(take_frame(n, took))  # at once: the server starts on it while this process reads on
        return fut


async def run(handoff_fd: int, link_fd: int, server_url: str, body_limit: int, idle_s: float) -> None:
    loop = asyncio.get_running_loop()
    link = Link()
    await loop.connect_accepted_socket(lambda: link, socket.socket(fileno=link_fd))
    root = logging.getLogger()
    root.handlers[:] = [LinkLog(link)]
    root.setLevel(logging.INFO)
    session = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False)
    relays: set[asyncio.Task] = set()

    def serve(conn: Connection, req: Request) -> None:
        target = req.target.decode("latin-1")  # (llhttp takes only ASCII in a target)
        name = endpoint_of(target)
        if name is None:
            if target.startswith(
                "/hooks"
            ):  # as the server answers (its guard lets /hooks through to its 404)
                return conn.respond(404, [("Content-Type", "text/plain; charset=utf-8")], b"404: Not Found")
            if req.upgrade is not None and req.upgrade.lower() == b"websocket":
                # the server's own (its feed): a connection handed to a worker cannot go back to it
                return conn.respond(421, JSON, MISDIRECTED, close=True)
            task = loop.create_task(
                relay(conn, req, target)
            )  # (never a /hooks/ target: it would come back here)
            relays.add(task)
            task.add_done_callback(relays.discard)
            return
        cfg = link.configs.config_for(name)
        took = intake(cfg, link.configs.secrets_of_others(name), req.method, target, raw_headers(req.headers),
                      conn.remote, req.body, req.started, req.now)  # type: ignore[arg-type]  # fmt: skip
        link.ask(took).add_done_callback(lambda fut: planned(conn, took, fut))

    def planned(conn: Connection, took: Any, fut: asyncio.Future) -> None:
        exc = fut.exception() if not fut.cancelled() else ConnectionError("cancelled")
        if isinstance(exc, ConnectionError):
            conn.respond(503, JSON, b'{"status": "error", "message": "katya-tui is stopping"}')
        elif exc is not None:  # aiohttp's answer to a handler that failed in the server (which logged it)
            conn.respond(500, TEXT, b"500 Internal Server Error\n\nServer got itself in trouble", close=True)
        else:
            plan: Plan = fut.result()
            if plan.action in ("timeout", "drop"):  # chaos: hold the connection past the sender's timeout, or drop it
                log.warning("%s %s: %s (chaos), no answer", took.cap.method, took.cap.path, plan.action)
                conn.drop(plan.hold_s if plan.action == "timeout" else 0.0)
            else:
                conn.respond(plan.status, list(plan.headers.items()), plan.body, close=took.body.truncated)

    async def relay(conn: Connection, req: Request, target: str) -> None:
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
        # the target as sent (encoded=True: yarl would resolve `..` and decode %-escapes, which can make a /hooks/
        # path the server hands back to a worker); the server applies its own size limit
        try:
            async with session.request(req.method, URL(server_url + target, encoded=True), headers=headers,
                                       data=body.data if req.got or req.claimed is not None else None,
                                       allow_redirects=False) as r:  # fmt: skip
                data = await r.read()
                out = [(k, v) for k, v in r.headers.items() if k.lower() not in HOP_BY_HOP]
                head_length = r.headers.get("Content-Length") if req.method == "HEAD" else None  # (no body to count)
                length = int(head_length) if head_length is not None else None
                conn.respond(r.status, out, data, length=length)
        except (TimeoutError, OSError, ClientError) as exc:
            conn.respond(502, TEXT, f"502: the server could not be reached: {exc}".encode(), close=True)

    server = Server(serve, body_limit, idle_s)
    handoff = socket.socket(fileno=handoff_fd)
    handoff.setblocking(False)

    accepting: set[asyncio.Task] = set()

    def on_handoff() -> None:
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(handoff, 16, 64)
            except BlockingIOError:
                return
            except OSError:
                msg, fds = b"", []
            if not msg:
                loop.remove_reader(handoff_fd)
                if not link.closed.done():
                    link.closed.set_result(None)
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                conn.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(server.connection, conn))
                accepting.add(task)
                task.add_done_callback(accepting.discard)

    loop.add_reader(handoff_fd, on_handoff)
    try:
        await asyncio.wait([link.closed, link.stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(handoff_fd)
        if link.stopping.done() and not link.closed.done():
            on_handoff()  # connections the server handed over before it said STOP: served too
        if accepting:
            await asyncio.wait(accepting)
        await server.close(1.0)  # the requests under way finish (1 s at most); their answers still come over the link
        await session.close()


def main(argv: list[str]) -> None:
    gc.freeze()  # what the imports made lives as long as the process; requests leave almost no cyclic garbage
    gc.set_threshold(10_000, 20, 100)
    with asyncio.Runner(loop_factory=fast_loop()) as runner:
        runner.run(run(int(argv[0]), int(argv[1]), argv[2], int(argv[3]), float(argv[4])))


if __name__ == "__main__":
    main(sys.argv[1:])
