"""A flow larger than one batch, against the real dispatcher and a local sink: the panes fed by coalesced batches
show what a fresh read of the store shows: nothing lost by coalescing.
"""

from __future__ import annotations

from test_ui_main_deliveries import hook, sink  # noqa: F401  (the fixture)
from textual.widget import Widget
from ui_main_helpers import panes, reads_done, running, until

from katya_tui.core import queries
from katya_tui.ui.messages import FactsLost
from katya_tui.ui.widgets.stream_rows import summary

EVENTS = 300  # three times the batch size from which the bridge waits longer between batches
STATES = ("pending", "delivered", "failed", "cancelled")


def shown(app) -> tuple[list[tuple], dict[str, str | None], dict[tuple[str, str], int]]:
    """What the panes show: the stream's rows (id, type, deliveries column), the log's rows (id -> state) and the
    subscriptions' counts (state, webhook id -> deliveries)."""
    stream, subs, log = panes(app)
    rows = [(r.id, r.type, summary(r.deliveries)) for r in stream.rows]
    states = {key: log.docs[key].get("state") for key in log.keys}
    counts = {(s, wid): app.screen.tally.count(s, wid) for s in STATES for wid in subs.webhooks}
    return rows, states, counts


async def test_panes_fed_by_coalesced_batches_show_what_a_fresh_read_shows(settings, sink):  # noqa: F811
    async with running(settings) as (app, pilot):
        main = app.screen
        stream, subs, log = panes(app)
        wid = hook(app, sink, "all")["id"]
        for i in range(EVENTS):
            app.service.publish_event("message.created", {"n": i}, source="trigger", event_id=f"evt_{i:04d}")
        await until(pilot, lambda: sink.hits == EVENTS, tries=400)
        await until(pilot, lambda: main.tally.count("delivered", wid) == EVENTS, tries=400)
        await until(
            pilot, lambda: len(stream.rows) == EVENTS and summary(stream.rows[-1].deliveries)[0] != ""
        )
        await reads_done(pilot)
        subs.refresh_rows()
        before = shown(app)
        assert main.bridge is not None and main.bridge.posted < EVENTS  # the facts did come in batches
        assert [r[2] for r in before[0]] == [("1/1 ok", "ok")] * EVENTS
        assert set(before[1].values()) == {"delivered"} and len(before[1]) == log.row_count > 0
        assert before[2][("delivered", wid)] == EVENTS and before[2][("pending", wid)] == 0

        main.on_facts_lost(FactsLost(1))  # every pane read again from the store
        await reads_done(pilot)
        await until(pilot, lambda: len(stream.rows) == EVENTS)
        rows, states, counts = shown(app)
        assert (rows, counts) == (before[0], before[2])
        # the log: the same rows' states as in the store (which rows are "the latest" differs by the order, as
        # first announced or as last written, and not by what coalescing kept)
        assert len(states) == len(before[1])
        assert {
            k: (queries.get(app.service.store, "delivery", k) or {}).get("state") for k in before[1]
        } == before[1]


async def test_keys_1_2_3_move_the_focus_and_its_full_strength_border_between_the_panes(settings):
    async with running(settings) as (app, pilot):
        stream, subs, log = panes(app)
        await until(pilot, lambda: app.focused is stream)
        for key, pane in (("2", subs), ("3", log), ("1", stream), ("3", log)):
            await pilot.press(key)
            await until(pilot, lambda p=pane: app.focused is p)
            await pilot.pause()
            for widget in (stream, subs, log):
                alpha = widget.styles.border_top[1].a
                assert alpha == (1.0 if widget is pane else 0.5), (key, type(widget).__name__, alpha)
            assert app.screen._focus_hold is None  # frames are not held once the pane has the focus
        log.focus()  # the focus moved another way (a click, tab): the borders follow too
        await pilot.press("tab")
        await until(pilot, lambda: app.focused is not log)
        assert log.styles.border_top[1].a == 0.5


async def test_a_pane_switch_restyles_no_pane_and_tables_draw_their_cursor_by_focus(
    settings,
    sink,  # noqa: F811
    monkeypatch,
):
    restyled: list[Widget] = []
    update = Widget.update_node_styles

    def spy(self: Widget, animate: bool = True) -> None:
        restyled.append(self)
        update(self, animate)

    async with running(settings) as (app, pilot):
        stream, subs, log = panes(app)
        hook(app, sink, "all")  # (a subscription: a row, so a cursor, in the subscriptions pane)
        subs.refresh_rows()
        await until(pilot, lambda: app.focused is stream and subs.row_count == 1)

        def cursor_bg(table) -> object:
            line = table.render_line(1 + table.cursor_row)  # (line 0 is the header)
            return next(seg.style.bgcolor for seg in line if seg.text.strip())

        blurred = cursor_bg(subs)
        monkeypatch.setattr(Widget, "update_node_styles", spy)
        await pilot.press("2")
        await until(pilot, lambda: app.focused is subs)
        await pilot.pause()
        focused = cursor_bg(subs)
        await pilot.press("1")
        await until(pilot, lambda: app.focused is stream)
        await pilot.pause()
        assert not {stream, subs, log} & set(restyled), restyled
        monkeypatch.undo()
        assert focused != blurred and cursor_bg(subs) == blurred
        subs.focus()  # focused another way (Textual restyles it): drawn the same
        await until(pilot, lambda: app.focused is subs)
        await pilot.pause()
        assert cursor_bg(subs) == focused
