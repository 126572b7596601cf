"""`katya-tui` runs its TUI on the event loop `serve` runs on (`core.loops.fast_loop`)."""

from __future__ import annotations

import asyncio

import pytest

from katya_tui import cli
from katya_tui.core.loops import fast_loop
from katya_tui.ui.app import KatyaApp


@pytest.mark.parametrize("choice", ["", "asyncio"])
def test_the_tui_runs_on_the_loop_serve_runs_on(settings, monkeypatch, choice):
    monkeypatch.setenv("KATYA_TUI_LOOP", choice)
    seen: list[type] = []

    async def run_async(self, **kw):
        seen.append(type(asyncio.get_running_loop()))

    monkeypatch.setattr(KatyaApp, "run_async", run_async)
    cli._tui(settings)
    factory = fast_loop() or asyncio.new_event_loop
    loop = factory()
    loop.close()
    assert seen == [type(loop)]
    if choice == "asyncio":
        assert type(loop).__module__.startswith("asyncio")
