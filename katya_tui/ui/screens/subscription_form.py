"""The subscription form: create or edit a webhook subscription, validated by the dispatcher (the API's own rules).

Dismisses with the saved webhook document, or None when cancelled. Errors appear under the field they concern.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Checkbox, Input, Select, Static

from ...core import queries
from ...core.catalog import EVENT_TYPES, GROUPS
from ...core.errors import ValidationFailed
from ...core.service import Service
from .form_fields import error_line, hint, number, row, show_errors

PROFILES = ("katya", "admin", "job", "standard")
SERIALIZATIONS = (
    ("compact (JSON.stringify bytes)", "compact"),
    ("python (json.dumps defaults)", "python"),
    ("sorted (json.dumps sort_keys)", "sorted"),
)
RETRY_FIELDS = (
    ("maxRetries", "retries (max)", 3),
    ("retryDelay", "first delay ms", 1000),
    ("backoffMultiplier", "backoff ×", 2),
    ("maxRetryDelay", "max delay ms", 30000),
)
FIELDS = ("name", "url", "events", "secret", "profile", "serialization", "active", "retryPolicy")


def event_patterns() -> list[str]:
    """Every event type of the catalogue, `group.*` for each group, and `*`."""
    return ["*", *(f"{g}.*" for g in GROUPS), *EVENT_TYPES]


class EventsSuggester(Suggester):
    """Completes the last comma-separated pattern in the events field from the catalogue."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.patterns = event_patterns()

    async def get_suggestion(self, value: str) -> str | None:
        head, _, last = value.rpartition(",")
        word = last.lstrip()
        if not word:
            return None
        for p in self.patterns:
            if p.startswith(word) and p != word:
                return value[: len(value) - len(word)] + p
        return None


def new_secret(profile: str) -> str:
    """A fresh random secret; Standard Webhooks secrets take their `whsec_` + base64 form."""
    if profile == "standard":
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return secrets.token_hex(24)


def split_retry_errors(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """`{"retryPolicy": ["maxRetries must be ..."]}` → `{"retry-maxRetries": ["must be ..."]}`, so each problem
    shows under its own retry field; other problems are kept as they are."""
    out: dict[str, list[str]] = {}
    retry_keys = {f for f, _, _ in RETRY_FIELDS}
    for key, problems in fields.items():
        for p in problems:
            word, _, rest = p.partition(" ")
            if key == "retryPolicy" and word in retry_keys and rest:
                out.setdefault(f"retry-{word}", []).append(rest)
            else:
                out.setdefault(key, []).append(p)
    return out


def error_slot(key: str) -> str:
    """The field whose error line shows the problem `key` (`retryPolicy.maxRetries`, `events[2]`, `url`)."""
    if key.startswith("retry-"):
        return key
    base = re.sub(r"\[\d+\]", "", key)
    if base.startswith("retryPolicy."):
        sub = base.split(".", 1)[1]
        return f"retry-{sub}" if sub in {f for f, _, _ in RETRY_FIELDS} else "retryPolicy"
    if base == "event_type":
        return "events"
    return base if base in FIELDS else "general"


class SubscriptionForm(ModalScreen[dict | None]):
    """New (`webhook_id=None`) or edit an existing subscription."""

    CSS_PATH = "../styles/forms.tcss"
    BINDINGS = [
        Binding(
            "ctrl+s", "save", "Save", id="subscription.save", tooltip="Validate and save the subscription"
        ),
        Binding("escape", "cancel", "Cancel", id="subscription.cancel", tooltip="Close without saving"),
        Binding(
            "ctrl+g",
            "generate",
            "New secret",
            id="subscription.generate",
            tooltip="Generate a random secret for the profile",
        ),
    ]

    def __init__(self, service: Service, webhook_id: str | None = None) -> None:
        super().__init__(classes="form")
        self.service, self.webhook_id = service, webhook_id
        self.original = queries.get(service.store, "webhook", webhook_id) if webhook_id else None

    def compose(self) -> ComposeResult:
        w = self.original or {}
        policy = w.get("retryPolicy") or {}
        title = (
            f"Edit subscription {w.get('name', self.webhook_id)}" if self.webhook_id else "New subscription"
        )
        with Vertical(id="form"):
            yield Static(title, id="title")
            yield error_line("general")
            with VerticalScroll(id="fields"):
                yield row(
                    "Name", Input(w.get("name", ""), placeholder="orders-service", id="name", compact=True)
                )
                yield error_line("name")
                yield row(
                    "URL",
                    Input(
                        w.get("url", ""), placeholder="http://localhost:3000/webhooks", id="url", compact=True
                    ),
                )
                yield error_line("url")
                yield row(
                    "Events",
                    Input(
                        ", ".join(w.get("events") or []),
                        placeholder="message.created, security.*",
                        suggester=EventsSuggester(),
                        id="events",
                        compact=True,
                    ),
                )
                yield hint("exact types, group.* or *, comma-separated; → accepts the suggestion")
                yield error_line("events")
                yield row(
                    "Secret",
                    Input(
                        w.get("secret") or "",
                        password=True,
                        id="secret",
                        compact=True,
                        placeholder="empty: deliveries unsigned",
                    ),
                    Button("Generate", id="generate", compact=True),
                    Button("Show", id="reveal", compact=True),
                )
                yield error_line("secret")
                yield row(
                    "Profile",
                    Select(
                        [(p, p) for p in PROFILES],
                        value=w.get("profile") or "katya",
                        allow_blank=False,
                        id="profile",
                        compact=True,
                    ),
                )
                yield error_line("profile")
                yield row(
                    "Serialization",
                    Select(
                        SERIALIZATIONS,
                        value=w.get("serialization") or "compact",
                        allow_blank=False,
                        id="serialization",
                        compact=True,
                    ),
                )
                yield error_line("serialization")
                for key, label, default in RETRY_FIELDS:
                    yield row(
                        label.capitalize(),
                        Input(str(policy.get(key, default)), id=f"retry-{key}", compact=True),
                    )
                    yield error_line(f"retry-{key}")
                yield error_line("retryPolicy")
                yield row(
                    "Active", Checkbox("deliver events now", w.get("active", True), id="active", compact=True)
                )
                yield error_line("active")
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    # -- reading the form ---------------------------------------------------------------------------------

    def value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value

    def body(self) -> dict[str, Any]:
        """The subscription as the API takes it (numbers parsed when they are numbers)."""
        events = [e.strip() for e in self.value("events").split(",") if e.strip()]
        return {
            "name": self.value("name").strip(),
            "url": self.value("url").strip(),
            "events": events,
            "secret": self.value("secret") or None,
            "profile": self.query_one("#profile", Select).value,
            "serialization": self.query_one("#serialization", Select).value,
            "active": self.query_one("#active", Checkbox).value,
            "retryPolicy": {key: number(self.value(f"retry-{key}")) for key, _, _ in RETRY_FIELDS},
        }

    def show_errors(self, fields: dict[str, list[str]]) -> None:
        first = show_errors(self, split_retry_errors(fields), error_slot) or "general"
        target = {"general": "name", "retryPolicy": "retry-maxRetries"}.get(first, first)
        self.query_one(f"#{target}").focus()

    # -- actions ------------------------------------------------------------------------------------------

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        dispatcher = getattr(self.service, "dispatcher", None)
        if dispatcher is None:
            self.show_errors({"general": ["the dispatcher is not running: subscriptions cannot be saved"]})
            return
        try:
            if self.webhook_id:
                saved = dispatcher.update_webhook(self.webhook_id, self.body(), partial=False)
            else:
                saved = dispatcher.create_webhook(self.body())
        except ValidationFailed as exc:
            self.show_errors(exc.fields)
            return
        except KeyError:
            self.show_errors({"general": [f"subscription {self.webhook_id} no longer exists"]})
            return
        self.notify(f"saved subscription {saved.get('name')} ({saved.get('id')})")
        self.dismiss(saved)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#generate")
    def action_generate(self) -> None:
        secret = self.query_one("#secret", Input)
        secret.value = new_secret(str(self.query_one("#profile", Select).value))
        secret.password = False
        self.query_one("#reveal", Button).label = "Hide"

    @on(Button.Pressed, "#reveal")
    def reveal(self) -> None:
        secret = self.query_one("#secret", Input)
        secret.password = not secret.password
        self.query_one("#reveal", Button).label = "Show" if secret.password else "Hide"
