"""A hidden panel drawn once, unseen, before it is first shown.

The first time a widget shows in a process, Textual sizes every widget in it (a new size asks for a second layout:
two frames) and draws every line with nothing cached; each time after, a panel of the same shape is one frame. A
`WarmPanel` takes that first time before a user asks for it: it is shown on its screen's `below` layer, at the
height it has when shown, under the widget it is shown in place of (`warm_under`, which covers it), for the frames
that lay it out and draw it, then hidden again. The terminal shows the same picture meanwhile.
"""

from __future__ import annotations

from textual.widget import Widget

LAYER = "below"  # declared by the owner's screen, under its default layer


class WarmPanel(Widget):
    """A base for a panel its owner shows in place of `warm_under`. The panel calls `warm` when it holds something
    new to lay out (its parts mounted, its first item); `_warm_parts` names what a `show` would change."""

    warm_under: Widget | None = None  # set by the owner; None: never warmed (a panel that shows at once)
    _warmed: frozenset[str] = frozenset()
    _undo_warm: tuple[list[tuple[Widget, bool]], list[Widget]] | None = (
        None  # while warming: what to put back
    )

    def _warm_parts(self) -> tuple[list[Widget], list[Widget], list[Widget]] | None:
        """What a `show` shows, what it hides, and boxes whose scrollbar to draw too; None: not ready."""
        return [], [], []

    def before_warm(self) -> None:
        """Called as the panel is about to be laid out unseen (a panel that defers layouts while hidden)."""

    def warm(self, what: str, *, draw: bool = True) -> None:
        """Lay the panel out and draw it once, unseen, unless `what` was warmed already (or the panel shows).
        With `draw` False it is laid out below the screen's edge instead: sized, not drawn, and the screen not
        repainted (under a flood, a repaint of every pane is a frame a key could be waiting for)."""
        under = self.warm_under
        parts = None if under is None or self.display or what in self._warmed else self._warm_parts()
        if under is None or parts is None or not under.display:
            return
        shown, hidden, boxes = parts
        self.before_warm()
        scrolled = [box for box in boxes if not box.styles.inline.has_rule("overflow_y")]
        self._warmed |= {what}
        self._undo_warm = [(w, w.display) for w in (*shown, *hidden)], scrolled
        for widget in (*shown, *hidden):
            widget.display = widget in shown
        for box in scrolled:
            box.styles.overflow_y = "scroll"
        self.styles.layer, self.styles.height = LAYER, under.outer_size.height  # (inline: nothing restyled)
        if not draw:
            self.styles.offset = (0, self.screen.size.height)
        self.display = True
        self.call_after_refresh(self.call_after_refresh, self.end_warm)  # (a second frame: new sizes settle)

    @property
    def warming(self) -> bool:
        return self._undo_warm is not None

    @property
    def in_view(self) -> bool:
        """Whether the panel shows (not drawn unseen)."""
        return self.display and not self.warming

    def end_warm(self) -> None:
        """Hide the panel drawn unseen, as it was (its owner calls this before showing it)."""
        undo, self._undo_warm = self._undo_warm, None
        if undo is None:
            return
        self.display = False
        for rule in ("layer", "height", "offset"):
            self.styles.clear_rule(rule)
        displays, scrolled = undo
        for widget, display in displays:
            widget.display = display
        for box in scrolled:
            box.styles.clear_rule("overflow_y")
