"""Receiver workers: with `workers = N`, this process accepts every connection itself, peeks at its first request
line, and hands connections that begin with `/hooks/` to N worker processes (`worker.py`). A worker reads, hashes
and verifies each request, then sends it over its link; `Receiver.record` decides the answer, publishes the event
and stores the capture here, as for a request taken in here. So the HTTP work and the signature checks use other
cores while the store, the bus and the dispatcher keep one owner. Other connections (API, WebSocket, health) and
every connection while no worker is ready are served by this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import subprocess
import sys
import time
from typing import Any

from aiohttp import web

from .wire import CONFIGS, HELLO, TAKE, Frames, frame, plan_frame, read_take

log = logging.getLogger(__name__)

UNDECIDED_WAIT_S = 0.005  # poll interval while a connection's first bytes are still too few to route it
UNDECIDED_LIMIT_S = 10.0  # past this, this process serves it (aiohttp has its own slow-client handling)
RESPAWN_S = (1.0, 30.0)  # a worker that ended is started again after 1 s, doubling up to 30 s while it keeps dying


def hooks_bound(head: bytes) -> bool | None:
    """True when the first bytes of a connection start a request for `/hooks/...`, False when they do not, None
    while too few have arrived to tell."""
    sp = head.find(b" ")
    if sp < 0:
        return None if len(head) < 16 else False
    target = head[sp + 1 : sp + 8]
    if b"/hooks/".startswith(target):
        return None if len(target) < 7 else True
    return False


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

    def data_received(self, data: bytes) -> None:
        """Decide and keep every request of this read at once, then answer them all after one commit."""
        receiver = self.pool.receiver
        answers = []
        for kind, h, raw in self._frames.feed(data):
            if kind == TAKE:
                self.taken += 1
                n, took = read_take(h, raw)
                cfg = receiver.endpoints.config_for(took.cap.endpoint)
                plan = receiver.decide(cfg, took)
                if plan.delay_ms:
                    self.pool.spawn(self._later(n, cfg, took, plan))
                    continue
                receiver.keep(cfg, took, plan)
                answers.append(plan_frame(n, plan))
            elif kind == HELLO:
                self.ready = True
        if answers:
            self.pool.spawn(self._answer(b"".join(answers)))

    async def _later(self, n: int, cfg: dict[str, Any], took: Any, plan: Any) -> None:
        receiver = self.pool.receiver
        await receiver._sleep(plan.delay_ms / 1000)
        receiver.keep(cfg, took, plan)
        await self._answer(plan_frame(n, plan))

    async def _answer(self, frames: bytes) -> None:
        await self.pool.receiver.service.store.commit()  # every capture of these answers is on disk first
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frames)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ready = False
        self.transport = None
        if self.handoff is not None:
            self.handoff.close()
        if not self.pool.closing:
            self.pool.ended(self)

    def send_configs(self) -> None:
        if self.transport is not None:
            self.transport.write(frame(CONFIGS, self.pool.receiver.endpoints.list()))

    def hand(self, conn: socket.socket) -> bool:
        try:
            socket.send_fds(self.handoff, [b"c"], [conn.fileno()])  # type: ignore[arg-type]
        except OSError:
            return False
        return True


class Workers:
    """N worker processes and the accept loop that routes connections between them and this process."""

    def __init__(self, receiver: Any, count: int, sock: socket.socket, server: web.Server) -> None:
        """Accept on `sock` (bound, listening); serve what stays here with `server`."""
        self.receiver = receiver
        self.count = count
        self.closing = False
        self.workers: list[Worker] = []
        self._turn = itertools.count()
        self._sock: socket.socket | None = sock
        self._server = server
        self._tasks: set[asyncio.Task] = set()
        self._undecided: set[socket.socket] = set()  # accepted, first bytes not yet read
        self._url = ""
        self._delay = RESPAWN_S[0] / 2
        self._respawns: dict[int, asyncio.TimerHandle] = {}

    async def start(self, url: str) -> None:
        """Start the workers (they relay what is not theirs to `url`, this server), then accept."""
        if self._sock is None:
            return
        self._url = url
        self._sock.setblocking(False)
        for slot in range(self.count):
            await self._launch(slot)
        asyncio.get_running_loop().add_reader(self._sock.fileno(), self._accept)

    async def _launch(self, slot: int) -> None:
        if self.closing:
            return
        settings = self.receiver.service.settings
        w = Worker(self, slot)
        handoff, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        link, their_link = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        argv = [sys.executable, "-m", "katya_tui.core.receiver.worker", str(theirs.fileno()), str(their_link.fileno()),
                self._url, str(settings.body_limit), str(self.receiver.body_idle_timeout)]  # fmt: skip
        w.proc = subprocess.Popen(argv, pass_fds=(theirs.fileno(), their_link.fileno()), stdin=subprocess.DEVNULL)
        theirs.close()
        their_link.close()
        w.handoff = handoff
        w.transport, _ = await asyncio.get_running_loop().connect_accepted_socket(lambda: w, link)  # type: ignore[assignment]
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
        log.warning("receiver worker %s ended (exit code %s) after %.0f s; starting another in %g s",
                    w.proc and w.proc.pid, code, lived, self._delay)  # fmt: skip
        if w.proc is not None:
            self.spawn(asyncio.to_thread(w.proc.wait))  # reap it
        self._respawns[w.slot] = asyncio.get_running_loop().call_later(
            self._delay, lambda: self.spawn(self._launch(w.slot)) if not self.closing else None)

    def configs_changed(self) -> None:
        for w in self.workers:
            w.send_configs()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(64):
            try:
                conn, _addr = self._sock.accept()  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, for one: try again on the next readiness
                log.warning("accept failed: %s", exc)
                return
            conn.setblocking(False)
            self._undecided.add(conn)
            loop.add_reader(conn.fileno(), self._route, conn, loop.time())

    def _route(self, conn: socket.socket, since: float) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(conn.fileno())
        if self._sock is None:
            return  # stopped meanwhile (and the connection closed)
        try:
            head = conn.recv(16, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            loop.add_reader(conn.fileno(), self._route, conn, since)
            return
        except OSError:
            self._undecided.discard(conn)
            conn.close()
            return
        if not head:
            self._undecided.discard(conn)
            conn.close()  # closed before sending anything
            return
        to_hooks = hooks_bound(head)
        if to_hooks is None and loop.time() - since < UNDECIDED_LIMIT_S:
            loop.call_later(UNDECIDED_WAIT_S, self._recheck, conn, since)
            return
        self._undecided.discard(conn)
        if to_hooks:
            ready = [w for w in self.workers if w.ready]
            if ready and ready[next(self._turn) % len(ready)].hand(conn):
                conn.close()  # the worker has its own copy now
                return
        self.spawn(loop.connect_accepted_socket(self._server, conn))

    def _recheck(self, conn: socket.socket, since: float) -> None:
        if conn.fileno() >= 0:
            asyncio.get_running_loop().add_reader(conn.fileno(), self._route, conn, since)

    def close_listener(self) -> None:
        """Stop accepting (as a site does first when the server stops): new connections are refused."""
        if self._sock is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        for conn in self._undecided:
            with contextlib.suppress(Exception):
                loop.remove_reader(conn.fileno())
            conn.close()
        self._undecided.clear()

    async def stop(self) -> None:
        self.closing = True
        self.close_listener()
        for handle in self._respawns.values():
            handle.cancel()
        for w in self.workers:
            if w.transport is not None:
                w.transport.close()
            if w.handoff is not None:
                w.handoff.close()
        for w in self.workers:
            if w.proc is not None:
                try:
                    await asyncio.to_thread(w.proc.wait, 3)
                except subprocess.TimeoutExpired:
                    w.proc.kill()
                    await asyncio.to_thread(w.proc.wait)
        self.workers = []
