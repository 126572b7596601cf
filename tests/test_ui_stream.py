"""The stream alone: rows held while paused go in, in order, at the resume; a cursor move draws again only the
rows it left and reached."""

from __future__ import annotations

from textual.app import App, ComposeResult

from katya_tui.ui.widgets.stream import Stream


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
        stream.action_pause()
        assert [r.id for r in stream.rows] == [f"cap_{i}" for i in range(4)] and stream.held == 0
        assert str(stream.border_subtitle) == "4 rows"
        stream.add([capture(4)], [])  # and after: at once
        assert len(stream.rows) == 5


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
