"""`textual_shim.update_scroll_range` (Textual's `Widget._scroll_update`), against the installed Textual so that an
upgrade that changes it fails here; and the stream refreshing its keys only when what its selection allows changes."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.widget import Widget

from katya_tui.ui.textual_shim import SteadyScrollView, update_scroll_range
from katya_tui.ui.widgets.stream import Stream


class View(ScrollView):
    DEFAULT_CSS = "View { height: 10; overflow-y: scroll; }"


class Holder(App[None]):
    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def test_textual_still_has_the_private_method_the_shim_calls():
    assert callable(getattr(Widget, "_scroll_update", None)), (
        "textual no longer has Widget._scroll_update: katya_tui.ui.textual_shim.update_scroll_range needs "
        "another way to set a scroll range without a layout"
    )


async def test_the_scroll_range_and_offset_follow_the_virtual_size():
    view = View()
    async with Holder(view).run_test(size=(40, 20)) as pilot:
        update_scroll_range(view, Size(0, 100))
        assert (view.virtual_size, view.max_scroll_y) == (Size(0, 100), 90)
        assert view.vertical_scrollbar.window_virtual_size == 100
        view.scroll_to(y=90, animate=False, immediate=True)
        update_scroll_range(view, Size(0, 50))  # fewer rows: the offset comes back within them
        assert (view.max_scroll_y, view.scroll_y) == (40, 40)
        await pilot.pause()
        assert view.vertical_scrollbar.window_virtual_size == 50


def capture(i: int) -> dict:
    return {"id": f"cap_{i}", "method": "POST", "path": "/hooks/x", "received_at": 1000.0 + i, "headers": []}


async def test_the_keys_are_refreshed_when_what_the_selection_allows_changes(monkeypatch):
    stream = Stream()
    refreshed: list[object] = []
    async with Holder(stream).run_test(size=(100, 20)) as pilot:
        stream.add([capture(i) for i in range(50)], [])
        await pilot.pause()
        monkeypatch.setattr(stream, "refresh_bindings", lambda: refreshed.append(stream.selected))
        stream.action_top()
        stream.action_cursor(1)  # another capture: Detail and Replay still apply, nothing to refresh
        stream.action_bottom()
        await pilot.pause()
        assert refreshed == [stream.rows[0], None]  # once for the capture row, once for no selection


def test_textual_still_has_the_private_method_repaint_scrollbars_now_calls():
    assert callable(getattr(Widget, "_check_refresh", None)), (
        "textual no longer has Widget._check_refresh: katya_tui.ui.textual_shim.repaint_scrollbars_now needs "
        "another way to hand a scrollbar's repaint to the screen"
    )


async def test_a_scrollbar_repaint_is_handed_to_the_screen_at_once():
    from katya_tui.ui.textual_shim import repaint_scrollbars_now

    view = View()
    async with Holder(view).run_test(size=(40, 20)) as pilot:
        update_scroll_range(view, Size(0, 100))
        await pilot.pause()
        bar = view.vertical_scrollbar
        bar.refresh()
        assert bar._repaint_required
        repaint_scrollbars_now(view)
        assert not bar._repaint_required  # the screen was told; the bar's own loop has nothing left to send


class Steady(SteadyScrollView):
    DEFAULT_CSS = "Steady { height: 10; overflow-y: scroll; }"


def test_textual_still_compares_a_scroll_views_virtual_size_with_its_box():
    """What `SteadyScrollView` works around: Textual's `ScrollView._size_updated` takes a box the same as before,
    with a virtual size that is not the view's, for a change, and refreshes the scrollbars. If an upgrade stops
    doing that, this fails and the shim can go."""
    from inspect import signature

    params = list(signature(ScrollView._size_updated).parameters)
    assert params[:4] == ["self", "size", "virtual_size", "container_size"], params


async def test_a_layout_that_leaves_the_box_alone_does_not_refresh_the_scrollbars(monkeypatch):
    steady, plain = Steady(), View()
    async with Holder(Widget()).run_test(size=(40, 30)) as pilot:
        await pilot.app.mount(steady, plain)
        for view in (steady, plain):
            update_scroll_range(view, Size(0, 100))
        await pilot.pause()
        refreshed: list[str] = []
        for view in (steady, plain):
            bar = view.vertical_scrollbar
            monkeypatch.setattr(bar, "refresh", lambda *a, v=view, **k: refreshed.append(type(v).__name__))
        pilot.app.screen.refresh(layout=True)  # a layout of the whole screen; neither box changes
        await pilot.pause()
        assert refreshed.count("View") >= 1  # Textual's own view: its scrollbars refreshed for nothing
        assert "Steady" not in refreshed
        assert steady.vertical_scrollbar.window_virtual_size == 100 and steady.max_scroll_y == 90
        steady.styles.height = 20  # its box changes: Textual's handling, scrollbars and range follow
        await pilot.pause()
        assert "Steady" in refreshed and steady.max_scroll_y == 80
