"""The detail of one capture, event or delivery: request, signature, event, attempts, answer, forward.

`DetailView` is a panel: the main screen mounts one, hidden, and shows each item in it in place of its panes
(showing a hidden panel costs one frame; pushing a screen restyles every widget in it first). `DetailScreen` is a
thin screen around the same panel, for the command palette's "go to".

Keys: `c` copy as curl, `y` copy the body, `o` open in `$PAGER`, `E` edit in `$EDITOR` and replay, `D` diff
against the original (a replay) or the previous attempt, `r` replay (`R` asks where), `s` resend (`detail_actions`).
"""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Static, TabbedContent, TabPane, Tabs

from ...core.service import Service
from ..clock import Clock
from ..widgets.keys_bar import KeysBar
from ..widgets.warm_panel import WarmPanel
from . import detail_views as v
from .detail_actions import DetailActions

KINDS = ("capture", "event", "delivery")
PREFETCH_FRESH = 3.0  # seconds a prefetched item is shown as read (it is read again once on the terminal)


class DetailView(Vertical, DetailActions, WarmPanel):
    """Everything about one item; opened with `enter` on a row of the stream or the delivery log. `escape` posts
    `Close`: its owner hides it (the main screen) or pops it (`DetailScreen`). The title line holds the focus
    until the tab bar is there (the panel's keys act from the first frame): focusing the panel itself would have
    Textual restyle every widget in it."""

    DEFAULT_CSS = """
    DetailView {
        height: 1fr;
        #detail-title { height: auto; padding: 0 1; background: $boost; color: $text; }
        #tabs { height: 1fr; }
        .section { height: auto; padding: 0 1; margin-bottom: 1; }
        .body { border-left: outer $primary 50%; }
        .delivery { border-left: outer $secondary 50%; }
    }
    """

    class Close(Message):
        """`escape`: back to what was shown before."""

    def __init__(
        self,
        service: Service,
        kind: str = "capture",
        item_id: str = "",
        *,
        clock: Clock | None = None,
        id: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        super().__init__(id=id)
        self.service, self.kind, self.item_id = service, kind, item_id
        self._clock = clock
        self.data = v.DetailData(kind, item_id, complete=False, read=False)  # `read` fills it, off the loop
        self._painted = False  # whether the placeholder has been on the terminal yet (then it is read)
        self._tabs: str | None = None  # None, then "mounting", then "ready"
        self._tabs_shown: dict[str, bool] = {}  # tab id -> shown, as last set
        self._kept_focus: Widget | None = None  # see `hand_back_focus`
        self._written: dict[Static, object] = {}  # what each section shows (`_write`)
        self._unlaid: set[Static] = set()  # written while hidden, not laid out since (`_write`)
        self._prefetched: v.DetailData | None = None  # see `prefetch`
        self._prefetched_at = 0.0

    @property
    def clock(self) -> Clock:
        """The clock given, else the app's (fixed in snapshots), else the wall clock."""
        return self._clock or getattr(self.app, "clock", None) or Clock()

    # -- layout ----------------------------------------------------------------------------------------------
    # The panel opens on a placeholder (a title and "reading…"): the item is read on a thread, and the tabs,
    # mounted once without holding up the keys, are filled in place. The next item is shown in the same widgets
    # (`show`): no composing, mounting or taking down on each `enter`/`escape`.

    def compose(self) -> ComposeResult:
        title = Static(v.title_markup(self.data), id="detail-title")
        title.can_focus = bool(self.item_id)  # (focusable while it alone shows: `show`, `_fill`)
        yield title
        yield Static("[$text-muted]reading…[/]", id="detail-reading", classes="section")

    @staticmethod
    def _tabs_widget(initial: str) -> TabbedContent:
        """Every tab, empty: `_fill` writes them and hides those the item has not."""

        def pane(title: str, id: str, *ids: str, box: str | None = None) -> TabPane:
            sections = [
                Static(id=i, classes="section body" if i.endswith("-body") else "section") for i in ids
            ]
            return TabPane(title, VerticalScroll(*sections, id=box), id=id)

        tabs = TabbedContent(id="tabs", initial=initial)  # (set later, a just mounted one may switch back)
        for p in (
            pane("Request", "tab-request", "request-summary", "request-headers", "request-body"),
            pane("Signature", "tab-signature", "signature"),
            pane("Event", "tab-event", "event-summary", "event-body"),
            pane("Attempts", "tab-attempts", box="attempts"),
            pane("Answer", "tab-answer", "answer-summary", "answer-body"),
            pane("Forward", "tab-forward", "forward-summary", "forward-body"),
        ):
            tabs.compose_add_child(p)  # (as `with TabbedContent(): yield pane` does in a compose)
        return tabs

    def read_again(self) -> None:
        self.read()

    def action_close(self) -> None:
        self.post_message(self.Close())

    def on_mount(self) -> None:
        if self.item_id:  # (composed with its placeholder)
            self.call_after_refresh(self._now_painted, self.item_id)
        self.set_interval(1.0, self._tick)

    def show(self, kind: str, id: str) -> None:
        """Show an item in this panel: at once if it was read beforehand (`prefetch`), else the placeholder until
        it has been read; the panel's owner displays it."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.item_id = kind, id
        self._lay_out_written()
        pre = self._prefetched
        self._painted = False
        self.call_after_refresh(self._now_painted, id)  # (then read again: what changed since the prefetch)
        if (
            pre is not None
            and (pre.kind, pre.id) == (kind, id)
            and pre.found
            and self._tabs == "ready"
            and time.monotonic() - self._prefetched_at < PREFETCH_FRESH
        ):
            if self.data is not pre:  # (else filled already, while hidden: `on_detail_view_prefetched`)
                self.data = pre
                self._fill()
            self._take_focus(self.query_one("#tabs").query_one(Tabs))
            self.screen.refresh_bindings()
            return
        self.data = v.DetailData(kind, id, complete=False, read=False)
        title = self.query_one("#detail-title", Static)
        self._write(title, v.title_markup(self.data))
        self.query_one("#detail-reading").display = True
        tabs = self.query_one("#tabs", TabbedContent) if self._tabs == "ready" else None
        if tabs is not None and tabs.display:  # the tab bar stays (with the focus: no repaint of the panel)
            tabs.query_one(ContentSwitcher).display = False
            self._take_focus(tabs.query_one(Tabs))
        else:
            title.can_focus = True
            self._take_focus(title)
        self.screen.refresh_bindings()

    def _take_focus(self, focus: Widget) -> None:
        kept, self._kept_focus = self._kept_focus, None
        if kept is focus:  # (styled as focused still: `hand_back_focus`)
            focus.set_reactive(Widget.has_focus, True)
        elif kept is not None:
            kept.update_node_styles()
        if self.screen.focused is not focus:
            self.screen.set_focus(focus)

    class Prefetched(Message):
        """An item read before it was asked for."""

        def __init__(self, data: v.DetailData) -> None:
            super().__init__()
            self.data = data

    def prefetch(self, kind: str, id: str) -> None:
        """Read an item on a thread before it is asked for (the row the cursor rests on): `show` then draws it
        in its first frame, with no placeholder frame before it."""
        pre = self._prefetched
        if kind in KINDS and not (pre is not None and (pre.kind, pre.id) == (kind, id)):
            self._prefetch(kind, id)

    @work(thread=True, exclusive=True, group="prefetch-detail", exit_on_error=False)
    def _prefetch(self, kind: str, id: str) -> None:
        self.post_message(self.Prefetched(v.load(self.service, kind, id)))

    @property
    def prefetched(self) -> tuple[str, str] | None:
        """(kind, id) of the item read beforehand, if any."""
        pre = self._prefetched
        return (pre.kind, pre.id) if pre is not None else None

    def on_detail_view_prefetched(self, msg: Prefetched) -> None:
        self._prefetched, self._prefetched_at = msg.data, time.monotonic()
        if (
            not self.in_view and self._tabs == "ready" and msg.data.found
        ):  # filled now, hidden, not on `enter`
            self.kind, self.item_id, self.data = msg.data.kind, msg.data.id, msg.data
            self._fill()
            self.warm("item", draw=False)  # (an item's sections sized once, unseen)

    def hand_back_focus(self) -> None:
        """Called as the panel is hidden, before the focus leaves it: the widget that had the focus keeps its
        focused look (unseen) for the next `show`, so neither move restyles it (Textual restyles a widget and all
        its children on each focus change: the tab bar, ten widgets)."""
        focused = self.screen.focused
        if focused is not None and self in focused.ancestors:
            focused.set_reactive(Widget.has_focus, False)
            self._kept_focus = focused

    def _now_painted(self, id: str) -> None:
        """The placeholder is on the terminal: read the item now (a thread reading and highlighting it before
        then would hold the loop back from that first frame)."""
        if id == self.item_id:
            self._painted = True
            self.read()

    def _tick(self) -> None:
        """While a delivery is pending, follow its attempts and count down to the next one."""
        if self.in_view and any(dl.get("state") == "pending" for dl in self.data.deliveries):
            self.read()

    class Read(Message):
        """The item and its deliveries, read again off the loop."""

        def __init__(self, data: v.DetailData) -> None:
            super().__init__()
            self.data = data

    @work(thread=True, exclusive=True, group="read-detail", exit_on_error=False)
    def read(self) -> None:
        """Read the item (by id, then its event's deliveries: a scan) on a thread; `Read` shows each."""
        kind, id = self.kind, self.item_id
        if not self.data.read:
            first = v.load(self.service, kind, id, scan=False)
            self.post_message(self.Read(first))
            if first.complete:
                return
        self.post_message(self.Read(v.load(self.service, kind, id)))

    def on_detail_view_read(self, msg: Read) -> None:
        if (msg.data.kind, msg.data.id) != (self.kind, self.item_id):
            return  # read for an item shown before
        before, self.data = self.data, msg.data
        first = not before.read
        if msg.data.complete:  # (kept as if prefetched: opened again, it shows at once)
            self._prefetched, self._prefetched_at = msg.data, time.monotonic()
        if self._tabs is None:  # mounted once, by a worker (the keys go on meanwhile), then filled
            self.prepare()
        elif self._tabs == "mounting":
            pass  # filled with the latest read once mounted
        elif first:
            self._fill()
        elif (before.capture, before.event) != (msg.data.capture, msg.data.event):
            self._fill()  # (changed since it was prefetched: a forward's answer written since, say)
        else:  # read again (a pending delivery, a resend, a prefetched item): its deliveries
            self._fill_attempts()
            self._write(self.query_one("#detail-title", Static), v.title_markup(self.data))
            self.screen.refresh_bindings()

    def prepare(self) -> None:
        """Mount the tabs, hidden, if they are not yet (the main screen's panel does it before its first item:
        mounting them takes tens of ms)."""
        if self._tabs is None:
            self._tabs = "mounting"
            self.run_worker(self._mount_tabs(), group="detail-tabs", exit_on_error=False)

    async def _mount_tabs(self) -> None:
        # (none read yet: no initial tab, the first one, Request, which most items open on; one named would be made
        # active by its tab bar's mount, which raises when the app is closing and its tabs are gone already)
        tabs = self._tabs_widget(self._first_tab() if self.data.read else "")
        tabs.display = False
        await self.mount(tabs)
        bar = tabs.query_one(Tabs)  # styled as focused now, hidden, as if handed back (`hand_back_focus`):
        bar.has_focus = True  # the first item shown takes the focus without a restyle
        bar.set_reactive(Widget.has_focus, False)
        self._kept_focus = bar
        self._tabs = "ready"
        if self.data.read:
            self._fill()
        self.warm("tabs")

    def _warm_parts(self) -> tuple[list[Widget], list[Widget], list[Widget]] | None:
        """For `warm`: the tabs in place of the placeholder, and (no item in them) their boxes' scrollbars."""
        if self._tabs != "ready":
            return None
        tabs = self.query_one("#tabs", TabbedContent)
        boxes: list[Widget] = [] if self.data.found else list(tabs.query(VerticalScroll))
        return [tabs, tabs.query_one(ContentSwitcher)], [self.query_one("#detail-reading")], boxes

    @property
    def shown(self) -> bool:
        """Whether the item has been read, with its deliveries, and is in the panel (tests wait for it)."""
        return self.data.read and self.data.complete and self._tabs == "ready"

    def _fill(self) -> None:
        """Write the item into the tabs, hide the tabs it has not, and show them in place of the placeholder."""
        d, clock = self.data, self.clock
        tabs = self.query_one("#tabs", TabbedContent)
        shown = {
            "tab-request": bool(d.capture),
            "tab-signature": bool(d.capture),
            "tab-event": bool(d.event),
            "tab-attempts": bool(d.event or d.deliveries),
            "tab-answer": bool(d.capture),
            "tab-forward": bool(d.capture),
        }
        # Shown, then made active, then hidden: hiding the active tab has Textual activate the next one by a
        # message, which lands after (and undoes) an `active` set here.
        first = self._first_tab()
        for on in (True, False):
            if on is False and shown[first]:  # (a hidden tab cannot be the active one)
                tabs.active = first
            for tab in [t for t, o in shown.items() if o is on and self._tabs_shown.get(t) is not on]:
                self._tabs_shown[tab] = on  # (each call posts messages, even for no change)
                (tabs.show_tab if on else tabs.hide_tab)(tab)
        texts = v.section_texts(d, clock)
        for wid, text in texts.items():
            self._write(self.query_one(f"#{wid}", Static), text)
        self._fill_attempts()
        self._write(self.query_one("#detail-title", Static), v.title_markup(d))
        self.query_one("#detail-reading").display = False
        tabs.display = d.found
        tabs.query_one(ContentSwitcher).display = True
        title = self.query_one("#detail-title", Static)
        focused = self.screen.focused
        if (
            self.in_view
            and d.found
            and (focused is None or focused is title or not focused.display or self not in focused.ancestors)
        ):
            self._take_focus(tabs.query_one(Tabs))
        title.can_focus = not d.found
        self.screen.refresh_bindings()

    def _write(self, section: Static, text: Content | str) -> None:
        """Update a section only when its text changes: each update lays the screen out again (a frame), and an
        item read again (each second while a delivery is pending, once after it is shown) is mostly the same.
        While the panel is hidden (an item prefetched as the cursor rests on its row), no layout: showing the
        panel lays it out anyway, and a layout of the whole screen under a flood is a frame a key waits for."""
        key = text if isinstance(text, str) else (text.plain, tuple(text.spans))
        if self._written.get(section) != key:
            self._written[section] = key
            section.update(text, layout=self.display)
            if not self.display:
                self._unlaid.add(section)

    def before_warm(self) -> None:
        self._lay_out_written()

    def _lay_out_written(self) -> None:
        """Lay out the sections written while hidden, in the frame that shows the panel (or warms it)."""
        for section in self._unlaid:
            section.refresh(layout=True)
        self._unlaid.clear()

    def _first_tab(self) -> str:
        d = self.data
        if d.capture and not (self.kind == "delivery" and d.deliveries):
            return "tab-request"
        return "tab-event" if d.event and self.kind == "event" else "tab-attempts"

    def _fill_attempts(self) -> None:
        """One section a delivery, in the sections already mounted (more are mounted when more are needed)."""
        box = self.query_one("#attempts", VerticalScroll)
        texts = v.attempt_texts(self.data, self.clock)
        have = list(box.query_children(Static))
        if len(have) < len(texts):
            more = [Static(classes="section") for _ in range(len(texts) - len(have))]
            box.mount_all(more)
            have += more
        for section, (text, delivery) in zip(
            have, texts + [("", False)] * (len(have) - len(texts)), strict=True
        ):
            self._write(section, text)
            section.set_class(delivery, "delivery")
            section.display = bool(text)


class DetailScreen(Screen):
    """A screen around one `DetailView` (the command palette's "go to"); `escape` pops it."""

    def __init__(self, service: Service, kind: str, id: str, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.view = DetailView(service, kind, id, clock=clock, id="detail")

    def compose(self) -> ComposeResult:
        yield self.view
        yield KeysBar()

    # what tests and callers read of the item shown
    kind = property(lambda self: self.view.kind)
    item_id = property(lambda self: self.view.item_id)
    data = property(lambda self: self.view.data)
    shown = property(lambda self: self.view.shown)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.view.check_action(action, parameters)

    def on_detail_view_close(self, msg: DetailView.Close) -> None:
        """Back. The screen is taken down once the screen below has been painted (taking its widgets down takes
        longer than that drawing): until then it is installed, which popping leaves alone."""
        app, name = self.app, f"detail-{id(self)}"
        app.install_screen(self, name)
        app.pop_screen()
        app.call_after_refresh(self._discard, name)

    def _discard(self, name: str) -> None:
        if self.app.uninstall_screen(name) is not None and self.is_attached:
            self.remove()  # (not awaited: the widgets go down while the loop goes on)
