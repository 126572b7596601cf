"""The main screen with a real core on port 0: stream, status bar, filter, pause, follow, detail, replay, help."""

from __future__ import annotations

import asyncio

import httpx
from textual.widgets import HelpPanel, Input, Static
from ui_main_helpers import panes, reads_done, running, send_keys, until

from katya_tui.core.catalog import envelope
from katya_tui.ui.messages import FactsLost
from katya_tui.ui.screens.main import MainScreen
from katya_tui.ui.widgets.status_bar import StatusBar


async def post(app, endpoint: str, body: dict | None = None, **headers) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        if body is None:
            return await client.get(f"{app.service.url}/hooks/{endpoint}")
        return await client.post(f"{app.service.url}/hooks/{endpoint}", json=body, headers=headers)


async def test_captures_show_with_their_event_verdict_and_counts(settings):
    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        body = envelope("message.created", {"id": "m1"}, event_id="evt_a1")
        assert (await post(app, "stripe", body)).status_code == 200
        assert (await post(app, "bin")).status_code == 200
        await until(pilot, lambda: len(stream.rows) == 2)
        first, second = stream.rows
        assert (first.kind, first.method, first.path, first.type, first.event_id) == (
            "capture",
            "POST",
            "/hooks/stripe",
            "message.created",
            "evt_a1",
        )
        assert first.verdict == "unsigned" and first.status == 200
        assert (second.method, second.type, second.event_id) == ("GET", "", None)
        # one row per capture, even though the first one also became an event
        assert len(stream.by_id) == 3
        text = " ".join(seg.text for seg in stream.row_segments(first, 118))
        assert "○ unsigned" in text and "/hooks/stripe → message.created" in text
        await until(pilot, lambda: app.screen.query_one(StatusBar).status.captures == 2)
        status = app.screen.query_one(StatusBar)
        assert status.status.events == 1
        assert f"{app.service.url}/hooks/<name>" in status.text() and "ctrl+t" in status.text()


async def test_events_from_other_sources_get_their_own_rows(settings):
    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        app.service.publish_event("room.created", {"id": "r"}, source="demo")
        app.service.publish_event("trust.score.changed", {"id": "t"}, source="trigger")
        await until(pilot, lambda: len(stream.rows) == 2)
        assert [(r.kind, r.source, r.type) for r in stream.rows] == [
            ("event", "demo", "room.created"),
            ("event", "trigger", "trust.score.changed"),
        ]


async def test_follow_scroll_away_counts_new_rows_and_G_resumes(settings):
    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        for i in range(60):
            app.service.publish_event("message.created", {"i": i}, source="trigger")
        await until(pilot, lambda: len(stream.rows) == 60)
        assert stream.following and stream.scroll_y == stream.max_scroll_y > 0
        await pilot.press("g")
        assert stream.cursor == 0 and not stream.following and stream.scroll_y == 0
        for i in range(5):
            app.service.publish_event("message.created", {"i": i}, source="trigger")
        await until(pilot, lambda: stream.new_rows == 5)
        assert "5 new" in str(stream.border_subtitle) and stream.scroll_y == 0
        await pilot.press("G")
        assert stream.following and stream.new_rows == 0 and stream.cursor is None
        await until(pilot, lambda: stream.scroll_y == stream.max_scroll_y)


async def test_cursor_keys_and_selection_drive_the_delivery_log(settings):
    async with running(settings) as (app, pilot):
        stream, _, log = panes(app)
        events = [app.service.publish_event("message.created", {"i": i}, source="trigger") for i in range(3)]
        await until(pilot, lambda: len(stream.rows) == 3)
        await pilot.press("up")
        assert stream.cursor == 2
        await until(pilot, lambda: log.scope[:2] == ("event", events[2].id))
        await pilot.press("k", "k", "j")
        assert stream.cursor == 1
        await until(pilot, lambda: log.scope[:2] == ("event", events[1].id))
        await pilot.press("escape")
        assert stream.cursor is None and stream.following
        await until(pilot, lambda: log.scope[0] == "all")


async def test_pause_freezes_the_view_while_capture_goes_on(settings):
    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        app.service.publish_event("message.created", {}, source="trigger")
        await until(pilot, lambda: len(stream.rows) == 1)
        await pilot.press("p")
        assert stream.paused
        for _ in range(4):
            app.service.publish_event("message.created", {}, source="trigger")
        await until(pilot, lambda: stream.held == 4)
        assert len(stream.rows) == 1 and "paused" in str(stream.border_subtitle)
        assert app.screen.query_one(StatusBar).status.paused
        assert len(app.service.store.table("events")) == 5  # the core kept everything
        await pilot.press("p")
        assert not stream.paused and len(stream.rows) == 5


async def test_filter_narrows_stream_and_reports_errors(settings):
    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        app.service.publish_event("message.created", {}, source="trigger")
        app.service.publish_event("room.created", {}, source="demo")
        await until(pilot, lambda: len(stream.rows) == 2)
        await pilot.press("slash")
        box = app.screen.query_one("#filter", Input)
        assert box.has_focus
        await pilot.press(*"status>=x", "enter")
        error = app.screen.query_one("#filter-error", Static)
        assert "takes a number" in str(error.render()) and box.has_focus and len(stream.rows) == 2
        box.value = "type:room.* source:demo"
        await pilot.press("enter")
        assert [r.type for r in stream.rows] == ["room.created"] and stream.has_focus
        assert "type:room.*" in str(stream.border_title)
        app.service.publish_event("message.deleted", {}, source="trigger")
        app.service.publish_event("room.updated", {}, source="demo")
        await until(pilot, lambda: len(stream.rows) == 2)
        assert [r.type for r in stream.rows] == ["room.created", "room.updated"]
        await pilot.press("ctrl+l")
        assert len(stream.rows) == 4 and app.screen.flt.empty


async def test_keys_bound_with_priority_are_text_in_the_filter_box(settings):
    """`1`/`2`/`3` and the panes' keys are answered on the App's first look at a key (priority bindings); typed
    into the filter box, they are text, and they move the focus and pause again once it is closed."""
    async with running(settings) as (app, pilot):
        stream, _, log = panes(app)
        await pilot.press("slash")
        box = app.screen.query_one("#filter", Input)
        assert box.has_focus
        await pilot.press(*"status>=123 pgjk")
        assert box.value == "status>=123 pgjk" and box.has_focus and not stream.paused
        await pilot.press("escape")
        assert stream.has_focus
        await pilot.press("3")
        assert log.has_focus
        await pilot.press("1", "p")
        assert stream.has_focus and stream.paused


async def test_enter_opens_the_detail_and_escape_comes_back(settings):
    from katya_tui.ui.commands import actions
    from katya_tui.ui.screens.detail import DetailView

    async with running(settings) as (app, pilot):
        stream, subs, log = panes(app)
        main = app.screen
        await post(app, "x", {"hello": "world"})
        await until(pilot, lambda: len(stream.rows) == 1)
        assert stream.selected is None  # following: nothing selected yet, and enter opens the newest row
        await pilot.press("enter")
        await until(pilot, lambda: main.detail_open)
        assert stream.cursor == 0 and not stream.following
        detail = main.query_one(DetailView)
        assert app.screen is main and not main.query_one("#panes").display
        assert detail.kind == "capture" and detail.item_id == stream.rows[0].id
        await until(pilot, lambda: detail.shown)
        assert "POST /hooks/x" in str(detail.query_one("#detail-title").render())
        await pilot.press("2", "3", "f2")  # the panes' keys wait under the detail
        assert app.screen is main and main.detail_open and not subs.has_focus and not log.has_focus
        titles = {t for t, _, _ in actions(main)}  # the palette offers the detail's actions, not the panes'
        assert {"copy curl", "copy body", "back", "quit"} <= titles and "stream: pause" not in titles
        await pilot.press("escape")
        await until(pilot, lambda: not main.detail_open)
        assert main.query_one("#panes").display and stream.has_focus
        await pilot.press("2")  # the panes' keys are back
        assert subs.has_focus


async def test_the_row_under_the_cursor_is_read_beforehand_and_opens_in_one_frame(settings):
    from katya_tui.ui.screens.detail import DetailView

    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        main = app.screen
        await post(app, "x", {"hello": "world"})
        await post(app, "y", {"hello": "again"})
        await until(pilot, lambda: len(stream.rows) == 2)
        detail = main.query_one(DetailView)
        await pilot.press("up")
        row = stream.selected
        await until(pilot, lambda: detail.prefetched == (row.kind, row.id))
        await until(pilot, lambda: detail.query("#tabs"))  # (mounted, hidden, after the first window)
        await pilot.pause(0.05)
        detail.show(row.kind, row.id)  # what `enter` does: the item is there before any read of it
        assert detail.shown and detail.data.capture["id"] == row.id
        assert "POST /hooks/y" in str(detail.query_one("#detail-title").render())
        detail.show("capture", stream.rows[0].id)  # another row: the placeholder, then the item read
        assert not detail.shown
        await until(pilot, lambda: detail.shown and detail.data.capture["id"] == stream.rows[0].id)


async def test_replay_key_asks_then_replays_and_links_the_replay(settings):
    from katya_tui.ui.screens.dialogs import ReplayDialog

    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        await post(app, "orig", {"n": 1})
        app.service.publish_event("room.created", {}, source="demo")
        await until(pilot, lambda: len(stream.rows) == 2)
        await pilot.press("up")  # the event row: no replay
        assert stream.check_action("replay", ()) is False
        await pilot.press("up")
        assert stream.check_action("replay", ()) is True
        original = stream.selected.id
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ReplayDialog))
        app.screen.query_one("#to", Input).value = f"{app.service.url}/hooks/sink"
        await pilot.press("enter")
        await until(pilot, lambda: any(r.replay_of == original for r in stream.rows))
        replay = next(r for r in stream.rows if r.replay_of == original)
        assert replay.source == "replay"
        await until(
            pilot, lambda: any(r.path == "/hooks/sink" for r in stream.rows)
        )  # the target received it
        # the choice is remembered: r again replays at once, without the dialog
        count = sum(1 for r in stream.rows if r.replay_of == original)
        await pilot.press("r")
        await until(pilot, lambda: sum(1 for r in stream.rows if r.replay_of == original) == count + 1)
        assert isinstance(app.screen, MainScreen)


async def test_help_lists_the_focused_panes_keys_and_toggles(settings):
    async with running(settings) as (app, pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: bool(app.screen.query(HelpPanel)))
        await pilot.press("question_mark")
        await until(pilot, lambda: not app.screen.query(HelpPanel))


async def test_keymap_from_settings_remaps_a_key(settings):
    from dataclasses import replace

    async with running(replace(settings, keymap={"stream.pause": "z", "app.token": "ctrl+k"})) as (
        app,
        pilot,
    ):
        stream, _, _ = panes(app)
        await pilot.press("p")
        assert not stream.paused
        await pilot.press("z")
        assert stream.paused
        assert "token: ctrl+k" in app.screen.query_one(StatusBar).text()


async def test_a_core_that_cannot_start_shows_the_reason(settings, service):
    from katya_tui.ui.app import KatyaApp, StartupFailed

    app = KatyaApp(settings)  # same data dir as the running `service`: the store is locked
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, StartupFailed))
        assert (
            app.startup_error
            and "data dir" in app.startup_error.lower()
            or "lock" in app.startup_error.lower()
        )
        await pilot.press("q")
    assert app.return_code in (0, None) and app.startup_error


async def test_lost_facts_reload_the_window_from_the_store(settings):
    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        await reads_done(pilot)  # the first read of the window must not see the record written below
        table = app.service.store.table("events")
        table.insert(
            {"id": "evt_quiet", "type": "room.created", "data": {}, "created_at": 1.0, "source": "ws"}
        )
        assert not stream.rows  # written without a fact: the view does not know
        app.screen.post_message(FactsLost(3))
        await until(pilot, lambda: [r.id for r in stream.rows] == ["evt_quiet"])


async def test_a_flood_of_captures_keeps_key_presses_answered(settings):
    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        stop = asyncio.Event()

        async def flood() -> None:
            async with httpx.AsyncClient() as client:
                while not stop.is_set():
                    await asyncio.gather(
                        *(client.post(f"{app.service.url}/hooks/flood", content=b"x") for _ in range(20))
                    )

        task = asyncio.create_task(flood())
        try:
            await until(pilot, lambda: len(stream.rows) > 50)
            send_keys(app, "p")
            await until(pilot, lambda: stream.paused)
            send_keys(app, "p", "g")
            await until(pilot, lambda: not stream.paused and stream.cursor == 0)
            send_keys(app, "slash")
            await until(pilot, lambda: app.screen.query_one("#filter", Input).has_focus)
            send_keys(app, *"method:get", "enter")
            await until(pilot, lambda: app.screen.flt.source == "method:get")
            await until(pilot, lambda: not stream.rows)  # once the window, read off the loop, lands
        finally:
            stop.set()
            await task
        assert len(app.service.store.table("captures")) > 50


async def test_narrow_terminal_stacks_the_bottom_panes(settings):
    async with running(settings, size=(80, 24)) as (app, pilot):
        stream, subs, log = panes(app)
        assert app.screen.has_class("narrow")
        for pane in (stream, subs, log):
            assert pane.region.width >= 76 and pane.region.height >= 4, pane
        app.service.publish_event("room.created", {}, source="demo")
        await until(pilot, lambda: len(stream.rows) == 1)
        assert "room.created" in "".join(s.text for s in stream.row_segments(stream.rows[0], 78))


async def test_sigterm_exits_cleanly(settings):
    async with running(settings) as (app, pilot):
        app._on_sigterm()
        await pilot.pause()
    assert app.return_code == 0 and app.service.store is None  # stopped and flushed


async def test_palette_offers_every_pane_action_and_goes_to_an_id(settings):
    from katya_tui.ui.commands import KatyaCommands, actions
    from katya_tui.ui.screens.detail import DetailScreen

    async with running(settings) as (app, pilot):
        stream, _, _ = panes(app)
        titles = {t for t, _, _ in actions(app.screen)}
        assert {
            "stream: replay",
            "stream: pause",
            "subscription: new",
            "subscription: test",
            "delivery: resend",
            "delivery: resend failed",
            "delivery: cancel",
            "endpoints",
            "stats",
            "quit",
        } <= titles
        run = next(r for t, _, r in actions(app.screen) if t == "stream: pause")
        run()
        await until(pilot, lambda: stream.paused)
        event = app.service.publish_event("room.created", {}, source="demo")
        provider = KatyaCommands(app.screen)
        assert provider.find_ids(event.id[:12]) == [("event", event.id)]
        assert provider.find_ids("evt") == []  # too short to search
        hits = [h async for h in provider.search(event.id)]
        go = next(h for h in hits if h.text == f"go to event {event.id}")
        go.command()
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.item_id == event.id)
