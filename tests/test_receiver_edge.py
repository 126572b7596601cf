"""The HTTP edge is bounded: heads and bodies have deadlines, trailers and chunk extensions limits, `Expect` is
answered after the length check, a fault answers 500 and closes, running out of descriptors backs off.

Every wait for an answer has a deadline, and no answer (a hang, a silent close) fails the test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import textwrap

from receiver_support import _complete, answer_to, captures, running

from katya_tui.config import Settings
from katya_tui.core.connections import effective_cap
from katya_tui.core.receiver import Receiver
from katya_tui.core.service import Service

MARGIN_S = 10.0  # slack on a 2-core machine shared with others: a bound on waiting, not a timing claim


async def until_closed(reader: asyncio.StreamReader, timeout: float, *, or_answered: bool = False) -> bytes:
    """What the server sends until it closes the connection (or, `or_answered`, until a whole answer came);
    neither after `timeout` fails the test."""
    out = b""
    try:
        async with asyncio.timeout(timeout):
            while not (or_answered and _complete(out)) and (chunk := await reader.read(65536)):
                out += chunk
    except TimeoutError:
        raise AssertionError(f"still open after {timeout:g} s (got {out!r})") from None
    except ConnectionResetError:
        pass
    return out


async def trickle(writer: asyncio.StreamWriter, data: bytes, every_s: float) -> None:
    """Write `data` a byte at a time, `every_s` apart, until it is all sent or the server closes."""
    with contextlib.suppress(ConnectionError):
        for i in range(len(data)):
            if writer.is_closing():
                return
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(every_s)


async def trickled(port: int, head: bytes, tail: bytes, every_s: float, timeout: float) -> bytes:
    """Send `head` at once, then `tail` a byte at a time; what came back before a whole answer came or the server
    closed. (After a cut body's answer, aiohttp reads and drops what still comes for its `lingering_time`.)"""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    sending = asyncio.create_task(trickle(writer, tail, every_s))
    try:
        return await until_closed(reader, timeout, or_answered=True)
    finally:
        sending.cancel()
        writer.close()


def hook_request(path: str = "/hooks/e", **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def healthz_request(port: int) -> bytes:
    return f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()


# -- heads -----------------------------------------------------------------------------------------------------


async def test_heads_sent_a_byte_at_a_time_are_cut_at_the_head_deadline(settings, monkeypatch):
    monkeypatch.setattr(Service, "head_timeout", 1.5)
    head = b"POST /hooks/slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 4000  # never whole in time
    async with running(settings) as svc:
        slow = [
            asyncio.create_task(trickled(svc.port, b"", head, 0.25, Service.head_timeout + MARGIN_S))
            for _ in range(20)
        ]
        await asyncio.sleep(0.5)
        healthz = await answer_to(svc.port, healthz_request(svc.port))
        hook = await answer_to(svc.port, hook_request(Content_Length="2", Connection="close") + b"{}")
        assert healthz.startswith(b"HTTP/1.1 200") and hook.startswith(b"HTTP/1.1 200")
        assert await asyncio.gather(*slow) == [b""] * 20  # each closed (no request came, so no answer)


# -- bodies ----------------------------------------------------------------------------------------------------


async def test_a_sender_that_trickles_is_cut_at_the_total_deadline_and_kept(service):
    service.receiver.body_total_timeout = 1.0  # (the idle timer, 30 s, never fires: a byte every 0.2 s)
    head = hook_request(Content_Length="1000", Connection="close")
    answer = await trickled(service.port, head, b"x" * 1000, 0.2, 1.0 + MARGIN_S)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"body not complete 1 s after the request head" in answer
    [row] = await captures(service)
    assert row["truncated"] and row["response"]["status"] == 408 and 0 < row["bodySize"] < 1000
    assert row["bodyNote"].startswith("body not complete 1 s after the request head")


async def test_the_default_deadlines():
    assert Service.head_timeout == 30.0
    assert (Receiver.body_idle_timeout, Receiver.body_total_timeout) == (30.0, 300.0)


# -- chunked: trailers and extensions --------------------------------------------------------------------------

CHUNKED = hook_request(Transfer_Encoding="chunked", Connection="close")


async def test_trailers_are_read_within_the_header_limits(service):
    ok = await answer_to(service.port, CHUNKED + b"2\r\n{}\r\n0\r\nX-Trailer: yes\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200"), ok
    long_one = CHUNKED + b"2\r\n{}\r\n0\r\nX-Trailer: " + b"a" * 9000 + b"\r\n\r\n"  # over max_field_size
    many = CHUNKED + b"2\r\n{}\r\n0\r\n" + b"".join(b"X-T%d: v\r\n" % i for i in range(200)) + b"\r\n"
    for raw in (long_one, many):  # (over max_headers: trailers count as header fields)
        assert (await answer_to(service.port, raw)).split(b"\r\n")[0].endswith(b"400 Bad Request")


async def test_a_long_chunk_extension_is_skipped_without_being_kept(service):
    raw = CHUNKED + b"2;ext=" + b"a" * 1_000_000 + b"\r\n{}\r\n0\r\n\r\n"
    assert (await answer_to(service.port, raw, timeout=MARGIN_S)).startswith(b"HTTP/1.1 200")
    [row] = await captures(service)
    assert row["bodySize"] == 2 and not row["truncated"]


async def test_a_chunk_extension_that_never_ends_is_cut_by_the_body_deadline(service):
    service.receiver.body_total_timeout = 1.0
    answer = await trickled(service.port, CHUNKED + b"2;ext=", b"a" * 1000, 0.05, 1.0 + MARGIN_S)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    [row] = await captures(service)
    assert row["truncated"] and row["bodySize"] == 0


# -- Expect: 100-continue --------------------------------------------------------------------------------------


async def test_expect_over_the_limit_gets_413_at_once_and_no_100_continue(settings):
    async with running(settings, body_limit=1000) as svc:
        head = hook_request(Content_Length="1001", Expect="100-continue")  # the body is never sent
        answer = await answer_to(svc.port, head)
        assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer, answer
        assert b"over the 1000 byte limit" in answer
        [row] = await captures(svc)
        assert row["truncated"] and row["bodySize"] == 1001 and row["response"]["status"] == 413


async def test_expect_within_the_limit_gets_100_continue_then_the_answer(settings):
    async with running(settings, body_limit=1000) as svc:
        reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
        try:
            writer.write(hook_request(Content_Length="2", Expect="100-continue", Connection="close"))
            async with asyncio.timeout(MARGIN_S):
                interim = await reader.readuntil(b"\r\n\r\n")
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"{}")
            assert (await until_closed(reader, MARGIN_S)).startswith(b"HTTP/1.1 200")
        finally:
            writer.close()
        [row] = await captures(svc)
        assert row["bodySize"] == 2 and not row["truncated"]


async def test_an_unknown_expectation_gets_417(service):
    answer = await answer_to(service.port, hook_request(Content_Length="2", Expect="other") + b"{}")
    assert answer.startswith(b"HTTP/1.1 417"), answer


# -- faults ----------------------------------------------------------------------------------------------------


async def test_a_fault_while_serving_answers_500_and_closes(service, monkeypatch):
    async def take_in_fails(self, took):
        raise RuntimeError("injected fault")

    def keep_fails(self, cfg, took, plan):
        raise RuntimeError("injected fault")

    for name, fault in (("take_in", take_in_fails), ("keep", keep_fails)):
        with monkeypatch.context() as m:
            m.setattr(Receiver, name, fault)
            reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
            try:
                writer.write(hook_request(Content_Length="2") + b"{}")  # keep-alive asked (HTTP/1.1)
                answer = await until_closed(reader, MARGIN_S)
            finally:
                writer.close()
            assert answer.startswith(b"HTTP/1.1 500"), (name, answer)
            assert b"Connection: close" in answer.partition(b"\r\n\r\n")[0]
    ok = await answer_to(service.port, hook_request(Content_Length="2", Connection="close") + b"{}")
    assert ok.startswith(b"HTTP/1.1 200")


# -- a cap on open connections -------------------------------------------------------------------------------


async def test_past_the_connection_cap_a_new_connection_gets_503_then_one_is_served_once_a_slot_frees(
    settings,
):
    async with running(settings, max_connections=3) as svc:
        assert svc.gate is not None and svc.gate.cap == 3
        server = svc.gate.runner.server
        assert server is not None
        idle = [await asyncio.open_connection("127.0.0.1", svc.port) for _ in range(3)]
        try:
            async with asyncio.timeout(MARGIN_S):
                while len(server.connections) < 3:
                    await asyncio.sleep(0.01)
            refused = await answer_to(svc.port, healthz_request(svc.port))
            head = refused.partition(b"\r\n\r\n")[0]
            assert head.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in head, refused
            assert b"Connection: close" in head and b"the cap is 3" in refused
            assert svc.gate.refused == 1
            idle.pop()[1].close()
            async with asyncio.timeout(MARGIN_S):
                while len(server.connections) >= 3:
                    await asyncio.sleep(0.01)
            assert (await answer_to(svc.port, healthz_request(svc.port))).startswith(b"HTTP/1.1 200")
        finally:
            for _, w in idle:
                w.close()


def test_the_default_cap_and_its_bound_by_the_descriptors():
    assert Settings().max_connections == 1000
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert effective_cap(10**6) == min(10**6, soft // 2) and effective_cap(2) == min(2, soft // 2)


# -- out of file descriptors -----------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, logging, os, resource, sys
    from katya_tui.config import load_settings
    from katya_tui.core.service import Service

    resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    async def main():
        settings = load_settings({"port": 0, "data_dir": sys.argv[1], "token": "edge-token-123"}, env={})
        svc = Service(settings, headless=True)
        await svc.start()
        told = asyncio.Event()  # set when the test says the descriptors may be freed (a line on stdin)
        asyncio.get_running_loop().add_reader(sys.stdin.fileno(), told.set)
        hog = []
        try:
            while True:
                hog.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        print(svc.port, flush=True)
        await told.wait()
        for fd in hog:
            os.close(fd)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_out_of_descriptors_the_accept_loop_backs_off_logs_once_and_recovers(tmp_path):
    """asyncio's accept loop pauses accepting for a second (`ACCEPT_RETRY_DELAY`) when descriptors run out, but
    logs every accept that failed, with its traceback; the service logs one warning instead, and one line
    when it accepts again."""
    log_file = (tmp_path / "stderr.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), "256"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log_file,  # (a file, not a pipe: were it to flood, a full pipe would freeze the child)
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    held: list[asyncio.StreamWriter] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = int(await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), MARGIN_S * 3))
        for _ in range(40):  # none can be accepted: the kernel queues them
            held.append((await asyncio.open_connection("127.0.0.1", port))[1])
        await asyncio.sleep(2.5)  # two rounds of retries at least
        proc.stdin.write(b"free\n")
        proc.stdin.flush()
        assert (await answer_to(port, healthz_request(port), timeout=MARGIN_S * 2)).startswith(
            b"HTTP/1.1 200"
        )
    finally:
        for w in held:
            w.close()
        proc.terminate()
        await asyncio.to_thread(proc.communicate, timeout=MARGIN_S * 3)
        log_file.close()
    err = (tmp_path / "stderr.log").read_text()
    assert err.count("cannot accept connections") == 1, err[-3000:]  # it did run out, and said so once
    assert err.count("accepting connections again") == 1, err[-3000:]
    assert "out of system resource" not in err and "Traceback" not in err, err[-3000:]
