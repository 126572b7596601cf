"""Receiver worker processes: with `workers = N`, the router (`router.py`) hands connections that begin with a
`/hooks/` request to N worker processes (`process.py`). A worker reads, hashes and verifies each request, then
sends it over its link; here `take_in` (the receiver's one record step) decides the answer, stores the capture
and publishes the event, as for a request taken in by this process's aiohttp server. So the HTTP work and the
signature checks use other cores while the store, the bus and the dispatcher keep one owner.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from ..intake import Intake
from ..respond import Plan
from .router import Router
from .wire import CONFIGS, HELLO, LOG, PLAN, STOP, TAKE, Frames, frame, plan_frame, read_take

log = logging.getLogger(__name__)

RESPAWN_S = (
    1.0,
    30.0,
)  # a worker that ended is started again after 1 s, doubling up to 30 s while it keeps dying
STOP_S = 5.0  # a stopping worker finishes its requests (it gives them 1 s), then ends; past this it is killed


def failed_frame(n: int, exc: Exception) -> bytes:
    """A PLAN frame that tells the worker its request failed here: it answers 500, as aiohttp does in here."""
    return frame(PLAN, {"n": n, "error": f"{type(exc).__name__}: {exc}"})


class Worker(asyncio.Protocol):
    """This process's end of one worker: the process, the socket connections go through, and the link."""

    def __init__(self, pool: Workers, slot: int) -> None:
        self.pool = pool
        self.slot = slot
        self.started = time.monotonic()
        self.ready = False
        self.taken = 0  # requests this worker took in
        self.proc: subprocess.Popen | None = None
        self.handoff: socket.socket | None = None
        self.transport: asyncio.Transport | None = None
        self._frames = Frames()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's transports are not asyncio's classes)

    def data_received(self, data: bytes) -> None:
        for kind, h, raw in self._frames.feed(data):
            if kind == TAKE:
                self.taken += 1
                self.pool.spawn(self._take(h, raw))
            elif kind == HELLO:
                self.ready = True
            elif kind == LOG:
                message = f"(receiver worker {self.pid}) {h['message']}"
                logging.getLogger(h["name"]).log(h["level"], "%s", message)

    async def _take(self, h: dict[str, Any], raw: bytes) -> None:
        n = h["n"]
        try:
            n, took = read_take(h, raw)
            answer = plan_frame(n, await self.pool.take_in(took))
        except Exception as exc:  # as a handler's exception in here: a 500 for this request, not the link
            log.exception("receiver worker %s: a request could not be recorded", self.pid)
            answer = failed_frame(n, exc)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ready = False
        self.transport = None
        if self.handoff is not None:
            self.handoff.close()
        if not self.pool.closing:
            self.pool.ended(self)

    def send_configs(self) -> None:
        if self.transport is not None:
            self.transport.write(frame(CONFIGS, self.pool.configs()))

    def hand(self, conn: socket.socket) -> bool:
        """Pass `conn` to the worker; False when it cannot take it now (its queue is full, or it ended)."""
        if not self.ready or self.handoff is None:
            return False
        try:
            socket.send_fds(self.handoff, [b"c"], [conn.fileno()])
        except OSError:  # BlockingIOError too: never wait here on a busy (or stopped) worker
            return False
        return True


class Workers:
    """N worker processes behind a `Router` on `socks`; what no worker takes is served by `serve` (aiohttp)."""

    def __init__(
        self,
        count: int,
        socks: list[socket.socket],
        serve: Callable[[], asyncio.Protocol],
        *,
        take_in: Callable[[Intake], Awaitable[Plan]],
        configs: Callable[[], list[dict[str, Any]]],
        body_limit: int,
        idle_s: Callable[[], float],
        err_path: Path,
    ) -> None:
        self.count = count
        self.take_in = take_in
        self.configs = configs
        self.body_limit = body_limit
        self.idle_s = idle_s
        self.err_path = err_path
        self.closing = False
        self.workers: list[Worker] = []
        self.router = Router(socks, self._hand, serve)
        self._turn = itertools.count()
        self._tasks: set[asyncio.Task] = set()
        self._url = ""
        self._delay = RESPAWN_S[0] / 2
        self._respawns: dict[int, asyncio.TimerHandle] = {}
        self._launches: set[asyncio.Task] = set()  # workers being started again

    async def start(self, url: str) -> None:
        """Start the workers (they relay what is not theirs to `url`, this server), then accept."""
        self._url = url
        for slot in range(self.count):
            await self._launch(slot)
        self.router.start()

    def _hand(self, conn: socket.socket) -> bool:
        turn = next(self._turn)
        n = len(self.workers)
        return any(self.workers[(turn + i) % n].hand(conn) for i in range(n))

    async def _launch(self, slot: int) -> None:
        if self.closing:
            return
        w = Worker(self, slot)
        handoff, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        handoff.setblocking(False)
        link, their_link = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fds = (theirs.fileno(), their_link.fileno())
        argv = [sys.executable, "-m", "katya_tui.core.receiver.workers.process", *map(str, fds), self._url]
        argv += [str(self.body_limit), str(self.idle_s())]
        # Its log records come over the link; whatever else it writes (a crash before its link is up) goes to a file
        # in the data dir, never to `serve`'s stdout or the terminal the TUI draws on.
        self.err_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.err_path, "ab") as err:
            w.proc = subprocess.Popen(
                argv, pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
            )
        theirs.close()
        their_link.close()
        w.handoff = handoff
        await asyncio.get_running_loop().connect_accepted_socket(lambda: w, link)
        w.send_configs()
        if slot < len(self.workers):
            self.workers[slot] = w
        else:
            self.workers.append(w)

    def ended(self, w: Worker) -> None:
        """A worker's link closed while running: this process takes /hooks in until a new worker is ready."""
        code = w.proc.poll() if w.proc is not None else None
        lived = time.monotonic() - w.started
        self._delay = RESPAWN_S[0] if lived > 60 else min(RESPAWN_S[1], self._delay * 2)
        log.warning(
            "receiver worker %s ended (exit code %s) after %.0f s; starting another in %g s",
            w.pid,
            code,
            lived,
            self._delay,
        )
        if w.proc is not None:
            self.spawn(asyncio.to_thread(w.proc.wait))  # reap it
        self._respawns[w.slot] = asyncio.get_running_loop().call_later(self._delay, self._relaunch, w.slot)

    def _relaunch(self, slot: int) -> None:
        if not self.closing:
            self._launches = {t for t in self._launches if not t.done()}
            self._launches.add(self.spawn(self._launch(slot)))

    def configs_changed(self) -> None:
        for w in self.workers:
            w.send_configs()

    def spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def close_listener(self) -> None:
        self.router.close()

    async def stop(self) -> None:
        """Stop accepting; each worker takes the connections handed to it, finishes its requests (their answers
        still come from here over the link) and ends; then the links close."""
        self.closing = True
        self.router.close()
        for handle in self._respawns.values():
            handle.cancel()
        if self._launches:  # a worker being started again: let it start, then stop it with the others
            await asyncio.gather(*self._launches, return_exceptions=True)
        for w in self.workers:
            if w.transport is not None and not w.transport.is_closing():
                w.transport.write(frame(STOP, {}))
        for w in self.workers:
            if w.proc is not None:
                try:
                    await asyncio.to_thread(w.proc.wait, STOP_S)
                except subprocess.TimeoutExpired:
                    w.proc.kill()
                    await asyncio.to_thread(w.proc.wait)
        for w in self.workers:
            if w.transport is not None:
                w.transport.close()
            if w.handoff is not None:
                w.handoff.close()
        self.workers = []
        if self._tasks:  # answers being recorded for requests the workers took in
            await asyncio.wait(self._tasks, timeout=2.0)
