"""Receiver: requests per second of `katya-tui serve` capturing signed 1 KB JSON webhooks (verification on,
durable group commits, every fact printed), against a bare aiohttp server that only reads the body and answers
200, both loaded by the same keep-alive load generator in its own process, in the same run. Then the same figure
with 100k captures already stored against the figure with none (writing must stay flat as the store grows).

Runnable alone: `python -m bench.bench_receiver [seconds]`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from katya_tui.core.catalog import envelope
from katya_tui.core.models import Capture, new_id
from katya_tui.core.signing import sign
from katya_tui.core.store import Store

from .common import figure, headline, ratio_line

SECRET = "bench-endpoint-secret"
CONNECTIONS = 32
SECONDS = 6.0
BARE = r"""
import sys
from aiohttp import web
async def hook(request):
    await request.read()
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")
app = web.Application()
app.router.add_route("*", "/hooks/{name}", hook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("ready", flush=True),
            access_log=None)
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _requests(n: int, path: str) -> list[bytes]:
    """`n` distinct signed requests (Katya envelope, ~1 KB), ready to write on a keep-alive connection."""
    out = []
    for i in range(n):
        data = {"messageId": f"msg_{i}", "roomId": "room_1", "content": "x" * 800}
        body = json.dumps(envelope("message.created", data), separators=(",", ":")).encode()
        signed = sign("katya", body, SECRET)
        head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
                f"Content-Length: {len(signed.body)}"] + [f"{k}: {v}" for k, v in signed.headers]  # fmt: skip
        out.append(("\r\n".join(head) + "\r\n\r\n").encode() + signed.body)
    return out


async def _connection(port: int, reqs: list[bytes], start: int, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = start
    while time.perf_counter() < deadline:
        writer.write(reqs[i % len(reqs)])
        i += 1
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        counts[0 if status == 200 else 1] += 1
    writer.close()


async def _load(port: int, path: str, seconds: float, conns: int) -> dict:
    reqs = _requests(4000, path)
    counts = [0, 0]
    warm = [0, 0]
    deadline = time.perf_counter() + 0.5  # warm-up: connections, caches, first compaction checks
    await asyncio.gather(*(_connection(port, reqs, k * 100, deadline, warm) for k in range(conns)))
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(*(_connection(port, reqs, 2000 + k * 50, deadline, counts) for k in range(conns)))
    elapsed = time.perf_counter() - t0
    return {"rps": (counts[0] + counts[1]) / elapsed, "ok": counts[0], "other": counts[1],
            "all": sum(counts) + sum(warm)}  # fmt: skip


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) of a process so far; None where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def load(port: int, path: str, seconds: float, conns: int = CONNECTIONS, pid: int | None = None) -> dict:
    """Run the load generator in its own process (so it does not share a core's loop with the server); with
    `pid`, also the server's CPU time per request (steadier than req/s on a busy machine)."""
    cpu0 = _cpu_s(pid) if pid else None
    code = f"import json, asyncio; from bench.bench_receiver import _load; " \
           f"print(json.dumps(asyncio.run(_load({port}, {path!r}, {seconds}, {conns}))))"  # fmt: skip
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    cpu1 = _cpu_s(pid) if pid else None
    result["cpu_us"] = (cpu1 - cpu0) / result["all"] * 1e6 if cpu0 is not None and cpu1 is not None else None
    return result


def _wait_ready(proc: subprocess.Popen, log: Path, what: str, timeout: float = 120.0) -> str:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with {proc.returncode}")
        if log.exists() and (first := log.read_text(errors="replace").split("\n", 1)[0]).strip():
            return first
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready in {timeout:g} s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bare(seconds: float) -> dict:
    port = _port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "out"
        with log.open("w") as f:
            proc = subprocess.Popen([sys.executable, "-c", BARE, str(port)], stdout=f, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(proc, log, "the bare aiohttp server")
            return load(port, "/hooks/bench", seconds, pid=proc.pid)
        finally:
            _stop(proc)


def served(data_dir: Path, seconds: float) -> dict:
    """`katya-tui serve` on `data_dir`, with an endpoint that verifies the katya scheme; facts go to a file."""
    cfg = data_dir.parent / f"{data_dir.name}.toml"
    cfg.write_text(f'[[endpoints]]\nname = "bench"\nscheme = "katya"\nsecrets = ["{SECRET}"]\n', encoding="utf-8")
    log = data_dir.parent / f"{data_dir.name}.out"
    env = {**os.environ, "KATYA_TUI_TOKEN": "bench-token-123"}
    with log.open("w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "katya_tui", "serve", "--port", "0", "--data-dir", str(data_dir),
                                 "--config", str(cfg)], stdout=f, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    try:
        ready = json.loads(_wait_ready(proc, log, "katya-tui serve"))
        port = int(ready["url"].rsplit(":", 1)[1])
        result = load(port, "/hooks/bench", seconds, pid=proc.pid)
    finally:
        _stop(proc)
    lines = log.read_text(errors="replace").splitlines()
    result["verdicts"] = sorted({json.loads(x)["capture"]["verdict"]["status"] for x in lines[1:2000]
                                 if '"CaptureRecorded"' in x})  # fmt: skip
    return result


def prefill(data_dir: Path, n: int) -> float:
    """Store `n` realistic captures straight through `Store` (fsync off), as a long-running instance would have."""
    t0 = time.perf_counter()
    store = Store(data_dir, fsync=False)
    table = store.table("captures")
    body = json.dumps(envelope("message.created", {"content": "x" * 800}), separators=(",", ":"))
    now = time.time() - 7 * 86400  # a week old: outside the duplicate window
    for i in range(n):
        table.insert(Capture(id=new_id("cap"), endpoint="bench", method="POST", path="/hooks/bench", query="",
                             headers=[["Content-Type", "application/json"], ["X-Katya-Signature", "sha256=" + "a" * 64]],
                             body=body, body_encoding="utf8", body_size=len(body), body_sha256="0" * 64,
                             truncated=False, remote="127.0.0.1", received_at=now + i * 0.001,
                             verdict={"status": "valid", "scheme": "katya"},
                             response={"status": 200}).to_doc())  # fmt: skip
    store.compact_sync()  # as a long-running instance leaves it: a snapshot and a short journal
    store.close()
    return time.perf_counter() - t0


def main(seconds: float = SECONDS) -> None:
    headline("receiver")
    base = bare(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        empty = served(Path(tmp) / "empty", seconds)
        took = prefill(Path(tmp) / "full", 100_000)
        full = served(Path(tmp) / "full", seconds)
    figure("load", f"{CONNECTIONS} keep-alive connections, signed 1 KB Katya envelopes, {seconds:g} s a run, "
                   f"load generator in its own process")  # fmt: skip
    figure("verdicts seen", ", ".join(empty["verdicts"]) + f"; non-200 answers: {empty['other'] + full['other']}")
    ratio_line("receiver (serve, verify, fsync)", empty["rps"], "req/s", "bare aiohttp", base["rps"], goal=0.5)
    if empty["cpu_us"] and base["cpu_us"]:
        ratio_line("server CPU per request", empty["cpu_us"], "us", "bare aiohttp", base["cpu_us"])
    figure("prefill", f"100,000 captures stored in {took:.1f} s")
    ratio_line("receiver with 100k stored", full["rps"], "req/s", "with none", empty["rps"], goal=0.9)
    if empty["cpu_us"] and full["cpu_us"]:
        ratio_line("server CPU per request with 100k stored", full["cpu_us"], "us", "with none", empty["cpu_us"],
                   goal=1.1, higher_is_better=False)  # fmt: skip


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS)
