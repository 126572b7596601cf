"""The live stream: every capture and event, newest at the bottom, on Textual's Line API.

A bounded window of rows (`MAX_ROWS`) fed in batches; a capture and the event it carried share one row. It follows
the tail until the user scrolls away (then counts "N new"), and `p` freezes the view while capture goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.strip import Strip

from ..bindings import first_look
from ..clock import Clock
from ..filters import Filter
from ..host import WithService
from ..messages import FilterRequested, OpenDetail, RowSelected, StreamStatus
from ..textual_shim import SteadyScrollView, update_scroll_range
from .borders import set_borders, show_focus
from .stream_rows import Row, build_window, join, prune, summary

Window = tuple[list[dict], list[dict], Iterable[dict]]  # (captures, events, deliveries): see `Stream.load`

MAX_ROWS = 10_000
VERDICT_MARKS = {
    "valid": "✓",
    "invalid": "✗",
    "stale": "◷",
    "duplicate": "≡",
    "unsigned": "○",
    "missing": "?",
    "malformed": "!",
}


class Stream(SteadyScrollView, can_focus=True):
    """Attributes down: `add()`, `update_deliveries()`, `reload()`, `flt`; messages up: RowSelected, OpenDetail."""

    BINDINGS = first_look(
        [
            Binding("up,k", "cursor(-1)", "Up", show=False, id="stream.up", tooltip="Select the row above"),
            Binding(
                "down,j", "cursor(1)", "Down", show=False, id="stream.down", tooltip="Select the row below"
            ),
            Binding("pageup", "page(-1)", "Page up", show=False, id="stream.page_up", tooltip="A page up"),
            Binding(
                "pagedown", "page(1)", "Page down", show=False, id="stream.page_down", tooltip="A page down"
            ),
            Binding("home,g", "top", "Top", id="stream.top", tooltip="Go to the oldest row in the window"),
            Binding(
                "end,G",
                "bottom",
                "Bottom",
                id="stream.bottom",
                tooltip="Go to the newest row and follow the tail",
            ),
            Binding("p", "pause", "Pause", id="stream.pause", tooltip="Freeze the view (capture goes on)"),
            Binding("enter", "open", "Detail", id="stream.open", tooltip="Open the selected row's detail"),
            Binding("r", "replay", "Replay", id="stream.replay", tooltip="Replay the selected capture"),
            Binding(
                "R",
                "replay_ask",
                "Replay…",
                show=False,
                id="stream.replay_ask",
                tooltip="Replay the selected capture, choosing target and signing",
            ),
            Binding(
                "slash",
                "filter",
                "Filter",
                id="stream.filter",
                tooltip="Filter: type:… verdict:… status>=… text",
            ),
            Binding(
                "escape",
                "deselect",
                "Follow",
                show=False,
                id="stream.deselect",
                tooltip="Drop the selection and follow the tail",
            ),
        ]
    )
    COMPONENT_CLASSES = {
        "stream--time",
        "stream--source",
        "stream--id",
        "stream--cursor",
        "stream--replay",
        "stream--method",
        "stream--ok",
        "stream--warn",
        "stream--bad",
        "stream--muted",
        "stream--empty",
        *(f"stream--verdict-{v}" for v in VERDICT_MARKS),
    }

    # (not repainted by the reactive: `watch_cursor` repaints the rows that changed)
    cursor: reactive[int | None] = reactive(None, always_update=True, repaint=False)
    paused: reactive[bool] = reactive(False)

    def __init__(self, *, clock: Clock | None = None, max_rows: int = MAX_ROWS, **kw: Any) -> None:
        super().__init__(**kw)
        self.clock = clock or Clock()
        self.max_rows = max_rows
        self.rows: list[Row] = []
        self.by_id: dict[str, Row] = {}
        self.flt = Filter()
        self.following = True
        self.new_rows = 0
        self.held = 0  # facts that arrived while paused
        self._held: list[tuple[list[dict], list[dict]]] = []
        self._binding_sig: object = None
        # callable(flt, limit) -> (captures, events, deliveries), or None when it reads off the loop; see reload
        self.source_loader: Callable[[Filter, int], Window | None] | None = None
        self._programmatic = False
        self._base: Style | None = None
        self._styles: dict[str, Style] = {}
        self._look: tuple[Style, ...] = ()

    # -- data in --------------------------------------------------------------------------------------------

    def add(self, captures: list[dict], events_: list[dict]) -> int:
        """Merge a batch into the window; returns the number of new rows shown (none while paused)."""
        if self.paused:
            self.held += len(captures) + len(events_)
            if self.held <= self.max_rows:  # kept for the resume; past the window's size, resume reloads
                self._held.append((captures, events_))
            self._status()
            return 0
        return self._merge([(captures, events_)])

    def _merge(self, batches: Iterable[tuple[Iterable[dict], Iterable[dict]]]) -> int:
        fresh = [
            row for captures, events_ in batches for row in join(self.by_id, self.flt, captures, events_)
        ]
        if fresh:
            self.rows.extend(fresh)
            self._prune()
            if not self.following:
                self.new_rows += len(fresh)
            self._resize()
        else:
            self.refresh()
        self._status()
        return len(fresh)

    def update_deliveries(self, deliveries: Iterable[dict]) -> None:
        """Count delivery states per event for the `2/3 ok` column (only events in the window)."""
        touched = False
        for d in deliveries:
            row = self.by_id.get(d.get("event_id") or "")
            if row is not None:
                row.deliveries[d["id"]] = d.get("state") or "pending"
                touched = True
        if touched:
            self.refresh()

    def load(self, captures: list[dict], events_: list[dict], deliveries: Iterable[dict]) -> None:
        """Replace the window with records read from the store (oldest first or not: rows are sorted by time)."""
        self.load_rows(*build_window(captures, events_, deliveries, self.flt, self.max_rows))

    def load_rows(self, rows: list[Row], by_id: dict[str, Row]) -> None:
        """Replace the window with rows built by `build_window` (on a thread: it grows with the window)."""
        self.rows, self.by_id = rows, by_id
        self.new_rows = self.held = 0
        self._held = []
        if self.cursor is not None and self.cursor >= len(self.rows):
            self.cursor = None
        self.following = True
        self._resize()
        self._status()

    def _prune(self) -> None:
        excess = prune(self.rows, self.by_id, self.max_rows)
        if not excess:
            return
        if self.cursor is not None:
            self.cursor = self.cursor - excess if self.cursor >= excess else None
        if not self.following:
            self._scroll(y=max(0, self.scroll_y - excess))

    def _resize(self) -> None:
        size = Size(0, len(self.rows))  # rows fit the width: no horizontal scrolling
        if size != self.virtual_size:
            update_scroll_range(self, size)  # (its own box stays: no layout of the whole screen)
        if self.following:
            self._scroll(y=len(self.rows))
        self.refresh()

    def _scroll(self, *, y: float) -> None:
        self._programmatic = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True, force=True)
        finally:
            self._programmatic = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._programmatic:
            return
        at_end = round(new) >= self.max_scroll_y
        if at_end and self.cursor is None and not self.following:
            self._follow()
        elif not at_end and self.following:
            self.following = False  # the user scrolled away: stop following, count what arrives
            self._status()

    def _follow(self) -> None:
        self.following = True
        self.new_rows = 0
        self._status()

    def _status(self) -> None:
        if self.paused:
            subtitle = f"⏸ paused, {self.held:,} waiting (p)"
        elif not self.following and self.new_rows:
            subtitle = f"▼ {self.new_rows:,} new (G)"
        else:
            subtitle = f"{len(self.rows):,} rows" + ("" if self.following else " · scrolled")
        set_borders(self, subtitle=subtitle)
        self.post_message(StreamStatus(self.paused, self.following, len(self.rows), self.new_rows))

    # -- selection ------------------------------------------------------------------------------------------

    @property
    def selected(self) -> Row | None:
        if self.cursor is None or not 0 <= self.cursor < len(self.rows):
            return None
        return self.rows[self.cursor]

    def watch_cursor(self, old: int | None, new: int | None) -> None:
        row = self.selected
        self.post_message(
            RowSelected(row.kind if row else None, row.id if row else None, row.event_id if row else None)
        )
        top = round(self.scroll_y)
        if new is not None:
            self.following = False
            self._status()
            height = self.scrollable_content_region.height
            if new < top:
                self._scroll(y=new)
            elif new >= top + height:
                self._scroll(y=new - height + 1)
        if old is not None and new is not None and round(self.scroll_y) == top:
            for index in {old, new}:  # the view did not move: the two rows the cursor left and reached
                self.refresh_line(index)
        else:
            self.refresh()
        sig = row.kind if row else None
        if sig != self._binding_sig:  # what Detail and Replay can do changed (the keys bar shows it)
            self._binding_sig = sig
            self.refresh_bindings()

    def action_cursor(self, delta: int) -> None:
        if self.rows:
            start = (
                len(self.rows) - 1 if self.cursor is None else self.cursor + delta
            )  # enter at the newest row
            self.cursor = max(0, min(len(self.rows) - 1, start))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 1))

    def action_top(self) -> None:
        if self.rows:
            self.cursor = 0
            self._scroll(y=0)

    def action_bottom(self) -> None:
        self.cursor = None
        self._follow()
        self._resize()

    def action_deselect(self) -> None:
        self.action_bottom()

    def action_pause(self) -> None:
        """Freeze the view, or resume it: what arrived meanwhile goes in as one merge (one resize and one status
        for all of it, not one a batch), or, past the window's size, the window is read again."""
        self.paused = not self.paused
        if not self.paused and self.held > self.max_rows:
            self.reload()
        elif not self.paused and self._held:
            self._merge(self._held)
        self.held = 0
        self._held = []
        self._status()

    def action_open(self) -> None:
        """The selected row's detail; while following (no row selected), the newest row's, selected as the cursor
        keys would select it: enter on a stream that just showed a row opens that row."""
        if self.selected is None and self.rows:
            self.action_cursor(0)
        row = self.selected
        if row is not None:
            self.screen.post_message(OpenDetail(row.kind, row.id))

    def action_replay(self, ask: bool = False) -> None:
        row = self.selected
        if row is not None and row.kind == "capture":
            from ..screens.dialogs import request_replay

            screen = self.screen
            if isinstance(screen, WithService):
                request_replay(screen, screen.service, row.id, ask=ask)

    def action_replay_ask(self) -> None:
        self.action_replay(ask=True)

    def action_filter(self) -> None:
        self.post_message(FilterRequested())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        row = self.selected
        if action in ("replay", "replay_ask"):
            return row is not None and row.kind == "capture"
        if action == "open":
            return bool(self.rows)
        return True

    def reload(self) -> None:
        if self.source_loader is not None:
            window = self.source_loader(self.flt, self.max_rows)
            if window is not None:  # None: the loader reads off the loop and calls `load` when done
                self.load(*window)

    def on_focus(self) -> None:
        show_focus(self, True)

    def on_blur(self) -> None:
        show_focus(self, False)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None:
            index = offset.y + round(self.scroll_y)
            if 0 <= index < len(self.rows):
                self.cursor = index
                if event.chain == 2:
                    self.action_open()

    # -- drawing --------------------------------------------------------------------------------------------

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(f"stream--{name}", partial=True)
        return style

    def render_lines(self, crop: Region) -> list[Strip]:
        self._styles = {}  # component styles, looked up once a frame (a theme may have changed them)
        self._base = self.rich_style  # computed once a frame, not once a line
        # what a drawn row depends on besides its own data: a new theme changes it, a focus change does not
        self._look = (self._base, *(self._style(n) for n in ("cursor", "time", "ok", "bad", "verdict-valid")))
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = y + round(self.scroll_y)
        base = self._base or self.rich_style
        if not self.rows and y == 0:
            text = " waiting for webhooks…" if self.flt.empty else f" nothing matches {self.flt.source!r}"
            return Strip([Segment(text, self._style("empty"))]).extend_cell_length(width, base).crop(0, width)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[index]
        key = (
            width,
            index == self.cursor,
            self._look,
            row.type,
            row.kind,
            len(row.deliveries),
            summary(row.deliveries) if row.deliveries else None,
        )
        if row.drawn is not None and row.drawn[0] == key:
            return row.drawn[1]
        segments = self.row_segments(row, width)
        if index == self.cursor:
            segments = list(Segment.apply_style(segments, post_style=self._style("cursor")))
        cells = Segment.get_line_length(segments)
        strip = Strip(Segment.apply_style(segments, base), cells)  # one strip, not one per step
        if cells != width:
            strip = strip.extend_cell_length(width, base).crop(0, width)
        row.drawn = (key, strip)
        return strip

    def row_segments(self, row: Row, width: int) -> list[Segment]:
        """time · source · what · id · verdict · status · deliveries, fitted to `width` cells."""
        verdict = row.verdict
        mark = f"{VERDICT_MARKS.get(verdict, '·')} {verdict}" if verdict else "-"
        deliv, tone = summary(row.deliveries)
        if row.kind == "capture":
            what = f"{row.path}" + (f" → {row.type}" if row.type else "")
            if row.replay_of:
                what = f"↻ {what}"
        else:
            what = row.type
        status = "" if row.status is None else str(row.status)
        id_w = 26 if width >= 100 else 0  # narrow terminals drop the id column (it is in the detail view)
        what_w = max(10, width - (13 + 8 + 7 + id_w + 12 + 4 + 10))
        cells = [
            (self.clock.hms(row.time), 13, "time"),
            (row.source, 8, "replay" if row.replay_of else "source"),
            (row.method, 7, "method"),
            (what, what_w, ""),
            (row.id, id_w, "id"),
            (mark, 12, f"verdict-{verdict}" if verdict in VERDICT_MARKS else "muted"),
            (status, 4, "bad" if (row.status or 0) >= 400 else "muted"),
            (deliv, 10, tone),
        ]
        out: list[Segment] = []
        for text, w, style in cells:
            if w <= 0:
                continue
            text = text if len(text) < w else text[: w - 2] + "…"
            out.append(Segment(text.ljust(w)[:w], self._style(style) if style else None))
        return out
