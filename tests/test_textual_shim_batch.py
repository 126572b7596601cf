"""`textual_shim.updates_held` and `on_paint`: whether the app holds its frames, and when it paints one, read from
Textual internals."""

from __future__ import annotations

import asyncio

import pytest
from textual.app import App

from katya_tui.ui import textual_shim


async def test_updates_held_inside_a_batch_and_callbacks_run_there_unpainted():
    app: App[object] = App()
    async with app.run_test() as pilot:
        assert not textual_shim.updates_held(app)
        with app.batch_update():
            assert textual_shim.updates_held(app)
            with app.batch_update():
                assert textual_shim.updates_held(app)
            assert textual_shim.updates_held(app)
            # why it matters: a screen runs call_after_refresh callbacks while frames are held
            ran = asyncio.Event()
            app.screen.refresh()
            app.call_after_refresh(ran.set)
            await asyncio.wait_for(ran.wait(), 5)
        assert not textual_shim.updates_held(app)
        await pilot.pause()


def test_updates_held_names_the_version_when_the_count_moves():
    class Changed(App[object]):
        pass

    app = Changed()
    del app._batch_count  # (as if Textual kept it elsewhere)
    with pytest.raises(textual_shim.TextualChanged, match=r"textual \d+\.\d+.*App\._batch_count"):
        textual_shim.updates_held(app)


async def test_on_paint_calls_back_after_each_painted_frame_and_not_while_frames_are_held():
    from textual.widgets import Static

    class One(App[object]):
        def compose(self):
            yield Static("before", id="text")

    app = One()
    async with app.run_test() as pilot:
        await pilot.pause()
        seen: list[str] = []
        text = app.query_one("#text", Static)
        stop = textual_shim.on_paint(app, lambda: seen.append(str(text.render())))
        with app.batch_update():
            text.update("held")
            await pilot.pause()
            assert seen == []  # nothing is painted while frames are held
        for _ in range(100):
            if seen:
                break
            await pilot.pause(0.01)
        assert seen and seen[-1] == "held"  # the callback sees the state the frame drew
        stop()
        count = len(seen)
        text.update("after")
        await pilot.pause(0.1)
        assert len(seen) == count


def test_on_paint_names_the_version_when_display_moves(monkeypatch):
    monkeypatch.delattr(App, "_display")
    with pytest.raises(textual_shim.TextualChanged, match=r"textual \d+\.\d+.*App\._display"):
        textual_shim.on_paint(App(), lambda: None)
