"""Receiver workers, edge cases: a connection handed to a worker answers as the server itself would (unmatched
/hooks paths, `Expect`, the relay of other requests), and the worker processes start and stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import aiohttp
import orjson
import pytest
from receiver_support import AUTH, captures, running, wait_for
from test_receiver_workers import put_endpoint, ready

from katya_tui.core.receiver.workers import router as workers_mod

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
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                out.append(head + await reader.readexactly(length))
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
    return out


def strip(answer: bytes) -> bytes:
    return b"\r\n".join(
        line for line in answer.split(b"\r\n") if not line.lower().startswith((b"date:", b"server:"))
    )


async def test_an_encoded_slash_in_the_endpoint_name_is_kept_as_the_router_keeps_it(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        [answer] = await exchange(
            svc.port, b"POST /hooks/a%2Fb/c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 1
        )
        assert answer.startswith(b"HTTP/1.1 200")
        assert [c["endpoint"] for c in await captures(svc)] == ["a/b"]  # as workers = 0 records it
        assert svc.receiver.workers.workers[0].taken == 1


async def test_expect_100_continue_is_answered_before_the_body_and_an_unknown_expectation_is_417(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
        writer.write(
            b"POST /hooks/exp HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        )
        async with asyncio.timeout(10):  # (a client like curl sends the body anyway after 1 s; others wait)
            interim = await reader.readuntil(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"{}")
        async with asyncio.timeout(10):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.close()
        [refused] = await exchange(
            svc.port, b"POST /hooks/exp HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Length: 2\r\n\r\n{}", 1
        )
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


def worker_children() -> list[int]:
    """Receiver worker processes this process started that have not ended (zombies not counted)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if (
            int(fields[1]) == os.getpid()
            and fields[0] != "Z"
            and b"katya_tui.core.receiver.workers.process" in cmd
        ):
            pids.append(int(entry))
    return pids


@pytest.mark.parametrize("method", [b"MKCALENDAR", b"PROPPATCH"])
async def test_a_long_method_is_routed_at_once_not_after_the_undecided_limit(settings, monkeypatch, method):
    # its first 16 bytes never show a whole /hooks/: it waited UNDECIDED_LIMIT_S (10 s) before it was served
    monkeypatch.setattr(workers_mod, "UNDECIDED_LIMIT_S", 3600.0)
    async with running(settings, workers=1) as svc:
        await ready(svc)
        [answer] = await exchange(
            svc.port, method + b" /hooks/long HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 1
        )
        assert answer.startswith(b"HTTP/1.1 200")
        assert [c["method"] for c in await captures(svc, endpoint="long")] == [method.decode()]


async def test_a_request_under_way_when_the_service_stops_gets_its_answer(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        await put_endpoint(svc, "slow", {"response": {"delay_ms": 60_000, "status": 202}})
        worker = svc.receiver.workers.workers[0]
        pending = asyncio.ensure_future(
            exchange(svc.port, b"POST /hooks/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 1)
        )
        await wait_for(lambda: worker.taken == 1)
        await svc.stop()  # (the delay ends when the service stops, as in here)
        [answer] = await pending or [b""]
        assert answer.startswith(b"HTTP/1.1 202")  # not 503 "stopping": the capture was recorded with 202
        assert worker.proc.poll() is not None


async def test_a_stopped_worker_does_not_stall_the_server(settings):
    """A worker that takes no connections (stopped, or too busy) fills its queue; then the server takes /hooks in
    itself instead of waiting for it."""
    async with running(settings, workers=1) as svc:
        await ready(svc)
        worker = svc.receiver.workers.workers[0]
        released = threading.Event()

        def release() -> None:  # a bound on the test: a blocked server would wait for this
            released.set()
            os.kill(worker.proc.pid, signal.SIGCONT)

        worker.handoff.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # a few connections fill it
        os.kill(worker.proc.pid, signal.SIGSTOP)
        timer = threading.Timer(30, release)
        timer.start()
        try:
            request = b"POST /hooks/q HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
            tasks = [asyncio.ensure_future(exchange(svc.port, request, 1)) for _ in range(40)]
            await wait_for(lambda: sum(t.done() for t in tasks) >= 20, timeout=60)
            assert not released.is_set()  # answered by the server while the worker was still stopped
        finally:
            timer.cancel()
            os.kill(worker.proc.pid, signal.SIGCONT)
        answers = await asyncio.gather(*tasks)
        assert all(a and a[0].startswith(b"HTTP/1.1 200") for a in answers)
        assert len(await captures(svc, endpoint="q", limit=100)) == 40


async def test_a_worker_started_again_while_the_service_stops_is_stopped_too(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        pool = svc.receiver.workers
        dead = pool.workers[0]
        os.kill(dead.proc.pid, signal.SIGKILL)
        await wait_for(lambda: not dead.ready and 0 in pool._respawns)
        timer = pool._respawns[0]
        respawn, args = timer._callback, timer._args or ()
        timer.cancel()
        respawn(*args)  # the respawn, now rather than in a second
        await asyncio.sleep(0)  # the new process starts; its link is being set up as the workers stop
        await pool.stop()
        assert worker_children() == []


async def test_a_request_the_server_fails_to_record_is_a_500_and_the_worker_goes_on(settings, monkeypatch):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        worker = svc.receiver.workers.workers[0]
        keep = svc.receiver.keep

        def failing_keep(cfg, took, plan):
            if took.cap.endpoint == "boom":
                raise ValueError("no room")
            return keep(cfg, took, plan)

        monkeypatch.setattr(svc.receiver, "keep", failing_keep)
        request = b"POST /hooks/%s HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
        [failed] = await exchange(svc.port, request % b"boom", 1)
        assert failed.startswith(b"HTTP/1.1 500")  # as in here; the link to the worker stays up
        [fine] = await exchange(svc.port, request % b"fine", 1)
        assert fine.startswith(b"HTTP/1.1 200")
        assert svc.receiver.workers.workers[0] is worker and worker.taken == 2 and worker.proc.poll() is None

        async def failing_commit():
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(svc.store, "commit", failing_commit)
        [unstored] = await exchange(svc.port, request % b"full", 1)  # it waited for an answer that never came
        assert unstored.startswith(b"HTTP/1.1 500")


async def test_a_worker_logs_where_the_server_logs_not_on_the_terminal(settings, caplog, capfd):
    # the TUI draws on the terminal and logs to a file; a worker's records went to its stderr, that terminal
    async with running(settings, workers=1) as svc:
        await ready(svc)
        await put_endpoint(svc, "gone", {"response": {"mode": "drop"}})
        assert (
            await exchange(svc.port, b"POST /hooks/gone HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 1)
            == []
        )
        pid = svc.receiver.workers.workers[0].proc.pid
        await wait_for(
            lambda: any(
                f"(receiver worker {pid}) POST /hooks/gone: drop (chaos)" in r.getMessage()
                for r in caplog.records
            )
        )
    assert "drop (chaos)" not in capfd.readouterr().err


async def test_a_request_line_sent_byte_by_byte_still_goes_to_a_worker(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
        for byte in b"POST /hooks/slow HTTP/1.1\r\n":
            writer.write(bytes([byte]))
            await asyncio.sleep(0.01)
        writer.write(b"Host: x\r\nContent-Length: 2\r\n\r\n{}")
        async with asyncio.timeout(10):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        writer.close()
        assert svc.receiver.workers.workers[0].taken == 1


def test_the_workers_end_when_the_server_process_is_killed(tmp_path):
    """SIGKILL leaves no time to stop them: each worker sees its link close and ends, none lingers."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "katya_tui",
            "serve",
            "--port",
            "0",
            "--workers",
            "2",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = orjson.loads(server.stdout.readline())["url"]

        def children() -> list[int]:
            found = []
            for entry in filter(str.isdigit, os.listdir("/proc")):
                with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                    if int(fields[1]) == server.pid:
                        found.append(int(entry))
            return found

        deadline = time.monotonic() + 20
        while len(children()) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        workers = children()
        with urllib.request.urlopen(urllib.request.Request(f"{url}/hooks/k", data=b"{}"), timeout=10) as r:
            assert r.status == 200
        server.kill()
        server.wait()

        def alive(pid: int) -> bool:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                return False

        deadline = time.monotonic() + 10  # a bound on waiting: they end as soon as they see the link close
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if alive(pid)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


async def test_expect_on_a_relayed_request_is_answered_as_the_server_answers_it(settings):
    async with running(settings, workers=1) as svc:
        await ready(svc)
        reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
        writer.write(
            HOOK
            + b"PUT /v1/endpoints/e HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-token-123\r\n"
            b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        )
        async with asyncio.timeout(10):
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")  # the webhook
            await reader.readexactly(15)
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(b"{}")
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 20")
        writer.close()
        _, refused = (
            await exchange(
                svc.port, HOOK + b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: bogus\r\n\r\n", 2
            )
            + [b"", b""]
        )[:2]
        assert refused.startswith(b"HTTP/1.1 417")
        assert svc.receiver.workers.workers[0].taken == 2
