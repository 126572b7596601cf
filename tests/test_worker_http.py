"""The receiver worker's HTTP server (`receiver/workers/http.py`) against aiohttp's: the same bytes sent to a service
that hands /hooks connections to a worker and to one that serves them itself give the same answers, the same
connection handling and the same captures (Date and Server aside). Where the two differ on purpose, the test
says so."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import socket
import time

import httptools
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from receiver_support import running, wait_for
from test_receiver_workers import ready
from yarl import URL

from katya_tui.config import load_settings
from katya_tui.core.receiver import HOOK_ROUTES, Receiver
from katya_tui.core.receiver.workers.head import Request
from katya_tui.core.receiver.workers.hooks import endpoint_of
from katya_tui.core.receiver.workers.http import KEEPALIVE_S, Connection, Server

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIMIT = 1000  # body_limit of both services
IDLE_S = 0.4  # Receiver.body_idle_timeout of both (a worker is given it on its command line)
EOF, CLOSE, HEAD = "EOF", "CLOSE", "HEAD"  # steps of `talk`
ENDPOINTS = {
    "drop": {"response": {"mode": "drop"}},
    "hold": {"response": {"mode": "timeout", "hold_s": 1}},
    "slow": {"response": {"delay_ms": 700}},
    "nocontent": {"response": {"status": 204}},
    "probe": {"response": {"status": 203}},
}
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":"ok"}'
CONTINUED = b"HTTP/1.1 100 Continue\r\n\r\n"
PROBE = b"GET /hooks/still-open HTTP/1.1\r\nHost: x\r\n\r\n"  # answered on a connection that was kept open


def post(endpoint: str, body: bytes = b"{}", extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    head = b"POST /hooks/%s HTTP/%s\r\n" % (endpoint.encode(), version)
    host = b"Host: x\r\n" if version == b"1.1" else b""
    return head + host + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pair(tmp_path_factory):
    """(in-process, worker): two services with the same settings; the second hands /hooks connections to a
    worker process."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Receiver, "body_idle_timeout", IDLE_S)
        services = []
        async with contextlib.AsyncExitStack() as stack:
            for workers in (0, 1):
                data_dir = str(tmp_path_factory.mktemp(f"workers{workers}"))
                settings = load_settings(
                    {
                        "port": 0,
                        "data_dir": data_dir,
                        "token": "test-token-123",
                        "workers": workers,
                        "body_limit": LIMIT,
                    },
                    env={},
                )
                svc = await stack.enter_async_context(running(settings))
                for name, cfg in ENDPOINTS.items():
                    svc.receiver.endpoints.put({"name": name, **cfg})
                services.append(svc)
            await ready(services[1])
            deadline = time.monotonic() + 10  # the configs reach the worker over its link, the probe's last
            while not (await talk(services[1].port, post("probe"), 1))[0][0].startswith(b"HTTP/1.1 203"):
                assert time.monotonic() < deadline, "the endpoint configs did not reach the worker"
                await asyncio.sleep(0.02)
            yield services


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


async def talk(port: int, *steps, then: str | None = None) -> tuple[list[bytes], str | None]:
    """One connection: each step is bytes to send, an int (that many answers to read), HEAD (one answer to a
    HEAD request), a float (seconds to wait), EOF or CLOSE. `then`: "open" shows the connection was kept (a
    probe request is answered on it), "closed" waits for its end ("eof" or "reset"). 5 s at most in all."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers: list[bytes] = []
    state = None
    try:
        async with asyncio.timeout(5):
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
            elif then == "closed":
                try:
                    rest = await reader.read()
                    state = "eof" if not rest else f"eof after {rest!r}"
                except ConnectionResetError:
                    state = "reset"
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
        answers.append(f"<{type(exc).__name__}>".encode())
    writer.close()
    return answers, state


def comparable(answer: bytes) -> bytes:
    """An answer less what differs on purpose: the text of a 400 for bytes that do not parse goes on, in
    aiohttp's, with an excerpt of them and a caret under where llhttp stopped (httptools does not tell)."""
    if not answer.startswith(b"HTTP/1.0 400 Bad Request\r\n"):
        return answer
    head, _, text = answer.partition(b"\r\n\r\n")
    head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.startswith(b"Content-Length:"))
    return head + b"\r\n\r\n" + text.split(b":\n\n", 1)[0]


async def both(pair, *steps, then: str | None = None) -> tuple[list[bytes], str | None]:
    """`talk` to both services at once: what the client sees must be the same."""
    talks = [talk(svc.port, *steps, then=then) for svc in pair]
    (inproc, state), (worker, state_w) = await asyncio.gather(*talks)
    assert ([comparable(a) for a in worker], state_w) == ([comparable(a) for a in inproc], state)
    return inproc, state


KEYS = ("method", "path", "query", "headers", "body", "body_encoding", "body_size", "truncated", "body_note")


def caps(svc, endpoint: str) -> list[dict]:
    """The captures of an endpoint, oldest first, as `/v1/captures` has them (less what differs by nature)."""
    docs = [d for d in svc.store.table("captures")._read_table().values() if d["endpoint"] == endpoint]
    answer = ("status", "action", "body")
    return [
        {
            **{k: d[k] for k in KEYS},
            "verdict": d["verdict"]["status"],
            "response": {k: d["response"][k] for k in answer},
        }
        for d in docs
    ]


async def same_caps(pair, endpoint: str, count: int) -> list[dict]:
    """Wait for `count` captures of `endpoint` in both services: they must be the same, and no more."""
    await wait_for(lambda: all(len(caps(svc, endpoint)) >= count for svc in pair), timeout=5)
    inproc, worker = (caps(svc, endpoint) for svc in pair)
    assert worker == inproc
    assert len(inproc) == count
    return inproc


def taken(pair) -> int:
    return pair[1].receiver.workers.workers[0].taken


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


# -- keep-alive, pipelining, versions, HEAD ------------------------------------------------------------------


async def test_keep_alive_serves_several_requests_on_one_connection(pair):
    before = taken(pair)
    get = b"GET /hooks/ka/sub?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    answers, state = await both(pair, post("ka", b"1"), 1, post("ka", b"[2]"), 1, get, 1, then="open")
    assert answers[:2] == [OK, OK] and answers[2].endswith(b'"Webhook endpoint is available"}')
    assert state == "open"
    rows = await same_caps(pair, "ka", 3)
    assert [(r["method"], r["path"], r["query"], r["body"]) for r in rows] == [
        ("POST", "/hooks/ka", "", "1"),
        ("POST", "/hooks/ka", "", "[2]"),
        ("GET", "/hooks/ka/sub", "x=1", ""),
    ]
    assert taken(pair) == before + 3 + 1  # all of them (and the probe) taken in by the worker


async def test_a_compressed_body_is_captured_as_sent_not_decompressed(pair):
    # a sender's gzip body is what it signed: both modes keep the bytes (aiohttp's server would inflate them)
    packed = gzip.compress(b'{"id":"evt_gz","type":"message.created","data":{}}')
    answers, _ = await both(pair, post("gz", packed, b"Content-Encoding: gzip\r\n"), 1)
    assert answers == [OK]
    [row] = await same_caps(pair, "gz", 1)
    assert (row["body_encoding"], row["body_size"], row["truncated"]) == ("base64", len(packed), False)
    assert base64.b64decode(row["body"]) == packed


async def test_pipelined_requests_in_one_write_are_answered_in_order(pair):
    chunked = (
        b"PUT /hooks/pipe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthird\r\n0\r\n\r\n"
    )
    delete = b"DELETE /hooks/pipe HTTP/1.1\r\nHost: x\r\n\r\n"
    requests = post("pipe", b"first") + post("slow") + chunked + delete
    answers, state = await both(pair, requests, 4, then="open")
    assert answers == [OK] * 4 and state == "open"  # (the slow answer, 700 ms, held the two behind it)
    rows = await same_caps(pair, "pipe", 3)
    assert [(r["method"], r["body"]) for r in rows] == [("POST", "first"), ("PUT", "third"), ("DELETE", "")]


async def test_http_1_0_is_answered_in_http_1_0_and_closed_unless_it_asks_for_keep_alive(pair):
    # the worker answered HTTP/1.1, with `Connection: close`
    ok10 = OK.replace(b"HTTP/1.1", b"HTTP/1.0")
    answers, state = await both(pair, post("v10", b"a", version=b"1.0"), 1, then="closed")
    assert answers == [ok10] and state == "eof"
    keep_alive = post("v10", b"b", b"Connection: keep-alive\r\n", b"1.0")
    answers, state = await both(pair, keep_alive, 1, then="open")
    assert answers == [ok10.replace(b"\r\n\r\n", b"\r\nConnection: keep-alive\r\n\r\n")] and state == "open"
    await same_caps(pair, "v10", 2)


async def test_head_is_answered_without_a_body_and_the_connection_goes_on(pair):
    head = b"HEAD /hooks/head?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    answers, state = await both(pair, head, HEAD, post("head"), 1, then="open")
    assert answers[0] == b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 57\r\n\r\n"
    assert answers[1] == OK and state == "open"  # (a body after the HEAD answer would be read as this one)
    await same_caps(pair, "head", 2)


async def test_a_bodiless_status_is_sent_without_a_body(pair):
    # after a 204 the worker sent `Content-Length: 15` and `{"status":"ok"}`, which a client reads as the
    # start of the next answer
    answers, state = await both(pair, post("nocontent"), 1, post("nocontent"), 1, then="open")
    assert answers == [b"HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n"] * 2
    assert state == "open"
    await same_caps(pair, "nocontent", 2)


# -- bodies: chunked, too large, stalled, cut off, lying -----------------------------------------------------


async def test_a_chunked_body_is_read_whole_and_one_cut_mid_chunk_is_kept_as_incomplete(pair):
    head = b"POST /hooks/%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    answers, _ = await both(
        pair,
        head % b"chunked" + b"3\r\nabc\r\n",
        0.05,
        b"2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
        1,
        then="open",
    )
    assert answers == [OK]
    [row] = await same_caps(pair, "chunked", 1)
    assert row["body"] == "abcde"
    assert row["headers"] == [["Host", "x"], ["Transfer-Encoding", "chunked"]]  # (the worker added trailers)
    answers, _ = await both(pair, head % b"chunk-cut" + b"5\r\nab", 0.05, CLOSE)
    assert answers == []
    [row] = await same_caps(pair, "chunk-cut", 1)
    assert (row["body"], row["body_size"], row["truncated"]) == ("ab", 2, True)
    assert row["response"]["status"] == 400
    assert row["body_note"] == "the connection ended mid-body after 2 bytes: Connection lost"


async def test_a_body_over_the_limit_is_a_413_with_the_body_cut_and_the_connection_closed(pair):
    answers, state = await both(pair, post("big", b"x" * 3000), 1, then="closed")
    assert answers[0].startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n") and state == "eof"
    assert b"Connection: close" in answers[0]
    assert answers[0].endswith(b'"body of 3000 bytes is over the 1000 byte limit","code":413}')
    [row] = await same_caps(pair, "big", 1)
    assert (row["body"], row["body_size"], row["truncated"]) == ("x" * LIMIT, 3000, True)


async def test_a_sender_that_stops_mid_body_gets_408_after_the_idle_timeout_the_worker_was_given(pair):
    # the worker's idle timeout comes on its command line (pool.py): 0.4 s here, as in the server
    stalled = post("stall", b"{").replace(b"Length: 1", b"Length: 10")
    start = time.monotonic()
    answers, _ = await both(pair, stalled, 1)
    assert time.monotonic() - start < 2
    assert answers[0].startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"Connection: close" in answers[0]
    assert answers[0].endswith(b'"no body bytes for 0.4 s after 1 bytes","code":408}')
    [row] = await same_caps(pair, "stall", 1)
    assert (row["body"], row["body_size"], row["truncated"]) == ("{", 1, True)
    assert row["body_note"] == "no body bytes for 0.4 s after 1 bytes"
    # differs on purpose: the worker ends its side at once; aiohttp keeps it open while it lingers (it reads
    # and drops what may still come, up to 10 s)
    assert (await talk(pair[1].port, stalled, 1, then="closed"))[1] == "eof"


async def test_a_client_that_closes_mid_body_leaves_an_incomplete_capture(pair):
    answers, _ = await both(pair, post("gone", b"only-this" + b"-" * 11)[:-11], 0.05, CLOSE)
    assert answers == []
    [row] = await same_caps(pair, "gone", 1)
    assert (row["body"], row["body_size"], row["truncated"]) == ("only-this", 9, True)
    assert row["body_note"] == (
        "the connection ended mid-body after 9 bytes (Content-Length said 20): Connection lost"
    )


async def test_a_content_length_that_lies(pair):
    # more bytes than it said: they are the start of the next request, which does not parse
    answers, state = await both(pair, post("liar"), 1, b"xyz\r\n\r\n", 1, then="closed")
    assert answers[0] == OK and answers[1].startswith(b"HTTP/1.0 400 Bad Request\r\n") and state == "eof"
    assert answers[1].split(b"\r\n\r\n")[1].startswith(b"Invalid method encountered")
    [row] = await same_caps(pair, "liar", 1)
    assert (row["body"], row["truncated"]) == ("{}", False)
    # fewer than it said, then silence: the idle timeout
    answers, _ = await both(pair, post("liar-short", b"12345").replace(b"Length: 5", b"Length: 9"), 1)
    assert answers[0].startswith(b"HTTP/1.1 408")
    [row] = await same_caps(pair, "liar-short", 1)
    assert (row["body"], row["body_size"], row["truncated"]) == ("12345", 5, True)


async def test_bytes_after_a_whole_request_in_the_same_write_do_not_cost_it_its_answer(pair):
    # differs on purpose: when bytes that do not parse come in the same read as a whole request, aiohttp
    # answers only the 400 and never handles the request (no capture); the worker answers and records it, then
    # the 400
    answers, state = await talk(pair[1].port, post("liar-same") + b"xyz\r\n\r\n", 2, then="closed")
    assert answers[0] == OK and answers[1].startswith(b"HTTP/1.0 400") and state == "eof"
    assert len(caps(pair[1], "liar-same")) == 1


async def test_bytes_that_do_not_parse_are_a_400_and_the_connection_closes(pair):
    bad_value = b"POST /hooks/junk HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n"
    answers, state = await both(pair, bad_value, 1, then="closed")
    assert answers[0].startswith(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n")
    assert state == "eof"
    answers, state = await both(pair, post("junk"), 1, b"\x00\x01 garbage\r\n\r\n", 1, then="closed")
    assert answers[0] == OK and answers[1].startswith(b"HTTP/1.0 400 Bad Request") and state == "eof"
    await same_caps(pair, "junk", 1)


@pytest.mark.parametrize(
    ("name", "head", "text"),
    [
        (
            "no-host",
            b"POST /hooks/no-host HTTP/1.1\r\nContent-Length: 0\r\n",
            b"Missing 'Host' header in request.",
        ),
        (
            "two-hosts",
            b"POST /hooks/two-hosts HTTP/1.1\r\nHost: x\r\nhost: y\r\n",
            b"Duplicate 'Host' header found.",
        ),
        (
            "two-types",
            b"POST /hooks/two-types HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: a\r\n",
            b"Duplicate 'Content-Type' header found.",
        ),
        (
            "many",
            b"POST /hooks/many HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(128)),
            b"Too many headers received",
        ),
        (
            "long-value",
            b"POST /hooks/long-value HTTP/1.1\r\nHost: x\r\nX-Long: " + b"v" * 9000 + b"\r\n",
            b"Got more than 8190 bytes when reading: b'" + b"v" * 100 + b"...'.",
        ),
        (
            "long-target",
            b"POST /hooks/long-target?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n",
            b"Got more than 8190 bytes when reading: bytearray(b'/hooks/long-target?qqq",
        ),
        (
            "old-ws",
            b"POST /hooks/old-ws HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key1: 1\r\n",
            b"Invalid HTTP header: 'Sec-WebSocket-Key1'",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_what_aiohttp_s_parser_refuses_is_refused_in_the_worker_too(pair, name, head, text):
    # the worker took these in (no Host, two Hosts, 129 headers, a 9000-byte value, ...) and recorded them
    answers, state = await both(pair, head + b"\r\n", 1, then="closed")
    assert answers[0].startswith(b"HTTP/1.0 400 Bad Request\r\n") and state == "eof"
    assert answers[0].split(b"\r\n\r\n", 1)[1].startswith(text)
    assert caps(pair[0], name) == caps(pair[1], name) == []


async def test_header_values_and_the_target_are_recorded_as_aiohttp_records_them(pair):
    head = (
        b"POST /hooks/values/a%2Fb?a=%20b&c=%zz&d=%C3%A9+e&&f HTTP/1.1\r\nHost: x\r\n"
        b"X-Utf8: caf\xc3\xa9\r\nX-Latin: \xe9t\xe9\r\nX-Binary: \x80\xff\xfe\r\nX-Spaces: \t a  b \t\r\n"
        b"X-Empty:\r\nx-utf8: again\r\n"
    )
    answers, _ = await both(pair, head + b"Content-Length: 3\r\n\r\n\x00\xff\x01", 1, then="open")
    assert answers == [OK]
    [row] = await same_caps(pair, "values", 1)
    assert (row["path"], row["query"]) == ("/hooks/values/a%2Fb", "a=%20b&c=%zz&d=%C3%A9+e&&f")  # as sent
    assert row["headers"][1:7] == [  # (the worker kept the whitespace after a value)
        ["X-Utf8", "café"],
        ["X-Latin", "\xe9t\xe9"],
        ["X-Binary", "\x80\xff\xfe"],
        ["X-Spaces", "a  b"],
        ["X-Empty", ""],
        ["x-utf8", "again"],
    ]
    assert (row["body_encoding"], row["body_size"]) == ("base64", 3)


# -- Expect --------------------------------------------------------------------------------------------------


async def test_expect_100_continue_alone_and_behind_a_pipelined_request(pair):
    expect = post("expect", b"{}", b"Expect: 100-continue\r\n")
    answers, _ = await both(pair, expect[:-2], 1, expect[-2:], 1)
    assert answers == [CONTINUED, OK]
    answers, _ = await both(pair, post("expect") + expect[:-2], 2, expect[-2:], 1, then="open")
    assert answers == [OK, CONTINUED, OK]
    # its body sent without waiting: aiohttp still sends the 100 in its turn (the worker did not)
    answers, _ = await both(pair, post("expect") + expect, 3)
    assert answers == [OK, CONTINUED, OK]
    await same_caps(pair, "expect", 5)


async def test_an_unknown_expectation_is_a_417_and_the_connection_goes_on(pair):
    # the worker answered "417: Unknown Expect: ..." and closed the connection
    answers, state = await both(pair, post("expect-417", b"{}", b"Expect: something\r\n"), 1, then="open")
    assert answers == [
        b"HTTP/1.1 417 Expectation Failed\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 25\r\n\r\nUnknown Expect: something"
    ]
    assert state == "open"
    assert caps(pair[0], "expect-417") == caps(pair[1], "expect-417") == []


async def test_a_417_whose_body_never_comes_ends_the_connection_after_the_idle_timeout():
    conn, transport = by_hand()
    conn.data_received(post("expect-417", b"12345", b"Expect: something\r\n")[:-5])
    assert transport.out.startswith(b"HTTP/1.1 417") and not transport.closed  # (its body may yet come)
    conn.check(time.monotonic() + IDLE_S + 0.1)
    assert transport.closed


# -- upgrades ------------------------------------------------------------------------------------------------

H2C = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
WS = (
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
)


async def test_curl_s_h2c_upgrade_is_declined_and_the_request_read_with_its_body(pair):
    # the worker read the request again with its `Upgrade` kept: it waited for an upgrade that never came (no
    # answer), and then took the next request's bytes for this one's body
    answers, state = await both(pair, post("h2c", b'{"a": 1}', H2C), 1, post("h2c", b"next"), 1, then="open")
    assert answers == [OK, OK] and state == "open"
    rows = await same_caps(pair, "h2c", 2)
    assert rows[0]["body"] == '{"a": 1}'
    assert rows[0]["headers"][1:4] == [
        ["Connection", "Upgrade, HTTP2-Settings"],
        ["Upgrade", "h2c"],
        ["HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA"],
    ]
    closing = H2C.replace(b"HTTP2-Settings\r\n", b"HTTP2-Settings, close\r\n", 1)
    get = b"GET /hooks/h2c HTTP/1.1\r\nHost: x\r\n" + closing + b"\r\n"
    answers, state = await both(pair, get, 1, then="closed")
    assert answers[0].endswith(b'"Webhook endpoint is available"}') and state == "eof"  # (its `close` kept)
    await same_caps(pair, "h2c", 3)


async def test_an_upgrade_is_what_llhttp_takes_for_one(pair):
    # "x-upgrade-y" is no `upgrade` token: the worker took the request for an upgrade and waited for llhttp to
    # say where it began, which it never did (no answer, no capture)
    token = b"Connection: keep-alive, x-upgrade-y\r\nUpgrade: h2c\r\n"
    answers, _ = await both(pair, post("token", b"{}", token), 1, then="open")
    assert answers == [OK]
    await same_caps(pair, "token", 1)


async def test_a_websocket_asked_of_a_hook_is_a_webhook_and_one_for_the_server_is_misdirected(pair):
    # the worker answered 421 to a WebSocket upgrade on /hooks/ws (aiohttp's hook handler answers it and the
    # connection goes on) and recorded nothing
    ws = b"GET /hooks/ws HTTP/1.1\r\nHost: x\r\n" + WS + b"\r\n"
    answers, state = await both(pair, ws, 1, post("ws"), 1, then="open")
    assert answers[0].endswith(b'"Webhook endpoint is available"}') and answers[1] == OK and state == "open"
    await same_caps(pair, "ws", 2)
    no_endpoint = b"GET /hooks/ HTTP/1.1\r\nHost: x\r\n" + WS + b"\r\n"
    answers, _ = await both(pair, post("ws") + no_endpoint, 2, then="open")
    assert answers[1].startswith(b"HTTP/1.1 404 Not Found")
    # differs on purpose: the server's own WebSocket (its feed) on a connection handed to a worker cannot be
    # served there; 421 asks for a new connection (in-process: 101 Switching Protocols)
    feed = b"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + WS + b"\r\n"
    answers, state = await talk(pair[1].port, post("ws") + feed, 2, then="closed")
    assert answers[0] == OK and answers[1].startswith(b"HTTP/1.1 421 Misdirected Request\r\n")
    assert state == "eof"


# -- the relay, a client that goes ---------------------------------------------------------------------------


async def test_api_requests_on_a_connection_that_began_with_a_webhook_are_relayed_in_order(pair):
    put = b'{"response": {"status": 202}}'
    health = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    endpoint = (
        b"PUT /v1/endpoints/relayed HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer test-token-123\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(put), put)
    )
    answers, state = await both(pair, post("relay") + health + endpoint + post("relay"), 4, then="open")
    assert answers[0] == answers[3] == OK and answers[1].endswith(b'{"status": "ok"}') and state == "open"
    assert answers[2].startswith(b"HTTP/1.1 201 Created") and b'"status":202' in answers[2]
    assert [svc.receiver.endpoints.get("relayed")["response"]["status"] for svc in pair] == [202, 202]
    await same_caps(pair, "relay", 2)


async def test_requests_read_whole_are_recorded_when_the_client_goes_before_their_answers(pair):
    # differs on purpose: aiohttp handles only the request under way when the client goes; the worker records
    # the two it had read behind it too (every request that arrived whole is captured)
    answers, _ = await talk(pair[1].port, post("slow") + post("left", b"1") + post("left", b"2"), 0.1, CLOSE)
    assert answers == []
    await wait_for(lambda: len(caps(pair[1], "left")) == 2, timeout=5)
    assert [r["body"] for r in caps(pair[1], "left")] == ["1", "2"]


# == the idle sweep, chaos ===================================================================================


async def test_a_request_waiting_for_its_100_is_not_timed_out_while_the_answer_before_it_is_slow(pair):
    # the worker's sweep counted the wait for the slow answer (700 ms) against the request behind it, whose
    # sender rightly sends nothing before its 100: after 0.4 s, a 408 and a capture of an empty body
    expect = post("turn", b"{}", b"Expect: 100-continue\r\n")
    answers, _ = await both(pair, post("slow") + expect[:-2], 2, expect[-2:], 1)
    assert answers == [OK, CONTINUED, OK]
    [row] = await same_caps(pair, "turn", 1)
    assert (row["body"], row["truncated"]) == ("{}", False)


async def test_a_head_sent_in_part_is_waited_for_not_timed_out(pair):
    # the worker answered 408 to a head that stalled for the body idle timeout; aiohttp waits (its keep-alive)
    head = post("slow-head")
    answers, _ = await both(pair, head[:20], IDLE_S + 0.3, head[20:], 1, then="open")
    assert answers == [OK]
    await same_caps(pair, "slow-head", 1)


async def test_chaos_drop_and_timeout_end_the_connection_with_no_answer(pair):
    # nothing behind the dropped request is served: the worker recorded a body on its way as cut off
    answers, state = await both(pair, post("drop") + post("drop-next", b"1234")[:-2], then="closed")
    assert answers == [] and state in ("eof", "reset")
    await same_caps(pair, "drop", 1)
    assert caps(pair[0], "drop-next") == caps(pair[1], "drop-next") == []
    start = time.monotonic()
    answers, state = await both(pair, post("hold"), then="closed")
    assert answers == [] and state in ("eof", "reset") and 0.9 < time.monotonic() - start < 2
    [row] = await same_caps(pair, "hold", 1)
    assert row["response"]["action"] == "timeout"


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


# == flow control ============================================================================================


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

        conn.connection_made = connection_made  # type: ignore[method-assign]
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


# == a closing answer ========================================================================================


async def upload(port: int) -> tuple[bytes, str, bytes]:
    """Send a 1 MB body over 0.25 s, reading meanwhile: (the answer, how the upload ended, what followed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /hooks/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")

    async def send() -> str:
        try:
            for _ in range(25):
                writer.write(b"u" * 40_000)
                await writer.drain()
                await asyncio.sleep(0.01)
        except ConnectionError as exc:
            return type(exc).__name__
        return "sent all"

    sending = asyncio.ensure_future(send())
    try:
        async with asyncio.timeout(5):
            answer = await read_answer(reader)
            sent = await sending
            after = await reader.read()
    except ConnectionError as exc:
        sent, after = await sending, f"<{type(exc).__name__}>".encode()
    writer.close()
    return answer, sent, after


async def test_a_sender_still_uploading_gets_its_413_and_a_clean_end_not_a_reset(pair):
    # the worker closed with the upload still coming: its next bytes were answered with a reset (a client that
    # reads once it has sent all, as most do, never sees the 413); aiohttp reads on and drops them
    inproc, worker = await asyncio.gather(*(upload(svc.port) for svc in pair))
    assert worker == inproc
    assert inproc[0].startswith(b"HTTP/1.1 413") and inproc[1:] == ("sent all", b"")
    await same_caps(pair, "upload", 1)


# == stopping ================================================================================================


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
