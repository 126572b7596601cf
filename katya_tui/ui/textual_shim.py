"""The one place katya-tui touches Textual's internals (written against textual 8.2); tests/test_textual_shim*.py
fail, by name, when an upgrade changes what is used here."""

from __future__ import annotations

from textual.geometry import Size
from textual.scroll_view import ScrollView


def update_scroll_range(view: ScrollView, virtual_size: Size) -> None:
    """Give `view` a new virtual size: its scrollbars and scroll offset follow, and nothing else is laid out.

    Setting `virtual_size` (the public way) asks for a layout of the whole screen, which costs a frame with the
    main screen's tables; a view whose own box stays the same (its scrollbar always shown) needs only its scroll
    range updated, which Textual does in `Widget._scroll_update` (not public)."""
    view.set_reactive(ScrollView.virtual_size, virtual_size)
    view._scroll_update(virtual_size)
