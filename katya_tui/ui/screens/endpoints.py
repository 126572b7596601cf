"""The endpoints screen: inbound endpoint configs (secrets, scheme, tolerance, response and chaos, forward targets
by event type, validation, rate limit), listed on the left and edited on the right.

Saving goes through `service.receiver.endpoints.put`, the API's own validation; its per-field problems are shown
under the fields. Any endpoint name works without a config; a config adds what the defaults lack.
"""

from __future__ import annotations

import json
import re
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Button, Input, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from ...core.errors import ValidationFailed
from ...core.service import Service
from ...core.signing import SCHEMES
from ..widgets.keys_bar import KeysBar
from .dialogs import ConfirmDialog
from .form_fields import error_line, hint, number, row, show_errors

MODES = (("answer", "answer"), ("timeout (hold the connection)", "timeout"), ("drop the connection", "drop"))
SLOTS = (
    "name",
    "secrets",
    "scheme",
    "tolerance_s",
    "response.status",
    "response.body",
    "response.headers",
    "response.delay_ms",
    "response.sequence",
    "response.mode",
    "response.hold_s",
    "response.retry_after",
    "forward_to",
    "routes",
    "validate",
    "rate_limit",
    "publish",
    "relay",
)
NEW = "\x00new"


def slot_for(key: str) -> str:
    base = re.sub(r"\[\d+\]", "", key)
    if base.startswith("rate_limit"):
        return "rate_limit"
    if base.startswith("routes"):
        return "routes"
    return base if base in SLOTS else "general"


def headers_text(headers: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in headers.items())


def parse_headers(text: str) -> Any:
    """`Name: value; Other: value` → dict; a part without a colon is passed on as is for the validator to refuse."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, value = part.partition(":")
        if not sep:
            return part
        out[name.strip()] = value.strip()
    return out


def parse_body(text: str) -> Any:
    """Empty → None (the default answer); a JSON object or array → that; anything else → the text."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict | list) else text


def parse_sequence(text: str) -> list[Any]:
    return [number(p) for p in re.split(r"[,\s]+", text.strip()) if p]


def routes_text(routes: list[dict[str, str]]) -> str:
    return "\n".join(f"{r['match']} = {r['to']}" for r in routes)


def parse_routes(text: str) -> list[Any]:
    out: list[Any] = []
    for line in filter(None, (x.strip() for x in text.splitlines())):
        match, sep, to = line.partition("=")
        out.append({"match": match.strip(), "to": to.strip()} if sep else line)
    return out


class EndpointsScreen(Screen):
    """List and edit inbound endpoint configs."""

    CSS_PATH = ["../styles/forms.tcss", "../styles/endpoints.tcss"]
    BINDINGS = [
        Binding("escape", "close", "Back", id="endpoints.close", tooltip="Back to the previous screen"),
        Binding("ctrl+n", "new", "New", id="endpoints.new", tooltip="Start a new endpoint config"),
        Binding(
            "ctrl+s", "save", "Save", id="endpoints.save", tooltip="Validate and save this endpoint config"
        ),
        # priority: inputs bind ctrl+d to "delete right", which the delete key does as well
        Binding(
            "ctrl+d",
            "delete",
            "Delete",
            id="endpoints.delete",
            priority=True,
            tooltip="Delete this endpoint's config (the endpoint keeps working with the defaults)",
        ),
    ]

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service
        self.current: str | None = None  # the name being edited, None for a new one

    @property
    def endpoints(self) -> Any:
        receiver = getattr(self.service, "receiver", None)
        return receiver.endpoints if receiver is not None else None

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="list-pane"):
                yield Static("Endpoints", classes="pane-title")
                yield OptionList(id="list")
                yield hint(
                    "any name works at /hooks/NAME with no config; a config adds secrets, answers, forwards"
                )
                yield Static("", id="following")
            with Vertical(id="form"):
                yield Static("", id="title")
                yield error_line("general")
                with VerticalScroll(id="fields"):
                    yield row("Name", Input(id="name", placeholder="stripe-dev", compact=True))
                    yield error_line("name")
                    yield row("Secrets", TextArea(id="secrets", compact=True))
                    yield hint("one a line; several allow rotation")
                    yield error_line("secrets")
                    yield row(
                        "Scheme",
                        Select(
                            [("auto (from the headers)", "auto"), *((s, s) for s in sorted(SCHEMES))],
                            value="auto",
                            allow_blank=False,
                            id="scheme",
                            compact=True,
                        ),
                    )
                    yield error_line("scheme")
                    yield row("Tolerance s", Input("300", id="tolerance_s", compact=True))
                    yield error_line("tolerance_s")
                    yield Static("Answer", classes="section-title")
                    yield row("Status", Input("200", id="response-status", compact=True))
                    yield error_line("response.status")
                    yield row(
                        "Body", Input(id="response-body", placeholder='empty: {"status":"ok"}', compact=True)
                    )
                    yield error_line("response.body")
                    yield row(
                        "Headers",
                        Input(id="response-headers", placeholder="X-Test: 1; X-Other: 2", compact=True),
                    )
                    yield error_line("response.headers")
                    yield row("Delay ms", Input("0", id="response-delay_ms", compact=True))
                    yield error_line("response.delay_ms")
                    yield Static("Chaos", classes="section-title")
                    yield row(
                        "Sequence",
                        Input(
                            id="response-sequence",
                            placeholder="500, 500, 200 (then the last repeats)",
                            compact=True,
                        ),
                    )
                    yield hint('statuses, "timeout" or "drop", one per request')
                    yield error_line("response.sequence")
                    yield row(
                        "Mode",
                        Select(MODES, value="answer", allow_blank=False, id="response-mode", compact=True),
                    )
                    yield error_line("response.mode")
                    yield row("Hold s", Input("40", id="response-hold_s", compact=True))
                    yield error_line("response.hold_s")
                    yield row("Retry-After s", Input("1", id="response-retry_after", compact=True))
                    yield hint("sent with 429 and 503 answers")
                    yield error_line("response.retry_after")
                    yield Static("Forward", classes="section-title")
                    yield row(
                        "Forward to",
                        Input(id="forward_to", placeholder="http://localhost:3000/webhooks", compact=True),
                    )
                    yield error_line("forward_to")
                    yield row("By type", TextArea(id="routes", compact=True))
                    yield hint("one a line: message.* = http://localhost:3000/messages")
                    yield error_line("routes")
                    yield row(
                        "Validate",
                        Select(
                            [("none", ""), ("wazzup (seed 004)", "wazzup")],
                            value="",
                            allow_blank=False,
                            id="validate",
                            compact=True,
                        ),
                    )
                    yield error_line("validate")
                    yield row(
                        "Publish",
                        Select(
                            [("every capture", "all"), ("validly signed only", "verified")],
                            value="all",
                            allow_blank=False,
                            id="publish",
                            compact=True,
                        ),
                    )
                    yield error_line("publish")
                    yield row(
                        "Rate limit",
                        Input(id="rate-requests", placeholder="requests (empty: off)", compact=True),
                        Input(id="rate-window", placeholder="per seconds", compact=True),
                    )
                    yield error_line("rate_limit")
                    yield Static("Relay", classes="section-title")
                    yield row(
                        "Relay",
                        Select(
                            [("off", ""), ("on: stream its captures to followers", "on")],
                            value="",
                            allow_blank=False,
                            id="relay",
                            compact=True,
                        ),
                    )
                    yield Static("", id="relay-url", classes="hint")
                    yield error_line("relay")
                with Horizontal(classes="buttons"):
                    yield Button("Save (ctrl+s)", variant="primary", id="save", compact=True)
                    yield Button("Delete (ctrl+d)", variant="error", id="delete", compact=True)
        yield KeysBar()

    def on_mount(self) -> None:
        if self.endpoints is None:
            show_errors(
                self,
                {"general": ["the receiver is not running: endpoint configs cannot be edited"]},
                slot_for,
            )
        self.reload_list()
        self.show_following()
        names = [c["name"] for c in self.endpoints.list()] if self.endpoints else []
        self.fill(self.endpoints.get(names[0]) if names else None)

    # -- list ---------------------------------------------------------------------------------------------

    def reload_list(self, select: str | None = None) -> None:
        options = self.query_one("#list", OptionList)
        options.clear_options()
        for cfg in self.endpoints.list() if self.endpoints else []:
            extra = [cfg["scheme"], f"{len(cfg['secrets'])} secret{'s' if len(cfg['secrets']) != 1 else ''}"]
            if cfg.get("forward_to") or cfg.get("routes"):
                extra.append("→ forward")
            options.add_option(
                Option(f"[b]{cfg['name']}[/b]\n  [$text-muted]{' · '.join(extra)}[/]", id=cfg["name"])
            )
        options.add_option(Option("[$text-primary]+ new endpoint[/]", id=NEW))
        target = select or self.current or NEW
        index = options.get_option_index(target) if target in [o.id for o in options.options] else None
        options.highlighted = index if index is not None else options.option_count - 1

    def show_following(self) -> None:
        """The channels this instance follows (`--follow`), each with its endpoint and state."""
        lines = [
            f"{escape(f.endpoint)} ← {escape(f.shown_url)}\n  [$text-muted]{escape(f.state)}[/]"
            for f in getattr(self.service, "followers", [])
        ]
        self.query_one("#following", Static).update(
            "[b]Following[/b]\n" + "\n".join(lines)
            if lines
            else "[$text-muted]following no channel (--follow)[/]"
        )

    @on(OptionList.OptionSelected, "#list")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        name = event.option.id
        self.fill(None if name == NEW or self.endpoints is None else self.endpoints.get(name or ""))
        self.query_one("#name", Input).focus()

    # -- form ---------------------------------------------------------------------------------------------

    def fill(self, cfg: dict[str, Any] | None) -> None:
        self.current = cfg["name"] if cfg else None
        show_errors(self, {}, slot_for)
        self.query_one("#title", Static).update(f"Endpoint {cfg['name']}" if cfg else "New endpoint")
        cfg = cfg or {}
        r = cfg.get("response") or {}

        def put(id: str, value: Any) -> None:
            self.query_one(f"#{id}", Input).value = "" if value is None else str(value)

        put("name", cfg.get("name"))
        self.query_one("#secrets", TextArea).text = "\n".join(cfg.get("secrets") or [])
        self.query_one("#scheme", Select).value = cfg.get("scheme") or "auto"
        put("tolerance_s", cfg.get("tolerance_s", 300))
        put("response-status", r.get("status", 200))
        body = r.get("body")
        put("response-body", json.dumps(body) if isinstance(body, dict | list) else body)
        put("response-headers", headers_text(r.get("headers") or {}))
        put("response-delay_ms", r.get("delay_ms", 0))
        put("response-sequence", ", ".join(str(x) for x in r.get("sequence") or []))
        self.query_one("#response-mode", Select).value = r.get("mode") or "answer"
        put("response-hold_s", r.get("hold_s", 40))
        put("response-retry_after", r.get("retry_after", 1))
        put("forward_to", cfg.get("forward_to"))
        self.query_one("#routes", TextArea).text = routes_text(cfg.get("routes") or [])
        self.query_one("#validate", Select).value = cfg.get("validate") or ""
        self.query_one("#publish", Select).value = cfg.get("publish") or "all"
        rl = cfg.get("rate_limit") or {}
        put("rate-requests", rl.get("requests"))
        put("rate-window", rl.get("window_s"))
        channel = cfg.get("relay")
        self.query_one("#relay", Select).value = "on" if channel else ""
        self.query_one("#relay-url", Static).update(
            escape(f"{self.service.url}/relay/{channel}  (follow it with --follow, or smee-client --url)")
            if channel
            else "on: a long random channel id is made when saved"
        )
        self.refresh_bindings()

    def value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value.strip()

    def config(self) -> dict[str, Any]:
        """The form as an endpoint config (SPEC 3.3 plus chaos, routes and rate limit)."""
        secrets = [s.strip() for s in self.query_one("#secrets", TextArea).text.splitlines() if s.strip()]
        requests, window = self.value("rate-requests"), self.value("rate-window")
        return {
            "name": self.value("name"),
            "secrets": secrets,
            "scheme": self.query_one("#scheme", Select).value,
            "tolerance_s": number(self.value("tolerance_s")),
            "response": {
                "status": number(self.value("response-status")),
                "body": parse_body(self.query_one("#response-body", Input).value),
                "headers": parse_headers(self.value("response-headers")),
                "delay_ms": number(self.value("response-delay_ms") or "0"),
                "sequence": parse_sequence(self.value("response-sequence")),
                "mode": self.query_one("#response-mode", Select).value,
                "hold_s": number(self.value("response-hold_s")),
                "retry_after": number(self.value("response-retry_after")),
            },
            "forward_to": self.value("forward_to") or None,
            "routes": parse_routes(self.query_one("#routes", TextArea).text),
            "validate": self.query_one("#validate", Select).value or None,
            "publish": self.query_one("#publish", Select).value,
            "rate_limit": (
                {"requests": number(requests), "window_s": number(window or "60")}
                if requests or window
                else None
            ),
            "relay": True if self.query_one("#relay", Select).value == "on" else None,
        }

    # -- keys ---------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save", "new") and self.endpoints is None:
            return None
        if action == "delete":
            return True if self.endpoints is not None and self.current else None
        return True

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_new(self) -> None:
        self.fill(None)
        self.reload_list(NEW)
        self.query_one("#name", Input).focus()

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self.endpoints is None:
            return
        cfg = self.config()
        try:
            saved = self.endpoints.put(cfg)
        except ValidationFailed as exc:
            first = show_errors(self, exc.fields, slot_for)
            self.notify(
                f"not saved: {len(exc.fields)} field{'s' if len(exc.fields) != 1 else ''} to fix",
                severity="error",
            )
            if first and first != "general":
                self.query_one(f"#{first.replace('.', '-').replace('rate_limit', 'rate-requests')}").focus()
            return
        if self.current and self.current != saved["name"]:
            self.endpoints.delete(self.current)  # renamed: the old name goes back to the defaults
        self.fill(saved)
        self.reload_list(saved["name"])
        self.notify(f"saved endpoint {saved['name']}: {self.service.url}/hooks/{saved['name']}")

    @on(Button.Pressed, "#delete")
    def action_delete(self) -> None:
        name = self.current
        if not name or self.endpoints is None:
            return

        def answered(yes: bool | None) -> None:
            if yes and self.endpoints.delete(name):
                self.notify(f"deleted the config of {name}; /hooks/{name} answers with the defaults again")
                self.fill(None)
                self.reload_list(NEW)

        self.app.push_screen(
            ConfirmDialog(f"Delete the config of endpoint {name!r}?", yes="Delete"), answered
        )
