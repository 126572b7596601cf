"""Receiver: requests per second of `katya-tui serve` capturing signed 1 KB JSON webhooks (verification on,
durable group commits, every fact printed), against a bare aiohttp server that only reads the body and answers
200, both loaded by the same keep-alive load generator (`bench/_load.py`, its own process), in the same run. Then
the same figure with 100k captures already stored against the figure with none (writing must stay flat as the
store grows). `serve` runs as a user starts it: one process, on uvloop where it is installed
(`katya_tui/core/loops.py`). The baseline is aiohttp as `web.run_app` runs it, on asyncio's loop, as the
goal states; a bare aiohttp server on uvloop is measured too and printed as a reference.

The four servers run side by side; each round loads each of them in turn (so a machine that gets busier or
quieter mid-run shifts every figure alike), each time once every server is idle (work one leaves behind, such as a
store compaction that waits for a lull, must not land in another's measurement), after a warm-up; the figures are the medians over the rounds, and the
ratios the medians of each round's ratio. The server's CPU time per request (all its processes) is reported too: it
is steadier than req/s on a shared machine and says what a request costs wherever the load generator tops out.
Last, one longer run from an empty store says what sustained load costs, compactions included (no lulls there).

Runnable alone: `python -m bench.bench_receiver [round seconds] [rounds]`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from katya_tui.core.catalog import envelope
from katya_tui.core.models import new_id
from katya_tui.core.store import Store

from ._load import SECRET, cpu_s
from .common import figure, headline, ratio_line

CONNECTIONS = 32
ROUND_S = 2.5
SUSTAINED_S = 12.0  # one long run from an empty store: compactions under load included
ROUNDS = 7
WARMUP_S = 0.75
ROOT = Path(__file__).resolve().parent.parent
SERVE_CMD = [sys.executable, "-m", "katya_tui"]
BARE = r"""
import sys
from aiohttp import web
async def hook(request):
    await request.read()
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")
app = web.Application()
app.router.add_route("*", "/hooks/{name}", hook)
loop = None
if sys.argv[2:] == ["uvloop"]:
    import uvloop
    loop = uvloop.new_event_loop()
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *a: print("ready", flush=True),
            access_log=None, loop=loop)
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server under test, in its own process, its stdout in a file."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        with log.open("w") as f:
            self.proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        self.port = 0
        self.rounds: list[dict] = []

    def wait_ready(self, timeout: float = 120.0) -> str:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early with {self.proc.returncode}")
            if (
                self.log.exists()
                and (first := self.log.read_text(errors="replace").split("\n", 1)[0]).strip()
            ):
                return first
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become ready in {timeout:g} s")

    def load(
        self, seconds: float, rounds: int = 1, warmup: float = WARMUP_S, env: dict[str, str] | None = None
    ) -> list[dict]:
        """Run the load generator against this server; one result a round."""
        argv = [
            sys.executable,
            "-m",
            "bench._load",
            str(self.port),
            "/hooks/bench",
            str(CONNECTIONS),
            str(warmup),
            str(seconds),
            str(rounds),
            str(self.proc.pid),
        ]
        out = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60 + warmup + rounds * seconds,
            env={**os.environ, **(env or {})},
        )
        if out.returncode != 0:
            raise RuntimeError(f"load generator failed against {self.name}: {out.stderr.strip()[-400:]}")
        got = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        self.rounds += got
        return got

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.rounds if r.get(key) is not None]
        return statistics.median(values) if values else None


def bare(tmp: Path, loop: str = "asyncio") -> Server:
    """The baseline: aiohttp reading the body and answering 200 (`loop`: asyncio's, as `web.run_app` runs it, or
    uvloop's, which `serve` runs on: a reference line, not the goal's baseline)."""
    port = _port()
    s = Server(
        f"bare aiohttp ({loop})", [sys.executable, "-c", BARE, str(port), loop], tmp / f"bare-{loop}.out"
    )
    s.port = port
    return s


def served(data_dir: Path, config: str = "") -> Server:
    """`katya-tui serve` on `data_dir`, with an endpoint that verifies the katya scheme (and `config`, more of the
    config file); facts go to a file."""
    cfg = data_dir.parent / f"{data_dir.name}.toml"
    cfg.write_text(
        f'{config}\n[[endpoints]]\nname = "bench"\nscheme = "katya"\nsecrets = ["{SECRET}"]\n',
        encoding="utf-8",
    )
    env = {**os.environ, "KATYA_TUI_TOKEN": "bench-token-123"}
    return Server(
        f"katya-tui serve ({data_dir.name})",
        [*SERVE_CMD, "serve", "--port", "0", "--data-dir", str(data_dir), "--config", str(cfg)],
        data_dir.parent / f"{data_dir.name}.out",
        env,
    )


def prefill(data_dir: Path, n: int) -> float:
    """Store `n` realistic captures straight through `Store` (fsync off), as a long-running instance would have."""
    t0 = time.perf_counter()
    store = Store(data_dir, fsync=False)
    body = json.dumps(envelope("message.created", {"content": "x" * 800}), separators=(",", ":"))
    now = time.time() - 7 * 86400  # a week old: outside the duplicate window
    headers = [["Content-Type", "application/json"], ["X-Katya-Signature", "sha256=" + "a" * 64]]
    docs = [
        {
            "id": new_id("cap"),
            "endpoint": "bench",
            "method": "POST",
            "path": "/hooks/bench",
            "query": "",
            "headers": headers,
            "body": body,
            "body_encoding": "utf8",
            "body_size": len(body),
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "truncated": False,
            "remote": "127.0.0.1",
            "received_at": now + i * 0.001,
            "verdict": {"status": "valid", "scheme": "katya"},
            "response": {"status": 200},
            "forward": None,
            "event_id": None,
            "replay_of": None,
            "event_type": None,
            "duplicate_of": None,
            "body_note": None,
        }
        for i in range(n)
    ]
    store.table("captures").insert_multiple(docs)
    store.compact_sync()  # as a long-running instance leaves it: a snapshot and a short journal
    store.close()
    return time.perf_counter() - t0


def _verdicts(server: Server) -> list[str]:
    """Verdicts over every capture of the run, and how many were repeats (which skip publishing)."""
    counts: dict[str, int] = {}
    repeats = 0
    with open(server.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"CaptureRecorded"' in line:
                cap = json.loads(line)["capture"]
                counts[cap["verdict"]] = counts.get(cap["verdict"], 0) + 1
                repeats += bool(cap.get("duplicate_of"))
    return [f"{v} {n:,}" for v, n in sorted(counts.items())] + [f"repeats {repeats:,}"]


def settle(servers: list[Server], busy: float = 0.05, window: float = 0.25, limit: float = 20.0) -> float:
    """Wait until no server uses more than `busy` of a core (work left over from its round, such as a store
    compaction deferred to a lull, must not run while another server is measured); the seconds waited. The
    first look comes once a lull has lasted long enough for such work to have started (`Store.compact_quiet_s`)."""
    t0 = time.monotonic()
    time.sleep(Store.compact_quiet_s + 0.25)
    while time.monotonic() - t0 < limit:
        before = [cpu_s(s.proc.pid) or 0.0 for s in servers]
        time.sleep(window)
        if all((cpu_s(s.proc.pid) or 0.0) - b <= busy * window for s, b in zip(servers, before, strict=True)):
            break
    return time.monotonic() - t0


def _median_ratio(a: Server, b: Server, key: str) -> float:
    return statistics.median(
        x[key] / y[key] for x, y in zip(a.rounds, b.rounds, strict=True) if x[key] and y[key]
    )


def main(round_s: float = ROUND_S, rounds: int = ROUNDS) -> None:
    headline("receiver")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        took = prefill(tmp / "full", 100_000)
        servers = [bare(tmp), served(tmp / "empty"), served(tmp / "full"), bare(tmp, "uvloop")]
        try:
            for s in servers:
                ready = s.wait_ready()
                if ready.startswith("{"):
                    s.port = int(json.loads(ready)["url"].rsplit(":", 1)[1])
            for s in servers:  # a first pass, not counted: every server warm before any is measured
                s.load(WARMUP_S * 2, warmup=0.0)
                s.rounds.clear()
            settled = 0.0
            for _ in range(rounds):
                for s in servers:
                    settled += settle(servers)
                    s.load(round_s)
        finally:
            for s in servers:
                s.stop()
        base, empty, full, base_uv = servers
        verdicts = _verdicts(empty)
        long_run = served(tmp / "sustained")
        try:
            ready = long_run.wait_ready()
            long_run.port = int(json.loads(ready)["url"].rsplit(":", 1)[1])
            [sustained] = long_run.load(SUSTAINED_S)
        finally:
            long_run.stop()
    figure(
        "load",
        f"{CONNECTIONS} keep-alive connections (closed loop), signed 1 KB Katya envelopes, {rounds} rounds "
        f"of {round_s:g} s per server after {WARMUP_S:g} s of warm-up, load generator in its own process; "
        f"medians",
    )
    figure("settling", f"{settled:.1f} s in all waiting for every server to be idle before each measurement")
    figure(
        "verdicts seen",
        ", ".join(verdicts) + f"; non-2xx answers: {sum(r['other'] for s in servers for r in s.rounds)}",
    )
    figure(
        "by round (req/s, CPU us a request)",
        "; ".join(
            f"{s.name.split('(')[1][:-1] if s in (empty, full) else s.name}: "
            + " ".join(f"{r['rps']:,.0f}/{r['cpu_us'] or 0:.0f}" for r in s.rounds)
            for s in servers
        ),
    )
    r = _median_ratio(empty, base, "rps")
    print(
        f"receiver (serve, verify, fsync): {empty.median('rps'):,.1f} req/s vs bare aiohttp {base.median('rps'):,.1f} "
        f"req/s  ratio {r:.2f}  (goal >= 0.3, one process: {'met' if r >= 0.3 else 'NOT met'})",
        flush=True,
    )
    if empty.median("cpu_us") and base.median("cpu_us"):
        ratio_line(
            "server CPU per request (all its processes)",
            empty.median("cpu_us"),
            "us",
            "bare aiohttp",
            base.median("cpu_us"),
        )
    figure(
        "reference",
        f"bare aiohttp on uvloop (the loop serve runs on): {base_uv.median('rps'):,.1f} req/s, "
        f"{base_uv.median('cpu_us') or 0:.0f} us CPU a request; the receiver is "
        f"{_median_ratio(empty, base_uv, 'rps'):.2f} of it",
    )
    figure(
        "sustained",
        f"one {SUSTAINED_S:g} s run from an empty store (its compactions under load included): "
        f"{sustained['rps']:,.1f} req/s, {sustained['cpu_us'] or 0:.0f} us CPU a request, "
        f"{sustained['rps'] / base.median('rps'):.2f} of bare aiohttp's median",
    )
    figure("prefill", f"100,000 captures stored in {took:.1f} s")
    r = _median_ratio(full, empty, "rps")
    print(
        f"receiver with 100k stored: {full.median('rps'):,.1f} req/s vs with none {empty.median('rps'):,.1f} req/s  "
        f"ratio {r:.2f}  (goal >= 0.9: {'met' if r >= 0.9 else 'NOT met'})",
        flush=True,
    )
    if empty.median("cpu_us") and full.median("cpu_us"):
        ratio_line(
            "server CPU per request with 100k stored",
            full.median("cpu_us"),
            "us",
            "with none",
            empty.median("cpu_us"),
            goal=1.1,
            higher_is_better=False,
        )


if __name__ == "__main__":
    main(*(float(a) if i == 0 else int(a) for i, a in enumerate(sys.argv[1:3])))
