"""Store: insert cost flat from 0 to 100k records, group-commit latency, open time at 100k.

Baselines measured in the same run: the store's own insert rate when empty (flatness), and stock TinyDB
(`JSONStorage`, which rewrites the file on every write) at 1k documents. The store runs under `serve`'s
garbage-collector policy (`gcpolicy.for_serve`), as it does in `serve`.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tinydb import TinyDB

from katya_tui.core import gcpolicy
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


def _insert_rate(table, n: int, flush=None) -> float:
    """Writes a second over `n` inserts, counting the journal write that makes them complete (`flush`, without
    fsync here: commit latency is measured apart)."""
    if flush:
        flush()
    t0 = time.perf_counter()
    for i in range(n):
        table.insert({**DOC, "i": i})
    if flush:
        flush()
    return n / (time.perf_counter() - t0)


def _flatness(tmp: Path, n: int = 10_000, rounds: int = 5) -> tuple[float, float]:
    """Median insert rate into a fresh empty store, and with 100k (and more) stored, over `rounds` alternating runs
    (one run a few milliseconds long: a median keeps a stray pause of the machine out of the figure)."""
    full = Store(tmp / "full", fsync=False)
    ft = full.table("captures")
    ft.insert_multiple({**DOC, "i": i} for i in range(100_000))
    full.flush()
    empty_rates, full_rates = [], []
    for r in range(rounds):
        empty = Store(tmp / f"empty{r}", fsync=False)
        empty_rates.append(_insert_rate(empty.table("captures"), n, flush=empty.flush))
        empty.close()
        full_rates.append(_insert_rate(ft, n, flush=full.flush))  # 100k stored, growing to 150k
    full.close()
    return statistics.median(empty_rates), statistics.median(full_rates)


def _stock_tinydb_rate(tmp: Path, size: int, n: int) -> float:
    db = TinyDB(tmp / "stock.json")
    t = db.table("captures")
    t.insert_multiple({**DOC, "i": i} for i in range(size))
    rate = _insert_rate(t, n)
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
    gcpolicy.for_serve()
    try:
        _run()
    finally:
        gcpolicy.reset()  # the other benchmarks run with Python's settings


def _run() -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        empty_rate, full_rate = _flatness(tmp)
        ratio_line(
            "insert + journal write at 100k stored (median of 5)",
            full_rate,
            "inserts/s",
            "when empty",
            empty_rate,
            goal=0.9,
        )
        store = Store(tmp / "a", fsync=False)
        store.table("captures").insert_multiple({**DOC, "i": i} for i in range(110_000))
        stock = _stock_tinydb_rate(tmp, 1_000, 200)
        ratio_line("insert at 100k stored", full_rate, "inserts/s", "stock TinyDB JSONStorage at 1k", stock)
        store.compact_sync()
        store.close()
        t0 = time.perf_counter()
        store = Store(tmp / "a", fsync=True)
        open_s = time.perf_counter() - t0
        figure(
            "open at 110k records",
            f"{open_s:.2f} s (goal <= 1.5 s; snapshot {store._snapshot_size / 1e6:.0f} MB)",
        )
        lat = asyncio.run(_commit_latencies(store, 500))
        figure(
            "durable commit latency (1 writer, fdatasync)",
            f"p50 {percentile(lat, 50):.2f} ms  p99 {percentile(lat, 99):.2f} ms",
        )
        single = 1000 / max(percentile(lat, 50), 1e-6)
        grouped, _ = asyncio.run(_grouped_rate(store, 64, 100))
        ratio_line(
            "durable writes, 64 concurrent writers (group commit)", grouped, "writes/s", "one writer", single
        )
        store.close()


if __name__ == "__main__":
    main()
