"""The TUI under load, each figure from a fresh process with no warm-up (the first presses count).

- first full paint with 100k captures stored, against opening that store alone;
- `g`/`G` over the 10k-row window, key to the frame that shows it, at a user's varied pace;
- floods of 100, 500 and 2,000 req/s (a separate load process, every request a new event) while one `*`
  subscription delivers each event to a sink (a third process): p50/p99 from key press to the painted frame that
  shows its effect, for moving the cursor, pausing, opening a detail and closing it, and switching panes; and the
  TUI's receiver rate against `katya-tui serve` under the identical load and subscription;
- memory: the stream's window stays at its cap while the store grows.

`python -m bench.bench_ui paint DIR | scroll DIR | keys DIR RATE SINK_URL` runs one part in its own process.
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
from typing import Any

import aiohttp
from textual import events

from katya_tui.config import load_settings
from katya_tui.core.loops import fast_loop
from katya_tui.core.store import Store
from katya_tui.ui.app import KatyaApp
from katya_tui.ui.screens.main import MainScreen
from katya_tui.ui.textual_shim import on_paint, updates_held
from katya_tui.ui.widgets.stream import MAX_ROWS, Stream

from .bench_dispatcher import SINK, _port
from .common import figure, headline, percentile, ratio_line

RATES, SECONDS, N_STORED = (100, 500, 2000), 6.0, 100_000
SCROLL_PRESSES = 40  # g, G, g, ... : 20 of each
TOKEN = "bench-token-123"
ROOT = Path(__file__).parent.parent
KEY_GOALS = {100: 50.0, 500: 50.0, 2000: 100.0}
RATIO_GOALS = {500: 0.9, 2000: 0.7}


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
    return load_settings({"port": 0, "data_dir": str(data_dir), "token": TOKEN}, env={})


async def _until(cond, limit: float = 30.0) -> float:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > limit:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.001)
    return time.perf_counter() - t0


async def _painted(app: KatyaApp) -> None:
    """Until the screen has been refreshed once more (what the key changed is on it). Not while the app holds its
    frames (a pane switch does, briefly): a screen runs these callbacks then without painting."""
    while updates_held(app):
        await asyncio.sleep(0.001)
    done = asyncio.Event()
    app.call_after_refresh(done.set)
    await done.wait()


async def _press(app: KatyaApp, key: str, effect) -> float:
    """Milliseconds from posting `key` to the first frame painted while `effect()` holds: the frame that shows
    it (looked at as that frame is painted, so a frame painted before the benchmark noticed the effect counts)."""
    shown: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def painted() -> None:
        if not shown.done() and effect():
            shown.set_result(time.perf_counter())

    stop = on_paint(app, painted)
    try:
        t0 = time.perf_counter()
        app.post_message(events.Key(key, key if len(key) == 1 else None))
        try:
            return (await asyncio.wait_for(shown, 10.0) - t0) * 1000
        except TimeoutError:
            raise TimeoutError(f"no frame showed the effect of {key!r} within 10 s") from None
    finally:
        stop()


def _child(*args: str) -> Any:
    """Run `python -m bench.bench_ui ARGS` (a fresh process) and return the JSON of its last line."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_ui", *args], capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode:
        raise RuntimeError(f"bench_ui {args[0]} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- first paint, g/G ---------------------------------------------------------------------------------------


async def first_paint(data_dir: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    app = KatyaApp(_settings(data_dir))
    core_start = app.service.start
    core: list[float] = []

    async def timed_start() -> None:
        t = time.perf_counter()
        await core_start()
        core.append(time.perf_counter() - t)

    app.service.start = timed_start  # type: ignore[method-assign]
    async with app.run_test(size=(120, 36)):
        await _until(lambda: isinstance(app.screen, MainScreen) and bool(app.screen.query_one(Stream).rows))
        await _painted(app)
        took = time.perf_counter() - t0
    return took, core[0]


async def scroll(data_dir: Path, presses: int = SCROLL_PRESSES) -> list[float]:
    """Milliseconds from each `g`/`G` to the frame that shows its effect, alternately, from the first press. The
    first comes half a second after the first paint (a user's reaction); the others after a pause drawn between
    none and 0.6 s (seeded), so that some land while work a key left behind is under way, as a user's would."""
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
                lat.append(await _press(app, "g", lambda: stream.cursor == 0 and stream.scroll_y == 0))
            else:
                lat.append(
                    await _press(
                        app, "G", lambda: stream.following and stream.scroll_y == stream.max_scroll_y
                    )
                )
            await asyncio.sleep(gaps.uniform(0.0, 0.6))
    return lat


# -- floods -------------------------------------------------------------------------------------------------


async def _subscribe(base_url: str, sink_url: str) -> None:
    """One `*` subscription to the sink, through the HTTP API (the same call for the TUI and for `serve`)."""
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            f"{base_url}/v1/webhooks",
            json={"url": sink_url, "events": ["*"], "name": "sink"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as r,
    ):
        if r.status >= 300:
            raise RuntimeError(f"subscription refused: {r.status} {await r.text()}")


def _flood(url: str, rate: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench._flood", url, str(rate), str(SECONDS)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def keys(data_dir: Path, rate: int, sink_url: str) -> dict:
    """The TUI under a flood of `rate` unique events a second with the `*` subscription delivering: keys pressed
    in turn at a user's pace, each timed to the frame that shows its effect."""
    gaps = random.Random(7)
    app = KatyaApp(_settings(data_dir))
    lat: dict[str, list[float]] = {"move": [], "pause": [], "open": [], "close": [], "panes": []}
    async with app.run_test(size=(120, 36)):
        await _until(lambda: isinstance(app.screen, MainScreen))
        main = app.screen
        assert isinstance(main, MainScreen)
        stream = main.query_one(Stream)
        await _subscribe(app.service.url, sink_url)
        rss0 = _rss_mb()
        load = asyncio.create_task(asyncio.to_thread(_flood, f"{app.service.url}/hooks/flood", rate))
        await _until(lambda: len(stream.rows) > 20)
        step = 0
        while not load.done():
            await asyncio.sleep(gaps.uniform(0.05, 0.3))
            kind = ("move", "pause", "move", "detail", "panes")[step % 5]
            step += 1
            if kind == "move":
                cur, last = stream.cursor, len(stream.rows) - 1  # (a paused stream gets no new last row)
                key = "up" if cur is None or cur >= last or cur > 0 and step % 2 else "down"
                lat[kind].append(await _press(app, key, lambda c=cur: stream.cursor != c))
            elif kind == "pause":
                paused = stream.paused
                lat[kind].append(await _press(app, "p", lambda p=paused: stream.paused != p))
            elif kind == "detail" and stream.selected is not None:
                lat["open"].append(await _press(app, "enter", lambda: main.detail_open))
                await asyncio.sleep(gaps.uniform(0.05, 0.3))
                lat["close"].append(await _press(app, "escape", lambda: not main.detail_open))
            elif kind == "panes":
                for key, pane in (("2", "subs"), ("3", "log"), ("1", "stream")):
                    target = main.query_one(f"#{pane}")
                    lat[kind].append(await _press(app, key, lambda t=target: app.focused is t))
        result = await load
        if stream.paused:
            await _press(app, "p", lambda: not stream.paused)
        result.update(
            lat=lat,
            rows=len(stream.rows),
            stored=len(app.service.store.table("captures")),
            rss=_rss_mb() - rss0,
        )
    return result


def _serve(data_dir: Path, rate: int, sink_url: str) -> dict:
    log = data_dir.parent / f"serve-{rate}.out"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "katya_tui", "serve", "--port", "0", "--data-dir", str(data_dir)]
            + ["--token", TOKEN],
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    try:
        deadline = time.time() + 20
        first: list[str] = []
        while time.time() < deadline:
            first = log.read_text().splitlines()[:1]
            if first and first[0].startswith("{"):
                break
            time.sleep(0.05)
        url = json.loads(first[0])["url"]
        asyncio.run(_subscribe(url, sink_url))
        return _flood(f"{url}/hooks/flood", rate)
    finally:
        proc.terminate()
        proc.wait(10)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    headline("ui: first paint, g/G, keys under floods of unique events with a `*` subscription delivering")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big"
        _fill(big, N_STORED)
        t0 = time.perf_counter()
        Store(big, fsync=False).close()
        open_s = time.perf_counter() - t0
        paint, core = _child("paint", str(big))
        figure(
            "ui first paint",
            f"{paint:.2f} s with {N_STORED:,} captures stored, fresh process: core start {core:.2f} s "
            f"(opening that store alone {open_s:.2f} s) + UI {paint - core:.2f} s  "
            f"(goal <= 1.5 s: {_met(paint <= 1.5)})",
        )
        moves: list[float] = _child("scroll", str(big))
        figure(
            "ui g/G (top/bottom)",
            f"p50 {percentile(moves, 50):.1f} ms, p99 {percentile(moves, 99):.1f} ms, first {moves[0]:.1f} ms, "
            f"key to painted frame over a {MAX_ROWS:,}-row window, {len(moves)} presses 0-0.6 s apart in a fresh "
            f"process (goal p99 <= 50 ms: {_met(percentile(moves, 99) <= 50)})",
        )
        port = _port()
        sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdout=subprocess.PIPE, text=True)
        try:
            assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
            sink_url = f"http://127.0.0.1:{port}/hook"
            for rate in RATES:
                serve = _serve(Path(tmp) / f"serve-{rate}", rate, sink_url)
                ui: dict = _child("keys", str(Path(tmp) / f"ui-{rate}"), str(rate), sink_url)
                _report(rate, serve, ui)
        finally:
            sink.terminate()
            sink.wait(10)


def _report(rate: int, serve: dict, ui: dict) -> None:
    lat: dict[str, list[float]] = ui["lat"]
    goal = KEY_GOALS[rate]
    every = [v for vs in lat.values() for v in vs]
    parts = ", ".join(
        f"{k} {percentile(v, 50):.0f}/{percentile(v, 99):.0f}{' ✓' if percentile(v, 99) <= goal else ' ✗'}"
        for k, v in lat.items()
        if v
    )
    figure(
        f"ui keys at {rate:,} req/s",
        f"p50/p99 ms by key: {parts} (goal p99 <= {goal:g} ms); all {len(every)} presses p50 "
        f"{percentile(every, 50):.1f} ms, p99 {percentile(every, 99):.1f} ms "
        f"({_met(percentile(every, 99) <= goal)})",
    )
    ratio_line(
        f"ui receiver at {rate:,} req/s",
        ui["rate"],
        "req/s",
        "serve",
        serve["rate"],
        goal=RATIO_GOALS.get(rate),
    )
    figure(
        f"ui load at {rate:,} req/s",
        f"{SECONDS:g} s, unique events, `*` subscription to a sink; ui answered {ui['ok']:,} ({ui['errors']} "
        f"errors), serve {serve['ok']:,} ({serve['errors']} errors); stream window {ui['rows']:,} rows "
        f"(cap {MAX_ROWS:,}), {ui['stored']:,} captures stored, RSS +{ui['rss']:.0f} MB",
    )


def _as_the_tui_runs(coro: Any) -> Any:
    """Run `coro` on the event loop `katya-tui` runs its TUI on (uvloop's where it is installed, as `serve`)."""
    with asyncio.Runner(loop_factory=fast_loop()) as runner:
        return runner.run(coro)


if __name__ == "__main__":
    part, args = sys.argv[1:2], sys.argv[2:]
    if part == ["paint"]:
        print(json.dumps(_as_the_tui_runs(first_paint(Path(args[0])))), flush=True)
    elif part == ["scroll"]:
        print(json.dumps(_as_the_tui_runs(scroll(Path(args[0])))), flush=True)
    elif part == ["keys"]:
        print(json.dumps(_as_the_tui_runs(keys(Path(args[0]), int(args[1]), args[2]))), flush=True)
    else:
        main()
