"""kill -9 at random moments, compactions included: every acknowledged record survives and the store opens."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from katya_tui.core.store import Store

WRITER = Path(__file__).with_name("crash_writer.py")


def _run_and_kill(data_dir: Path, start: int, rng: random.Random, in_compaction: bool) -> list[int]:
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(data_dir), str(start)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    acked: list[int] = []
    deadline = time.monotonic() + rng.uniform(0.3, 0.9)
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    buf = b""
    while time.monotonic() < deadline or (in_compaction and b"C\n" not in buf):
        chunk = proc.stdout.read()
        if chunk:
            buf += chunk
            if in_compaction and time.monotonic() >= deadline and b"C\n" in chunk:
                time.sleep(rng.uniform(0, 0.004))  # somewhere inside the compaction
                break
        time.sleep(0.001 if in_compaction else 0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rest = proc.stdout.read()
    if rest:
        buf += rest
    # Only whole lines were acknowledged.
    acked = [int(x) for x in buf.split(b"\n")[:-1] if x != b"C"]
    return acked


def test_no_acknowledged_write_is_lost_across_kill_9(tmp_path):
    rng = random.Random(20261123)
    data_dir = tmp_path / "store"
    acked_all: set[int] = set()
    start = 0
    compactions_seen = 0
    mid_compaction = 0
    for round_ in range(16):
        acked = _run_and_kill(data_dir, start, rng, in_compaction=round_ % 2 == 1)
        acked_all.update(acked)
        journals = list(data_dir.glob("journal.*.jsonl"))
        if (data_dir / "db.json.tmp").exists() or len(journals) > 1:
            mid_compaction += 1  # killed between a journal rotation and the end of its compaction
        store = Store(data_dir)  # opens after any crash; the lock died with the child
        present = {d["n"] for d in store.table("records").all()}
        for n in acked:  # each acknowledged capture's body is whole in its segment
            cap = store.record("captures", f"cap_{n}")
            assert cap is not None and cap.get("body") == str(n) * 2000, (n, cap and cap.get("damaged"))
        snap = data_dir / "db.json"
        if snap.exists():
            compactions_seen += 1
        store.close()
        missing = acked_all - present
        assert not missing, f"acknowledged but lost: {sorted(missing)[:10]}"
        start = max(present | acked_all, default=-1) + 1
        start += 5 - start % 5
    assert len(acked_all) > 500
    assert compactions_seen > 0
    print(f"{mid_compaction} of 16 kills landed mid-compaction")
    assert mid_compaction > 0
