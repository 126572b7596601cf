"""The detail panel is laid out and drawn once unseen, under the panes, before the first `enter`: the screen reads
the same meanwhile, the keys are the panes', and the first item opens on the sizes that warm-up took."""

from __future__ import annotations

import html
import re

from test_ui_main_snapshot import app_with
from textual.widgets import ContentSwitcher, Static, TabbedContent, Tabs
from ui_main_helpers import SIZE, panes, reads_done, until

from katya_tui.ui.screens.detail import DetailView
from katya_tui.ui.screens.main import MainScreen


def picture(app) -> tuple[object, ...]:
    """What the terminal shows: each cell's character (from the screenshot, however it cuts lines into runs),
    widget and style."""
    width, height = app.size
    chars = [[" "] * width for _ in range(height)]
    svg = app.export_screenshot()
    for x, line, text in re.findall(r'<text [^>]*x="([\d.]+)"[^>]*line-(\d+)\)">([^<]*)</text>', svg):
        for i, char in enumerate(html.unescape(text).rstrip("\n").replace("\xa0", " ")):
            chars[int(line)][round(float(x) / CELL) + i] = char
    cells = [
        (app.screen.get_widget_at(x, y)[0], app.screen.get_style_at(x, y))
        for y in range(height)
        for x in range(width)
    ]
    return tuple("".join(row) for row in chars), tuple(cells)


CELL = 12.2  # the screenshot's width of a cell
SECTIONS = ("request-summary", "request-headers", "request-body")


async def test_the_panel_warms_unseen_and_the_first_item_opens_on_its_sizes(settings, monkeypatch):
    warmed: list[tuple[object, ...]] = []  # at the end of each warm-up: what was laid out, as it was shown
    end_warm = DetailView.end_warm

    def spy(self: DetailView) -> None:
        if self.warming:
            sizes = tuple(self.query_one(f"#{i}", Static).size for i in SECTIONS)
            warmed.append((self.region.y, self.query_one(Tabs).size, sizes))
        end_warm(self)

    monkeypatch.setattr(DetailView, "end_warm", spy)
    app = app_with(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        main, (stream, _, _) = app.screen, panes(app)
        await reads_done(pilot)
        detail = main.query_one(DetailView)
        # warmed once its tabs were mounted: drawn where it shows (under the panes), hidden again
        await until(pilot, lambda: warmed and not detail.warming)
        y, bar, _ = warmed[0]
        assert y == 0 and bar.width == SIZE[0] and bar.height > 0
        assert not detail.display and not main.detail_open and stream.has_focus
        assert not any(detail.styles.inline.has_rule(r) for r in ("layer", "height", "offset"))

        # while it is drawn under the panes, the screen shows what it showed, and the keys are the panes'
        before, seen = picture(app), []
        detail.warm("again")
        assert detail.warming and detail.display and not main.detail_open
        app.call_after_refresh(lambda: seen.append((detail.warming, picture(app))))
        await until(pilot, lambda: seen and not detail.warming)
        assert seen[0] == (True, before)
        assert picture(app) == before and not detail.display
        await pilot.press("2")
        assert main.query_one("#subs").has_focus
        await pilot.press("1")

        # the row the cursor rests on is read and written into the hidden panel, laid out below the screen
        count = len(warmed)
        await pilot.press("g")
        row = stream.selected
        assert row is not None and row.kind == "capture"
        await until(pilot, lambda: detail.prefetched == (row.kind, row.id) and len(warmed) > count)
        await until(pilot, lambda: not detail.warming)
        y, _, sizes = warmed[-1]
        assert y >= SIZE[1] and all(s.height > 0 for s in sizes)  # (below the screen's edge: not drawn)
        await pilot.press("enter")
        await until(pilot, lambda: main.detail_open and detail.shown)
        assert tuple(detail.query_one(f"#{i}", Static).size for i in SECTIONS) == sizes
        assert detail.query_one(TabbedContent).active == "tab-request"  # (not moved by the tabs hidden)
        await pilot.press("escape")
        await until(pilot, lambda: not main.detail_open and stream.has_focus)


async def test_an_item_opens_on_its_first_tab_after_one_that_had_other_tabs(settings):
    # an event alone opens on its Event tab; a capture with no event then hides that tab: Textual activates the
    # next one by a message, which must not undo the capture's first tab (Request)
    app = app_with(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        main, (stream, _, _) = app.screen, panes(app)
        await reads_done(pilot)
        alone = next(r for r in stream.rows if r.kind == "event" and r.source == "demo")
        bare = next(r for r in stream.rows if r.kind == "capture" and not r.event_id)
        detail, tabs = main.query_one(DetailView), None
        for row, first in ((alone, "tab-event"), (bare, "tab-request")):
            stream.cursor = stream.rows.index(row)
            await pilot.press("enter")
            await until(pilot, lambda r=row: main.detail_open and detail.shown and detail.item_id == r.id)
            await pilot.pause()
            tabs = detail.query_one(TabbedContent)
            assert (tabs.active, tabs.query_one(ContentSwitcher).current) == (first, first)
            await pilot.press("escape")
            await until(pilot, lambda: not main.detail_open)


async def test_items_written_while_hidden_open_laid_out_as_if_written_shown(settings):
    # the hidden panel's sections are written without a layout of the screen (the cursor's prefetch under a flood);
    # shown, each section has the size a fresh layout gives it, whatever item the panel held before
    app = app_with(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        main, (stream, _, _) = app.screen, panes(app)
        await reads_done(pilot)
        detail = main.query_one(DetailView)
        captures = [i for i, r in enumerate(stream.rows) if r.kind == "capture"]
        assert len(captures) >= 2
        for index in [*captures, captures[0]] * 2:  # each prefetched in turn, hidden, then one opened
            stream.cursor = index
            row = stream.rows[index]
            await until(pilot, lambda r=row: detail.prefetched == (r.kind, r.id) and not detail.warming)
        await pilot.press("enter")
        await until(pilot, lambda: main.detail_open and detail.shown)
        await pilot.pause()
        sections = list(detail.query(Static))
        shown = [s.region for s in sections]
        for section in sections:
            section.refresh(layout=True)
        await pilot.pause()
        await pilot.pause()
        assert [s.region for s in sections] == shown
