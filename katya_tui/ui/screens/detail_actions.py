"""What the detail's keys do: copy as curl or the body, the pager, edit and replay, diff, replay, resend.

A base of `DetailView` (which fills `data` and shows items), kept apart so that each module stays readable.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from textual.app import SuspendNotSupported
from textual.binding import Binding
from textual.widget import Widget

from ...core.service import Service
from ...curl import to_curl
from ..bindings import first_look
from ..diff import diff_attempts, diff_captures
from ..edit import EditError, from_edit_text, to_edit_text
from . import detail_views as v
from .dialogs import ConfirmDialog, TextViewer, diff_text, request_replay


class DetailActions(Widget):
    """The detail's keys; `check_action` greys those the item shown has nothing for."""

    BINDINGS = first_look(
        [
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
    )

    service: Service
    data: v.DetailData

    def show(self, kind: str, id: str) -> None:
        """Show another item (`DetailView`)."""
        raise NotImplementedError

    def read_again(self) -> None:
        """Read the item shown again, off the loop (`DetailView`)."""
        raise NotImplementedError

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
            self.screen, self.service, capture["id"], body=body, headers=headers, on_done=self._show_replay
        )

    def action_diff(self) -> None:
        pair = self._diff_pair()
        if pair:
            self.app.push_screen(TextViewer(f"Diff {pair[0]}", diff_text(pair[1])))

    def action_replay(self) -> None:
        assert self.data.capture
        request_replay(self.screen, self.service, self.data.capture["id"], on_done=self._show_replay)

    def action_replay_ask(self) -> None:
        assert self.data.capture
        request_replay(
            self.screen, self.service, self.data.capture["id"], ask=True, on_done=self._show_replay
        )

    def _show_replay(self, doc: dict[str, Any]) -> None:
        if self.display and self.screen.is_current and doc.get("id"):
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
        self.read_again()
