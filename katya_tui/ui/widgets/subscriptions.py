"""The subscriptions pane: each webhook subscription with its health; add, edit, pause, delete, test, narrow."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding

from ...core import queries
from ...core.catalog import sample_data
from ..bindings import first_look
from ..cells import tone
from ..clock import Clock
from ..messages import ScopeChanged
from ..tally import Tally
from .borders import set_borders
from .line_table import LineTable

COLUMNS = (
    ("name", "Name", 13),
    ("rate", "OK%", 4),
    ("pending", "Pend", 4),
    ("last", "Last", 7),
    ("events", "Events", 12),
    ("url", "URL", 30),
)


class Subscriptions(LineTable):
    """Reads the subscriptions through `core.queries`; acts through `service.dispatcher`. The screen calls
    `refresh_rows`."""

    COLUMNS = COLUMNS
    BINDINGS = first_look(
        [
            Binding("n", "new", "New", id="subs.new", tooltip="Add a subscription"),
            Binding("e", "edit", "Edit", id="subs.edit", tooltip="Edit the selected subscription"),
            Binding(
                "space",
                "switch",
                "Pause/resume",
                id="subs.toggle",
                tooltip="Pause or resume the selected one",
            ),
            Binding(
                "d", "delete", "Delete", id="subs.delete", tooltip="Delete the selected subscription (asks)"
            ),
            Binding("t", "test", "Test", id="subs.test", tooltip="Send a test event of a chosen type to it"),
            Binding(
                "enter",
                "narrow",
                "Its deliveries",
                id="subs.narrow",
                tooltip="Show only this subscription's deliveries in the log",
            ),
        ]
    )

    def __init__(self, service: Any, tally: Tally, *, clock: Clock | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.service = service
        self.tally = tally
        self.clock = clock or Clock()
        self.webhooks: dict[str, dict] = {}

    def on_mount(self) -> None:
        self.refresh_rows()

    @property
    def dispatcher(self) -> Any:
        return getattr(self.service, "dispatcher", None)

    @property
    def selected_id(self) -> str | None:
        key = self.selected_key
        return key if key in self.webhooks else None

    def refresh_rows(self) -> None:
        """Re-read the subscriptions and redraw what changed, keeping the cursor on its row. On the loop: the
        table holds the subscriptions a person made (tens), not traffic."""
        store = self.service.store
        hooks = {d["id"]: d for d in queries.webhooks(store)} if store is not None else {}
        keep = self.selected_id
        self.webhooks = hooks
        for wid in hooks:
            self.touch(wid)  # the tally's figures move with the deliveries: tens of rows, once a second
        if list(hooks) != self.keys:
            self.set_rows(list(hooks))
            if keep is not None and keep in hooks:
                self.move_cursor(row=self.get_row_index(keep))
        set_borders(self, subtitle=f"{len(hooks)} subscription{'s' if len(hooks) != 1 else ''}")
        self._bindings_changed()

    def _bindings_changed(self) -> None:
        """Refresh the keys only when a selection appears or goes."""
        sig = self.selected_id is None
        if sig != getattr(self, "_binding_sig", None):
            self._binding_sig = sig
            self.refresh_bindings()

    def cells(self, key: str) -> tuple[Text | str, ...]:
        return self._cells(self.webhooks[key])

    def _cells(self, doc: dict) -> tuple[Text | str, ...]:
        wid = doc["id"]
        rate = self.tally.rate(wid)
        active = doc.get("active", True)
        name = Text(doc.get("name") or wid)
        name = Text.assemble(
            tone(self.app, "● ", "text-success") if active else tone(self.app, "‖ ", "text-warning"), name
        )
        return (
            name,
            "-" if rate is None else f"{rate * 100:.0f}",
            str(self.tally.count("pending", wid)),
            self.clock.ago(self.tally.last.get(wid)).replace(" ago", "")
            if wid in self.tally.last
            else "never",
            Text(",".join(doc.get("events") or []) or "-"),
            Text(doc.get("url") or ""),
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("edit", "switch", "delete", "test", "narrow"):
            return self.selected_id is not None and (
                action in ("edit", "narrow") or self.dispatcher is not None
            )
        if action == "new":
            return self.dispatcher is not None or None
        return True

    def watch_cursor_row(self, old: int, new: int) -> None:
        super().watch_cursor_row(old, new)
        self._bindings_changed()

    # -- actions --------------------------------------------------------------------------------------------

    def action_new(self) -> None:
        from ..screens.subscription_form import SubscriptionForm

        self.app.push_screen(SubscriptionForm(self.service, None), self._saved)

    def action_edit(self) -> None:
        from ..screens.subscription_form import SubscriptionForm

        if (wid := self.selected_id) is not None:
            self.app.push_screen(SubscriptionForm(self.service, wid), self._saved)

    def _saved(self, doc: dict | None) -> None:
        if doc:
            self.refresh_rows()
            if doc.get("id") in self.webhooks:
                self.move_cursor(row=self.get_row_index(doc["id"]))

    def action_switch(self) -> None:
        """Pause or resume the selected one (not `toggle`: Textual's own `toggle` flips an attribute)."""
        wid = self.selected_id
        if wid is None or self.dispatcher is None:
            return
        active = not self.webhooks[wid].get("active", True)
        try:
            self.dispatcher.set_active(wid, active)
        except Exception as exc:  # a reason for the user, never a traceback
            self.notify(f"could not {'resume' if active else 'pause'}: {exc}", severity="error")
            return
        self.refresh_rows()
        self.notify(f"{self.webhooks[wid].get('name') or wid} {'resumed' if active else 'paused'}")

    def action_delete(self) -> None:
        from ..screens.dialogs import ConfirmDialog

        wid = self.selected_id
        if wid is None:
            return
        name = self.webhooks[wid].get("name") or wid

        def answered(yes: bool | None) -> None:
            if yes and self.dispatcher is not None:
                self.dispatcher.delete_webhook(wid)
                self.refresh_rows()
                self.post_message(ScopeChanged(None))
                self.notify(f"deleted subscription {name}")

        self.app.push_screen(
            ConfirmDialog(f"Delete subscription {name}?\nIts delivery history stays."), answered
        )

    def action_test(self) -> None:
        from ..screens.dialogs import EventTypePicker

        wid = self.selected_id
        if wid is not None:

            def chosen(event_type: str | None) -> None:
                if event_type:
                    self._send_test(wid, event_type)

            self.app.push_screen(EventTypePicker("Send a test event of type"), chosen)

    @work(group="subs-test", exit_on_error=False)
    async def _send_test(self, wid: str, event_type: str) -> None:
        try:
            event = await self.dispatcher.send_test(wid, event_type, sample_data(event_type))
        except Exception as exc:
            self.notify(f"test event not sent: {exc}", severity="error")
            return
        self.notify(
            f"test {event_type} sent to {self.webhooks.get(wid, {}).get('name') or wid}: {event.get('id')}"
        )

    def action_narrow(self) -> None:
        wid = self.selected_id
        if wid is not None:
            self.post_message(ScopeChanged(wid, self.webhooks[wid].get("name") or wid))
