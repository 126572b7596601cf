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
from textual.lazy import Lazy
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static, TabbedContent, TabPane

from ...core import queries
from ...core.service import Service
from ...curl import to_curl
from ..clock import Clock
from ..diff import capture_body, diff_attempts, diff_captures
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

    def __init__(self, service: Service, kind: str, id: str, *, clock: Clock | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        super().__init__()
        self.service, self.kind, self.item_id = service, kind, id
        self._clock = clock
        self.data = v.load(service, kind, id, scan=False)  # by id now; the event's deliveries on a thread

    @property
    def clock(self) -> Clock:
        """The clock given, else the app's (fixed in snapshots), else the wall clock."""
        return self._clock or getattr(self.app, "clock", None) or Clock()

    # -- layout ----------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        d = self.data
        yield Static(v.title_markup(d), id="detail-title")
        with TabbedContent(id="tabs"):
            if d.capture:
                c = d.capture
                with TabPane("Request", id="tab-request"), VerticalScroll():
                    yield Static(v.request_summary(c, self.clock), classes="section")
                    yield Static("[b]Headers[/b]\n" + v.headers_markup(c.get("headers")), classes="section")
                    yield Static(
                        v.body_renderable(capture_body(c), truncated=bool(c.get("truncated"))),
                        id="request-body",
                        classes="section body",
                    )
                with TabPane("Signature", id="tab-signature"), Lazy(VerticalScroll()):
                    yield Static(v.signature_markup(c), id="signature", classes="section")
            if d.event:
                with TabPane("Event", id="tab-event"), self._later(bool(d.capture)):
                    yield Static(v.event_markup(d.event, self.clock), classes="section")
                    yield Static(v.body_renderable(v.event_data(d.event)), classes="section body")
            if d.event or d.deliveries:
                with TabPane("Attempts", id="tab-attempts"), VerticalScroll(id="attempts"):
                    yield from self._attempt_widgets()
            if d.capture:
                with TabPane("Answer", id="tab-answer"), Lazy(VerticalScroll()):
                    r = d.capture.get("response")
                    yield Static(
                        v.answer_markup(r, what="katya-tui answered", none="no answer recorded"),
                        classes="section",
                    )
                    yield Static(v.answer_body(r), classes="section body")
                with TabPane("Forward", id="tab-forward"), Lazy(VerticalScroll()):
                    f = d.capture.get("forward")
                    yield Static(
                        v.answer_markup(
                            f,
                            what="forward target answered",
                            none="not forwarded: this endpoint has no forward target",
                        ),
                        classes="section",
                    )
                    yield Static(v.answer_body(f), classes="section body")
        yield KeysBar()

    @staticmethod
    def _later(hidden: bool) -> Widget:
        """A tab's content, mounted after the first frame when the tab is not the one shown first (the screen
        then opens at the cost of its first tab alone). The attempts tab never is: its content is replaced
        when the deliveries have been read."""
        return Lazy(VerticalScroll()) if hidden else VerticalScroll()

    def _attempt_widgets(self) -> list[Static]:
        d = self.data
        if not d.complete:
            return [Static("[$text-muted]reading the deliveries…[/]", classes="section")]
        if not d.deliveries:
            return [
                Static(
                    "[$text-muted]no subscription matched this event: nothing was delivered[/]",
                    classes="section",
                )
            ]
        out = []
        for dl in d.deliveries:
            attempts = dl.get("attempts") or []
            text = v.delivery_markup(dl, d.webhooks.get(dl.get("webhook_id") or "", {}), self.clock)
            text += "\n" + (
                "\n".join(v.attempt_markup(a, self.clock) for a in attempts)
                or "  [$text-muted]no attempt yet[/]"
            )
            out.append(Static(text, classes="section delivery"))
        return out

    def on_mount(self) -> None:
        if self.kind == "delivery" and self.data.deliveries:
            self.query_one(TabbedContent).active = "tab-attempts"
        if not self.data.complete:
            self.read()
        self.set_interval(1.0, self._tick)

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
        """Read the item again, with its event's deliveries (a scan), on a thread; `Read` shows it."""
        self.post_message(self.Read(v.load(self.service, self.kind, self.item_id)))

    async def on_detail_screen_read(self, msg: Read) -> None:
        await self.show_attempts(msg.data)

    async def show_attempts(self, data: v.DetailData) -> None:
        self.data = data
        try:
            box = self.query_one("#attempts", VerticalScroll)
        except Exception:
            return
        await box.remove_children()
        await box.mount_all(self._attempt_widgets())
        self.query_one("#detail-title", Static).update(v.title_markup(self.data))
        self.refresh_bindings()

    # -- which keys can act ------------------------------------------------------------------------------------

    def _diff_pair(self) -> tuple[str, list[str]] | None:
        d = self.data
        if d.capture and d.capture.get("replay_of"):
            original = queries.get(self.service.store, "capture", d.capture["replay_of"])
            if original:
                return f"{original['id']} → {d.capture['id']}", diff_captures(original, d.capture)
        for dl in d.deliveries:
            attempts = dl.get("attempts") or []
            if len(attempts) >= 2:
                return (
                    f"{dl['id']}: attempt {attempts[-2].get('n')} → {attempts[-1].get('n')}",
                    diff_attempts(attempts[-2], attempts[-1]),
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
            return True if self._diff_pair() else None
        return True

    # -- actions ---------------------------------------------------------------------------------------------

    def action_close(self) -> None:
        self.app.pop_screen()

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
            self.app.switch_screen(DetailScreen(self.service, "capture", doc["id"], clock=self.clock))

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
