"""The accept loop used when there are receiver workers: this process accepts every connection, peeks at its
first request line, and hands a connection that begins with `/hooks/` to a worker; any other connection, and a
hooks connection no worker can take now, is served here by aiohttp (whose routes include `/hooks` too)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
from collections.abc import Callable

log = logging.getLogger(__name__)

PEEK = 16  # bytes of a connection's start read to route it
UNDECIDED_WAIT_S = 0.005  # poll interval while a connection's first bytes are still too few to route it
UNDECIDED_LIMIT_S = 10.0  # past this, this process serves it (aiohttp has its own slow-client handling)


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


def _sent_all(conn: socket.socket) -> bool:
    """True when the client has shut its side: what was peeked is all there will be (serve it here at once)."""
    poll = select.poll()
    poll.register(conn.fileno(), getattr(select, "POLLRDHUP", 0x2000))
    return bool(poll.poll(0))


class Router:
    """Accepts on `socks`; `hand(conn)` passes a hooks connection to a worker (False: none took it); `serve`
    is the protocol factory of this process's aiohttp server."""

    def __init__(
        self,
        socks: list[socket.socket],
        hand: Callable[[socket.socket], bool],
        serve: Callable[[], asyncio.Protocol],
    ) -> None:
        self.socks = socks
        self.hand = hand
        self.serve = serve
        self.undecided: set[socket.socket] = set()  # accepted, first bytes not yet read
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in self.socks:
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._accept, sock)

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
            self.undecided.add(conn)
            loop.add_reader(conn.fileno(), self._route, conn, loop.time())

    def _route(self, conn: socket.socket, since: float) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(conn.fileno())
        if not self.socks:
            return  # stopped meanwhile (and the connection closed)
        try:
            head = conn.recv(PEEK, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            loop.add_reader(conn.fileno(), self._route, conn, since)
            return
        except OSError:
            head = b""
        if not head:  # closed before sending anything
            self.undecided.discard(conn)
            conn.close()
            return
        to_hooks = hooks_bound(head)
        if to_hooks is None and loop.time() - since < UNDECIDED_LIMIT_S and not _sent_all(conn):
            loop.call_later(UNDECIDED_WAIT_S, self._recheck, conn, since)
            return
        self.undecided.discard(conn)
        if to_hooks and self.hand(conn):
            conn.close()  # the worker has its own copy now
            return
        task = loop.create_task(loop.connect_accepted_socket(self.serve, conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _recheck(self, conn: socket.socket, since: float) -> None:
        if conn.fileno() >= 0:
            asyncio.get_running_loop().add_reader(conn.fileno(), self._route, conn, since)

    def close(self) -> None:
        """Stop accepting (as a site does first when the server stops): new connections are refused."""
        loop = asyncio.get_running_loop()
        for sock in self.socks:
            loop.remove_reader(sock.fileno())
            sock.close()
        self.socks = []
        for conn in self.undecided:
            with contextlib.suppress(Exception):
                loop.remove_reader(conn.fileno())
            conn.close()
        self.undecided.clear()
