"""A receiver worker process: it serves `/hooks` (`hooks.py`) on the connections the server process hands it, and
asks the server over its link what to answer each request (the receiver's record step decides, stores and
publishes there).

Started by `pool.py` as `python -m katya_tui.core.receiver.workers.process HANDOFF_FD LINK_FD URL BODY_LIMIT IDLE_S`;
it ends when the server closes the link.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import socket
import sys
from typing import cast

from ...loops import fast_loop
from ..endpoints import ConfigSet
from ..intake import Intake
from .hooks import HookServer
from .wire import CONFIGS, HELLO, LOG, PLAN, STOP, Frames, frame, read_plan, take_frame


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
        self.transport = cast(asyncio.Transport, transport)  # (a stream protocol's transport)
        self.transport.write(frame(HELLO, {}))

    def data_received(self, data: bytes) -> None:
        for kind, h, raw in self._frames.feed(data):
            if kind == PLAN:
                fut = self._waiting.pop(h["n"], None)
                if fut is None or fut.done():
                    continue
                if "error" in h:  # the server could not record it
                    fut.set_exception(RuntimeError(h["error"]))
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

    def ask(self, took: Intake) -> asyncio.Future:
        """The server's `Plan` for a request taken in, to come."""
        n = next(self._numbers)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[n] = fut
        if self.transport is None or self.transport.is_closing():
            fut.set_exception(ConnectionError("the server process went away"))
            return fut
        self.transport.write(
            take_frame(n, took)
        )  # at once: the server starts on it while this process reads on
        return fut


async def run(handoff_fd: int, link_fd: int, server_url: str, body_limit: int, idle_s: float) -> None:
    loop = asyncio.get_running_loop()
    link = Link()
    await loop.connect_accepted_socket(lambda: link, socket.socket(fileno=link_fd))
    root = logging.getLogger()
    root.handlers[:] = [LinkLog(link)]
    root.setLevel(logging.INFO)
    hooks = HookServer(lambda: link.configs, link.ask, server_url, body_limit, idle_s)
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
                task = loop.create_task(loop.connect_accepted_socket(hooks.connection, conn))
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
        await hooks.close(
            1.0
        )  # the requests under way finish (1 s at most); their answers still come over the link


def main(argv: list[str]) -> None:
    gc.freeze()  # what the imports made lives as long as the process; requests leave almost no cyclic garbage
    gc.set_threshold(10_000, 20, 100)
    with asyncio.Runner(loop_factory=fast_loop()) as runner:
        runner.run(run(int(argv[0]), int(argv[1]), argv[2], int(argv[3]), float(argv[4])))


if __name__ == "__main__":
    main(sys.argv[1:])
