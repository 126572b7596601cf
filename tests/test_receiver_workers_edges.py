"""Receiver workers, edge cases: a connection handed to a worker answers as the server itself would (unmatched
/hooks paths, `Expect`, the relay of other requests), and the worker processes start and stop cleanly."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from receiver_support import AUTH, captures, running
from test_receiver_workers import ready

HOOK = b"POST /hooks/first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


async def exchange(port: int, data: bytes, answers: int) -> list[bytes]:
    """Write `data` on one connection, read `answers` responses (heads and Content-Length bodies), 10 s at most."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    out = []
    try:
        async with asyncio.timeout(10):
            for _ in range(answers):
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                out.append(head + await reader.readexactly(length))
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
    return out


def strip(answer: bytes) -> bytes:
    return b"\r\n".join(line for line in answer.split(b"\r\n") if not line.lower().startswith((b"date:", b"server:")))


@pytest.mark.parametrize("target", [b"/hooks/", b"/hooks/?a=1", b"/hooks//x", b"/v1/../hooks/", b"/hooks/a{b",
                                    b"http://x/hooks/"])  # fmt: skip
async def test_a_hooks_path_with_no_endpoint_is_a_404_as_in_the_server_not_a_relay_loop(settings, tmp_path, target):
    # the worker relayed these to the server, whose connection began with /hooks/ and so went to a worker again
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answers = {}
    for workers in (0, 1):
        async with running(settings, workers=workers, data_dir=tmp_path / f"w{workers}") as svc:
            if workers:
                await ready(svc)
            first, second = (await exchange(svc.port, HOOK + request, 2) + [b"", b""])[:2]
            answers[workers] = (strip(first), strip(second), [c["endpoint"] for c in await captures(svc)])
    assert answers[1] == answers[0]
    assert answers[0][1].startswith((b"HTTP/1.1 404", b"HTTP/1.1 403")) and answers[0][2] == ["first"]


async def test_an_encoded_slash_in_the_endpoint_name_is_kept_as_the_router_keeps_it(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        [answer] = await exchange(svc.port, b"POST /hooks/a%2Fb/c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 1)
        assert answer.startswith(b"HTTP/1.1 200")
        assert [c["endpoint"] for c in await captures(svc)] == ["a/b"]  # as workers = 0 records it
        assert svc.receiver.workers.workers[0].taken == 1


async def test_expect_100_continue_is_answered_before_the_body_and_an_unknown_expectation_is_417(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
        writer.write(b"POST /hooks/exp HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        async with asyncio.timeout(10):  # (a client like curl sends the body anyway after 1 s; others wait)
            interim = await reader.readuntil(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"{}")
        async with asyncio.timeout(10):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.close()
        [refused] = await exchange(svc.port, b"POST /hooks/exp HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n"
                                             b"Content-Length: 2\r\n\r\n{}", 1)  # fmt: skip
        assert refused.startswith(b"HTTP/1.1 417") and refused.endswith(b"Unknown Expect: foo")
        assert len(await captures(svc, endpoint="exp")) == 1  # the server records no capture for a 417 either
        assert svc.receiver.workers.workers[0].taken == 1


async def test_the_relay_passes_large_bodies_and_head_answers_as_the_server_gives_them(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:  # one connection
            async with http.post(f"{svc.url}/hooks/first", data=b"{}") as r:
                assert r.status == 200
            # 2 MB: past aiohttp's default 1 MB request limit in the worker; the server's own limit is higher
            async with http.put(f"{svc.url}/v1/endpoints/big", data=b"[" * 2_000_000, headers=AUTH) as r:
                assert r.status == 400 and (await r.json())["error"]["code"] == "INVALID_JSON"
            async with http.head(f"{svc.url}/healthz") as r:
                assert r.status == 200 and r.headers.get("Content-Length") == "16"
            assert svc.receiver.workers.workers[0].taken == 1  # the same connection, still in the worker


async def test_the_relay_sends_the_target_as_received(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        request = b"GET /v1/%2e%2e/hooks/x HTTP/1.1\r\nHost: x\r\n\r\n"  # yarl would make it /hooks/x
        _, second = (await exchange(svc.port, HOOK + request, 2) + [b"", b""])[:2]
        assert second.startswith(b"HTTP/1.1 403")  # as the server answers it (its Host check), not a capture
        assert [c["endpoint"] for c in await captures(svc)] == ["first"]
