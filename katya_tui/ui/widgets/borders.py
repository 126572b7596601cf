"""Border titles set only when they change: Textual repaints the whole widget on every assignment of
`border_title` or `border_subtitle`, even of the same text, which would redraw every visible row of a pane on
each batch of facts (a pane whose rows did not change included)."""

from __future__ import annotations

from textual.widget import Widget

_SHOWN = "_katya_borders"


def set_borders(widget: Widget, *, title: str | None = None, subtitle: str | None = None) -> None:
    """Give `widget` this border title and/or subtitle (None: leave it), repainting only for a change."""
    shown: dict[str, str] = widget.__dict__.setdefault(_SHOWN, {})
    for name, text in (("border_title", title), ("border_subtitle", subtitle)):
        if text is not None and shown.get(name) != text:
            shown[name] = text
            setattr(widget, name, text)
