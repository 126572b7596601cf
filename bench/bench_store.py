"""Store: insert cost flat from 0 to 100k records, group-commit latency, open time at 100k.

Baselines measured in the same run: the store's own insert rate when empty (flatness), and stock TinyDB
(`JSONStorage`, which rewrites the file on every write) at 1k documents.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from tinydb import TinyDB

from katya_tui.core.store import Store

from .common import figure, headline, percentile, ratio_line

DOC = {
    "endpoint": "stripe",
    "method": "POST",
    "path": "/hooks/stripe",
    "headers": [["Content-Type", "application/json"], ["Stripe-Signature", "t=1700000000,v1=" + "a" * 64]],
    "body": '{"id":"evt_1","type":"message.created","data":{"content":"' + "x" * 600 + '"}}',
    "verdict": {"status": "valid", "reason": "signature matches secret #1"},
}


def _insert_rate(table, n: int, rounds: int = 3, flush=None) -> float:
    """Best of `rounds` runs of `n` inserts (the journal flushed between runs, as commits do in service)."""
    best = 0.0
    for _ in range(rounds):
        if flush:
            flush()
        t0 = time.perf_counter()
        for i in range(n):
            table.insert({**DOC, "i": i})
        best = max(best, n / (time.perf_counter() - t0))
    return best


def _stock_tinydb_rate(tmp: Path, size: int, n: int) -> float:
    db = TinyDB(tmp / "stock.json")
    t = db.table("captures")
    t.insert_multiple({**DOC, "i": i} for i in range(size))
    rate = _insert_rate(t, n, rounds=1)
    db.close()
    return rate


async def _commit_latencies(store: Store, n: int) -> list[float]:
    table = store.table("captures")
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        table.insert({**DOC, "c": i})
        await store.commit()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def _grouped_rate(store: Store, writers: int, per_writer: int) -> tuple[float, int]:
    table = store.table("captures")

    async def writer(w: int) -> None:
        for i in range(per_writer):
            table.insert({**DOC, "w": w, "c": i})
            await store.commit()

    t0 = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return writers * per_writer / (time.perf_counter() - t0), writers * per_writer


def main() -> None:
    headline("store")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        store = Store(tmp / "a", fsync=False)
        t = store.table("captures")
        n = 10_000
        empty_rate = _insert_rate(t, n // 3, flush=store.flush)
        t.insert_multiple({**DOC, "i": i} for i in range(100_000 - n // 3 * 3))
        full_rate = _insert_rate(t, n // 3, flush=store.flush)
        ratio_line("insert at 100k stored", full_rate, "inserts/s", "when empty", empty_rate, goal=0.9)
        stock = _stock_tinydb_rate(tmp, 1_000, 200)
        ratio_line("insert at 100k stored", full_rate, "inserts/s", "stock TinyDB JSONStorage at 1k", stock)
        store.compact_sync()
        store.close()
        t0 = time.perf_counter()
        store = Store(tmp / "a", fsync=True)
        open_s = time.perf_counter() - t0
        figure("open at 110k records", f"{open_s:.2f} s (goal <= 1.5 s; snapshot {store._snapshot_size / 1e6:.0f} MB)")
        lat = asyncio.run(_commit_latencies(store, 500))
        figure("durable commit latency (1 writer, fdatasync)",
               f"p50 {percentile(lat, 50):.2f} ms  p99 {percentile(lat, 99):.2f} ms")
        single = 1000 / max(percentile(lat, 50), 1e-6)
        grouped, _ = asyncio.run(_grouped_rate(store, 64, 100))
        ratio_line("durable writes, 64 concurrent writers (group commit)", grouped, "writes/s",
                   "one writer", single)
        store.close()


if __name__ == "__main__":
    main()
