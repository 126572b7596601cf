"""Memory: `serve`'s RSS with 100,000 captures stored, with 1 KB and with 100 KB bodies; opening that store; and the
receiver's throughput with 100 KB bodies against bare aiohttp reading the same bodies.

Each store is filled the way users fill it: `katya-tui serve` on a fresh data dir, signed Katya envelopes (each a
new event, verified and published) sent by the receiver benchmark's load generator over keep-alive connections,
until 100,000 were answered. Its RSS is read from `/proc` once it is idle; its peak (`VmHWM`) over the whole run,
compactions included, says what a compaction adds. Then `serve` stops, and a fresh process opens the store as it
was left (records still in the journal), and again after a compaction (records in the snapshot).

Runnable alone: `python -m bench.bench_memory [captures]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bench_receiver import CONNECTIONS, ROOT, Server, _median_ratio, bare, served, settle
from .common import figure, headline

CAPTURES = 100_000
SIZES = (1024, 100 * 1024)
RSS_GOAL_MB = 300
THROUGHPUT_ROUNDS = 5
THROUGHPUT_ROUND_S = 2.5
OPEN = """
import sys, time
t0 = time.perf_counter()
from katya_tui.core import gcpolicy
from katya_tui.core.store import Store
gcpolicy.for_serve()  # as `serve` sets it before it opens the store
store = Store(sys.argv[1], readonly=sys.argv[2] == "read")
took = time.perf_counter() - t0
n = len(store.records("captures"))
if sys.argv[2] == "compact":
    store.compact_sync()
store.close()
print(took, n)
"""


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0])
    return out


def _open(data_dir: Path, how: str) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", OPEN, str(data_dir), how], capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode != 0:
        raise RuntimeError(f"opening the store failed: {out.stderr.strip()[-400:]}")
    took, n = out.stdout.split()
    return float(took), int(n)


def _fill(tmp: Path, size: int, n: int) -> dict[str, float]:
    data_dir = tmp / f"store-{size}"
    config = f"[retention]\ncaptures = {n}\nevents = {n}\nbytes = {64 * 1024**3}\n"
    server = served(data_dir, config)
    try:
        server.port = int(json.loads(server.wait_ready())["url"].rsplit(":", 1)[1])
        start = _status(server.proc.pid)["VmRSS"]
        t0 = time.perf_counter()
        server.load(3600, warmup=0.0, env={"BENCH_BODY_BYTES": str(size - 220), "BENCH_COUNT": str(n)})
        took = time.perf_counter() - t0
        settle([server])
        st = _status(server.proc.pid)
    finally:
        server.stop()
    ok = sum(r["ok"] for r in server.rounds)
    first, stored = _open(data_dir, "compact")  # as left: records in the journal (and compacts it)
    snap, _ = _open(data_dir, "read")  # from the snapshot
    disk = sum(p.stat().st_size for p in data_dir.iterdir() if p.is_file())
    return {
        "start": start / 1024,
        "rss": st["VmRSS"] / 1024,
        "peak": st["VmHWM"] / 1024,
        "ok": ok,
        "stored": stored,
        "fill_s": took,
        "open_journal": first,
        "open_snapshot": snap,
        "disk": disk / 1024**2,
    }


def _disk_mb_s(tmp: Path, seconds: float = 3.0, chunk: int = 4 * 1024 * 1024) -> float:
    """What this disk takes durably: chunks written and `fdatasync`ed one after another, as group commits do."""
    path = tmp / "disk-probe"
    data = os.urandom(chunk)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    written, t0 = 0, time.perf_counter()
    try:
        while time.perf_counter() - t0 < seconds:
            written += os.write(fd, data)
            os.fdatasync(fd)
    finally:
        os.close(fd)
        path.unlink()
    return written / (time.perf_counter() - t0) / 1024**2


def _hashing_us(size: int, n: int = 500) -> float:
    """CPU time to hash a body of `size` bytes as every capture is (sha256) and to check its HMAC-SHA256."""
    import hashlib
    import hmac

    body = os.urandom(size)
    t0 = time.process_time()
    for _ in range(n):
        hashlib.sha256(body).hexdigest()
        hmac.digest(b"whsec_bench", body, "sha256")
    return (time.process_time() - t0) / n * 1e6


def _throughput(tmp: Path, size: int) -> tuple[Server, Server]:
    env = {"BENCH_BODY_BYTES": str(size - 220)}
    servers = [bare(tmp), served(tmp / "throughput")]
    try:
        for s in servers:
            ready = s.wait_ready()
            if ready.startswith("{"):
                s.port = int(json.loads(ready)["url"].rsplit(":", 1)[1])
        for s in servers:
            s.load(1.0, warmup=0.0, env=env)
            s.rounds.clear()
        for _ in range(THROUGHPUT_ROUNDS):
            for s in servers:
                settle(servers)
                s.load(THROUGHPUT_ROUND_S, env=env)
    finally:
        for s in servers:
            s.stop()
    return servers[0], servers[1]


def main(n: int = CAPTURES) -> None:
    headline("memory")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        filled = {size: _fill(tmp, size, n) for size in SIZES}
        base, ours = _throughput(tmp, SIZES[-1])
        disk = _disk_mb_s(tmp)
    figure(
        "load",
        f"{n:,} signed Katya envelopes of 1 KB and of 100 KB, each a new event (verified, published), "
        f"{CONNECTIONS} keep-alive connections, into `serve` on a fresh data dir; RSS read once it is idle",
    )
    for size, f in filled.items():
        per = (f["rss"] - f["start"]) * 1024 / max(1, f["stored"])
        figure(
            f"{size // 1024} KB bodies",
            f"{f['ok']:,.0f} answered 2xx in {f['fill_s']:.0f} s, {f['stored']:,} stored, {f['disk']:,.0f} MB on "
            f"disk; RSS {f['start']:.0f} MB at start, {f['rss']:.0f} MB with them stored ({per:.2f} KB a "
            f"capture), peak {f['peak']:.0f} MB (compactions included)",
        )
        print(
            f"serve RSS with {f['stored']:,} stored, {size // 1024} KB bodies: {f['rss']:.0f} MB  "
            f"(goal <= {RSS_GOAL_MB} MB: {'met' if f['rss'] <= RSS_GOAL_MB else 'NOT met'})",
            flush=True,
        )
        grow = f["peak"] / f["rss"]
        print(
            f"peak RSS over the run, compactions included, {size // 1024} KB bodies: {f['peak']:.0f} MB = "
            f"{grow:.2f} x settled  (goal <= 1.2: {'met' if grow <= 1.2 else 'NOT met'})",
            flush=True,
        )
        for how in ("journal", "snapshot"):
            took = f[f"open_{how}"]
            print(
                f"open with {f['stored']:,} stored ({size // 1024} KB bodies), records in the {how}: {took:.2f} s  "
                f"(goal <= 1.5 s: {'met' if took <= 1.5 else 'NOT met'})",
                flush=True,
            )
    r = _median_ratio(ours, base, "rps")
    figure(
        "100 KB bodies (req/s, CPU us a request)",
        "; ".join(
            f"{s.name}: " + " ".join(f"{x['rps']:,.0f}/{x['cpu_us'] or 0:.0f}" for x in s.rounds)
            for s in (base, ours)
        ),
    )
    print(
        f"receiver with 100 KB bodies: {ours.median('rps'):,.1f} req/s vs bare aiohttp {base.median('rps'):,.1f} "
        f"req/s  ratio {r:.2f}  (goal >= 0.5: {'met' if r >= 0.5 else 'NOT met'})",
        flush=True,
    )
    hashing = _hashing_us(SIZES[-1])
    bare_cpu = base.median("cpu_us") or 0.0
    figure(
        "the hashes' part",
        f"a capture's sha256 and its signature's HMAC-SHA256 over a 100 KB body take {hashing:.0f} us of CPU on "
        f"this machine; bare aiohttp spends {bare_cpu:.0f} us on its whole request, so with CPU as the bound the "
        f"receiver reaches at most {bare_cpu / (bare_cpu + hashing):.2f} of it before it parses or stores anything",
    )
    per_request = filled[SIZES[-1]]["disk"] / max(1, filled[SIZES[-1]]["stored"])  # MB written a capture
    figure(
        "the disk's part",
        f"this disk takes {disk:,.0f} MB/s written and synced in 4 MB groups; each 100 KB webhook puts "
        f"{per_request * 1024:,.0f} KB on it (its body, which its event's data refers to, and the record's other fields), so the disk alone allows "
        f"{disk / per_request:,.0f} req/s; the receiver reached {ours.median('rps') * per_request / disk:.2f} of that",
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
