"""The TUI under load (issue 7's performance section), with baselines measured in the same run.

- first full paint with 100k captures stored, against opening that store alone;
- `g`/`G` over the 10k-row window, key to the frame that shows it, in a fresh process with no warm-up (its own
  process, `python -m bench.bench_ui scroll DIR`: the first presses count), at a user's varied pace;
- under a flood of 2,000 req/s into the receiver (a separate load process), with `App.run_test()` in the same
  loop: p99 key-press-to-effect, and the receiver's rate against `katya-tui serve` under the same load;
- memory: the stream's window stays at its cap while the store grows.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from textual import events

from katya_tui.config import load_settings
from katya_tui.core.store import Store
from katya_tui.ui.app import KatyaApp
from katya_tui.ui.screens.main import MainScreen
from katya_tui.ui.widgets.stream import MAX_ROWS, Stream

from .common import figure, headline, percentile, ratio_line

RATE, SECONDS, N_STORED = 2000, 8.0, 100_000
SCROLL_PRESSES = 40  # g, G, g, ... : 20 of each


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _fill(data_dir: Path, n: int) -> None:
    store = Store(data_dir, fsync=False)
    table = store.table("captures")
    body = '{"event":"message.created","data":{"text":"' + "x" * 400 + '"}}'
    t0 = time.time() - n / 100
    for i in range(n):
        table.insert(
            {
                "id": f"cap_{i:020d}",
                "endpoint": "bench",
                "method": "POST",
                "path": "/hooks/bench",
                "query": "",
                "headers": [["Content-Type", "application/json"]],
                "body": body,
                "body_encoding": "utf8",
                "body_size": len(body),
                "body_sha256": "0" * 64,
                "truncated": False,
                "remote": "127.0.0.1",
                "received_at": t0 + i / 100,
                "verdict": {"status": "valid" if i % 7 else "invalid", "reason": "bench"},
                "response": {"status": 200, "latency_ms": 0.5},
            }
        )
    store.close()


def _settings(data_dir: Path):
    return load_settings({"port": 0, "data_dir": str(data_dir), "token": "bench-token-123"}, env={})


async def _until(cond, limit: float = 30.0) -> float:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > limit:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.001)
    return time.perf_counter() - t0


async def _press(app: KatyaApp, key: str, effect) -> float:
    """Milliseconds from posting `key` to `effect()` holding."""
    t0 = time.perf_counter()
    app.post_message(events.Key(key, key if len(key) == 1 else None))
    await _until(effect, 10.0)
    return (time.perf_counter() - t0) * 1000


async def first_paint(data_dir: Path) -> tuple[float, float, list[float]]:
    t0 = time.perf_counter()
    app = KatyaApp(_settings(data_dir))
    core_start = app.service.start
    core: list[float] = []

    async def timed_start() -> None:
        t = time.perf_counter()
        await core_start()
        core.append(time.perf_counter() - t)

    app.service.start = timed_start  # type: ignore[method-assign]
    painted = asyncio.Event()
    async with app.run_test(size=(120, 36)):
        await _until(lambda: isinstance(app.screen, MainScreen) and bool(app.screen.query_one(Stream).rows))
        app.call_after_refresh(painted.set)
        await painted.wait()
        took = time.perf_counter() - t0
    return took, core[0]


async def _painted(app: KatyaApp) -> None:
    """Until the screen has been refreshed once more (what the key changed is on it)."""
    done = asyncio.Event()
    app.call_after_refresh(done.set)
    await done.wait()


async def scroll(data_dir: Path, presses: int = SCROLL_PRESSES) -> list[float]:
    """Milliseconds from each `g`/`G` to the frame that shows its effect, alternately, from the first press. The
    first comes half a second after the first paint (a user's reaction); the others after a pause drawn between
    none and 0.6 s (seeded), so that some land while work a key left behind (the footer's keys refreshed once the
    cursor rests) is under way, as a user's would."""
    gaps = random.Random(13)
    app = KatyaApp(_settings(data_dir))
    lat: list[float] = []
    async with app.run_test(size=(120, 36)):
        await _until(
            lambda: isinstance(app.screen, MainScreen) and len(app.screen.query_one(Stream).rows) > 0
        )
        stream = app.screen.query_one(Stream)
        await _painted(app)
        await asyncio.sleep(0.5)
        for i in range(presses):
            if i % 2 == 0:
                took = await _press(app, "g", lambda: stream.cursor == 0 and stream.scroll_y == 0)
            else:
                took = await _press(
                    app, "G", lambda: stream.following and stream.scroll_y == stream.max_scroll_y
                )
            t0 = time.perf_counter()
            await _painted(app)
            lat.append(took + (time.perf_counter() - t0) * 1000)
            await asyncio.sleep(gaps.uniform(0.0, 0.6))
    return lat


def scroll_fresh(data_dir: Path) -> list[float]:
    """`scroll` in a process of its own (nothing warmed by what ran before)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_ui", "scroll", str(data_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _flood(url: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench._flood", url, str(RATE), str(SECONDS)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def flood_ui(data_dir: Path) -> tuple[dict, list[float], int, float, int]:
    app = KatyaApp(_settings(data_dir))
    async with app.run_test(size=(120, 36)):
        await _until(lambda: isinstance(app.screen, MainScreen))
        stream = app.screen.query_one(Stream)
        rss0 = _rss_mb()
        load = asyncio.create_task(asyncio.to_thread(_flood, f"{app.service.url}/hooks/flood"))
        await _until(lambda: len(stream.rows) > 100)
        lat: list[float] = []
        while not load.done():
            await asyncio.sleep(0.05)
            cur = stream.cursor
            if cur is None or cur == 0:
                lat.append(
                    await _press(app, "up", lambda c=cur: stream.cursor is not None and stream.cursor != c)
                )
            else:
                lat.append(
                    await _press(app, "down" if len(lat) % 2 else "up", lambda c=cur: stream.cursor != c)
                )
            paused = stream.paused
            lat.append(await _press(app, "p", lambda p=paused: stream.paused != p))
        result = await load
        rows = len(stream.rows)
        stored = len(app.service.store.table("captures"))
        return result, lat, rows, _rss_mb() - rss0, stored


def flood_serve(data_dir: Path) -> dict:
    log = data_dir.parent / "serve.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "katya_tui",
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                "--token",
                "bench-token-123",
            ],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            first = log.read_text().splitlines()[:1]
            if first and first[0].startswith("{"):
                break
            time.sleep(0.05)
        url = json.loads(first[0])["url"]
        return _flood(f"{url}/hooks/flood")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    headline("ui: first paint, scrolling, a flood of 2,000 req/s")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big"
        _fill(big, N_STORED)
        t0 = time.perf_counter()
        Store(big, fsync=False).close()
        open_s = time.perf_counter() - t0
        paint, core = asyncio.run(first_paint(big))
        moves = scroll_fresh(big)
        figure(
            "ui first paint",
            f"{paint:.2f} s with {N_STORED:,} captures stored: core start {core:.2f} s "
            f"(opening that store alone {open_s:.2f} s) + UI {paint - core:.2f} s  "
            f"(goal <= 1.5 s: {'met' if paint <= 1.5 else 'NOT met'})",
        )
        figure(
            "ui g/G (top/bottom)",
            f"p50 {percentile(moves, 50):.1f} ms, p99 {percentile(moves, 99):.1f} ms, first {moves[0]:.1f} ms, "
            f"key to painted frame over a {MAX_ROWS:,}-row window, {len(moves)} presses 0-0.6 s apart in a fresh "
            "process "
            f"(goal p99 <= 50 ms: {'met' if percentile(moves, 99) <= 50 else 'NOT met'})",
        )
        serve = flood_serve(Path(tmp) / "serve")
        ui, lat, rows, rss, stored = asyncio.run(flood_ui(Path(tmp) / "ui"))
    figure(
        "ui keys under flood",
        f"p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f} ms over "
        f"{len(lat)} presses (goal p99 <= 50 ms: "
        f"{'met' if percentile(lat, 99) <= 50 else 'NOT met'})",
    )
    ratio_line("ui receiver under flood", ui["rate"], "req/s", "serve", serve["rate"], goal=0.7)
    figure(
        "ui flood load",
        f"offered {RATE:,} req/s for {SECONDS:g} s; ui answered {ui['ok']:,} "
        f"({ui['errors']} errors), serve {serve['ok']:,} ({serve['errors']} errors)",
    )
    figure(
        "ui memory",
        f"stream window {rows:,} rows (cap {MAX_ROWS:,}) with {stored:,} captures stored; "
        f"RSS +{rss:.0f} MB over the flood",
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["scroll"]:
        print(json.dumps(asyncio.run(scroll(Path(sys.argv[2])))), flush=True)
    else:
        main()
