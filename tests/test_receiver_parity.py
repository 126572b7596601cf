"""The receiver against a bare aiohttp application (see parity_support.py): the same bytes, the same answers,
the same connection handling, and captures that hold what aiohttp's handler read. Where the receiver
differs on purpose (its body limit and idle timeout, chaos, keeping the bytes a sender signed), the test says so
and checks the receiver's answer itself."""

from __future__ import annotations

import asyncio
import gzip
import time

import pytest
import pytest_asyncio
from parity_support import (
    CLOSE,
    CONTINUED,
    EOF,
    HEAD,
    IDLE_S,
    LIMIT,
    OK,
    PROBE,
    Pair,
    both,
    caps,
    pair_of,
    post,
    read_answer,
    same_caps,
    talk,
)
from receiver_support import wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pair(tmp_path_factory):
    async with pair_of(tmp_path_factory.mktemp("parity")) as p:
        yield p


def status(answer: bytes) -> bytes:
    return answer.split(b"\r\n", 1)[0]


# -- keep-alive, pipelining, versions, HEAD ------------------------------------------------------------------


async def test_keep_alive_serves_several_requests_on_one_connection(pair: Pair):
    get = b"GET /hooks/ka/sub?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    answers, state = await both(pair, post("ka", b"1"), 1, post("ka", b"[2]"), 1, get, 1, then="open")
    assert answers[:2] == [OK, OK] and answers[2].endswith(b'"Webhook endpoint is available"}')
    assert state == "open"
    rows = await same_caps(pair, "ka", 3)
    assert [(r["method"], r["path"], r["query"], r["body"]) for r in rows] == [
        ("POST", "/hooks/ka", "", b"1"),
        ("POST", "/hooks/ka", "", b"[2]"),
        ("GET", "/hooks/ka/sub", "x=1", b""),
    ]


async def test_pipelined_requests_in_one_write_are_answered_in_order(pair: Pair):
    chunked = (
        b"PUT /hooks/pipe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthird\r\n0\r\n\r\n"
    )
    delete = b"DELETE /hooks/pipe HTTP/1.1\r\nHost: x\r\n\r\n"
    requests = post("pipe", b"first") + post("slow") + chunked + delete
    answers, state = await both(pair, requests, 4, then="open")
    assert answers == [OK] * 4 and state == "open"  # (the slow answer, 700 ms, held the two behind it)
    rows = await same_caps(pair, "pipe", 3)
    assert [(r["method"], r["body"]) for r in rows] == [
        ("POST", b"first"),
        ("PUT", b"third"),
        ("DELETE", b""),
    ]


async def test_http_1_0_is_answered_in_http_1_0_and_closed_unless_it_asks_for_keep_alive(pair: Pair):
    ok10 = OK.replace(b"HTTP/1.1", b"HTTP/1.0")
    answers, state = await both(pair, post("v10", b"a", version=b"1.0"), 1, then="closed")
    assert answers == [ok10] and state == "eof"
    keep_alive = post("v10", b"b", b"Connection: keep-alive\r\n", b"1.0")
    answers, state = await both(pair, keep_alive, 1, then="open")
    assert answers == [ok10.replace(b"\r\n\r\n", b"\r\nConnection: keep-alive\r\n\r\n")] and state == "open"
    await same_caps(pair, "v10", 2)


async def test_connection_close_is_honoured_after_the_answer(pair: Pair):
    answers, state = await both(pair, post("bye", b"1", b"Connection: close\r\n"), 1, then="closed")
    assert answers == [OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")] and state == "eof"
    await same_caps(pair, "bye", 1)


async def test_head_is_answered_without_a_body_and_the_connection_goes_on(pair: Pair):
    head = b"HEAD /hooks/head?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    answers, state = await both(pair, head, HEAD, post("head"), 1, then="open")
    assert answers[0] == b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 57\r\n\r\n"
    assert answers[1] == OK and state == "open"  # (a body after the HEAD answer would be read as this one)
    await same_caps(pair, "head", 2)


async def test_a_bodiless_status_is_sent_without_a_body(pair: Pair):
    answers, state = await both(pair, post("nocontent"), 1, post("nocontent"), 1, then="open")
    assert answers == [b"HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n"] * 2
    assert state == "open"
    await same_caps(pair, "nocontent", 2)


async def test_a_compressed_body_is_answered_alike_and_captured_as_sent(pair: Pair):
    # differs on purpose: a sender's gzip body is what it signed, so the capture keeps those bytes, where
    # aiohttp's handler reads them inflated
    plain = b'{"id":"evt_gz","type":"message.created","data":{}}'
    packed = gzip.compress(plain)
    answers, _ = await both(pair, post("gz", packed, b"Content-Encoding: gzip\r\n"), 1)
    assert answers == [OK]
    await wait_for(lambda: len(caps(pair.svc, "gz")) == 1, timeout=5)
    [row] = caps(pair.svc, "gz")
    assert (row["body"], row["body_encoding"], row["truncated"]) == (packed, "base64", False)
    assert [r["body"] for r in pair.ref.requests("gz")] == [plain]


# -- bodies: chunked, cut off, lying, too large, stalled -----------------------------------------------------


async def test_a_chunked_body_is_read_whole_and_one_cut_mid_chunk_is_kept_as_incomplete(pair: Pair):
    head = b"POST /hooks/%s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    steps = (head % b"chunked" + b"3\r\nabc\r\n", 0.05, b"2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n", 1)
    answers, _ = await both(pair, *steps, then="open")
    assert answers == [OK]
    [row] = await same_caps(pair, "chunked", 1)
    assert row["body"] == b"abcde" and row["headers"] == [["Host", "x"], ["Transfer-Encoding", "chunked"]]
    answers, state = await both(pair, head % b"chunk-cut" + b"5\r\nab", 0.05, CLOSE)
    assert answers == []
    # differs on purpose: what came is kept (aiohttp's handler gets an error instead of a body)
    await wait_for(lambda: len(caps(pair.svc, "chunk-cut")) == 1, timeout=5)
    [row] = caps(pair.svc, "chunk-cut")
    assert (row["body"], row["body_size"], row["truncated"]) == (b"ab", 2, True)
    assert row["response"]["status"] == 400
    assert row["body_note"] == "the connection ended mid-body after 2 bytes: Connection lost"
    assert pair.ref.requests("chunk-cut") == []


async def test_a_client_that_closes_mid_body_leaves_an_incomplete_capture(pair: Pair):
    answers, _ = await both(pair, post("gone", b"only-this" + b"-" * 11)[:-11], 0.05, CLOSE)
    assert answers == []
    await wait_for(lambda: len(caps(pair.svc, "gone")) == 1, timeout=5)
    [row] = caps(pair.svc, "gone")
    assert (row["body"], row["body_size"], row["truncated"]) == (b"only-this", 9, True)
    assert row["body_note"] == (
        "the connection ended mid-body after 9 bytes (Content-Length said 20): Connection lost"
    )
    assert pair.ref.requests("gone") == []


async def test_a_content_length_that_says_less_than_was_sent(pair: Pair):
    # more bytes than it said: they are the start of the next request, which does not parse
    answers, state = await both(pair, post("liar"), 1, b"xyz\r\n\r\n", 1, then="closed")
    assert answers[0] == OK and answers[1].startswith(b"HTTP/1.0 400 Bad Request\r\n") and state == "eof"
    assert answers[1].split(b"\r\n\r\n")[1].startswith(b"Invalid method encountered")
    [row] = await same_caps(pair, "liar", 1)
    assert (row["body"], row["truncated"]) == (b"{}", False)


async def test_bytes_after_a_whole_request_in_the_same_write_are_answered_as_aiohttp_answers_them(pair: Pair):
    # aiohttp's parser fails the whole read: it answers only the 400, and the request is never handled
    answers, state = await both(pair, post("liar-same") + b"xyz\r\n\r\n", 1, then="closed")
    assert [status(a) for a in answers] == [b"HTTP/1.0 400 Bad Request"] and state == "eof"
    assert caps(pair.svc, "liar-same") == [] == pair.ref.requests("liar-same")


async def test_a_body_over_the_limit_is_a_413_and_the_connection_closed(pair: Pair):
    # the status as aiohttp's `client_max_size` gives it; differs on purpose: the receiver's own JSON error,
    # the body kept as far as the limit, and the connection closed (aiohttp reads the rest and keeps it)
    ours, ref = await asyncio.gather(
        talk(pair.svc.port, post("big", b"x" * 3000), 1, then="closed"),
        talk(pair.ref.port, post("big", b"x" * 3000), 1, then="open"),
    )
    assert (
        [status(a) for a in ours[0]]
        == [status(a) for a in ref[0]]
        == [b"HTTP/1.1 413 Request Entity Too Large"]
    )
    assert (ours[1], ref[1]) == ("eof", "open")
    assert b"Connection: close" in ours[0][0]
    assert ours[0][0].endswith(b'"body of 3000 bytes is over the 1000 byte limit","code":413}')
    await wait_for(lambda: len(caps(pair.svc, "big")) == 1, timeout=5)
    [row] = caps(pair.svc, "big")
    assert (row["body"], row["body_size"], row["truncated"]) == (b"x" * LIMIT, 3000, True)


async def upload(port: int, then: str) -> tuple[bytes, str, str]:
    """Send a 1 MB body over 0.25 s, reading meanwhile: (the answer, how the upload ended, then whether the
    connection was kept ("open": a probe is answered on it) or ended cleanly ("eof"))."""
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
            if then == "open":
                writer.write(PROBE)
                end = "open" if (await read_answer(reader)).startswith(b"HTTP/1.1 200") else "not open"
            else:
                end = "eof" if await reader.read() == b"" else "more bytes"
    except ConnectionError as exc:
        sent, end = await sending, f"<{type(exc).__name__}>"
    except TimeoutError:
        raise AssertionError("no answer, or no end, in 5 s") from None
    finally:
        sending.cancel()
        writer.close()
    return answer, sent, end


async def test_a_sender_still_uploading_gets_its_413_and_a_clean_end_not_a_reset(pair: Pair):
    # as aiohttp's: the rest of the upload is read and dropped and the client sees the 413; differs on
    # purpose: the receiver then ends the connection cleanly, where aiohttp keeps it
    ours, ref = await asyncio.gather(upload(pair.svc.port, "eof"), upload(pair.ref.port, "open"))
    assert status(ours[0]) == status(ref[0]) == b"HTTP/1.1 413 Request Entity Too Large"
    assert (ours[1:], ref[1:]) == (("sent all", "eof"), ("sent all", "open"))
    await wait_for(lambda: len(caps(pair.svc, "upload")) == 1, timeout=5)


async def test_a_sender_that_stops_mid_body_gets_408_after_the_idle_timeout(pair: Pair):
    # differs on purpose: aiohttp waits for a stalled body as long as the connection lives; the receiver
    # answers 408 after its idle timeout, and the connection ends (once aiohttp's lingering time is over)
    stalled = post("stall", b"{").replace(b"Length: 1", b"Length: 10")
    start = time.monotonic()
    answers, _ = await talk(pair.svc.port, stalled, 1)
    assert time.monotonic() - start < 2
    assert answers[0].startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"Connection: close" in answers[0]
    assert answers[0].endswith(b'"no body bytes for 0.4 s after 1 bytes","code":408}')
    await wait_for(lambda: len(caps(pair.svc, "stall")) == 1, timeout=5)
    [row] = caps(pair.svc, "stall")
    assert (row["body"], row["body_size"], row["truncated"]) == (b"{", 1, True)
    assert row["body_note"] == f"no body bytes for {IDLE_S:g} s after 1 bytes"


# -- what does not parse -------------------------------------------------------------------------------------


async def test_bytes_that_do_not_parse_are_a_400_and_the_connection_closes(pair: Pair):
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
        ("no-host", b"POST /hooks/no-host HTTP/1.1\r\nContent-Length: 0\r\n", b"Missing 'Host' header"),
        (
            "two-hosts",
            b"POST /hooks/two-hosts HTTP/1.1\r\nHost: x\r\nhost: y\r\n",
            b"Duplicate 'Host' header",
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
            b"Got more than 8190 bytes when reading",
        ),
        (
            "long-target",
            b"POST /hooks/long-target?" + b"q" * 9000 + b" HTTP/1.1\r\nHost: x\r\n",
            b"Got more than 8190 bytes when reading",
        ),
        (
            "old-ws",
            b"POST /hooks/old-ws HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key1: 1\r\n",
            b"Invalid HTTP header: 'Sec-WebSocket-Key1'",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_what_aiohttp_refuses_is_refused_alike(pair: Pair, name, head, text):
    answers, state = await both(pair, head + b"\r\n", 1, then="closed")
    assert answers[0].startswith(b"HTTP/1.0 400 Bad Request\r\n") and state == "eof"
    assert answers[0].split(b"\r\n\r\n", 1)[1].startswith(text)
    assert caps(pair.svc, name) == [] and pair.ref.requests(name) == []


async def test_header_values_and_the_target_are_recorded_as_aiohttp_reads_them(pair: Pair):
    head = (
        b"POST /hooks/values/a%2Fb?a=%20b&c=%zz&d=%C3%A9+e&&f HTTP/1.1\r\nHost: x\r\n"
        b"X-Utf8: caf\xc3\xa9\r\nX-Latin: \xe9t\xe9\r\nX-Binary: \x80\xff\xfe\r\nX-Spaces: \t a  b \t\r\n"
        b"X-Empty:\r\nx-utf8: again\r\n"
    )
    answers, _ = await both(pair, head + b"Content-Length: 3\r\n\r\n\x00\xff\x01", 1, then="open")
    assert answers == [OK]
    [row] = await same_caps(pair, "values", 1)
    assert (row["path"], row["query"]) == ("/hooks/values/a%2Fb", "a=%20b&c=%zz&d=%C3%A9+e&&f")  # as sent
    assert row["headers"][1:7] == [
        ["X-Utf8", "café"],
        ["X-Latin", "\xe9t\xe9"],
        ["X-Binary", "\x80\xff\xfe"],
        ["X-Spaces", "a  b"],
        ["X-Empty", ""],
        ["x-utf8", "again"],
    ]
    assert (row["body_encoding"], row["body_size"]) == ("base64", 3)


# -- Expect, upgrades ----------------------------------------------------------------------------------------


async def test_expect_100_continue_alone_and_behind_a_pipelined_request(pair: Pair):
    expect = post("expect", b"{}", b"Expect: 100-continue\r\n")
    answers, _ = await both(pair, expect[:-2], 1, expect[-2:], 1)
    assert answers == [CONTINUED, OK]
    answers, _ = await both(pair, post("expect") + expect[:-2], 2, expect[-2:], 1, then="open")
    assert answers == [OK, CONTINUED, OK]
    answers, _ = await both(pair, post("expect") + expect, 3)  # its body sent without waiting: a 100 still
    assert answers == [OK, CONTINUED, OK]
    await same_caps(pair, "expect", 5)


async def test_an_unknown_expectation_is_a_417_and_the_connection_goes_on(pair: Pair):
    answers, state = await both(pair, post("expect-417", b"{}", b"Expect: something\r\n"), 1, then="open")
    assert answers == [
        b"HTTP/1.1 417 Expectation Failed\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 25\r\n\r\nUnknown Expect: something"
    ]
    assert state == "open"
    assert caps(pair.svc, "expect-417") == [] and pair.ref.requests("expect-417") == []


H2C = b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
WS = (
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
)


async def test_curl_s_h2c_upgrade_is_declined_and_the_request_read_with_its_body(pair: Pair):
    answers, state = await both(pair, post("h2c", b'{"a": 1}', H2C), 1, post("h2c", b"next"), 1, then="open")
    assert answers == [OK, OK] and state == "open"
    rows = await same_caps(pair, "h2c", 2)
    assert rows[0]["body"] == b'{"a": 1}'
    closing = H2C.replace(b"HTTP2-Settings\r\n", b"HTTP2-Settings, close\r\n", 1)
    get = b"GET /hooks/h2c HTTP/1.1\r\nHost: x\r\n" + closing + b"\r\n"
    answers, state = await both(pair, get, 1, then="closed")
    assert answers[0].endswith(b'"Webhook endpoint is available"}') and state == "eof"  # (its `close` kept)
    await same_caps(pair, "h2c", 3)


async def test_an_upgrade_is_what_llhttp_takes_for_one(pair: Pair):
    token = b"Connection: keep-alive, x-upgrade-y\r\nUpgrade: h2c\r\n"  # "x-upgrade-y" is no `upgrade` token
    answers, _ = await both(pair, post("token", b"{}", token), 1, then="open")
    assert answers == [OK]
    await same_caps(pair, "token", 1)


async def test_a_websocket_asked_of_a_hook_is_a_webhook(pair: Pair):
    ws = b"GET /hooks/ws HTTP/1.1\r\nHost: x\r\n" + WS + b"\r\n"
    answers, state = await both(pair, ws, 1, post("ws"), 1, then="open")
    assert answers[0].endswith(b'"Webhook endpoint is available"}') and answers[1] == OK and state == "open"
    await same_caps(pair, "ws", 2)
    no_endpoint = b"GET /hooks/ HTTP/1.1\r\nHost: x\r\n" + WS + b"\r\n"
    answers, _ = await both(pair, post("ws") + no_endpoint, 2, then="open")
    assert answers[1].startswith(b"HTTP/1.1 404 Not Found")
    await same_caps(pair, "ws", 3)


async def test_a_request_waiting_for_its_100_is_not_timed_out_while_the_answer_before_it_is_slow(pair: Pair):
    expect = post("turn", b"{}", b"Expect: 100-continue\r\n")
    answers, _ = await both(pair, post("slow") + expect[:-2], 2, expect[-2:], 1)
    assert answers == [OK, CONTINUED, OK]
    [row] = await same_caps(pair, "turn", 1)
    assert (row["body"], row["truncated"]) == (b"{}", False)


async def test_part_of_a_request_line_and_a_shut_is_answered_at_once(pair: Pair):
    # the server held such a connection until it gave up deciding where it went (10 s); aiohttp closes it
    answers, state = await both(pair, b"POS", EOF, then="closed")
    assert answers == [] and state == "eof"


async def test_a_head_sent_in_part_is_waited_for_not_timed_out(pair: Pair):
    head = post("slow-head")
    answers, _ = await both(pair, head[:20], IDLE_S + 0.3, head[20:], 1, then="open")
    assert answers == [OK]
    await same_caps(pair, "slow-head", 1)


@pytest.mark.parametrize(
    "target", [b"/hooks/", b"/hooks/?a=1", b"/hooks//x", b"/hooks/a{b", b"http://x/hooks/"], ids=repr
)
async def test_a_hooks_path_with_no_endpoint_after_a_webhook_is_a_404(pair: Pair, target):
    # the worker relayed these to the server, whose connection began with /hooks/ and so went to a worker again
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answers, _ = await both(pair, post("first-404") + request, 2, then="open")
    assert answers[0] == OK and answers[1].startswith(b"HTTP/1.1 404 Not Found")
    assert len(caps(pair.svc, "first-404")) == len(pair.ref.requests("first-404"))


# -- the receiver's own: chaos, the server's API and feed on a hook connection -------------------------------


async def test_chaos_drop_and_timeout_end_the_connection_with_no_answer(pair: Pair):
    # nothing behind the dropped request is served
    answers, state = await talk(pair.svc.port, post("drop") + post("drop-next", b"1234")[:-2], then="closed")
    assert answers == [] and state in ("eof", "reset")
    await wait_for(lambda: len(caps(pair.svc, "drop")) == 1, timeout=5)
    assert caps(pair.svc, "drop-next") == []
    start = time.monotonic()
    answers, state = await talk(pair.svc.port, post("hold"), then="closed")
    assert answers == [] and state in ("eof", "reset") and 0.9 < time.monotonic() - start < 2
    await wait_for(lambda: len(caps(pair.svc, "hold")) == 1, timeout=5)
    assert caps(pair.svc, "hold")[0]["response"]["action"] == "timeout"


async def test_the_server_s_api_after_a_webhook_on_one_connection_is_answered_in_order(pair: Pair):
    put = b'{"response": {"status": 202}}'
    health = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    endpoint = (
        b"PUT /v1/endpoints/relayed HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer test-token-123\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(put), put)
    )
    answers, state = await talk(
        pair.svc.port, post("relay") + health + endpoint + post("relay"), 4, then="open"
    )
    assert answers[0] == answers[3] == OK and answers[1].endswith(b'{"status": "ok"}') and state == "open"
    assert answers[2].startswith(b"HTTP/1.1 201 Created") and b'"status":202' in answers[2]
    assert pair.svc.receiver.endpoints.get("relayed")["response"]["status"] == 202
    await wait_for(lambda: len(caps(pair.svc, "relay")) == 2, timeout=5)


async def test_a_path_outside_hooks_after_a_webhook_is_the_server_s_to_answer(pair: Pair):
    # (a request the server's API guard refuses: this Host is not the local one)
    answers, state = await talk(
        pair.svc.port, post("first-403") + b"GET /v1/../hooks/ HTTP/1.1\r\nHost: x\r\n\r\n", 2, then="open"
    )
    assert answers[0] == OK and answers[1].startswith(b"HTTP/1.1 403 Forbidden") and state == "open"
    await wait_for(lambda: len(caps(pair.svc, "first-403")) == 1, timeout=5)


async def test_the_server_s_feed_asked_after_a_webhook_on_one_connection_is_served(pair: Pair):
    feed = b"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" + WS + b"\r\n"
    answers, _ = await talk(pair.svc.port, post("ws-feed") + feed, 2)
    assert answers[0] == OK and answers[1].startswith(b"HTTP/1.1 101 Switching Protocols\r\n")


async def test_when_the_client_goes_the_request_under_way_is_still_recorded(pair: Pair):
    # as aiohttp: the request being handled is finished (and recorded); the ones read behind it are not handled
    sent = post("slow") + post("left", b"1") + post("left", b"2")
    before = len(caps(pair.svc, "slow")), len(pair.ref.requests("slow"))
    answers, _ = await both(pair, sent, 0.1, CLOSE)
    assert answers == []
    await wait_for(lambda: len(caps(pair.svc, "slow")) == before[0] + 1, timeout=5)
    await wait_for(lambda: len(pair.ref.requests("slow")) == before[1] + 1, timeout=5)
    assert caps(pair.svc, "left") == [] and pair.ref.requests("left") == []
