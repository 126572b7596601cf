"""Parity with aiohttp: the same raw bytes sent to `katya-tui serve` with a receiver worker and to a plain aiohttp
server (its own `web.Application`, router and parser, with a handler that reads the body and answers a webhook as
SPEC.md says), then what a client sees on both compared: status, headers (Date and Server aside), body, and how the
connection ends. What the reference's handler read is what the capture must hold."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from receiver_support import running, wait_for

from katya_tui.config import load_settings

LIMIT = 1000  # the body limit of both servers
IDLE_S = 0.4  # the receiver's body idle timeout (a worker is given it on its command line)
EOF, CLOSE, HEAD = "EOF", "CLOSE", "HEAD"  # steps of `talk`
ENDPOINTS = {  # the receiver's; the reference answers "slow" and "nocontent" alike, never the chaos ones
    "drop": {"response": {"mode": "drop"}},
    "hold": {"response": {"mode": "timeout", "hold_s": 1}},
    "slow": {"response": {"delay_ms": 700}},
    "nocontent": {"response": {"status": 204}},
    "probe": {"response": {"status": 203}},
}
OK_BODY = b'{"status":"ok"}'
AVAILABLE_BODY = b'{"status":"ok","message":"Webhook endpoint is available"}'  # SPEC: a GET with no body
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n" + OK_BODY
CONTINUED = b"HTTP/1.1 100 Continue\r\n\r\n"
PROBE = b"GET /hooks/still-open HTTP/1.1\r\nHost: x\r\n\r\n"  # answered on a connection that was kept open
TALK_S = 5.0  # the longest a `talk` may take: past it, the talk fails


def post(endpoint: str, body: bytes = b"{}", extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    head = b"POST /hooks/%s HTTP/%s\r\n" % (endpoint.encode(), version)
    host = b"Host: x\r\n" if version == b"1.1" else b""
    return head + host + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


def text(raw: bytes) -> str:
    """Header bytes as a capture holds them (SPEC: UTF-8 when they are, else one character a byte)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass
class Reference:
    """aiohttp's own server: reads every /hooks request's body, keeps what it read, answers as the receiver's
    default does. Nothing of katya-tui's is in it."""

    seen: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        name = request.match_info["endpoint"]
        self.seen.append(
            {
                "endpoint": name,
                "method": request.method,
                "path": request.rel_url.raw_path,
                "query": request.rel_url.raw_query_string,
                "headers": [[text(k), text(v)] for k, v in request.raw_headers],
                "body": body,
            }
        )
        if name == "slow":
            await asyncio.sleep(ENDPOINTS["slow"]["response"]["delay_ms"] / 1000)
        if name == "nocontent":
            return web.Response(status=204, content_type="application/json")
        available = request.method in ("GET", "HEAD") and not body
        return web.Response(body=AVAILABLE_BODY if available else OK_BODY, content_type="application/json")

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Reference]:
        app = web.Application(client_max_size=LIMIT)
        for route in ("/hooks/{endpoint}", "/hooks/{endpoint}/{tail:(?s:.*)}"):  # SPEC: /hooks/<name>[/...]
            app.router.add_route("*", route, self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert runner.addresses, "the reference server is not listening"
        self.port = runner.addresses[0][1]
        try:
            yield self
        finally:
            await runner.cleanup()

    def requests(self, endpoint: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in s.items() if k != "endpoint"} for s in self.seen if s["endpoint"] == endpoint
        ]


@dataclass
class Pair:
    ref: Reference
    svc: Any  # a started Service


@contextlib.asynccontextmanager
async def pair_of(data_dir: Path) -> AsyncIterator[Pair]:
    """The reference and `serve`'s service, its endpoints configured."""
    from katya_tui.core.receiver import Receiver  # the idle timeout is a class setting (no config key)

    settings = load_settings(
        {"port": 0, "data_dir": str(data_dir), "token": "test-token-123", "body_limit": LIMIT},
        env={},
    )
    saved = Receiver.body_idle_timeout
    Receiver.body_idle_timeout = IDLE_S
    try:
        async with Reference().serving() as ref, running(settings) as svc:
            for name, cfg in ENDPOINTS.items():
                svc.receiver.endpoints.put({"name": name, **cfg})
            yield Pair(ref, svc)
    finally:
        Receiver.body_idle_timeout = saved


async def read_answer(reader: asyncio.StreamReader, head_only: bool = False) -> bytes:
    """One response (an interim 100 is one too): its head less Date and Server, then its body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith((b"date:", b"server:"))]
    status = int(head.split(b" ", 2)[1])
    length = 0
    if not head_only and status >= 200 and status not in (204, 304):
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
    return b"\r\n".join(lines) + await reader.readexactly(length)


async def talk(port: int, *steps: Any, then: str | None = None) -> tuple[list[bytes], str | None]:
    """One connection: each step is bytes to send, an int (that many answers to read), HEAD (one answer to a
    HEAD request), a float (seconds to wait), EOF or CLOSE. `then`: "open" shows the connection was kept (a
    probe request is answered on it), "closed" waits for its end ("eof" or "reset"). An answer that does not
    come in TALK_S, or a connection that stays open when "closed" is asked, fails the test; a connection
    closed before an answer it was asked for comes back as "<IncompleteReadError>" (or the error) instead."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers: list[bytes] = []
    state = None
    try:
        async with asyncio.timeout(TALK_S):
            try:
                for step in steps:
                    if isinstance(step, bytes):
                        writer.write(step)
                    elif step == HEAD:
                        answers.append(await read_answer(reader, head_only=True))
                    elif step == EOF:
                        writer.write_eof()
                    elif step == CLOSE:
                        writer.close()
                    elif isinstance(step, int):
                        answers += [await read_answer(reader) for _ in range(step)]
                    else:
                        await asyncio.sleep(step)
                if then == "open":
                    writer.write(PROBE)
                    state = "open" if (await read_answer(reader)).startswith(b"HTTP/1.1 200") else "not open"
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                answers.append(f"<{type(exc).__name__}>".encode())
            if then == "closed":
                try:
                    rest = await reader.read()
                    state = "eof" if not rest else f"eof after {rest!r}"
                except ConnectionResetError:
                    state = "reset"
    except TimeoutError:
        raise AssertionError(f"no answer in {TALK_S:g} s (answers so far: {answers!r})") from None
    finally:
        writer.close()
    return answers, state


def comparable(answer: bytes) -> bytes:
    """An answer less what differs on purpose: the text of a 400 for bytes that do not parse goes on, in
    aiohttp's, with an excerpt of them and a caret under where llhttp stopped (httptools does not tell)."""
    if not answer.startswith(b"HTTP/1.0 400 Bad Request\r\n"):
        return answer
    head, _, rest = answer.partition(b"\r\n\r\n")
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.startswith(b"Content-Length:"))
    return head + b"\r\n\r\n" + rest.split(b":\n\n", 1)[0]


async def both(pair: Pair, *steps: Any, then: str | None = None) -> tuple[list[bytes], str | None]:
    """`talk` to the receiver and to the reference at once: what the client sees must be the same."""
    (ours, state), (ref, ref_state) = await asyncio.gather(
        talk(pair.svc.port, *steps, then=then), talk(pair.ref.port, *steps, then=then)
    )
    assert ([comparable(a) for a in ours], state) == ([comparable(a) for a in ref], ref_state)
    return ours, state


KEYS = ("method", "path", "query", "headers", "body", "body_encoding", "body_size", "truncated", "body_note")


def caps(svc: Any, endpoint: str) -> list[dict[str, Any]]:
    """The captures of an endpoint, in the order they were stored, the body as bytes."""
    docs = [d for d in svc.store.all("captures") if d["endpoint"] == endpoint]
    rows = []
    for d in docs:
        row = {k: d[k] for k in KEYS}
        raw = row["body"] or ""
        row["body"] = base64.b64decode(raw) if row["body_encoding"] == "base64" else raw.encode()
        row["verdict"] = d["verdict"]["status"]
        row["response"] = {k: d["response"][k] for k in ("status", "action", "body")}
        rows.append(row)
    return rows


async def same_caps(pair: Pair, endpoint: str, count: int) -> list[dict[str, Any]]:
    """Wait for `count` captures of `endpoint`: each holds what aiohttp's handler read of the same request
    (method, raw path and query, headers, body), and there are no more."""
    await wait_for(lambda: len(caps(pair.svc, endpoint)) >= count, timeout=5)
    rows = caps(pair.svc, endpoint)
    assert len(rows) == count
    assert [{k: r[k] for k in ("method", "path", "query", "headers", "body")} for r in rows] == (
        pair.ref.requests(endpoint)
    )
    return rows
