"""The main screen: status bar, live stream, subscriptions and delivery log, all visible at once.

It owns the data flow: the bridge posts the core's facts here, and the screen hands them down to the panes
(attributes down); the panes post requests up (RowSelected, ScopeChanged, OpenDetail, FilterRequested).

What scans the store (the stream's window, the delivery tally) is read through `core.queries` on a thread
worker that posts the result back (`WindowRead`, `TallyRead`); facts that arrive while a read is under way are
kept and applied again once it lands, so nothing shown is lost to the read. A read overtaken by a newer one (a
new filter) is dropped by its generation number.
"""

from __future__ import annotations

import contextlib
import importlib
from functools import partial
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import Reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import AwaitMount, Widget
from textual.widgets import Input, Static

from ...core import queries
from ...core.service import Service
from ...core.store import Store
from ..bridge import Bridge
from ..clock import Clock
from ..filters import Filter, FilterError
from ..messages import (
    CoreNotice,
    FactsArrived,
    FactsLost,
    FilterRequested,
    FollowChanged,
    OpenDetail,
    RowSelected,
    ScopeChanged,
    StreamStatus,
    UpstreamChanged,
)
from ..tally import Tally
from ..widgets.borders import show_focus
from ..widgets.delivery_log import DeliveryLog
from ..widgets.keys_bar import KeysBar
from ..widgets.line_table import LineTable
from ..widgets.status_bar import StatusBar
from ..widgets.stream import Stream
from ..widgets.stream_rows import Row, build_window
from ..widgets.subscriptions import Subscriptions

NARROW = 100  # columns below which the bottom panes stack
PREFETCH_AFTER = (
    0.03  # seconds the stream's cursor rests on a row before its detail is read (not on each row passed)
)


class MainScreen(Screen):
    CSS_PATH = "../styles/main.tcss"

    # Textual's `Screen.focused` repaints the whole screen on each change; the panes that gain and lose the focus
    # repaint themselves (their `:focus` style), so a pane switch need not redraw the rest.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    BINDINGS = [
        Binding(
            "1",
            "focus_pane('stream')",
            "Stream",
            show=False,
            id="main.focus_stream",
            priority=True,  # (see `bindings.first_look`; an input's own keys stay its text)
            tooltip="Focus the live stream",
        ),
        Binding(
            "2",
            "focus_pane('subs')",
            "Subscriptions",
            show=False,
            id="main.focus_subs",
            priority=True,  # (see `bindings.first_look`; an input's own keys stay its text)
            tooltip="Focus the subscriptions",
        ),
        Binding(
            "3",
            "focus_pane('log')",
            "Deliveries",
            show=False,
            id="main.focus_log",
            priority=True,  # (see `bindings.first_look`; an input's own keys stay its text)
            tooltip="Focus the delivery log",
        ),
        Binding("f2", "endpoints", "Endpoints", id="main.endpoints", tooltip="Inbound endpoint configs"),
        Binding(
            "f3", "stats", "Stats", id="main.stats", tooltip="Success rates, latencies, events per minute"
        ),
        Binding(
            "ctrl+l",
            "clear_filter",
            "Clear filter",
            show=False,
            id="main.clear_filter",
            tooltip="Show everything again",
        ),
    ]

    def __init__(
        self, service: Service, *, clock: Clock | None = None, display_url: str | None = None
    ) -> None:
        super().__init__()
        self.service = service
        self.clock = clock or Clock()
        self.display_url = display_url
        self.tally = Tally()
        self.flt = Filter()
        self.pinned: tuple[str, str] | None = None  # a subscription the log is narrowed to
        self.bridge: Bridge | None = None
        self._window_gen = 0
        self._window_since: tuple[list[dict], list[dict], list[dict]] | None = None  # facts during a read
        self._tally_since: list[dict] | None = None
        self._subs_stale = False  # deliveries changed the tally since the subscriptions pane was drawn
        self._detail: Any = None  # the detail panel (a `DetailView`), mounted hidden after the first frame
        self._detail_mounted: AwaitMount | None = None
        self._before_detail: Widget | None = None
        self._prefetch_timer: Timer | None = None  # the pane that had the focus when the detail opened
        self._focus_hold: contextlib.AbstractContextManager[None] | None = (
            None  # frames held for a pane switch
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="panes"):  # hidden while the detail panel shows
            yield StatusBar(id="status")
            stream = Stream(clock=self.clock, id="stream")
            stream.border_title = "Live stream"
            stream.source_loader = self.load_window
            yield stream
            yield Input(
                placeholder="type:message.* verdict:invalid status>=500 since:10m text   (enter applies, "
                "esc closes, empty clears)",
                id="filter",
            )
            yield Static(id="filter-error")
            with Horizontal(id="bottom"):
                subs = Subscriptions(self.service, self.tally, clock=self.clock, id="subs")
                subs.border_title = "Subscriptions"
                yield subs
                yield DeliveryLog(self.service, clock=self.clock, id="log")
        yield KeysBar()

    def on_mount(self) -> None:
        store = self.service.store
        self.read_tally()
        if store is not None and store.report.torn_bytes:
            self.notify(
                f"the store was recovered after a crash: cut {store.report.torn_bytes} torn bytes",
                severity="warning",
                timeout=10,
            )
        self.query_one(Subscriptions).refresh_rows()
        self._names()
        self.query_one(Stream).reload()
        self._status()
        self.query_one(Stream).focus()
        self.bridge = Bridge(self.service, self)
        self.run_worker(self.bridge.run(), group="bridge", exit_on_error=False)
        self.set_interval(2.0, self._slow_tick)
        self.set_interval(1.0, self._subs_tick)

    def _preload(self) -> None:
        """Once the first window is on the terminal, not on the first `enter`: import the detail (tens of ms) and
        mount its panel, hidden, with its tabs."""
        if self._detail is not None:
            return
        detail = importlib.import_module(f"{__package__}.detail")
        self._detail = detail.DetailView(self.service, clock=self.clock, id="detail")
        self._detail.display = False
        self._detail.warm_under = self.query_one("#panes")  # (drawn once under them, unseen: `WarmPanel`)
        self._detail_mounted = self.mount(self._detail, before=self.query_one(KeysBar))
        self.call_after_refresh(self._detail.prepare)

    @property
    def detail_open(self) -> bool:
        """Whether the detail panel shows (in place of the panes)."""
        return self._detail is not None and self._detail.in_view

    # -- the store, read for the panes off the loop ---------------------------------------------------------

    class WindowRead(Message):
        """The stream's window, read and built into rows: the newest captures and events matching, with their
        deliveries counted."""

        def __init__(self, gen: int, rows: list[Row], by_id: dict[str, Row]) -> None:
            super().__init__()
            self.gen, self.rows, self.by_id = gen, rows, by_id

    class TallyRead(Message):
        """Every delivery counted by subscription and state."""

        def __init__(self, tally: Tally) -> None:
            super().__init__()
            self.tally = tally

    def load_window(self, flt: Filter, limit: int) -> None:
        """The stream's loader: start reading its window off the loop (`WindowRead` fills it)."""
        self._window_gen += 1
        self._window_since = ([], [], [])
        self._read_window(self._window_gen, self.service.store, flt, limit)

    @work(thread=True, exclusive=True, group="read-window", exit_on_error=False)
    def _read_window(self, gen: int, store: Store | None, flt: Filter, limit: int) -> None:
        from ..filters import capture_record, event_record

        window: tuple[list[dict], list[dict], list[dict]] = ([], [], [])
        if store is not None:
            where_c = None if flt.empty else (lambda d: flt.matches(capture_record(d)))
            where_e = None if flt.empty else (lambda d: flt.matches(event_record(d)))
            window = queries.window(store, where_c, where_e, limit)
        self.post_message(self.WindowRead(gen, *build_window(*window, flt, limit)))

    def on_main_screen_window_read(self, msg: WindowRead) -> None:
        if msg.gen != self._window_gen:
            return  # overtaken by a newer read
        stream = self.query_one(Stream)
        stream.load_rows(msg.rows, msg.by_id)
        if self._detail is None:
            self.call_after_refresh(self._preload)
        captures, evts, deliveries = self._window_since or ([], [], [])
        self._window_since = None
        fresh = (
            [c for c in captures if c["id"] not in stream.by_id],
            [e for e in evts if e["id"] not in stream.by_id],
        )
        if fresh[0] or fresh[1]:
            stream.add(*fresh)
        stream.update_deliveries(deliveries)

    def read_tally(self) -> None:
        self._tally_since = []
        self._read_tally(self.service.store)

    @work(thread=True, exclusive=True, group="read-tally", exit_on_error=False)
    def _read_tally(self, store: Store | None) -> None:
        tally = Tally()
        if store is not None:
            tally.load(queries.newest(store, "deliveries"))
        self.post_message(self.TallyRead(tally))

    def on_main_screen_tally_read(self, msg: TallyRead) -> None:
        self.tally.adopt(msg.tally)
        for doc in self._tally_since or ():
            self.tally.update(doc)
        self._tally_since = None
        self.query_one(Subscriptions).refresh_rows()
        self._status()

    def _names(self) -> None:
        log = self.query_one(DeliveryLog)
        names = {wid: doc.get("name") or wid for wid, doc in self.query_one(Subscriptions).webhooks.items()}
        if names != log.names:
            log.names = names
            log.reload()

    def _status(self, **changes: Any) -> None:
        s = self.service
        counts = queries.counts(s.store)
        upstream = getattr(s, "upstream", None)
        self.query_one(StatusBar).set(
            url=self.display_url or s.url,
            ws_url=(self.display_url.replace("http", "ws", 1) + "/v1/ws") if self.display_url else s.ws_url,
            upstream=getattr(upstream, "state", None) if upstream is not None else None,
            follow=tuple(f.state for f in getattr(s, "followers", ())),
            captures=counts.get("captures", 0),
            events=counts.get("events", 0),
            pending=self.tally.count("pending"),
            failed=self.tally.count("failed"),
            token_key=getattr(self.app, "key_for", lambda _i, d: d)("app.token", "ctrl+t"),
            not_writable=s.store.not_writable if s.store is not None else None,
            **changes,
        )

    def _subs_tick(self) -> None:
        if self._subs_stale:
            self._subs_stale = False
            self.query_one(Subscriptions).refresh_rows()

    def _slow_tick(self) -> None:
        self.query_one(Subscriptions).refresh_rows()
        self._names()
        self._status()

    # -- facts from the bridge ------------------------------------------------------------------------------

    def on_facts_arrived(self, msg: FactsArrived) -> None:
        stream = self.query_one(Stream)
        stream.add(msg.captures, msg.events)
        if self._window_since is not None:  # a window read is under way: apply these again when it lands
            self._window_since[0].extend(msg.captures)
            self._window_since[1].extend(msg.events)
            self._window_since[2].extend(msg.deliveries.values())
        if msg.deliveries:
            log = self.query_one(DeliveryLog)
            for doc in msg.deliveries.values():
                self.tally.update(doc)
            if self._tally_since is not None:
                self._tally_since.extend(msg.deliveries.values())
            self._subs_stale = True  # redrawn once a second (`_subs_tick`), not on every batch
            if any(d.get("webhook_id") not in log.names for d in msg.deliveries.values()):
                self.query_one(Subscriptions).refresh_rows()  # a subscription added since the last look
                self._names()
            stream.update_deliveries(msg.deliveries.values())
            log.apply(msg.deliveries)
        self._status()

    def on_facts_lost(self, msg: FactsLost) -> None:
        self.read_tally()
        self.query_one(Stream).reload()
        self.query_one(DeliveryLog).reload()
        self._status()

    def on_upstream_changed(self, msg: UpstreamChanged) -> None:
        self._status(upstream=msg.state)
        if msg.state.startswith("failed"):
            self.notify(f"upstream feed {msg.state} {msg.detail}".strip(), severity="error", timeout=10)

    def on_follow_changed(self, msg: FollowChanged) -> None:
        self._status()

    def on_core_notice(self, msg: CoreNotice) -> None:
        self.notify(msg.text, severity=msg.severity)

    def on_stream_status(self, msg: StreamStatus) -> None:
        self._status(paused=msg.paused, following=msg.following)

    # -- requests from the panes ----------------------------------------------------------------------------

    def on_row_selected(self, msg: RowSelected) -> None:
        if self._prefetch_timer is not None:
            self._prefetch_timer.stop()
            self._prefetch_timer = None
        if (
            self._detail is not None and msg.kind and msg.id
        ):  # read once the cursor rests: `enter` is one frame
            self._prefetch_timer = self.set_timer(
                PREFETCH_AFTER, partial(self._detail.prefetch, msg.kind, msg.id)
            )
        if self.pinned is not None:
            return
        log = self.query_one(DeliveryLog)
        if msg.event_id:
            log.show("event", msg.event_id, f"event {msg.event_id}")
        else:
            log.show("all", None, "latest deliveries" if msg.id is None else f"{msg.id} (no event)")

    def on_scope_changed(self, msg: ScopeChanged) -> None:
        log = self.query_one(DeliveryLog)
        if msg.webhook_id is None:
            self.pinned = None
            row = self.query_one(Stream).selected
            self.on_row_selected(
                RowSelected(row.kind if row else None, row.id if row else None, row.event_id if row else None)
            )
            return
        self.pinned = ("webhook", msg.webhook_id)
        log.show("webhook", msg.webhook_id, f"subscription {msg.name or msg.webhook_id} (esc: all)")
        log.focus()

    async def on_open_detail(self, msg: OpenDetail) -> None:
        """Show the item in the detail panel, in place of the panes: one frame, nothing composed or restyled."""
        if self._detail is None:  # (an `enter` before the first frame)
            self._preload()
        if (
            not self._detail.is_mounted
        ):  # (an `enter` in the first frames; awaiting a done mount lays out again)
            assert self._detail_mounted is not None
            await self._detail_mounted
        self._detail.end_warm()
        self._before_detail = before = self.focused
        if (
            before is not None
        ):  # it keeps its focused look, unseen, and gets the focus back with it: no restyle
            before.set_reactive(Widget.has_focus, False)
        self.query_one("#panes").display = False
        self._detail.display = True
        self._detail.show(msg.kind, msg.id)

    def on_detail_view_close(self, msg: Message) -> None:
        """Back to the panes, the focus where it was, in one frame (the pane drawn focused at once)."""
        self._detail.hand_back_focus()
        self._detail.display = False
        self.query_one("#panes").display = True
        before = self._before_detail
        if before is None or not before.is_attached:
            self._focus_now(self.query_one(Stream))
        else:
            before.set_reactive(Widget.has_focus, True)
            if isinstance(before, (Stream, LineTable)):
                show_focus(before, True)
            self.set_focus(before)
        self.refresh_bindings()

    def on_filter_requested(self, msg: FilterRequested) -> None:
        box = self.query_one("#filter", Input)
        box.value = self.flt.source
        box.add_class("open")
        box.focus()

    @on(Input.Submitted, "#filter")
    def apply_filter(self, event: Input.Submitted) -> None:
        error = self.query_one("#filter-error", Static)
        try:
            flt = Filter.parse(event.value, now=self.clock.now())
        except FilterError as exc:
            error.update(f"[$text-error]✗ {exc}[/]")
            error.add_class("open")
            return
        error.remove_class("open")
        self.set_filter(flt)
        event.input.remove_class("open")
        self.query_one(Stream).focus()

    def set_filter(self, flt: Filter) -> None:
        self.flt = flt
        stream = self.query_one(Stream)
        stream.flt = flt
        stream.border_title = "Live stream" + ("" if flt.empty else f" · filter: {flt.source}")
        stream.reload()
        log = self.query_one(DeliveryLog)
        log.flt = flt
        log.reload()

    def on_key(self, event: events.Key) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape":
            if box.has_focus:
                box.remove_class("open")
                self.query_one("#filter-error").remove_class("open")
                self.query_one(Stream).focus()
                event.stop()
            elif self.pinned is not None and self.query_one(DeliveryLog).has_focus:
                self.post_message(ScopeChanged(None))
                event.stop()

    def action_clear_filter(self) -> None:
        self.set_filter(Filter())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.detail_open:  # the panes' keys wait under the detail
            return False
        if action == "clear_filter":
            return not self.flt.empty
        return True

    def action_focus_pane(self, pane: str) -> None:
        """Move the focus to a pane in one frame. Textual restyles each pane in its own `Focus`/`Blur` handler,
        whose scrollbars and repaints reach the screen after it has painted the first of them (two frames); here
        the panes take their new look at once (`_focus_now`), and frames wait (a batch, at most 0.1 s) until the
        pane has the focus."""
        target = self.query_one(f"#{pane}")
        if target is self.focused:
            return
        if self._focus_hold is None:
            self._focus_hold = self.app.batch_update()
            self._focus_hold.__enter__()
            self.set_timer(0.1, self._release_focus_hold)
        self._focus_now(target)
        target.call_later(
            self._release_focus_hold
        )  # (queued behind its `Focus`: released once that is handled)

    def _focus_now(self, target: Widget) -> None:
        """Focus `target`, the panes given their new look at once and not restyled: nothing in their styles
        depends on `:focus` (the border is inline, `show_focus`; a table draws its cursor by `has_focus`), and
        a restyle of a pane walks the stylesheet for it and each of its component classes, the most expensive
        step of a pane switch. Textual's own handlers then find `has_focus` set already and restyle nothing."""
        for widget, focused in ((self.focused, False), (target, True)):
            if isinstance(widget, (Stream, LineTable)):
                widget.set_reactive(Widget.has_focus, focused)
                show_focus(widget, focused)
                widget.refresh()
        self.set_focus(target)

    def _release_focus_hold(self) -> None:
        hold, self._focus_hold = self._focus_hold, None
        if hold is not None:
            hold.__exit__(None, None, None)

    def action_endpoints(self) -> None:
        from .endpoints import EndpointsScreen

        self.app.push_screen(EndpointsScreen(self.service))

    def action_stats(self) -> None:
        try:
            from .stats import StatsScreen
        except ImportError:
            self.notify("the stats screen is not available", severity="warning")
            return
        self.app.push_screen(StatsScreen(self.service, clock=self.clock))

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "narrow")
