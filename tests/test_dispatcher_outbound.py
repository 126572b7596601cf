"""Outbound.send against real local servers: answers, redirects, cut bodies, and every kind of failure."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from raw_server import serve_app

from katya_tui.core import outbound


@pytest.fixture
async def sink():
    """A local aiohttp server; `seen` collects (method, path, headers, body) of every request."""
    seen: list[tuple[str, str, list[tuple[str, str]], bytes]] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append((request.method, request.path, list(request.raw_headers), await request.read()))
        path = request.path
        if path == "/redirect":
            raise web.HTTPFound("/elsewhere")
        if path == "/big":
            return web.Response(body=b"x" * (outbound.BODY_CAP + 5000))
        if path == "/binary":
            return web.Response(body=b"\xff\xfe\x00\x01", content_type="application/octet-stream")
        if path == "/slow":
            await asyncio.sleep(5)
        if path == "/reset":
            request.transport.close()
            await asyncio.sleep(1)
        return web.json_response(
            {"ok": True}, headers={"X-Sink": "yes"}, status=int(request.query.get("s", 200))
        )

    runner, port = await serve_app(handle)
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


@pytest.fixture
async def client():
    c = outbound.Outbound()
    yield c
    await c.aclose()


async def test_sends_bytes_and_headers_and_keeps_the_answer(sink, client):
    base, seen = sink
    body = b'{"a": 1}'
    headers = [("X-One", "1"), ("X-Dup", "a"), ("X-Dup", "b"), ("Content-Length", "999"), ("Host", "wrong")]
    r = await client.send("POST", base + "/in?s=201", headers, body, 5)
    assert r.sent and r.status == 201 and r.error_class is None and r.ok
    assert r.body == '{"ok": true}'
    assert ["X-Sink", "yes"] in r.headers
    assert r.latency_ms > 0
    method, path, got, received = seen[0]
    assert (method, path, received) == ("POST", "/in", body)
    assert [v for k, v in got if k == b"X-Dup"] == [b"a", b"b"]
    got = {k.decode(): v.decode() for k, v in got}
    assert (
        got["Content-Length"] == str(len(body)) and "User-Agent" not in got and "Accept-Encoding" not in got
    )
    assert got["Host"].startswith("127.0.0.1:")


async def test_redirect_is_returned_not_followed(sink, client):
    base, seen = sink
    r = await client.send("POST", base + "/redirect", [], b"{}", 5)
    assert r.status == 302 and not r.ok
    assert [p for _, p, _, _ in seen] == ["/redirect"]


async def test_body_cut_at_64kb_and_binary_marked(sink, client):
    base, _ = sink
    big = await client.send("GET", base + "/big", [], b"", 5)
    assert big.truncated and len(big.body) == outbound.BODY_CAP
    binary = await client.send("GET", base + "/binary", [], b"", 5)
    assert binary.body == "base64://4AAQ=="


async def test_timeout(sink, client):
    base, _ = sink
    r = await client.send("POST", base + "/slow", [], b"{}", 0.2)
    assert r.status is None and r.error_class == "timeout" and r.sent
    assert "0.2 s" in r.reason


async def test_connection_refused(client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = await client.send("POST", f"http://127.0.0.1:{port}/", [], b"{}", 5)
    assert r.status is None and r.error_class == "refused" and r.reason


async def test_reset_by_peer(sink, client):
    base, _ = sink
    r = await client.send("POST", base + "/reset", [], b"{}", 5)
    assert r.status is None and r.error_class == "reset"


async def test_dns_failure(client):
    r = await client.send("POST", "http://no-such-host.invalid/", [], b"{}", 5)
    assert r.status is None and r.error_class == "dns"


async def test_bad_url_is_a_protocol_error(client):
    r = await client.send("POST", "ftp://example.com/", [], b"{}", 5)
    assert r.status is None and r.error_class == "protocol" and "bad URL" in r.reason


async def test_full_pool_means_not_sent(sink):
    base, seen = sink
    c = outbound.Outbound(max_connections=1, pool_timeout=0.05)
    try:
        slow = asyncio.create_task(c.send("POST", base + "/slow", [], b"{}", 1))
        await asyncio.sleep(0.1)
        r = await c.send("POST", base + "/in", [], b"{}", 1)
        assert r.sent is False and r.status is None and r.error_class is None
        assert [p for _, p, _, _ in seen] == ["/slow"]
        assert (await slow).error_class == "timeout"
    finally:
        await c.aclose()


def test_body_text_keeps_a_character_cut_at_the_end_as_text():
    assert outbound.body_text("héllo".encode()[:2]) == "h"
    assert outbound.body_text(b"\xff\xfe").startswith(outbound.BASE64_MARK)


async def test_failures_are_explained_in_plain_words():
    client = outbound.Outbound()
    try:
        refused = await client.send("POST", "http://127.0.0.1:9/hook", [], b"{}", 5)
        dns = await client.send("POST", "http://no-such-host.invalid/hook", [], b"{}", 5)
    finally:
        await client.aclose()
    assert refused.error_class == "refused"
    assert refused.reason.startswith("connection refused by 127.0.0.1:9: nothing is listening there")
    assert dns.error_class == "dns" and "could not be resolved" in dns.reason
