"""The stream alone: rows held while paused go in, in order, at the resume (many: once the resume is on the
terminal); a cursor move draws again only the rows it left and reached."""

from __future__ import annotations

from textual.app import App, ComposeResult

from katya_tui.ui.widgets import stream as stream_module
from katya_tui.ui.widgets.stream import Stream
from tests.ui_main_helpers import until


def capture(i: int) -> dict:
    return {
        "id": f"cap_{i}",
        "method": "POST",
        "path": "/hooks/a",
        "received_at": 1_700_000_000.0 + i,
        "verdict": {"status": "valid"},
        "response": {"status": 200},
    }


class OneStream(App[None]):
    def compose(self) -> ComposeResult:
        yield Stream(id="stream")


async def test_resume_merges_what_was_held_in_one_go():
    app = OneStream()
    async with app.run_test():
        stream = app.query_one(Stream)
        stream.add([capture(0)], [])
        stream.action_pause()
        stream.add([capture(1)], [])
        stream.add([capture(2), capture(3)], [])
        assert stream.held == 3 and len(stream.rows) == 1 and "3 waiting" in str(stream.border_subtitle)
        stream.action_pause()  # a few: in before the resume's frame
        assert [r.id for r in stream.rows] == [f"cap_{i}" for i in range(4)] and stream.held == 0


async def test_resume_of_many_shows_first_then_merges_what_was_held_in_order(monkeypatch):
    monkeypatch.setattr(stream_module, "MERGE_AT_ONCE", 2)
    app = OneStream()
    async with app.run_test() as pilot:
        stream = app.query_one(Stream)
        stream.add([capture(0)], [])
        stream.action_pause()
        stream.add([capture(1)], [])
        stream.add([capture(2), capture(3)], [])
        assert stream.held == 3 and len(stream.rows) == 1 and "3 waiting" in str(stream.border_subtitle)
        stream.action_pause()  # resume: the frame that shows it first, then the rows held
        assert not stream.paused and len(stream.rows) == 1
        stream.add([capture(4)], [])  # arrived before that frame: goes in after the rows held
        assert len(stream.rows) == 1
        await until(pilot, lambda: len(stream.rows) == 5)
        assert [r.id for r in stream.rows] == [f"cap_{i}" for i in range(5)]
        assert stream.held == 0 and str(stream.border_subtitle) == "5 rows"
        stream.add([capture(5)], [])  # and after: at once, as before the pause
        assert len(stream.rows) == 6


async def test_a_key_pressed_before_the_resume_is_painted_acts_on_every_row(monkeypatch):
    monkeypatch.setattr(stream_module, "MERGE_AT_ONCE", 0)
    app = OneStream()
    async with app.run_test() as pilot:
        stream = app.query_one(Stream)
        stream.add([capture(0), capture(1)], [])
        stream.action_cursor(-1)  # the newest row, as it is
        stream.action_pause()
        stream.add([capture(2)], [])
        stream.action_pause()
        stream.action_cursor(1)  # down: onto the row held, merged first
        assert [r.id for r in stream.rows] == ["cap_0", "cap_1", "cap_2"] and stream.cursor == 2
        await pilot.pause()
        await pilot.pause()
        assert len(stream.rows) == 3 and stream.held == 0  # (merged once)


async def test_pause_again_before_the_resume_is_painted_keeps_holding(monkeypatch):
    monkeypatch.setattr(stream_module, "MERGE_AT_ONCE", 0)
    app = OneStream()
    async with app.run_test() as pilot:
        stream = app.query_one(Stream)
        stream.action_pause()
        stream.add([capture(0)], [])
        stream.action_pause()
        stream.action_pause()  # paused again at once
        stream.add([capture(1)], [])
        await pilot.pause()
        await pilot.pause()
        assert stream.paused and stream.rows == [] and stream.held == 2
        stream.action_pause()
        await until(pilot, lambda: len(stream.rows) == 2)
        assert [r.id for r in stream.rows] == ["cap_0", "cap_1"] and stream.held == 0


async def test_a_cursor_move_draws_only_the_two_rows_it_changes():
    app = OneStream()
    async with app.run_test(size=(120, 20)) as pilot:
        stream = app.query_one(Stream)
        stream.add([capture(i) for i in range(40)], [])
        stream.focus()
        stream.action_cursor(-1)  # (enters at the newest row)
        await pilot.pause()
        drawn: list[int] = []
        render_line = stream.render_line

        def spy(y: int):
            drawn.append(y + round(stream.scroll_y))
            return render_line(y)

        stream.render_line = spy  # type: ignore[method-assign]
        top = round(stream.scroll_y)
        await pilot.press("up")
        await pilot.pause()
        assert stream.cursor == 38 and round(stream.scroll_y) == top
        assert sorted(set(drawn)) == [38, 39]
        drawn.clear()
        await pilot.press("g")  # the view moves: every row in it is drawn
        await pilot.pause()
        assert stream.cursor == 0 and len(set(drawn)) > 2
