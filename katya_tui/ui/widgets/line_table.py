"""A table on Textual's Line API: a header line, rows keyed by id, a row cursor, each row's drawing kept until it
changes.

`DataTable` throws away every drawn row whenever one cell changes or the focus moves, so that a delivery log fed ten
times a second redrew all its visible rows on every batch and on every pane switch. Here a row is drawn again only
when its own version goes up (`touch`, which repaints that row's line alone, if it is in view), its width changes or
the cursor lands on it or leaves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.strip import Strip

from ..bindings import first_look
from ..textual_shim import SteadyScrollView, update_scroll_range
from .borders import show_focus

Cell = Text | str


class LineTable(SteadyScrollView, can_focus=True):
    """Subclasses give `COLUMNS` ((key, label, width), ...) and `cells(key)`; they call `set_rows`, `touch`."""

    COLUMNS: Sequence[tuple[str, str, int]] = ()
    BINDINGS = first_look(
        [
            Binding("up,k", "cursor(-1)", "Up", show=False),
            Binding("down,j", "cursor(1)", "Down", show=False),
            Binding("pageup", "page(-1)", "Page up", show=False),
            Binding("pagedown", "page(1)", "Page down", show=False),
            Binding("home", "cursor(-1_000_000)", "First", show=False),
            Binding("end", "cursor(1_000_000)", "Last", show=False),
        ]
    )
    COMPONENT_CLASSES = {"line-table--header", "line-table--cursor", "line-table--cursor-focused"}
    DEFAULT_CSS = """
    LineTable {
        background: $surface;
        overflow-x: auto;
        overflow-y: auto;  /* a layout when the scrollbar comes or goes, not on each row */
        & > .line-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .line-table--cursor-focused {  /* (not a `:focus` rule: a pane switch restyles nothing) */
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    cursor_row: reactive[int] = reactive(0, repaint=False)  # (`watch_cursor_row` repaints what changed)

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.keys: list[str] = []  # row keys, top to bottom
        self._row_of: dict[str, int] = {}  # key -> index in `keys`
        self._version: dict[str, int] = {}
        self._drawn: dict[str, tuple[tuple, Strip]] = {}
        self._styles: tuple[Style, Style] | None = None  # (base, cursor) for the frame being drawn

    # -- rows -----------------------------------------------------------------------------------------------

    def cells(self, key: str) -> Sequence[Cell]:
        raise NotImplementedError

    @property
    def table_width(self) -> int:
        return sum(w + 2 for _, _, w in self.COLUMNS)

    @property
    def row_count(self) -> int:
        return len(self.keys)

    def get_row(self, key: str) -> Sequence[Cell]:
        return self.cells(key)

    def get_row_index(self, key: str) -> int:
        return self._row_of[key]

    def set_rows(self, keys: list[str]) -> None:
        """The rows shown, top to bottom (rows kept from before keep their drawing)."""
        self.keys = keys
        self._row_of = alive = {k: i for i, k in enumerate(keys)}
        for gone in [k for k in self._drawn if k not in alive]:
            del self._drawn[gone]
            self._version.pop(gone, None)
        self.cursor_row = max(0, min(self.cursor_row, len(keys) - 1))
        update_scroll_range(self, Size(self.table_width, len(keys) + 1))  # (+ the header)
        self.refresh()

    def touch(self, key: str) -> None:
        """Row `key` changed: draw it again, and repaint its line alone (nothing when it is out of view)."""
        self._version[key] = self._version.get(key, 0) + 1
        index = self._row_of.get(key)
        if index is None:
            return
        top = round(self.scroll_y)
        if top <= index < top + max(0, self.scrollable_content_region.height - 1):  # (below the header)
            self.refresh_line(index + 1)

    @property
    def selected_key(self) -> str | None:
        return self.keys[self.cursor_row] if 0 <= self.cursor_row < len(self.keys) else None

    def move_cursor(self, *, row: int) -> None:
        self.cursor_row = max(0, min(row, len(self.keys) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        top = round(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        if round(self.scroll_y) == top:
            for index in (old, new):  # the view did not move: the rows the cursor left and reached
                self.refresh_line(index + 1)  # (below the header)
        else:
            self.refresh()

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(row=self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 2))

    def on_focus(self) -> None:
        show_focus(self, True)

    def on_blur(self) -> None:
        show_focus(self, False)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            index = offset.y - 1 + round(self.scroll_y)
            if 0 <= index < len(self.keys):
                self.cursor_row = index

    # -- drawing --------------------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        base = self.rich_style  # once a frame, not once a line
        cursor = "line-table--cursor-focused" if self.has_focus else "line-table--cursor"
        self._styles = (base, base + self.get_component_rich_style(cursor))
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Line `y` of the view: the header, else a row (drawn whole, kept, and cut to the view)."""
        view = self.scrollable_content_region.width
        width = max(view, self.table_width)
        left = round(self.scroll_x)
        base, cursor_style = self._styles or (self.rich_style, self.rich_style)
        if y == 0:
            header = self.get_component_rich_style("line-table--header")
            strip = self._strip([Text(label) for _, label, _ in self.COLUMNS], width, base + header)
            return strip.crop(left, left + view)
        index = y - 1 + round(self.scroll_y)
        if index >= len(self.keys):
            return Strip.blank(view, base)
        key = self.keys[index]
        cursor = index == self.cursor_row
        style = cursor_style if cursor else base  # (a new theme: new styles, rows drawn again)
        sig = (width, style, self._version.get(key, 0))
        drawn = self._drawn.get(key)
        if drawn is None or drawn[0] != sig:
            drawn = (sig, self._strip(self.cells(key), width, style, over=cursor))
            self._drawn[key] = drawn
        return drawn[1].crop(left, left + view)

    def _strip(self, cells: Sequence[Cell], width: int, style: Style, *, over: bool = False) -> Strip:
        """The cells side by side, each in its column's width with a space either side, as `DataTable` draws."""
        console = self.app.console
        segments: list[Segment] = []
        for (_, _, w), cell in zip(self.COLUMNS, cells, strict=True):
            text = cell.copy() if isinstance(cell, Text) else Text(cell)
            text.truncate(w, overflow="ellipsis", pad=True)
            text.no_wrap = True
            segments.append(Segment(" "))
            segments.extend(text.render(console))
            segments.append(Segment(" "))
        if over:  # the cursor's colours over the cells'
            segments = list(Segment.apply_style(segments, post_style=style))
        return Strip(segments).apply_style(style).extend_cell_length(width, style).crop(0, width)
