"""The one place katya-tui touches Textual's internals (written against textual 8.2); tests/test_textual_shim*.py
fail, by name, when an upgrade changes what is used here.

Textual has no public way to list every binding of a node (its `BINDINGS` merged with its base classes'):
`active_bindings` holds only the focused chain's, one binding a key. The command palette offers the actions of
every pane, so it reads `DOMNode._bindings`, the `BindingsMap` Textual builds for each node. `check()` states what
is assumed; tests/test_textual_shim.py runs it, so an upgrade that changes it fails there, by name.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version

from textual.app import App
from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widget import Widget


class TextualChanged(AssertionError):
    pass


def node_bindings(node: DOMNode) -> list[Binding]:
    """Every binding of `node`, inherited ones included, with the keys its class declares."""
    return [b for group in node._bindings.key_to_bindings.values() for b in group]


def check() -> None:
    """Raise `TextualChanged`, naming the installed version, if a node's bindings are no longer where
    `node_bindings` reads them."""

    class Base(DOMNode):
        BINDINGS = [Binding("a", "base", "Base")]

    class Probe(Base):
        BINDINGS = [Binding("b", "probe", "Probe")]

    node = Probe()
    held = getattr(node, "_bindings", None)
    if not isinstance(held, BindingsMap) or not isinstance(getattr(held, "key_to_bindings", None), dict):
        raise TextualChanged(
            f"textual {version('textual')}: DOMNode._bindings is {type(held).__name__}, not a BindingsMap with "
            "key_to_bindings; katya_tui.ui.textual_shim.node_bindings needs another way to list bindings"
        )
    actions = {b.action for b in node_bindings(node)}
    if not {"base", "probe"} <= actions:
        raise TextualChanged(
            f"textual {version('textual')}: DOMNode._bindings of a node holds {sorted(actions)}, not its own and "
            "its base class's bindings, as katya_tui.ui.textual_shim.node_bindings expects"
        )


def updates_held(app: App[object]) -> bool:
    """Whether `app` holds its frames (inside `App.batch_update`, which the main screen uses for a pane switch).

    Meanwhile a screen runs its `call_after_refresh` callbacks without painting: whoever waits for a frame that
    shows a change (the benchmark) waits for this to be False first. Textual counts the batches in
    `App._batch_count` (not public)."""
    held = getattr(app, "_batch_count", None)
    if not isinstance(held, int):
        raise TextualChanged(f"textual {version('textual')}: App._batch_count is {held!r}, not a count")
    return held > 0


def on_paint(app: App[object], callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` right after each frame `app` paints, until the function returned is called (the benchmark
    times a key to the first frame that shows its effect: `callback` can look at the state that frame drew).

    Textual has no public hook for a painted frame: each frame of a screen goes through `App._display(screen,
    update)` (not public), which paints nothing for no update or while frames are held."""
    display = getattr(type(app), "_display", None)
    if not callable(display):
        raise TextualChanged(f"textual {version('textual')}: App._display is {display!r}, not a method")

    def painted(screen: object, renderable: object) -> None:
        display(app, screen, renderable)
        if renderable is not None and not updates_held(app):
            callback()

    def stop() -> None:
        app.__dict__.pop("_display", None)

    app.__dict__["_display"] = painted  # (an attribute of the instance hides the method)
    return stop


def update_scroll_range(view: ScrollView, virtual_size: Size) -> None:
    """Give `view` a new virtual size: its scrollbars and scroll offset follow, and nothing else is laid out.

    Setting `virtual_size` (the public way) asks for a layout of the whole screen, which costs a frame with the
    main screen's tables; a view whose own box stays the same (its scrollbar always shown) needs only its scroll
    range updated, which Textual does in `Widget._scroll_update` (not public)."""
    view.set_reactive(ScrollView.virtual_size, virtual_size)
    view._scroll_update(virtual_size)


def repaint_scrollbars_now(widget: Widget) -> None:
    """Hand the screen the repaint of `widget`'s shown scrollbars at once, not once each scrollbar's own message
    loop comes round to it.

    Textual repaints a widget's scrollbars whenever it restyles the widget (a focus change always does), and each
    scrollbar tells the screen from its own loop, which comes after the screen has painted the widget: the
    scrollbars then cost a frame of their own. `Widget._check_refresh` (not public) is what that loop runs."""
    for shown, bar in (
        (widget.show_vertical_scrollbar, widget.vertical_scrollbar),
        (widget.show_horizontal_scrollbar, widget.horizontal_scrollbar),
    ):
        if shown:
            bar._check_refresh()


class SteadyScrollView(ScrollView):
    """A `ScrollView` whose scrollbars a layout of the screen refreshes only when its box changed.

    `ScrollView._size_updated` (not public), run on every layout of the screen, compares the virtual size the layout
    passes (the widget's box) with the view's own (its rows), which never match: each layout refreshed the
    scrollbars of every such pane, and scrollbars refresh from their own loop, after the screen has painted, so each
    layout cost a second frame. The views here set their scroll range themselves (`update_scroll_range`)."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        if size == self._size and container_size == self.container_size:
            return False  # (what Textual returns for an unchanged box: no Resize event)
        return super()._size_updated(size, virtual_size, container_size, layout)
