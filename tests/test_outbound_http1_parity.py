"""The lean HTTP/1.1 client (`http1.py`) against the aiohttp path that HTTPS takes, exchange for exchange: the same
request on the wire, and the same `OutboundResult` (status, reason, headers, body, error class) from real servers
a developer runs (aiohttp's, Python's http.server with HTTP/1.0 and HTTP/1.1) and from raw ones."""

from __future__ import annotations

import asyncio
import http.server
import threading

import pytest
from aiohttp import web
from raw_server import RawServer, on_both_paths, serve_app

from katya_tui.core import outbound


async def both(
    method: str, url: str, headers: list, body: bytes, timeout: float = 4
) -> list[outbound.OutboundResult]:
    """The same request through the lean client, then through aiohttp (each on a client of its own)."""
    return await on_both_paths(lambda client: client.send(method, url, headers, body, timeout))


class Recorder(RawServer):
    """A raw server that keeps each request's bytes (head and Content-Length body) and answers 200, empty."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
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
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize(
    "method", ["GET", "HEAD", "OPTIONS", "DELETE", "POST", "PUT", "PATCH", "PURGE", "post", "head"]
)
@pytest.mark.parametrize("body", [b"", b"{}"])
async def test_the_same_request_goes_out_on_both_paths(method, body):
    """Byte for byte: method (upper-cased, as aiohttp sends it), target, Host, headers as given, and
    `Content-Length: 0` for an empty body on every method but GET, HEAD, OPTIONS and TRACE (aiohttp's rule)."""
    recorder = Recorder()
    async with recorder as base:
        fast, slow = await both(
            method, base + "/p/é?q=1&r=a b", [("X-A", "1"), ("X-A", "2"), ("X-Ü", "é")], body
        )
    assert (fast.status, slow.status) == (200, 200)
    assert len(recorder.requests) == 2
    assert recorder.requests[0] == recorder.requests[1]


def _std_server(protocol: str):
    """Python's http.server (threaded) speaking `protocol`; HTTP/1.0 answers without Content-Length, to the close."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = protocol

        def _any(self) -> None:
            got = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = int(self.path.strip("/").split("?")[0] or 200)
            out = b"" if status in (204, 304) else b"seen " + got + b" " + self.path.encode()
            if self.path.startswith("/200?big"):
                out = b"x" * (outbound.BODY_CAP + 5000)
            self.send_response(status)
            self.send_header("X-Many", "1")
            self.send_header("X-Many", "2")
            if protocol == "HTTP/1.1" and status not in (204, 304):
                self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def _aiohttp_server():
    async def handle(request: web.Request) -> web.StreamResponse:
        got = await request.read()
        status = int(request.path.strip("/") or 200)
        if "big" in request.query:
            return web.Response(body=b"x" * (outbound.BODY_CAP + 5000))
        if "chunked" in request.query:
            response = web.StreamResponse(headers={"X-Many": "1"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for piece in (b"seen ", got, b" ", request.path_qs.encode()):
                await response.write(piece)
            await response.write_eof()
            return response
        body = None if status in (204, 304) else b"seen " + got + b" " + request.path_qs.encode()
        return web.Response(status=status, body=body, headers=[("X-Many", "1"), ("X-Many", "2")])

    return await serve_app(handle)


EXCHANGES = [
    ("POST", "/200", b'{"a": 1}'),
    ("GET", "/200?q=1", b""),
    ("HEAD", "/200", b""),
    ("DELETE", "/202", b""),
    ("PUT", "/204", b"x"),
    ("GET", "/304", b""),
    ("POST", "/404", b"{}"),
    ("POST", "/500", b"{}"),
    ("GET", "/200?big", b""),
    ("POST", "/200?chunked", b"hello"),
    ("PATCH", "/201", b"\xff\xfe"),
]


@pytest.mark.parametrize("kind", ["aiohttp", "http.server HTTP/1.0", "http.server HTTP/1.1"])
async def test_real_servers_give_the_same_result_on_both_paths(kind):
    if kind == "aiohttp":
        runner, port = await _aiohttp_server()
    else:
        std = _std_server(kind.split()[1])
        port = std.server_address[1]
    try:
        for method, path, body in EXCHANGES:
            fast, slow = await both(method, f"http://127.0.0.1:{port}{path}", [("X-Test", "1")], body)
            for r in (fast, slow):
                r.headers = [h for h in r.headers if h[0].lower() != "date"]  # (the second may have turned)
            seen = (fast.status, fast.reason, fast.headers, fast.body, fast.truncated, fast.error_class)
            assert seen == (
                slow.status,
                slow.reason,
                slow.headers,
                slow.body,
                slow.truncated,
                slow.error_class,
            ), path
            assert fast.status is not None and fast.latency_ms > 0
    finally:
        if kind == "aiohttp":
            await runner.cleanup()
        else:
            std.shutdown()
            std.server_close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK",
        b"HTTP/1.1 200\r\nContent-Length: 2\r\nX-Empty:\r\nX-Utf: \xc3\xa9\r\n\r\nOK",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nOK",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n"
        + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 1000) for i in range(60))
        + b"Content-Length: 2\r\n\r\nOK",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\n\nOK",  # lines ended by bare LFs, as some servers send
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n",  # a space after a size
    ],
)
async def test_raw_answers_give_the_same_result_on_both_paths(answer):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        fast, slow = await both("POST", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/", [], b"{}")
    finally:
        server.close()
    assert fast.status is not None
    assert (fast.status, fast.reason, fast.headers, fast.body, fast.truncated, fast.error_class) == (
        slow.status,
        slow.reason,
        slow.headers,
        slow.body,
        slow.truncated,
        slow.error_class,
    )


@pytest.mark.parametrize("close", [False, True])
async def test_an_answer_before_the_whole_body_is_read_is_taken_on_both_paths(close):
    """A server that refuses a large body at its head (413) before reading it: the answer counts, and the
    connection with the body's unsent rest is not used again."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 413 Too Large\r\nContent-Length: 4\r\n%s\r\nnope" % (b"Connection: close\r\n" * close)
        )
        await writer.drain()
        while await reader.read(1 << 16):  # then reads the rest away, as servers that answer early do
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        fast, slow = await both(
            "POST", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/", [], b"z" * 3_000_000
        )
    finally:
        server.close()
    assert (
        (fast.status, fast.reason, fast.body)
        == (slow.status, slow.reason, slow.body)
        == (413, "413 Too Large", "nope")
    )
