"""Border titles set only when they change: Textual repaints the whole widget on every assignment of
`border_title` or `border_subtitle`, even of the same text, which would redraw every visible row of a pane on
each batch of facts (a pane whose rows did not change included)."""

from __future__ import annotations

from textual.widget import Widget

from ..textual_shim import repaint_scrollbars_now

_SHOWN = "_katya_borders"


def set_borders(widget: Widget, *, title: str | None = None, subtitle: str | None = None) -> None:
    """Give `widget` this border title and/or subtitle (None: leave it), repainting only for a change."""
    shown: dict[str, str] = widget.__dict__.setdefault(_SHOWN, {})
    for name, text in (("border_title", title), ("border_subtitle", subtitle)):
        if text is not None and shown.get(name) != text:
            shown[name] = text
            setattr(widget, name, text)


def show_focus(widget: Widget, focused: bool) -> None:
    """Draw `widget`'s border at full strength while it has the focus (its stylesheet border, at 50 %, otherwise).

    An inline style, not a `:focus` rule: a `:focus` rule that changes a pane's styles has Textual restyle it and
    repaint its scrollbars, which reach the screen a frame later, so each pane switch cost two frames."""
    if focused:
        edge, color = widget.styles.base.border_top
        widget.styles.border = (edge, color.with_alpha(1.0))
    else:
        widget.styles.border = None
    repaint_scrollbars_now(widget)  # (in the frame that shows the border, not one of their own)
