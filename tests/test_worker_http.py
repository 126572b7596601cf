"""The receiver worker's HTTP server (`receiver/workers/http.py`) driven by hand: what a socket test cannot time (a chaos
hold past the keep-alive, the sweep, what is served at STOP), flow control, and the endpoint a target routes to
against aiohttp's router. Its answers on the wire are compared with aiohttp's own server in
test_receiver_parity.py."""

from __future__ import annotations

import asyncio
import socket
import time

import httptools
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from parity_support import IDLE_S, LIMIT, OK, post, read_answer
from receiver_support import running
from test_receiver_workers import ready
from yarl import URL

from katya_tui.core.receiver import HOOK_ROUTES
from katya_tui.core.receiver.workers.head import Request
from katya_tui.core.receiver.workers.hooks import endpoint_of
from katya_tui.core.receiver.workers.http import KEEPALIVE_S, Connection, Server


class Transport(asyncio.Transport):
    """Enough of a transport to drive a `Connection` by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.out = b""
        self.closed = self.aborted = self.eof = False

    def get_extra_info(self, name, default=None):
        return ("127.0.0.1", 5555) if name == "peername" else default

    def write(self, data) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True


def by_hand(serve=lambda conn, req: None) -> tuple[Connection, Transport]:
    conn = Connection(Server(serve, LIMIT, IDLE_S))
    conn.connection_made(transport := Transport())
    return conn, transport


async def test_a_417_whose_body_never_comes_ends_the_connection_after_the_idle_timeout():
    conn, transport = by_hand()
    conn.data_received(post("expect-417", b"12345", b"Expect: something\r\n")[:-5])
    assert transport.out.startswith(b"HTTP/1.1 417") and not transport.closed  # (its body may yet come)
    conn.check(time.monotonic() + IDLE_S + 0.1)
    assert transport.closed


async def test_a_chaos_hold_longer_than_the_keep_alive_is_held_to_its_end():
    # the sweep closed a held connection KEEPALIVE_S (75 s) after its last answer, whatever its hold (to 1 h)
    conn, transport = by_hand()
    conn.data_received(post("hold"))
    conn.drop(after_s=3600)
    conn.check(time.monotonic() + KEEPALIVE_S + 1)
    assert not transport.closed and not transport.aborted
    idle, transport = by_hand()
    idle.check(time.monotonic() + KEEPALIVE_S + 1)
    assert transport.closed  # (an idle connection still goes)


async def test_a_request_on_its_way_when_the_connection_closes_after_an_answer_is_not_recorded():
    # it was recorded as cut off by the client, when this end had closed the connection
    served: list[bytes] = []
    conn, transport = by_hand(lambda conn, req: served.append(req.target))
    conn.data_received(post("first") + post("second", b"1234")[:-2])
    assert served == [b"/hooks/first"]
    conn.respond(500, [], b"", close=True)  # (as the worker answers a request the server failed to record)
    assert transport.closed or transport.eof
    conn.connection_lost(None)
    assert served == [b"/hooks/first"]


async def test_a_client_that_does_not_read_its_answers_is_not_served_more_until_it_does():
    # the worker wrote every answer into the transport's buffer, however far behind the client was
    served: list[int] = []
    answer = b"a" * 65536

    def serve(conn: Connection, req: Request) -> None:
        served.append(int(req.target.rsplit(b"/", 1)[1]))
        conn.respond(200, [], answer)

    def connection() -> Connection:
        conn = server.connection()
        made = conn.connection_made

        def connection_made(transport: asyncio.BaseTransport) -> None:  # small buffers: a test of seconds
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
            made(transport)

        conn.connection_made = connection_made
        return conn

    server = Server(serve, LIMIT, 30.0)
    listener = await asyncio.get_running_loop().create_server(connection, "127.0.0.1", 0)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    client.connect(listener.sockets[0].getsockname())
    reader, writer = await asyncio.open_connection(sock=client)
    count = 200  # 13 MB of answers
    try:
        writer.write(b"".join(b"GET /hooks/x/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(count)))
        await asyncio.sleep(0.2)
        assert len(served) < 20
        async with asyncio.timeout(10):
            for i in range(count):
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200"), i
                assert await reader.readexactly(len(answer)) == answer
        assert served == list(range(count))  # every one, in order
    finally:
        writer.close()
        listener.close()
        await server.close(0.1)


async def test_a_request_whose_body_is_arriving_when_the_worker_stops_is_read_and_answered(settings):
    # at STOP the worker closed every connection with no answer owed, one whose body was arriving too: it was
    # recorded as cut off by the client, which got no answer
    async with running(settings, workers=1) as svc:
        await ready(svc)
        arriving = await asyncio.open_connection("127.0.0.1", svc.port)
        idle = await asyncio.open_connection("127.0.0.1", svc.port)
        request = post("stopping", b"0123456789")
        arriving[1].write(request[:-5])
        idle[1].write(post("idle"))
        async with asyncio.timeout(5):
            assert await read_answer(idle[0]) == OK
            stopping = asyncio.ensure_future(svc.stop())
            assert await idle[0].read() == b""  # the worker has its STOP: it closed what was idle
            arriving[1].write(request[-5:])
            answer = await read_answer(arriving[0])
            assert await arriving[0].read() == b""
            for _, writer in (arriving, idle):
                writer.close()
            await stopping
        assert answer == OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")


async def test_requests_read_behind_an_answer_under_way_at_stop_are_answered_too():
    # at STOP the answer under way closed the connection: the requests read behind it were never served
    served: list[bytes] = []
    conn, transport = by_hand(lambda conn, req: served.append(req.target))
    conn.data_received(post("a") + post("b") + post("c"))
    conn.server.closing = True  # (as `Server.close` does, then:)
    conn.close_when_idle()
    while conn.current is not None:
        conn.respond(200, [], b"")
    assert served == [b"/hooks/a", b"/hooks/b", b"/hooks/c"]
    assert transport.out.count(b"HTTP/1.1 200 OK\r\n") == 3 and transport.out.count(b"Connection: close") == 1
    assert transport.eof  # (closing)


async def _nothing(request: web.Request) -> web.Response:
    return web.Response()


TARGET_CHARS = "abcXYZ019-._~%/!$&'()*+,;=:@?#" + "%0a%2F%25%2f%00%ff%e2%82%ac%20%zz"


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    start=st.sampled_from(["/hooks/", "/hooks", "/hook/", "/hooks//", "/hooks/%2F"]),
    tail=st.lists(st.sampled_from(TARGET_CHARS), max_size=14).map("".join),
)
@example(start="/hooks/", tail="a/%0a")  # an escaped newline in the sub-path
@example(
    start="/hooks/%2F", tail="%a0/x?y#z"
)  # an escaped slash in the name, a stray escape, query, fragment
async def test_the_endpoint_of_a_target_is_the_one_the_server_s_router_finds(start, tail):
    # the server process routes /hooks connections to this server (in a worker, or in-process) by the first
    # request only; later requests on them must reach the endpoint aiohttp's router would give them
    target = start + tail
    try:
        head = b"POST %s HTTP/1.1\r\nHost: x\r\n\r\n" % target.encode()
        httptools.HttpRequestParser(type("Quiet", (), {})()).feed_data(head)
    except httptools.HttpParserError:
        return  # not a target llhttp takes: never served
    app = web.Application()
    for route in HOOK_ROUTES:
        app.router.add_route("*", route, _nothing)
    path, _, rest = target.partition("?")
    path, hashed, fragment = path.partition("#")
    query, _, after = ("", "", "") if hashed else rest.partition("#")
    url = URL.build(
        path=path, query_string=query, fragment=fragment or after, encoded=True
    )  # as aiohttp's parser
    found = await app.router.resolve(make_mocked_request("POST", "/").clone(rel_url=url))
    assert endpoint_of(target) == (found.get("endpoint") if found.http_exception is None else None)
