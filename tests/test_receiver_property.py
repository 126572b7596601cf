"""Property: random bytes as body, header values and paths, bad JSON, lying lengths: a clear answer, never a 500,
and the capture recorded with the exact bytes that arrived. No answer in time (a hang) or a close before a whole
answer (a silent close) fails. Also fuzzed: chunking (sizes, extensions, trailers, broken framing), deep JSON and
raw bytes as the request head. Every 2xx has its capture, and nothing is logged at ERROR (fuzz_support)."""

from __future__ import annotations

import asyncio
import hashlib

from fuzz_support import FUZZ, assert_kept_on_disk, no_logged_errors
from hypothesis import example, given, settings
from hypothesis import strategies as st
from receiver_support import answer_to, wait_for

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
header_names = st.text(TOKEN_CHARS, min_size=1, max_size=20).filter(
    lambda n: (
        n.lower() not in ("content-length", "transfer-encoding", "connection", "host", "expect", "upgrade")
    )
)
header_values = st.binary(max_size=60).map(lambda b: bytes(c for c in b if c not in b"\r\n\x00").strip())
path_chars = st.text("abcXYZ019-._~%/!$&'()*+,;=:@", max_size=30)
bodies = st.one_of(
    st.binary(max_size=2000),
    st.just(b'{"id": "evt_x", "type": "message.created", "createdAt": "2024-01-01T00:00:00Z", "data": {}}'),
    st.just(b'{"event": "message", "data": '),
    st.text(max_size=300).map(lambda t: t.encode("utf-8")),
)

SLOW = settings(FUZZ, max_examples=60)  # derandomized: the same examples on every run (see fuzz_support)


@SLOW
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET", "OPTIONS"]),
    tail=path_chars,
    headers=st.lists(st.tuples(header_names, header_values), max_size=8),
    body=bodies,
)
@example(method="POST", tail="%0a", headers=[], body=b"{}")  # an escaped newline in the sub-path (was a 404)
async def test_random_requests_are_answered_and_captured(service, method, tail, headers, body):
    with no_logged_errors():
        table = service.store.table("captures")
        before = len(table)
        lines = [f"{method} /hooks/prop/{tail} HTTP/1.1".encode(), b"Host: x", b"Connection: close"]
        lines += [name.encode() + b": " + value for name, value in headers]
        lines.append(b"Content-Length: %d" % len(body))
        answer = await answer_to(service.port, b"\r\n".join(lines) + b"\r\n\r\n" + body)
        assert answer.startswith(b"HTTP/1."), answer[:200]
        status = int(answer.split(b" ", 2)[1])
        if status == 400 and len(table) == before:
            return  # aiohttp's own parser refused the request line or a header (e.g. a bad percent-escape)
        assert status == 200, answer[:200]
        assert len(table) == before + 1
        doc = assert_kept_on_disk(service, body)
        sent = [(n, v) for n, v in headers]
        got = [(k, v) for k, v in doc["headers"] if k not in ("Host", "Connection", "Content-Length")]
        assert len(got) == len(sent)


IDLE_S = 0.3  # the receiver's body idle timeout here: a body that stops coming is answered 408 after it


@SLOW
@given(claimed=st.integers(0, 500), body=st.binary(max_size=300), hang_up=st.booleans())
async def test_lying_content_length_never_500(service, claimed, body, hang_up):
    """Less than the body: the rest is read as a next request, which aiohttp's parser may refuse with 400 before
    any handler runs. More: a sender that waits is answered 408 once the body stops coming; one that hangs up
    gets nothing (nobody is there), and what came is kept, marked incomplete. Never a 500, never silence."""
    with no_logged_errors():
        service.receiver.body_idle_timeout = IDLE_S
        table = service.store.table("captures")
        before = len(table)
        raw = (
            b"POST /hooks/liar HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
            % claimed
            + body
        )
        short = claimed > len(body)
        if short and hang_up:
            _, writer = await asyncio.open_connection("127.0.0.1", service.port)
            writer.write(raw)
            await writer.drain()
            writer.close()
        else:
            answer = await answer_to(service.port, raw)
            status = int(answer.split(b" ", 2)[1])
            if short:
                assert status == 408, answer[:200]
            elif status == 400:
                assert claimed < len(body), answer[:200]  # the bytes past the length did not parse
                return
            else:
                assert status == 200, answer[:200]
                assert_kept_on_disk(service, body[:claimed])
        await wait_for(
            lambda: len(table) > before
        )  # the handler may still be finishing after the client hung up
        assert len(table) == before + 1
        doc = service.store.thaw("captures", table.newest(1)[0])
        kept = body[:claimed]
        assert doc["body_sha256"] == hashlib.sha256(kept).hexdigest() and doc["truncated"] == short


# -- bad chunking, trailers, deep JSON, raw bytes, odd headers (fuzz; see fuzz_support for the profile) -----------

CHUNK_FAULTS = ("none", "bad-size", "size-too-big", "no-last-chunk", "no-crlf-after-data")
token_text = st.text(TOKEN_CHARS, min_size=1, max_size=12)
# a trailer's value as RFC 9110 allows it (no control bytes but tab): aiohttp's parser refuses the others in
# trailers with 400, though it lets them pass in the head
trailer_values = st.binary(max_size=60).map(lambda b: bytes(c for c in b if c == 9 or 32 <= c != 127).strip())


def chunked(
    body: bytes, cuts: list[int], extensions: list[str], trailers: list[tuple[str, bytes]], fault: str
):
    """`body` as chunks of the sizes in `cuts` (the rest in one), with `;ext` on chunks and trailer fields,
    broken as `fault` says."""
    out, at = b"", 0
    sizes = [*cuts, len(body)]
    for i, size in enumerate(sizes):
        piece = body[at : at + size]
        at += len(piece)
        if not piece:
            break
        ext = (";" + extensions[i % len(extensions)]).encode() if extensions else b""
        head = b"%x" % len(piece)
        if fault == "bad-size" and i == 0:
            head = b"zz"
        elif fault == "size-too-big" and i == 0:
            head = b"%x" % (len(piece) + 7)
        out += head + ext + b"\r\n" + piece + (b"" if fault == "no-crlf-after-data" and i == 0 else b"\r\n")
    if fault != "no-last-chunk":
        out += b"0\r\n" + b"".join(n.encode() + b": " + v + b"\r\n" for n, v in trailers) + b"\r\n"
    return out


@settings(FUZZ, max_examples=60)
@given(
    body=st.binary(min_size=1, max_size=600),
    cuts=st.lists(st.integers(1, 200), max_size=6),
    extensions=st.lists(st.one_of(token_text, st.tuples(token_text, token_text).map("=".join)), max_size=3),
    trailers=st.lists(st.tuples(header_names, trailer_values), max_size=4),
    fault=st.sampled_from(CHUNK_FAULTS),
)
async def test_random_chunking_and_trailers(service, body, cuts, extensions, trailers, fault):
    """Well-formed chunking (any sizes, extensions, trailers) is captured with the exact body; broken chunking is
    refused (400) or, when the body stops coming, answered 408. Every 2xx has its capture; never a 5xx."""
    service.receiver.body_idle_timeout = IDLE_S
    table = service.store.table("captures")
    before = len(table)
    head = (
        b"POST /hooks/chunks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    with no_logged_errors():
        answer = await answer_to(service.port, head + chunked(body, cuts, extensions, trailers, fault))
        status = int(answer.split(b" ", 2)[1])
        assert status < 500, answer[:300]
        if fault == "none":
            assert status == 200, answer[:300]
        if 200 <= status < 300:
            await wait_for(lambda: len(table) > before)
            if fault == "none":
                assert_kept_on_disk(service, body)
        else:
            assert status in (400, 408, 413, 431), answer[:300]


@settings(FUZZ, max_examples=20)
@given(
    depth=st.one_of(st.integers(1, 50), st.integers(900, 1100), st.integers(10_000, 200_000)),
    opener=st.sampled_from([(b'{"a":', b"}"), (b"[", b"]")]),
    signed=st.booleans(),
)
@example(depth=200_000, opener=(b'{"a":', b"}"), signed=True)
async def test_deep_json_is_captured(service, depth, opener, signed):
    """JSON nested past any parser's recursion limit: captured whole, answered 200 (and, when signed, verified
    without a crash: the signature is over the bytes)."""
    open_, close = opener
    body = open_ * depth + b"1" + close * depth
    headers = b"Content-Type: application/json\r\n"
    if signed:
        headers += b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\n"
    table = service.store.table("captures")
    before = len(table)
    raw = b"POST /hooks/deep HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers
    with no_logged_errors():
        answer = await answer_to(service.port, raw + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        assert int(answer.split(b" ", 2)[1]) == 200, answer[:300]
        assert len(table) == before + 1
        assert_kept_on_disk(service, body)


@settings(FUZZ, max_examples=60)
@given(
    request_line=st.one_of(
        st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
        st.sampled_from(
            [
                b"POST /hooks/x HTTP/1.0",
                b"POST /hooks/x HTTP/9.9",
                b"POST  /hooks/x  HTTP/1.1",
                b"POST http://x/hooks/x HTTP/1.1",
                b"PRI * HTTP/2.0",
                b"POST /hooks/x",
            ]
        ),
    ),
    lines=st.lists(
        st.one_of(
            st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
            st.sampled_from(
                [
                    b" folded",
                    b"\tfolded",
                    b"Content-Length: 1",
                    b"Content-Length: -1",
                    b"Content-Length: 1, 2",
                    b"Transfer-Encoding: gzip",
                    b"Transfer-Encoding: chunked",
                    b"Expect: 100-continue",
                    b"Expect: weird",
                    b"Origin: null",
                    b"Sec-Fetch-Site: cross-site",
                    b"Content-Type: text/plain; charset=\xff",
                    b"Content-Encoding: br",
                    b"X-Long: " + b"v" * 9000,
                    b"Upgrade: websocket",
                ]
            ),
        ),
        max_size=6,
    ),
)
async def test_raw_bytes_get_an_answer(service, request_line, lines):
    """Whatever bytes make the head: an HTTP answer (no hang, no silent close), never a 5xx, and a 2xx only with
    its capture. (A body announced here is sent: an empty one for a length, a last chunk for chunked.)"""
    service.receiver.body_idle_timeout = IDLE_S
    table = service.store.table("captures")
    before = len(table)
    head = b"\r\n".join([request_line, b"Host: x", *lines, b"Connection: close"]) + b"\r\n\r\n"
    with no_logged_errors():
        answer = await answer_to(service.port, head + b"0\r\n\r\n")
        assert answer.startswith(b"HTTP/1."), answer[:300]
        status = int(answer.split(b" ", 2)[1])
        assert status < 500, answer[:300]
        if 200 <= status < 300 and request_line.split(b" ")[1:2] == [b"/hooks/x"]:
            await wait_for(lambda: len(table) > before)
            assert_kept_on_disk(service, None)
