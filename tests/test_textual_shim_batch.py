"""`textual_shim.updates_held`: whether the app holds its frames, read from a Textual internal."""

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
