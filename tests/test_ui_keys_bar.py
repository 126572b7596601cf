"""The keys bar: the focused pane's keys on one line, as Textual's Footer shows them, redrawn by one update."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widget import Widget

from katya_tui.ui.widgets.keys_bar import KeysBar


class Pane(Widget, can_focus=True):
    BINDINGS = [
        Binding("p", "pause", "Pause"),
        Binding("r", "replay", "Replay"),
        Binding("x", "cancel", "Cancel"),
        Binding("k", "up", "Up", show=False),
    ]
    replayable: bool | None = True
    paused = False

    def action_pause(self) -> None:
        self.paused = not self.paused

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "replay":
            return self.replayable
        if action == "cancel":
            return None  # shown, greyed
        return True


class Holder(App):
    def compose(self) -> ComposeResult:
        yield Pane()
        yield KeysBar()


async def test_it_shows_what_the_focused_pane_allows_and_follows_its_changes():
    app = Holder()
    async with app.run_test(size=(80, 10)) as pilot:
        pane, bar = app.query_one(Pane), app.query_one(KeysBar)
        pane.focus()
        await pilot.pause()
        line = bar.line()
        assert " p Pause " in line.plain and " r Replay " in line.plain and " x Cancel " in line.plain
        assert "Up" not in line.plain  # show=False
        assert line.plain.rstrip().endswith("^p palette")
        cancel = line.plain.index(" x Cancel ")
        assert any("dim" in str(span.style) and span.start <= cancel < span.end for span in line.spans)
        pane.replayable = False  # hidden, as Footer hides a key whose check_action says False
        pane.refresh_bindings()
        await pilot.pause()
        assert "Replay" not in bar.line().plain and "Replay" not in str(bar.render())


async def test_a_click_on_a_key_presses_it():
    app = Holder()
    async with app.run_test(size=(80, 10)) as pilot:
        pane, bar = app.query_one(Pane), app.query_one(KeysBar)
        pane.focus()
        await pilot.pause()
        x = bar.line().plain.index("Pause")
        await pilot.click(KeysBar, offset=(x, 0))
        await pilot.pause()
        assert pane.paused
