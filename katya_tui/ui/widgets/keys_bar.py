"""The keys bar: the focused pane's keys on one line, in place of Textual's `Footer`.

Textual's `Footer` recomposes a widget per key on every bindings refresh, which happens on each focus change and
each selection that changes what a key can do; under a flow of events that rebuild (tens of ms) stood between a key
and its effect. This bar draws the same keys as one line of content: a refresh is one `update`. As in `Footer`, a key
whose `check_action` says False is hidden, None greys it; a click on a key presses it. It follows the focus as it
moves (Textual announces the new bindings only after the next frame, which would cost a pane switch a second frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.content import Content, Span
from textual.screen import Screen
from textual.widgets import Static


class KeysBar(Static):
    DEFAULT_CSS = """
    KeysBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
        background: $footer-background;
    }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)
        self._shown: tuple[str, Sequence[Span]] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.watch(self.screen, "focused", self._focus_moved, init=False)
        self.bindings_changed(self.screen)

    def _focus_moved(self) -> None:
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            line = self.line()
            drawn = (
                line.plain,
                line.spans,
            )  # (`Content ==` compares the text alone: a greyed key is the same)
            if drawn != self._shown:
                self._shown = drawn
                self.update(line, layout=False)

    def line(self) -> Content:
        """` key Description ` for each shown binding (one per action), then the command palette's key."""
        app = self.app
        active = self.screen.active_bindings
        parts: list[Content] = []
        seen: set[str] = set()
        for _node, binding, enabled, _tip in active.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            parts.append(self._key(binding.key, app.get_key_display(binding), binding.description, enabled))
        line = Content("").join(parts)
        palette = active.get(app.COMMAND_PALETTE_BINDING) if app.ENABLE_COMMAND_PALETTE else None
        if palette is not None:  # on the right, as Footer shows it; the other keys give way
            _node, binding, enabled, _tip = palette
            key = Content.assemble(
                ("▏", "$footer-description-foreground 50%"),
                (app.get_key_display(binding), "bold $footer-key-foreground on $footer-key-background"),
                (f" {binding.description} ", "$footer-description-foreground"),
            ).stylize(f"@click=app.simulate_key({binding.key!r})")
            room = self.size.width - key.cell_length
            line = line.truncate(room) if line.cell_length > room else line
            line = line + Content(" " * max(0, room - line.cell_length)) + key
        return line

    def on_resize(self) -> None:
        self.bindings_changed(self.screen)

    @staticmethod
    def _key(key: str, display: str, description: str, enabled: bool) -> Content:
        click = f"app.simulate_key({key!r})"
        text = Content.assemble(
            (f" {display} ", "bold $footer-key-foreground on $footer-key-background"),
            (f"{description} ", "$footer-description-foreground on $footer-description-background"),
        )
        text = text.stylize(f"@click={click}") if enabled else text.stylize("dim")
        return text
