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

from aiohttp import ClientSession, ClientTimeout, web
from aiohttp.http import HttpVersion11
from yarl import URL

from .capture import HOP_BY_HOP
from .endpoints import ConfigSet
from .intake import take
from .respond import Plan, answer
from .wire import CONFIGS, HELLO, LOG, PLAN, STOP, Frames, frame, read_plan, take_frame

HOOK = re.compile(r"/hooks/([^{}/]+)(?:/.*)?")
"""What the server's router takes as `/hooks/{endpoint}` or `/hooks/{endpoint}/{tail:.*}`, matched as it does: on
`rel_url.path_safe` (`%2F` still encoded), the name then unquoted as aiohttp does (`_unquote_path_safe`)."""


def endpoint_of(request: web.BaseRequest) -> str | None:
    """The endpoint a request is for, as the server's router would find it; None when no hook route matches."""
    m = HOOK.fullmatch(request.rel_url.path_safe)
    if m is None:
        return None
    name = m[1]
    return name.replace("%2F", "/").replace("%25", "%") if "%" in name else name


async def expect(request: web.BaseRequest) -> None:
    """What the server's router does for a request with an `Expect` header (aiohttp's default expect handler):
    `100 Continue` before the body is read, 417 for any other expectation."""
    value = request.headers.get("Expect")
    if not value or request.version != HttpVersion11:
        return
    if value.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {value}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0


RELAY_SKIPS = HOP_BY_HOP | {"expect"}  # (the 100 Continue was sent here already)


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

    async def ask(self, took: Any) -> Plan:
        n = next(self._numbers)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[n] = fut
        self.transport.write(take_frame(n, took))  # at once: the server starts on it while this process reads the next
        return await fut


async def run(handoff_fd: int, link_fd: int, server_url: str, body_limit: int, idle_s: float) -> None:
    loop = asyncio.get_running_loop()
    link = Link()
    await loop.connect_accepted_socket(lambda: link, socket.socket(fileno=link_fd))
    root = logging.getLogger()
    root.handlers[:] = [LinkLog(link)]
    root.setLevel(logging.INFO)
    session = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False)

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        await expect(request)  # (the server's router does it for every request, whatever it then answers)
        name = endpoint_of(request)
        if name is None:
            if request.path.startswith("/hooks"):
                raise web.HTTPNotFound()  # as the server answers (its guard lets /hooks through to the router's 404)
            return await relay(request)  # (never a /hooks/ target: the server would hand it back to a worker)
        cfg = link.configs.config_for(name)
        took = await take(request, cfg, link.configs.secrets_of_others(name), body_limit, idle_s)
        try:
            plan = await link.ask(took)
        except ConnectionError:
            return web.json_response({"status": "error", "message": "katya-tui is stopping"}, status=503)
        except NotRecorded:  # aiohttp's answer to a handler that failed in the server (which logged it)
            failed = web.Response(status=500, text="500 Internal Server Error\n\nServer got itself in trouble")
            failed.force_close()
            return failed
        return await answer(request, plan, took.body.truncated, asyncio.sleep)

    async def relay(request: web.BaseRequest) -> web.StreamResponse:
        """A request for the server (API, health) that came on a connection that began with a webhook."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return web.json_response({"success": False, "error": {"code": "MISDIRECTED", "message":
                                      "open a new connection for a WebSocket"}}, status=421)  # fmt: skip
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers
                   if k.decode("latin-1").lower() not in RELAY_SKIPS or k.lower() == b"host"]  # fmt: skip
        if request.content_length is not None:
            headers.append(("Content-Length", str(request.content_length)))
        target = request.raw_path if request.raw_path.startswith("/") else request.rel_url.raw_path_qs  # absolute-form
        # the target as sent (encoded=True: yarl would resolve `..` and decode %-escapes, which can make a /hooks/
        # path the server hands back to a worker), the body streamed (the server applies its own size limit)
        async with session.request(request.method, URL(server_url + target, encoded=True), headers=headers,
                                   data=request.content if request.body_exists else None,
                                   allow_redirects=False) as r:  # fmt: skip
            body = await r.read()
            out = [(k, v) for k, v in r.headers.items() if k.lower() not in HOP_BY_HOP]
            if request.method == "HEAD" and "Content-Length" in r.headers:
                out.append(("Content-Length", r.headers["Content-Length"]))  # (no body to count it from)
            return web.Response(status=r.status, body=body, headers=out)

    # aiohttp's low-level server: one handler, no router or middlewares (only /hooks comes here on purpose)
    runner = web.ServerRunner(web.Server(handle, access_log=None), handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
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
                task = loop.create_task(loop.connect_accepted_socket(runner.server, conn))
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
        await runner.cleanup()  # the requests under way finish (1 s at most), their answers still come over the link
        await session.close()


def main(argv: list[str]) -> None:
    gc.freeze()  # what the imports made lives as long as the process; requests leave almost no cyclic garbage
    gc.set_threshold(10_000, 20, 100)
    asyncio.run(run(int(argv[0]), int(argv[1]), argv[2], int(argv[3]), float(argv[4])))


if __name__ == "__main__":
    main(sys.argv[1:])
