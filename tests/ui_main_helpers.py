"""Helpers for the main screen's Pilot tests: run the app on a core at port 0, wait for a condition."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from katya_tui.ui.app import KatyaApp
from katya_tui.ui.screens.main import MainScreen
from katya_tui.ui.widgets.delivery_log import DeliveryLog
from katya_tui.ui.widgets.stream import Stream
from katya_tui.ui.widgets.subscriptions import Subscriptions

SIZE = (120, 36)


@contextlib.asynccontextmanager
async def running(settings, size=SIZE, **kw):
    app = KatyaApp(settings, **kw)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        yield app, pilot


async def until(pilot, cond: Callable[[], object], tries: int = 100) -> None:
    """Let the app run until `cond()` holds (at most `tries` short pauses); fail with the condition's source."""
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"condition never held: {cond}")


async def reads_done(pilot) -> None:
    """Wait for the panes' reads of the store (thread workers in `read-*` groups) and for their results to land."""
    app = pilot.app
    await pilot.pause()
    for _ in range(100):
        reading = [w for w in app.workers if (w.group or "").startswith("read-") and not w.is_finished]
        if not reading:
            await pilot.pause()
            if not [w for w in app.workers if (w.group or "").startswith("read-") and not w.is_finished]:
                return
            continue
        await app.workers.wait_for_complete(reading)
        await pilot.pause()
    raise AssertionError("the reads never finished")


def panes(app) -> tuple[Stream, Subscriptions, DeliveryLog]:
    main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
    return main.query_one(Stream), main.query_one(Subscriptions), main.query_one(DeliveryLog)


def send_keys(app, *keys: str) -> None:
    """Post key events without Pilot's idle waits (which wait for a quiet CPU, never true under a flood)."""
    from textual import events

    chars = {"slash": "/", "enter": "\r", "escape": "\x1b", "space": " "}
    for key in keys:
        app.post_message(events.Key(key, chars.get(key, key if len(key) == 1 else None)))
