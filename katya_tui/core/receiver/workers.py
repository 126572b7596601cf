"""Receiver workers: with `workers = N`, this process accepts every connection itself, peeks at its first request
line, and hands connections that begin with `/hooks/` to N worker processes (`worker.py`). A worker reads, hashes
and verifies each request, then sends it over its link; `Receiver.decide`/`keep` choose the answer, publish the event
and store the capture here, as for a request taken in here. So the HTTP work and the signature checks use other
cores while the store, the bus and the dispatcher keep one owner. Other connections (API, WebSocket, health) and
every connection while no worker is ready are served by this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import select
import socket
import subprocess
import sys
import time
from typing import Any

from aiohttp import web

from .hook_server import HookServer
from .wire import CONFIGS, HELLO, LOG, PLAN, STOP, TAKE, Frames, frame, plan_frame, read_take

log = logging.getLogger(__name__)

UNDECIDED_WAIT_S = 0.005  # poll interval while a connection's first bytes are still too few to route it
UNDECIDED_LIMIT_S = 10.0  # past this, this process serves it (aiohttp has its own slow-client handling)
RESPAWN_S = (
    1.0,
    30.0,
)  # a worker that ended is started again after 1 s, doubling up to 30 s while it keeps dying
PEEK = 16  # bytes of a connection's start read to route it
STOP_S = 5.0  # a stopping worker finishes its requests (it gives them 1 s), then ends; past this it is killed


def hooks_bound(head: bytes) -> bool | None:
    """True when the first bytes of a connection start a request for `/hooks/...`, False when they do not, None
    while too few have arrived to tell."""
    sp = head.find(b" ")
    if sp < 0:
        return None if len(head) < PEEK else False
    target = head[sp + 1 : sp + 8]
    if b"/hooks/".startswith(target):
        if len(target) == 7:
            return True
        return (
            None if len(head) < PEEK else False
        )  # a long method (MKCALENDAR): the peek shows no more; serve it here
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
        answers: list[tuple[int, bytes]] = []
        for kind, h, raw in self._frames.feed(data):
            if kind == TAKE:
                self.taken += 1
                n = h["n"]
                try:
                    n, took = read_take(h, raw)
                    cfg = receiver.endpoints.config_for(took.cap.endpoint)
                    plan = receiver.decide(cfg, took)
                    if plan.delay_ms:
                        self.pool.spawn(self._later(n, cfg, took, plan))
                        continue
                    receiver.keep(cfg, took, plan)
                except (
                    Exception
                ) as exc:  # as a handler's exception in here: a 500 for this request, not the link
                    log.exception(
                        "receiver worker %s: a request could not be recorded", self.proc and self.proc.pid
                    )
                    answers.append((n, failed_frame(n, exc)))
                    continue
                answers.append((n, plan_frame(n, plan)))
            elif kind == HELLO:
                self.ready = True
            elif kind == LOG:
                logging.getLogger(h["name"]).log(
                    h["level"], "(receiver worker %s) %s", self.proc and self.proc.pid, h["message"]
                )
        if answers:
            self.pool.spawn(self._answer(answers))

    async def _later(self, n: int, cfg: dict[str, Any], took: Any, plan: Any) -> None:
        receiver = self.pool.receiver
        await receiver._sleep(plan.delay_ms / 1000)
        try:
            receiver.keep(cfg, took, plan)
        except Exception as exc:
            log.exception("receiver worker %s: a request could not be recorded", self.proc and self.proc.pid)
            await self._answer([(n, failed_frame(n, exc))])
            return
        await self._answer([(n, plan_frame(n, plan))])

    async def _answer(self, answers: list[tuple[int, bytes]]) -> None:
        try:
            await self.pool.receiver.service.store.commit()  # every capture of these answers is on disk first
            frames = b"".join(f for _, f in answers)
        except Exception as exc:  # not on disk: each gets a 500, as from `Receiver.record` in here
            log.exception("receiver worker %s: the captures could not be stored", self.proc and self.proc.pid)
            frames = b"".join(failed_frame(n, exc) for n, _ in answers)
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
        """Pass `conn` to the worker; False when it cannot take it now (its queue is full, or it ended)."""
        try:
            socket.send_fds(self.handoff, [b"c"], [conn.fileno()])  # type: ignore[arg-type]
        except OSError:  # BlockingIOError too: never wait here on a busy (or stopped) worker
            return False
        return True


def _sent_all(conn: socket.socket) -> bool:
    """True when the client has shut its side: what was peeked is all there will be (serve it here at once)."""
    poll = select.poll()
    poll.register(conn.fileno(), getattr(select, "POLLRDHUP", 0x2000))
    return bool(poll.poll(0))


def failed_frame(n: int, exc: Exception) -> bytes:
    """A PLAN frame that tells the worker its request failed here: it answers 500, as aiohttp does in here."""
    return frame(PLAN, {"n": n, "error": f"{type(exc).__name__}: {exc}"})


class Workers:
    """N worker processes and the accept loop that routes connections between them and this process."""

    def __init__(self, receiver: Any, count: int, socks: list[socket.socket], server: web.Server) -> None:
        """Accept on `socks` (bound, listening); serve what stays here with `server`, and `/hooks` connections no
        worker takes (none with `count` 0, or while one is replaced) with the same HTTP server a worker runs."""
        self.receiver = receiver
        settings = receiver.service.settings
        self.hooks = HookServer(
            lambda: receiver.endpoints,
            receiver.record_later,
            "",
            settings.body_limit,
            receiver.body_idle_timeout,
        )
        self.count = count
        self.closing = False
        self.workers: list[Worker] = []
        self._turn = itertools.count()
        self._socks: list[socket.socket] = socks
        self._server = server
        self._tasks: set[asyncio.Task] = set()
        self._undecided: set[socket.socket] = set()  # accepted, first bytes not yet read
        self._url = ""
        self._delay = RESPAWN_S[0] / 2
        self._respawns: dict[int, asyncio.TimerHandle] = {}
        self._launches: set[asyncio.Task] = set()  # workers being started again

    async def start(self, url: str) -> None:
        """Start the workers (they relay what is not theirs to `url`, this server), then accept."""
        self.hooks.server_url = url
        if not self._socks:
            return
        self._url = url
        for slot in range(self.count):
            await self._launch(slot)
        for sock in self._socks:
            sock.setblocking(False)
            asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, sock)

    async def _launch(self, slot: int) -> None:
        if self.closing:
            return
        settings = self.receiver.service.settings
        w = Worker(self, slot)
        handoff, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        handoff.setblocking(False)
        link, their_link = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        argv = [
            sys.executable,
            "-m",
            "katya_tui.core.receiver.worker",
            str(theirs.fileno()),
            str(their_link.fileno()),
            self._url,
            str(settings.body_limit),
            str(self.receiver.body_idle_timeout),
        ]
        # Its log records come over the link; whatever else it writes (a crash before its link is up) goes to a file
        # in the data dir, never to `serve`'s stdout or the terminal the TUI draws on.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with open(settings.data_dir / "receiver-workers.err", "ab") as err:
            w.proc = subprocess.Popen(
                argv,
                pass_fds=(theirs.fileno(), their_link.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
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
        log.warning(
            "receiver worker %s ended (exit code %s) after %.0f s; starting another in %g s",
            w.proc and w.proc.pid,
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

    def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(64):
            try:
                conn, _addr = sock.accept()
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
        if not self._socks:
            return  # stopped meanwhile (and the connection closed)
        try:
            head = conn.recv(PEEK, socket.MSG_PEEK)
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
        if to_hooks is None and loop.time() - since < UNDECIDED_LIMIT_S and not _sent_all(conn):
            loop.call_later(UNDECIDED_WAIT_S, self._recheck, conn, since)
            return
        self._undecided.discard(conn)
        if to_hooks:
            ready = [w for w in self.workers if w.ready]
            turn = next(self._turn)
            for i in range(len(ready)):
                if ready[(turn + i) % len(ready)].hand(conn):
                    conn.close()  # the worker has its own copy now
                    return
            self.spawn(
                loop.connect_accepted_socket(self.hooks.connection, conn)
            )  # no worker took it: served here
            return
        self.spawn(loop.connect_accepted_socket(self._server, conn))

    def _recheck(self, conn: socket.socket, since: float) -> None:
        if conn.fileno() >= 0:
            asyncio.get_running_loop().add_reader(conn.fileno(), self._route, conn, since)

    def close_listener(self) -> None:
        """Stop accepting (as a site does first when the server stops): new connections are refused."""
        if not self._socks:
            return
        loop = asyncio.get_running_loop()
        for sock in self._socks:
            loop.remove_reader(sock.fileno())
            sock.close()
        self._socks = []
        for conn in self._undecided:
            with contextlib.suppress(Exception):
                loop.remove_reader(conn.fileno())
            conn.close()
        self._undecided.clear()

    async def stop(self) -> None:
        """Stop accepting; each worker takes the connections handed to it, finishes its requests (their answers
        still come from here over the link, as a request in here is finished) and ends; then the links close."""
        self.closing = True
        self.close_listener()
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
        await self.hooks.close(1.0)  # the requests taken in here finish too
