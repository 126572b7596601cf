"""Soak: `katya-tui serve` under steady load for a while; its resources each minute must stay flat.

`python -m bench.soak [--minutes 10] [--rate 1000]` (or `make soak`): a `serve` process gets `--rate` unique signed
webhooks a second (open loop, keep-alive connections, bodies from `bench._load.Requests`); a `*` subscription
delivers every event to a local sink that fails every third request (500, so the dispatcher retries); a WebSocket
client subscribed to everything reads one message every 20 ms (it falls behind, is dropped with 4008 and
reconnects). Each minute it prints the server's RSS, open files (entries of /proc/PID/fd) and threads, with what
was sent and delivered; at the end, whether they were flat after the first minute (the last minute within 10 % of
minute 2, or within 8 for small counts).

The server's asyncio tasks are not visible from outside the process without a new endpoint; the soak reports its
OS threads instead, and a task leak shows up in RSS, which is what it would cost. Retention is lowered (`--keep`,
20,000 of each kind) so the store reaches its steady size within the first minute, as it would after a while with
the default caps.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import websockets
from aiohttp import web

from bench._load import SECRET, Requests

TOKEN = "soak-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONNECTIONS = 32


def resources(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_kb": int(fields["VmRSS"].split()[0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(fields["Threads"]),
    }


class Counts:
    def __init__(self) -> None:
        self.sent = self.ok = self.other = self.sink_ok = self.sink_failed = 0
        self.ws_messages = self.ws_dropped = 0


async def start_sink(counts: Counts) -> tuple[web.AppRunner, str]:
    """A delivery target that fails every third request with a 500."""
    n = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal n
        await request.read()
        n += 1
        if n % 3 == 0:
            counts.sink_failed += 1
            return web.Response(status=500, text="failing on purpose")
        counts.sink_ok += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/sink"


async def load(port: int, rate: float, until: float, counts: Counts) -> None:
    """`rate` signed requests a second, open loop, over CONNECTIONS keep-alive connections."""
    reqs = Requests("/hooks/soak", port)
    queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=CONNECTIONS * 4)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while True:
            data = await queue.get()
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            if 200 <= status < 300:
                counts.ok += 1
            else:
                counts.other += 1

    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    start = stamped = time.monotonic()
    try:
        while (now := time.monotonic()) < until:
            due = int((now - start) * rate) - counts.sent
            for _ in range(due):
                if queue.full():
                    break  # the server is behind: the open loop does not queue without bound
                queue.put_nowait(reqs.next())
                counts.sent += 1
            await asyncio.sleep(0.002)
            if now - stamped > 30:
                reqs.restamp()  # fresh signatures: the receiver refuses timestamps older than its tolerance
                stamped = now
            for w in workers:
                if w.done():
                    w.result()  # a connection the server closed: stop the soak with its error
    finally:
        for w in workers:
            w.cancel()


async def slow_reader(ws_url: str, until: float, counts: Counts) -> None:
    """Subscribed to every event, reading one message every 20 ms; reconnects after being dropped."""
    while time.monotonic() < until:
        try:
            async with websockets.connect(
                ws_url, additional_headers=AUTH, ping_interval=None, max_queue=4
            ) as ws:
                await ws.send(json.dumps({"type": "subscribe", "events": ["*"]}))
                while time.monotonic() < until:
                    await asyncio.wait_for(ws.recv(), 30)
                    counts.ws_messages += 1
                    await asyncio.sleep(0.02)
        except websockets.ConnectionClosed:
            counts.ws_dropped += 1


def flat(series: list[dict[str, int]]) -> tuple[bool, str]:
    base, last = series[1 if len(series) > 1 else 0], series[-1]
    notes, ok = [], True
    for key in ("rss_kb", "fds", "threads"):
        limit = max(base[key] * 0.10, 8 if key != "rss_kb" else 0)
        good = abs(last[key] - base[key]) <= limit
        ok &= good
        notes.append(f"{key} {base[key]} -> {last[key]} ({'ok' if good else 'NOT flat'})")
    return ok, "; ".join(notes)


async def soak(minutes: float, rate: float, keep: int) -> bool:
    counts = Counts()
    runner, sink_url = await start_sink(counts)
    with tempfile.TemporaryDirectory(prefix="katya-soak-") as tmp:
        config = Path(tmp) / "soak.toml"
        config.write_text(
            f"[retention]\ncaptures = {keep}\nevents = {keep}\ndeliveries = {keep}\n\n"
            f'[[endpoints]]\nname = "soak"\nsecrets = ["{SECRET}"]\n'
        )
        with socket_port() as port:
            pass
        cmd = [sys.executable, "-m", "katya_tui", "serve", "--port", str(port), "--data-dir", f"{tmp}/data"]
        cmd += ["--config", str(config), "--token", TOKEN]
        log = Path(tmp) / "stderr.log"  # (a file: a pipe nobody drains would stall the server)
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(base, headers=AUTH) as s:
                await wait_up(s, server, log)
                r = await s.post("/v1/webhooks", json={"url": sink_url, "events": ["*"], "name": "soak"})
                assert r.status == 201, await r.text()
            until = time.monotonic() + minutes * 60
            tasks = [
                asyncio.create_task(load(port, rate, until, counts)),
                asyncio.create_task(slow_reader(f"ws://127.0.0.1:{port}/v1/ws", until, counts)),
            ]
            series: list[dict[str, int]] = []
            print(f"soak: {minutes:g} min at {rate:g} req/s, server pid {server.pid}", flush=True)
            prev = dict(vars(counts))
            for minute in range(1, int(minutes * 60 + 59) // 60 + 1):
                done, _ = await asyncio.wait(tasks, timeout=max(0.0, min(60.0, until - time.monotonic())))
                for t in done:
                    t.result()
                now = dict(vars(counts))
                delta = {k: now[k] - prev[k] for k in now}
                prev = now
                res = resources(server.pid)
                series.append(res)
                print(
                    f"minute {minute}: rss {res['rss_kb'] / 1024:.1f} MB, open files {res['fds']}, "
                    f"threads {res['threads']} | sent {delta['sent']} ({delta['sent'] / 60:.0f}/s), 2xx {delta['ok']}, "
                    f"other {delta['other']} | sink ok {delta['sink_ok']} failed {delta['sink_failed']} | "
                    f"ws read {delta['ws_messages']} dropped {delta['ws_dropped']}",
                    flush=True,
                )
            await asyncio.gather(*tasks)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            await runner.cleanup()
            err = log.read_text(errors="replace").strip()
            if err:
                print("server stderr (last lines):\n" + "\n".join(err.splitlines()[-10:]), flush=True)
    ok, notes = flat(series)
    since = "minute 2" if len(series) > 1 else "minute 1 (a one-minute run has nothing after it)"
    print(f"flat since {since} to the last: {'yes' if ok else 'NO'} ({notes})", flush=True)
    return ok


@contextlib.contextmanager
def socket_port() -> Any:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


async def wait_up(s: aiohttp.ClientSession, server: subprocess.Popen, log: Path) -> None:
    for _ in range(200):
        if server.poll() is not None:
            raise SystemExit(f"serve exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(aiohttp.ClientError):
            r = await s.get("/healthz")
            if r.status == 200:
                return
        await asyncio.sleep(0.1)
    raise SystemExit("serve did not answer /healthz in 20 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=1000.0, help="signed webhooks a second")
    ap.add_argument("--keep", type=int, default=20_000, help="retention of each kind in the store")
    a = ap.parse_args()
    sys.exit(0 if asyncio.run(soak(a.minutes, a.rate, a.keep)) else 1)


if __name__ == "__main__":
    main()
