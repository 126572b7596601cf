"""Small modal dialogs: confirm, replay (where to and how), pick an event type, read a long text or diff.

`request_replay` is the one replay flow every screen uses: the remembered choice for the capture's endpoint, or
the dialog, then `service.receiver.replay(...)` in a worker, and a notification with the target's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...core import queries
from ...core.catalog import EVENT_TYPES
from ...core.prefs import Prefs
from ...core.service import Service

REPLAY_PREF = "replay"  # endpoint -> {to, resign}
STYLES = "../styles/dialogs.tcss"


def replay_prefs(service: Service, endpoint: str) -> dict[str, Any] | None:
    """The remembered replay choice `{to, resign}` for captures of `endpoint`, if any."""
    found = (Prefs(service.settings.data_dir).get(REPLAY_PREF) or {}).get(endpoint)
    return {"to": found.get("to"), "resign": bool(found.get("resign"))} if isinstance(found, dict) else None


def remember_replay(service: Service, endpoint: str, to: str | None, resign: bool) -> None:
    prefs = Prefs(service.settings.data_dir)
    prefs.set(REPLAY_PREF, {**(prefs.get(REPLAY_PREF) or {}), endpoint: {"to": to, "resign": resign}})


def forward_target(service: Service, endpoint: str) -> str | None:
    """Where a replay goes when no URL is given: the endpoint's forward target or its routes by event type."""
    receiver = getattr(service, "receiver", None)
    cfg = (receiver.endpoints.get(endpoint) if receiver is not None else None) or {}
    if cfg.get("forward_to"):
        return cfg["forward_to"]
    return "the endpoint's routes by event type" if cfg.get("routes") else None


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; dismisses True only on yes."""

    CSS_PATH = STYLES
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Confirm and go ahead"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Leave things as they are"),
    ]

    def __init__(self, message: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog")
        self.message, self.yes, self.no = message, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.message, id="message")
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button(self.no, variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ReplayDialog(ModalScreen[dict | None]):
    """Where to replay a capture and whether to re-sign it: `{to, resign, remember}` or None."""

    CSS_PATH = STYLES
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="replay.cancel", tooltip="Close without replaying")]

    def __init__(self, service: Service, capture_id: str) -> None:
        super().__init__(classes="dialog")
        self.service = service
        self.capture = queries.get(service.store, "capture", capture_id) or {
            "id": capture_id,
            "endpoint": "?",
        }

    def compose(self) -> ComposeResult:
        cap = self.capture
        endpoint = cap.get("endpoint") or "?"
        target = forward_target(self.service, endpoint)
        prefs = replay_prefs(self.service, endpoint) or {}
        with Vertical(id="dialog"):
            yield Static(
                f"Replay {cap['id']}  [b]{cap.get('method', '')} {cap.get('path', '')}[/b]", id="title"
            )
            yield Label("To (empty: the endpoint's forward target)")
            yield Input(
                prefs.get("to") or "", placeholder=target or "http://localhost:3000/webhooks", id="to"
            )
            yield Static("", id="to-error", classes="field-error")
            yield Checkbox(
                "Re-sign now (fresh timestamp and signature)", prefs.get("resign", False), id="resign"
            )
            yield Checkbox(f"Remember for endpoint {endpoint!r} (r replays at once)", True, id="remember")
            with Horizontal(classes="buttons"):
                yield Button("Replay", variant="primary", id="go")
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted, "#to")
    @on(Button.Pressed, "#go")
    def submit(self) -> None:
        to = self.query_one("#to", Input).value.strip() or None
        error = self.query_one("#to-error", Static)
        if to is None and not forward_target(self.service, self.capture.get("endpoint") or ""):
            error.update("this endpoint has no forward target: give a URL")
            return
        if to is not None and not to.startswith(("http://", "https://")):
            error.update("must start with http:// or https://")
            return
        self.dismiss(
            {
                "to": to,
                "resign": self.query_one("#resign", Checkbox).value,
                "remember": self.query_one("#remember", Checkbox).value,
            }
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class EventTypePicker(ModalScreen[str | None]):
    """Choose one event type of the catalogue, narrowed by typing."""

    CSS_PATH = STYLES
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel", tooltip="Close without choosing")]

    def __init__(self, title: str = "Event type") -> None:
        super().__init__(classes="dialog")
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="title")
            yield Input(placeholder="type to filter: message, security.*, job", id="filter")
            yield OptionList(*self._options(""), id="types")

    @staticmethod
    def _options(text: str) -> list[Option]:
        words = text.lower().split()
        return [
            Option(Text.assemble((t.name, "bold"), "  ", (t.description, "dim")), id=t.name)
            for t in EVENT_TYPES.values()
            if all(w.rstrip("*") in f"{t.name} {t.description}".lower() for w in words)
        ]

    @on(Input.Changed, "#filter")
    def narrow(self, event: Input.Changed) -> None:
        types = self.query_one("#types", OptionList)
        types.clear_options()
        types.add_options(self._options(event.value))
        if types.option_count:
            types.highlighted = 0

    @on(Input.Submitted, "#filter")
    def take_first(self) -> None:
        types = self.query_one("#types", OptionList)
        if types.option_count:
            self.dismiss(types.get_option_at_index(types.highlighted or 0).id)

    def on_key(self, event: events.Key) -> None:
        if event.key in ("down", "up") and self.focused is self.query_one("#filter", Input):
            event.stop()
            self.query_one("#types", OptionList).focus()

    @on(OptionList.OptionSelected, "#types")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def diff_text(lines: list[str]) -> Text:
    """Unified diff lines coloured by their first character (readable without colour, too)."""
    out = Text()
    for line in lines:
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        out.append(line + "\n", style=style)
    return out


class TextViewer(ModalScreen[None]):
    """A long text (a diff, a curl command) to read and scroll."""

    CSS_PATH = STYLES
    BINDINGS = [Binding("escape,q", "close", "Close", id="viewer.close", tooltip="Back to where you were")]

    def __init__(self, title: str, body: str | Text) -> None:
        super().__init__(classes="dialog")
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            yield Static(self.title_text, id="title")
            with VerticalScroll(id="text"):
                yield Static(self.body, id="body")

    def action_close(self) -> None:
        self.dismiss(None)


def request_replay(
    screen: Screen,
    service: Service,
    capture_id: str,
    *,
    ask: bool = False,
    body: bytes | None = None,
    headers: list[list[str]] | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Replay a capture (edited when `body`/`headers` are given): at once with the endpoint's remembered choice,
    else after asking (always when `ask`); `on_done` gets the replay's capture document."""
    capture = queries.get(service.store, "capture", capture_id)
    if capture is None:
        screen.notify(f"no capture {capture_id}", severity="error")
        return
    endpoint = capture.get("endpoint") or ""
    prefs = None if ask else replay_prefs(service, endpoint)

    def go(choice: dict | None) -> None:
        if choice is None:
            return
        if choice.get("remember"):
            remember_replay(service, endpoint, choice.get("to"), bool(choice.get("resign")))
        edits = {"body": body, "headers": headers} if body is not None or headers is not None else {}
        screen.run_worker(
            _replay(screen, service, capture_id, choice, edits, on_done), group="replay", exit_on_error=False
        )

    if prefs is not None:
        go(prefs)
    else:
        screen.app.push_screen(ReplayDialog(service, capture_id), go)


async def _replay(
    screen: Screen,
    service: Service,
    capture_id: str,
    choice: dict,
    edits: dict[str, Any],
    on_done: Callable[[dict[str, Any]], None] | None,
) -> None:
    receiver = getattr(service, "receiver", None)
    if receiver is None:
        screen.notify("replay needs the receiver, which is not running", severity="error")
        return
    how = "edited" if edits else "re-signed" if choice.get("resign") else "verbatim"
    try:
        replay = await receiver.replay(
            capture_id, to=choice.get("to"), resign=bool(choice.get("resign")), **edits
        )
    except Exception as exc:  # the reason goes to the user, never a traceback over the UI
        screen.notify(f"replay of {capture_id} failed: {exc}", severity="error", timeout=8)
        return
    doc = replay.to_doc() if hasattr(replay, "to_doc") else dict(replay)
    answer = doc.get("forward") or {}
    outcome = f"HTTP {answer['status']}" if answer.get("status") else (answer.get("reason") or "sent")
    screen.notify(
        f"replayed {capture_id} {how} → {answer.get('url') or choice.get('to') or 'forward target'}: "
        f"{outcome}  ({doc.get('id')})",
        timeout=6,
    )
    if on_done is not None:
        on_done(doc)
