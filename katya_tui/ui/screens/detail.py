"""The detail screen of one capture, event or delivery: request, signature, event, attempts, answer, forward.

Keys: `c` copy as curl, `y` copy the body, `o` open in `$PAGER`, `E` edit in `$EDITOR` and replay, `D` diff
against the original (a replay) or the previous attempt, `r` replay (`R` asks where), `s` resend.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Static, TabbedContent, TabPane, Tabs

from ...core.service import Service
from ...curl import to_curl
from ..clock import Clock
from ..diff import diff_attempts, diff_captures
from ..edit import EditError, from_edit_text, to_edit_text
from ..widgets.keys_bar import KeysBar
from . import detail_views as v
from .dialogs import ConfirmDialog, TextViewer, diff_text, request_replay

KINDS = ("capture", "event", "delivery")


class DetailScreen(Screen):
    """Everything about one item; opened with `enter` on a row of the stream or the delivery log."""

    CSS_PATH = "../styles/detail.tcss"
    BINDINGS = [
        Binding("escape", "close", "Back", id="detail.close", tooltip="Back to the previous screen"),
        Binding(
            "c",
            "copy_curl",
            "Copy curl",
            id="detail.copy_curl",
            tooltip="Copy the request as a curl command that sends the same bytes",
        ),
        Binding(
            "y", "copy_body", "Copy body", id="detail.copy_body", tooltip="Copy the body to the clipboard"
        ),
        Binding("o", "pager", "Pager", id="detail.pager", tooltip="Open everything shown here in $PAGER"),
        Binding(
            "E",
            "edit",
            "Edit+replay",
            id="detail.edit",
            tooltip="Edit the headers and body in $EDITOR, then replay the edited request",
        ),
        Binding(
            "D",
            "diff",
            "Diff",
            id="detail.diff",
            tooltip="Diff against the original request (for a replay) or the previous attempt",
        ),
        Binding(
            "r",
            "replay",
            "Replay",
            id="detail.replay",
            tooltip="Replay the request (with the remembered choice, or ask where)",
        ),
        Binding(
            "R",
            "replay_ask",
            "Replay to…",
            id="detail.replay_ask",
            show=False,
            tooltip="Replay the request, asking where to and whether to re-sign",
        ),
        Binding("s", "resend", "Resend", id="detail.resend", tooltip="Send the delivery again now"),
    ]

    def __init__(
        self, service: Service, kind: str, id: str, *, clock: Clock | None = None, keep: bool = False
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        super().__init__()
        self.service, self.kind, self.item_id = service, kind, id
        self._clock = clock
        self.keep = keep  # installed by its owner and shown again (`show`), never taken down on close
        self.data = v.DetailData(kind, id, complete=False, read=False)  # `read` fills it, off the loop
        self._painted = False  # whether the placeholder has been on the terminal yet
        self._tabs: str | None = None  # None, then "mounting", then "ready"
        self._tabs_shown: dict[str, bool] = {}  # tab id -> shown, as last set

    @property
    def clock(self) -> Clock:
        """The clock given, else the app's (fixed in snapshots), else the wall clock."""
        return self._clock or getattr(self.app, "clock", None) or Clock()

    # -- layout ----------------------------------------------------------------------------------------------
    # The screen opens on a placeholder (a title and "reading…"): the item is read on a thread, and the tabs,
    # mounted once without holding up the keys, are filled in place. A kept screen (`keep`, the main screen's)
    # shows the next item in the same widgets: no composing, mounting or taking down on each `enter`/`escape`.

    def compose(self) -> ComposeResult:
        yield Static(v.title_markup(self.data), id="detail-title")
        yield Static("[$text-muted]reading…[/]", id="detail-reading", classes="section")
        yield KeysBar()

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

    def on_mount(self) -> None:
        self.read()
        self.set_interval(1.0, self._tick)

    def show(self, kind: str, id: str) -> None:
        """Show another item in this screen (the placeholder until it has been read)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.item_id = kind, id
        self.data = v.DetailData(kind, id, complete=False, read=False)
        self._painted = False
        if self.is_current:  # (else when it is pushed: `on_screen_resume`)
            self.on_screen_resume()
        self.query_one("#detail-title", Static).update(v.title_markup(self.data))
        self.query_one("#detail-reading").display = True
        if self._tabs == "ready":  # the tab bar stays (and keeps the focus: no repaint of the whole screen)
            self.query_one("#tabs").query_one(ContentSwitcher).display = False
        self.refresh_bindings()
        self.read()

    def on_screen_resume(self) -> None:
        self.call_after_refresh(setattr, self, "_painted", True)

    def _tick(self) -> None:
        """While a delivery is pending, follow its attempts and count down to the next one."""
        if any(dl.get("state") == "pending" for dl in self.data.deliveries):
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

    def on_detail_screen_read(self, msg: Read) -> None:
        if (msg.data.kind, msg.data.id) != (self.kind, self.item_id):
            return  # read for an item shown before
        if not self.data.read and not self._painted:  # the placeholder on the terminal first
            self.call_after_refresh(self.post_message, msg)
            return
        first, self.data = not self.data.read, msg.data
        if self._tabs is None:  # mounted once, by a worker (the keys go on meanwhile), then filled
            self._tabs = "mounting"
            self.run_worker(self._mount_tabs(), group="detail-tabs", exit_on_error=False)
        elif self._tabs == "mounting":
            pass  # filled with the latest read once mounted
        elif first:
            self._fill()
        else:  # read again (a pending delivery, a resend): its deliveries
            self._fill_attempts()
            self.query_one("#detail-title", Static).update(v.title_markup(self.data))
            self.refresh_bindings()

    async def _mount_tabs(self) -> None:
        tabs = self._tabs_widget(self._first_tab())
        tabs.display = False
        await self.mount(tabs, before=self.query_one(KeysBar))
        self._tabs = "ready"
        self._fill()

    @property
    def shown(self) -> bool:
        """Whether the item has been read, with its deliveries, and is on the screen (tests wait for it)."""
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
        for tab, on in shown.items():
            if self._tabs_shown.get(tab) != on:  # (each call posts messages, even for no change)
                self._tabs_shown[tab] = on
                (tabs.show_tab if on else tabs.hide_tab)(tab)
        texts = v.section_texts(d, clock)
        for wid, text in texts.items():
            self.query_one(f"#{wid}", Static).update(text)
        self._fill_attempts()
        if shown[self._first_tab()]:  # (a hidden tab cannot be the active one)
            tabs.active = self._first_tab()
        self.query_one("#detail-title", Static).update(v.title_markup(d))
        self.query_one("#detail-reading").display = False
        tabs.display = d.found
        tabs.query_one(ContentSwitcher).display = True
        if d.found and (self.focused is None or not self.focused.display):
            self.set_focus(tabs.query_one(Tabs))
        self.refresh_bindings()

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
            section.update(text)
            section.set_class(delivery, "delivery")
            section.display = bool(text)

    # -- which keys can act ------------------------------------------------------------------------------------

    def _diff_pair(self, *, lines: bool = True) -> tuple[str, list[str]] | None:
        """What `D` compares: the replay against its original, else a delivery's last two attempts (the lines
        only when `lines`: `check_action` asks on every refresh of the keys)."""
        d = self.data
        original = d.original
        if d.capture and original:
            return f"{original['id']} → {d.capture['id']}", diff_captures(
                original, d.capture
            ) if lines else []
        for dl in d.deliveries:
            attempts = dl.get("attempts") or []
            if len(attempts) >= 2:
                return (
                    f"{dl['id']}: attempt {attempts[-2].get('n')} → {attempts[-1].get('n')}",
                    diff_attempts(attempts[-2], attempts[-1]) if lines else [],
                )
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        d = self.data
        if action in ("copy_curl", "edit", "replay", "replay_ask"):
            return True if d.capture else None
        if action == "copy_body":
            return True if (d.capture or d.event) else None
        if action == "resend":
            return True if d.deliveries and getattr(self.service, "dispatcher", None) else None
        if action == "diff":
            return True if self._diff_pair(lines=False) else None
        return True

    # -- actions ---------------------------------------------------------------------------------------------

    def action_close(self) -> None:
        """Back. A screen not kept is taken down once the screen below has been painted (taking its widgets down
        takes longer than that drawing): until then it is installed, which popping leaves alone."""
        app, name = self.app, f"detail-{id(self)}"
        if not self.keep:
            app.install_screen(self, name)
        app.pop_screen()
        if not self.keep:
            app.call_after_refresh(self._discard, name)

    def _discard(self, name: str) -> None:
        if self.app.uninstall_screen(name) is not None and self.is_attached:
            self.remove()  # (not awaited: the widgets go down while the loop goes on)

    def action_copy_curl(self) -> None:
        assert self.data.capture
        cmd = to_curl(self.data.capture, self.service.url)
        self.app.copy_to_clipboard(cmd)
        self.notify(f"copied a curl command ({len(cmd):,} characters) for {self.data.capture['id']}")

    def action_copy_body(self) -> None:
        body = v.body_for_copy(self.data) or b""
        text = body.decode("utf-8", "replace")
        self.app.copy_to_clipboard(text)
        self.notify(
            f"copied the body ({len(body):,} bytes)"
            + ("; binary bytes shown as U+FFFD" if text.encode() != body else "")
        )

    def _run_external(self, argv: list[str], stdin: bytes | None = None) -> int:
        """Run a terminal program (pager, editor) with the app suspended; headless apps just run it."""
        try:
            with self.app.suspend():
                return subprocess.run(argv, input=stdin).returncode
        except SuspendNotSupported:
            return subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL).returncode

    def action_pager(self) -> None:
        pager = shlex.split(os.environ.get("PAGER") or "less -R")
        try:
            self._run_external(pager, v.plain_text(self.data).encode("utf-8"))
        except OSError as exc:
            self.notify(f"cannot run the pager {pager[0]!r}: {exc}", severity="error")

    def action_edit(self) -> None:
        capture = self.data.capture
        assert capture
        try:
            text = to_edit_text(capture)
        except EditError as exc:
            self.notify(str(exc), severity="warning")
            return
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        with tempfile.NamedTemporaryFile("w", suffix=".http", delete=False, encoding="utf-8") as f:
            f.write(text)
            path = Path(f.name)
        try:
            code = self._run_external([*editor, str(path)])
            edited = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.notify(f"cannot run the editor {editor[0]!r}: {exc}", severity="error")
            return
        finally:
            path.unlink(missing_ok=True)
        if code != 0 or edited == text:
            self.notify(
                "nothing replayed: the editor failed or the request was not changed", severity="warning"
            )
            return
        try:
            headers, body = from_edit_text(edited, capture)
        except EditError as exc:
            self.notify(f"nothing replayed: {exc}", severity="error")
            return
        request_replay(
            self, self.service, capture["id"], body=body, headers=headers, on_done=self._show_replay
        )

    def action_diff(self) -> None:
        pair = self._diff_pair()
        if pair:
            self.app.push_screen(TextViewer(f"Diff {pair[0]}", diff_text(pair[1])))

    def action_replay(self) -> None:
        assert self.data.capture
        request_replay(self, self.service, self.data.capture["id"], on_done=self._show_replay)

    def action_replay_ask(self) -> None:
        assert self.data.capture
        request_replay(self, self.service, self.data.capture["id"], ask=True, on_done=self._show_replay)

    def _show_replay(self, doc: dict[str, Any]) -> None:
        if self.is_current and doc.get("id"):
            self.show("capture", doc["id"])

    def action_resend(self) -> None:
        ids = [dl["id"] for dl in self.data.deliveries]
        if len(ids) == 1:
            self.run_worker(self._resend(ids), group="resend", exit_on_error=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._resend(ids), group="resend", exit_on_error=False)

        self.app.push_screen(
            ConfirmDialog(f"Resend all {len(ids)} deliveries of this event now?", yes="Resend"), answered
        )

    async def _resend(self, ids: list[str]) -> None:
        dispatcher = self.service.dispatcher
        for delivery_id in ids:
            try:
                await dispatcher.resend(delivery_id)
            except Exception as exc:
                self.notify(f"resend of {delivery_id} failed: {exc}", severity="error")
                return
        self.notify(f"resent {len(ids)} deliver{'y' if len(ids) == 1 else 'ies'}")
        self.read()
