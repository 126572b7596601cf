"""curl export sends the captured bytes; diffs of requests and attempts say what changed."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
from aiohttp import web

from katya_tui.core.models import encode_body
from katya_tui.curl import shell_quote_bytes, to_curl
from katya_tui.ui.diff import (
    body_kind,
    body_lines,
    body_note,
    diff_attempts,
    diff_captures,
    hexdump,
    request_lines,
)


def capture(body: bytes, headers=None, method="POST", path="/hooks/x", query="", id="cap_1"):
    text, enc = encode_body(body)
    return {
        "id": id,
        "method": method,
        "path": path,
        "query": query,
        "body": text,
        "body_encoding": enc,
        "headers": headers if headers is not None else [["Content-Type", "application/json"]],
    }


def bash_echo(word: str) -> bytes:
    return subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True).stdout


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}',
        b"it's a 'quote'",
        b"line1\nline2\n",
        "caf\u00e9 \u2014 \u65e5\u672c".encode(),
        b"\x01\x02\x1b[31mred",
        b"\xff\xfe\x80 not utf-8",
        b"back\\slash $HOME `cmd` !x",
        b"",
    ],
)
def test_shell_quote_round_trips_through_bash(data):
    word = shell_quote_bytes(data)
    assert word is not None
    assert bash_echo(word) == data


def test_shell_quote_refuses_nul():
    assert shell_quote_bytes(b"a\x00b") is None


def test_curl_shape_for_json_post():
    cmd = to_curl(
        capture(
            b'{"a":1}',
            [
                ["Host", "x"],
                ["Content-Type", "application/json"],
                ["X-Katya-Signature", "sha256=ab"],
                ["Content-Length", "7"],
            ],
        ),
        "http://127.0.0.1:9",
    )
    assert cmd.startswith("curl -sS")
    assert "-X POST" in cmd
    assert "-H 'X-Katya-Signature: sha256=ab'" in cmd
    assert "Host: x" not in cmd and "Content-Length" not in cmd
    assert "--data-binary '{\"a\":1}'" in cmd
    assert cmd.endswith("\\\n  http://127.0.0.1:9/hooks/x")


def test_curl_get_without_body_has_no_method_flag():
    cmd = to_curl(capture(b"", [], method="GET", query="a=1&b=2"), "http://h")
    assert "-X" not in cmd and "--data-binary" not in cmd
    assert "'http://h/hooks/x?a=1&b=2'" in cmd


class Sink:
    """A local server that records the raw request it gets."""

    def __init__(self):
        self.got: list[tuple[str, str, list[tuple[str, str]], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.got.append((request.method, request.path_qs, list(request.raw_headers), body))
        return web.Response(text="ok")


async def run_curl_against_sink(cap: dict) -> tuple[str, str, list, bytes]:
    sink = Sink()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sink.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        cmd = to_curl(cap, f"http://127.0.0.1:{port}")
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err
    finally:
        await runner.cleanup()
    assert len(sink.got) == 1
    method, path, raw, body = sink.got[0]
    return method, path, [(k.decode(), v.decode("latin-1")) for k, v in raw], body


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"evt_1","type":"message.created","data":{"text":"caf\xc3\xa9"}}',
        b"\x00\x01\x02\xff binary with NUL",
        b"\xff\xfe not utf-8 \x1b",
        b"multi\nline 'quoted' $VAR",
    ],
)
async def test_curl_command_sends_the_exact_bytes(body):
    headers = [
        ["Content-Type", "application/octet-stream"],
        ["X-Sig", "v1,abc=="],
        ["X-Empty", ""],
        ["X-Repeat", "1"],
        ["X-Repeat", "2"],
    ]
    method, path, got_headers, got_body = await run_curl_against_sink(
        capture(body, headers, method="PUT", path="/hooks/a/b", query="q=1")
    )
    assert method == "PUT"
    assert path == "/hooks/a/b?q=1"
    assert got_body == body
    names = [k for k, _ in got_headers]
    assert ("X-Sig", "v1,abc==") in got_headers
    assert ("X-Empty", "") in got_headers
    assert [v for k, v in got_headers if k == "X-Repeat"] == ["1", "2"]
    assert ("Content-Type", "application/octet-stream") in got_headers
    assert "User-Agent" not in names and "Accept" not in names


async def test_curl_without_content_type_sends_none():
    _, _, got_headers, got_body = await run_curl_against_sink(capture(b"raw", []))
    assert got_body == b"raw"
    assert "Content-Type" not in [k for k, _ in got_headers]


def test_body_kinds_and_lines():
    assert body_kind(b"") == "empty"
    assert body_kind(b'{"a": [1]}') == "json"
    assert body_kind(b"hello") == "text"
    assert body_kind(b"\xff\x00") == "binary"
    assert body_lines(b'{"a":1}') == ["{", '  "a": 1', "}"]
    assert body_lines(b"\xff\x00") == hexdump(b"\xff\x00")


def test_hexdump_layout_and_limit():
    lines = hexdump(bytes(range(40)), limit=32)
    assert lines[0].startswith("00000000  00 01 02")
    assert lines[1].startswith("00000010  10 11")
    assert lines[-1] == "… 8 more bytes"
    assert hexdump(b"AB\n")[0].endswith("|AB.|")


def test_request_lines():
    lines = request_lines(capture(b'{"a":1}', [["X-A", "1"]], query="z=1"))
    assert lines[:3] == ["POST /hooks/x?z=1", "X-A: 1", ""]
    assert lines[3:] == ["{", '  "a": 1', "}"]


def test_diff_of_captures_shows_changed_header_and_body():
    a = capture(b'{"a":1}', [["X-Sig", "old"]], id="cap_a")
    b = capture(b'{"a":2}', [["X-Sig", "new"]], id="cap_b")
    lines = diff_captures(a, b)
    assert "--- cap_a" in lines and "+++ cap_b" in lines
    assert "-X-Sig: old" in lines and "+X-Sig: new" in lines
    assert '-  "a": 1' in lines and '+  "a": 2' in lines
    assert lines[0].startswith("bodies differ")


def test_diff_flags_reserialised_json():
    a = capture(b'{"a":1,"b":2}')
    b = capture(json.dumps({"a": 1, "b": 2}).encode())
    lines = diff_captures(a, b)
    assert len(lines) == 1 and "same JSON but different bytes" in lines[0]
    assert body_note(b"x", b"x") is None


def test_diff_of_identical_captures():
    a = capture(b"same")
    assert diff_captures(a, dict(a, id="cap_2")) == [
        "no difference: same method, path, headers and body bytes"
    ]


def test_diff_attempts():
    first = {
        "n": 1,
        "status_code": 500,
        "latency_ms": 12.0,
        "error_class": "http",
        "reason": "server error",
        "request_headers": [["X-Katya-Timestamp", "1"]],
        "response_headers": [],
        "response_body": "boom",
    }
    second = {
        "n": 2,
        "status_code": 200,
        "latency_ms": 8.0,
        "error_class": None,
        "reason": "",
        "request_headers": [["X-Katya-Timestamp", "2"]],
        "response_headers": [],
        "response_body": "ok",
    }
    lines = diff_attempts(first, second)
    assert "-attempt 1: HTTP 500 in 12 ms" in lines
    assert "+attempt 2: HTTP 200 in 8 ms" in lines
    assert "-X-Katya-Timestamp: 1" in lines and "+X-Katya-Timestamp: 2" in lines
    assert "-boom" in lines and "+ok" in lines
    timeout = dict(first, n=3, status_code=None, error_class="timeout", latency_ms=None)
    assert "+attempt 3: no response (timeout)" in diff_attempts(first, timeout)
