"""The keep-alive pool under `Outbound.send` for http:// URLs (`http1.py`), against scripted raw servers: framing
(length, chunked, to the end), interim answers, keep-alive reuse, closes, cut bodies, bad answers, header injection,
timeouts and connecting."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading

import pytest
from raw_server import RawServer, on_both_paths

from katya_tui.core import http1, outbound


class Scripted(RawServer):
    """A raw TCP server: reads each request (head and Content-Length body) and answers with the next script item,
    written in pieces of `piece` bytes. (answer, "close") closes the connection after answering, (answer, "hold")
    then stays silent, "drop" closes it instead of answering (a kept connection the server gave up on just as
    the request went out)."""

    def __init__(self, answers: list, piece: int = 0) -> None:
        self.answers = list(answers)
        self.piece = piece
        self.requests: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0)
                if answer == "drop":
                    break
                close = isinstance(answer, tuple) and answer[1] == "close"
                data = answer[0] if isinstance(answer, tuple) else answer
                step = self.piece or len(data) or 1
                for i in range(0, len(data), step):
                    writer.write(data[i : i + step])
                    await writer.drain()
                    if self.piece:
                        await asyncio.sleep(0.001)
                if close:
                    break
                if isinstance(answer, tuple) and answer[1] == "hold":
                    await asyncio.sleep(5)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nOK"


@pytest.fixture
async def client():
    c = outbound.Outbound()
    yield c
    await c.aclose()


async def test_chunked_answer_with_extensions_and_trailers(client):
    chunked = (
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    async with Scripted([chunked, OK], piece=3) as base:
        r = await client.send("POST", base + "/c", [], b"{}", 5)
        again = await client.send("POST", base + "/c", [], b"{}", 5)
    assert (r.status, r.body, r.reason) == (201, "hello world", "201 Created")
    assert again.status == 200  # the connection was left clean for the next request


async def test_answer_to_the_end_of_the_connection():
    async with Scripted([(b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of it", "close")]) as base:
        c = outbound.Outbound()
        try:
            r = await c.send("GET", base + "/", [], b"", 5)
        finally:
            await c.aclose()
    assert (r.status, r.body, r.headers) == (200, "all of it", [["Server", "old"]])


async def test_interim_answers_are_skipped_and_no_body_answers_end_at_the_head(client):
    async with Scripted(
        [
            b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",  # HEAD: no body follows
            b"HTTP/1.1 204 No Content\r\n\r\n",
            OK,
        ]
    ) as base:
        first = await client.send("POST", base, [], b"{}", 5)
        head = await client.send("HEAD", base, [], b"", 5)
        empty = await client.send("DELETE", base, [], b"", 5)
        last = await client.send("POST", base, [], b"{}", 5)
    assert (first.status, first.body) == (200, "OK")
    assert (head.status, head.body, empty.status, empty.body, last.body) == (200, "", 204, "", "OK")


async def test_heads_with_bare_line_feeds_are_read(client):
    async with Scripted(
        [
            b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\n\nOK",
            (b"HTTP/1.1 202 A\nX: y\n\r\nto the end", "close"),
        ],
        piece=4,
    ) as base:
        lf = await client.send("POST", base, [], b"{}", 5)
        mixed = await client.send("GET", base, [], b"", 5)  # (no length: the body runs to the close)
    assert (lf.status, lf.body, lf.headers) == (200, "OK", [["Content-Length", "2"], ["X-A", "1"]])
    assert (mixed.status, mixed.reason, mixed.headers, mixed.body) == (
        202,
        "202 A",
        [["X", "y"]],
        "to the end",
    )


async def test_connections_are_kept_alive_unless_the_server_says_close(client):
    server = Scripted(
        [OK, OK, (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "close"), OK]
    )
    async with server as base:
        for _ in range(4):
            assert (await client.send("POST", base, [("X-N", "1")], b"{}", 5)).status == 200
    assert server.connections == 2
    assert server.requests[0].startswith(b"POST / HTTP/1.1\r\nHost: 127.0.0.1:")
    assert server.requests[0].endswith(b"\r\nX-N: 1\r\nContent-Length: 2\r\n\r\n{}")


async def test_body_over_the_cap_is_cut_and_the_connection_dropped(client):
    big = b"x" * (outbound.BODY_CAP + 10)
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
    server = Scripted([chunked, OK])
    async with server as base:
        r = await client.send("GET", base, [], b"", 5)
        after = await client.send("GET", base, [], b"", 5)
    assert r.truncated and len(r.body) == outbound.BODY_CAP and after.body == "OK"
    assert server.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_an_unreadable_answer_is_a_protocol_error(client, answer):
    async with Scripted([answer]) as base:
        r = await client.send("POST", base, [], b"{}", 5)
    assert r.status is None and r.error_class == "protocol" and "BadResponse" in r.reason


async def test_a_line_break_in_a_header_is_refused_before_sending(client):
    server = Scripted([OK])
    async with server as base:
        r = await client.send("POST", base, [("X-A", "1\r\nX-Injected: yes")], b"{}", 5)
    assert r.status is None and r.error_class == "protocol" and server.requests == []


async def test_a_half_answer_times_out(client):
    async with Scripted([(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "hold")]) as base:
        r = await client.send("POST", base, [], b"{}", 0.3)
    assert r.error_class == "timeout" and "0.3 s" in r.reason


async def test_a_stale_kept_connection_is_retried_for_idempotent_methods_only(client):
    server = Scripted([OK, "drop", OK, OK, "drop"])
    async with server as base:
        assert (await client.send("GET", base, [], b"", 5)).status == 200
        assert (await client.send("GET", base, [], b"", 5)).status == 200  # sent again on a new one
        assert (await client.send("POST", base, [], b"{}", 5)).status == 200
        # a POST is not repeated behind the caller's back (RFC 9112 9.3.1): an attempt that met a reset
        post = await client.send("POST", base, [], b"{}", 5)
    assert post.status is None and post.error_class == "reset"
    assert server.connections == 2 and len(server.requests) == 5


async def test_plain_http_goes_through_the_pool_and_head_requests_through_aiohttp(client):
    async with Scripted([OK, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"]) as base:
        assert (await client.send("POST", base, [], b"{}", 5)).body == "OK"
        assert (
            client.session is None and len(client.pool.idle[("127.0.0.1", int(base.rsplit(":", 1)[1]))]) == 1
        )
        head = await client.send("HEAD", base, [], b"", 5)
    assert (head.status, head.body) == (200, "") and client.session is not None


async def test_names_are_resolved_and_other_schemes_go_through_aiohttp():
    assert http1.target("https://example.com/") is None and http1.target("http://u:p@h/") is None
    assert http1.target("http://bücher.de/a b?x=é") == (
        "xn--bcher-kva.de",
        80,
        "xn--bcher-kva.de",
        "/a%20b?x=%C3%A9",
    )
    async with Scripted([OK]) as base:
        c = outbound.Outbound()
        try:
            r = await c.send("POST", base.replace("127.0.0.1", "localhost"), [], b"{}", 5)
        finally:
            await c.aclose()
    assert r.status == 200


def test_deadlines_are_kept_on_every_event_loop_the_client_meets():
    """One deadline check per pool, on the loop of the requests under way: a client used from a second loop
    (a closed first one) still times out, and still reuses nothing from the first."""
    client = outbound.Outbound()

    async def slow_answer() -> outbound.OutboundResult:
        async with Scripted([(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "hold")]) as base:
            return await client.send("POST", base, [], b"{}", 0.2)

    first = asyncio.run(slow_answer())
    second = asyncio.run(slow_answer())
    assert first.error_class == second.error_class == "timeout"


async def test_idle_connections_are_closed_once_their_keepalive_is_over(client):
    """A kept connection nobody uses is closed after `keepalive` s, as aiohttp does: a server that serves one
    connection at a time (http.server's HTTPServer with HTTP/1.1) is not held by it for ever."""
    client.pool.keepalive = 0.05
    ended = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        await reader.read()  # until the client closes its side
        ended.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        assert (await client.send("GET", base, [], b"", 5)).status == 200
        await asyncio.wait_for(ended.wait(), 10)
        assert not client.pool.open and not any(client.pool.idle.values())
    finally:
        server.close()


def test_the_pool_works_on_uvloop_the_loop_serve_runs_on():
    import uvloop

    async def twice() -> list[outbound.OutboundResult]:
        client = outbound.Outbound()
        try:
            async with Scripted([OK, OK]) as base:
                return [await client.send("POST", base, [], b"{}", 5) for _ in range(2)]
        finally:
            await client.aclose()

    assert [(r.status, r.body) for r in uvloop.run(twice())] == [(200, "OK"), (200, "OK")]


def test_a_client_kept_past_its_event_loop_works_on_the_next_one():
    """A connection kept idle on an event loop that ended is dropped, not closed through that loop (which
    raised 'Event loop is closed' out of `send`)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections open between requests

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    client = outbound.Outbound()
    try:
        first = asyncio.run(client.send("POST", base, [], b"{}", 5))
        second = asyncio.run(client.send("POST", base, [], b"{}", 5))
        asyncio.run(client.aclose())
    finally:
        server.shutdown()
        server.server_close()
    assert (first.status, second.status, second.error_class) == (200, 200, None)
    assert not client.pool.open


@pytest.mark.parametrize(
    "answer",
    [
        (
            b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64",
            "hold",
        ),  # an HTTP/2-only server's SETTINGS
        (
            b"\x15\x03\x01\x00\x02\x02\x32",
            "close",
        ),  # a TLS server's alert: an http:// URL for an https:// service
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "close"),  # the body cut short
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "close"),
        # chunk lines ended by bare LFs: llhttp takes them in heads only, on both paths
        (b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5;x=1\nhello\n0\n\n", "close"),
        # both framings at once may be a smuggling attempt or a broken proxy: refused (RFC 9112 6.1)
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            "close",
        ),
    ],
)
async def test_what_is_not_a_whole_http1_answer_fails_as_on_the_aiohttp_path(answer):
    """Not HTTP/1.x at all is a protocol error at its first bytes (it waited for the timeout or the close), and a
    body the connection cut short is a protocol error too, not 'closed before answering': both as aiohttp says."""

    async def send(client) -> outbound.OutboundResult:
        async with Scripted([answer]) as base:
            return await client.send("POST", base, [], b"{}", 4)

    fast, slow = await on_both_paths(send)
    assert (fast.status, fast.error_class) == (slow.status, slow.error_class) == (None, "protocol")
    assert fast.reason.startswith("BadResponse: ")


async def test_a_connection_given_up_is_closed_at_once_with_its_unsent_body(client):
    """A server that takes the connection but reads nothing (a process stopped in a debugger): after the timeout
    the connection is gone with the part of the body the kernel would not take, not kept until the server
    closes it, which a stopped one never does."""

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(deaf, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        r = await client.send("POST", url, [], b"z" * 20_000_000, 0.3)
        assert r.error_class == "timeout"
        for _ in range(500):  # connection_lost comes a loop turn or two after the close
            if not client.pool.open:
                break
            await asyncio.sleep(0.01)
        assert not client.pool.open
    finally:
        server.close()


async def test_the_pool_holds_no_more_connections_than_its_limit_and_aclose_ends_them_all():
    live: set[asyncio.StreamWriter] = set()
    peak = total = 0
    gone = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal peak, total
        live.add(writer)
        total += 1
        peak = max(peak, len(live))
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)
                await asyncio.sleep(0.005)  # a little work, so that requests overlap
                writer.write(OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            live.discard(writer)
            writer.close()
            if not live:
                gone.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    client = outbound.Outbound(max_connections=3)
    try:
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        results = await asyncio.gather(*[client.send("POST", base, [], b"{}", 5) for _ in range(40)])
        assert {r.status for r in results} == {200}
        assert peak == total == 3  # three at most, each used again
        await client.aclose()
        await asyncio.wait_for(gone.wait(), 5)
        assert not client.pool.open
        assert asyncio.all_tasks() == {asyncio.current_task()}
    finally:
        server.close()


async def test_localhost_resolving_to_ipv6_first_reaches_a_server_on_127_0_0_1_only(client, monkeypatch):
    loop = asyncio.get_running_loop()
    asked: list[str] = []

    async def getaddrinfo(host, port, **kwargs):
        asked.append(host)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    server = Scripted([OK])
    async with server as base:
        r = await client.send("POST", base.replace("127.0.0.1", "localhost"), [], b"{}", 5)
    assert (r.status, asked) == (200, ["localhost"])
    assert server.requests[0].startswith(b"POST / HTTP/1.1\r\nHost: localhost:")


async def test_an_ipv6_literal_is_reached_with_its_bracketed_host_header(client):
    seen = Scripted([OK])
    try:
        server = await asyncio.start_server(seen.handle, "::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        port = server.sockets[0].getsockname()[1]
        r = await client.send("POST", f"http://[::1]:{port}/x", [], b"{}", 5)
    finally:
        server.close()
    assert r.status == 200
    assert seen.requests[0].startswith(b"POST /x HTTP/1.1\r\nHost: [::1]:%d\r\n" % port)


async def test_a_head_with_some_bare_line_feeds_is_cut_at_its_own_end(client):
    """The end of a head is its first empty line, however its lines end: a CRLF head with one bare LF kept the
    header after it in the reason, and an LF head before a body holding CRLF CRLF was cut inside the body."""
    async with Scripted(
        [
            b"HTTP/1.1 200 OK\nX-A: 1\r\nContent-Length: 2\r\n\r\nOK",
            b"HTTP/1.1 201 Made\nContent-Length: 6\n\nab\r\n\r\n",
            OK,
        ]
    ) as base:
        one = await client.send("GET", base, [], b"", 4)
        two = await client.send("GET", base, [], b"", 4)
        three = await client.send("GET", base, [], b"", 4)
    assert (one.status, one.reason, one.headers, one.body) == (
        200,
        "200 OK",
        [["X-A", "1"], ["Content-Length", "2"]],
        "OK",
    )
    assert (two.status, two.reason, two.headers, two.body) == (
        201,
        "201 Made",
        [["Content-Length", "6"]],
        "ab\r\n\r\n",
    )
    assert three.body == "OK"


async def test_an_address_that_never_answers_does_not_hold_up_the_next_one(client, monkeypatch):
    """Happy eyeballs, as on the aiohttp path: a name whose first address swallows the connection attempt (a
    broken IPv6 route, a firewall that drops) is reached on its next address 0.25 s later, not left to time out."""
    loop = asyncio.get_running_loop()
    connect = loop.sock_connect
    stuck: list[str] = []

    async def getaddrinfo(host, port, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    async def sock_connect(sock, address):
        if address[0] == "192.0.2.1" or address[1] == 9:
            stuck.append(address[0])
            await asyncio.Event().wait()  # no answer, ever
        return await connect(sock, address)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(loop, "sock_connect", sock_connect)
    async with Scripted([OK]) as base:
        r = await client.send("POST", base.replace("127.0.0.1", "dual.test"), [], b"{}", 4)
    assert (r.status, r.error_class, stuck) == (200, None, ["192.0.2.1"])
    # neither answering: the deadline ends the race, and no attempt is left running
    r = await client.send("POST", "http://dual.test:9/", [], b"{}", 0.6)
    assert r.error_class == "timeout"
    for _ in range(100):  # the cancelled attempts end a loop turn or two later
        if asyncio.all_tasks() == {asyncio.current_task()}:
            break
        await asyncio.sleep(0.01)
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")])
async def test_a_kept_connection_found_broken_on_writing_is_retried_for_idempotent_methods(
    client, monkeypatch, error
):
    """The server reset it just before our write (EPIPE or ECONNRESET from send): the request never got there."""
    server = Scripted([OK, OK, OK])
    async with server as base:
        assert (await client.send("GET", base, [], b"", 5)).status == 200
        exchange = http1.Connection.exchange
        broken: list[http1.Connection] = []

        def exchange_on_a_broken_socket(self, *args):
            waiter = exchange(self, *args)
            if not broken:  # the first (reused) connection: as a failed send reports it
                broken.append(self)
                self.connection_lost(error)
            return waiter

        monkeypatch.setattr(http1.Connection, "exchange", exchange_on_a_broken_socket)
        again = await client.send("GET", base, [], b"", 5)
    assert (again.status, len(broken)) == (200, 1)
