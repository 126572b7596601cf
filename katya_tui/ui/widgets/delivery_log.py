"""The delivery log: deliveries of the selected event, or of one subscription, or the latest of all; newest last.

Each row: subscription, event type, state, attempts, last status, latency, countdown to the next retry, and the
verdict of the inbound request the event came from. `s` resend, `S` resend all failed matching the filter, `x` cancel.

Rows are read through `core.queries` on a thread worker (`reload` starts it, `Read` lands it); updates that
arrive meanwhile are held and applied once it lands. Deliveries from the bus change their own rows only (a
`LineTable`: a row is drawn again when its delivery changes, not the log).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message

from ...core import queries
from ...core.store import Store
from ..bindings import first_look
from ..cells import state_cell, tone, verdict_cell
from ..clock import Clock
from ..filters import Filter, delivery_record
from ..messages import OpenDetail
from .borders import set_borders
from .line_table import LineTable

LIMIT = 200
COLUMNS = (
    ("sub", "Subscription", 12),
    ("state", "State", 11),
    ("n", "Att", 3),
    ("status", "Last", 7),
    ("latency", "ms", 5),
    ("next", "Next", 7),
    ("verdict", "Inbound", 11),
    ("type", "Event", 18),
    ("id", "Delivery", 24),
)


class DeliveryLog(LineTable):
    """The screen sets `scope` (via `show()`), `flt` and `names`, and feeds `apply()`; actions use the dispatcher."""

    COLUMNS = COLUMNS
    BINDINGS = first_look(
        [
            Binding(
                "s", "resend", "Resend", id="log.resend", tooltip="Send the selected delivery again, now"
            ),
            Binding(
                "S",
                "resend_failed",
                "Resend failed",
                id="log.resend_failed",
                tooltip="Resend every failed delivery matching the filter (asks, with the count)",
            ),
            Binding("x", "cancel", "Cancel", id="log.cancel", tooltip="Cancel the selected pending delivery"),
            Binding(
                "enter", "open", "Detail", id="log.open", tooltip="Open the selected delivery's attempts"
            ),
        ]
    )

    def __init__(self, service: Any, *, clock: Clock | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.service = service
        self.clock = clock or Clock()
        self.flt = Filter()
        self.names: dict[str, str] = {}  # webhook id -> name
        self.scope: tuple[str, str | None, str] = ("all", None, "latest deliveries")  # kind, id, label
        self.docs: dict[str, dict] = {}
        self._gen = 0
        self._held: dict[str, dict] | None = None  # updates that arrived while a read was under way

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self.reload()

    @property
    def dispatcher(self) -> Any:
        return getattr(self.service, "dispatcher", None)

    def show(self, kind: str, id: str | None, label: str) -> None:
        """Scope: ("event", event id), ("webhook", webhook id) or ("all", None)."""
        if (kind, id) != self.scope[:2]:
            self.scope = (kind, id, label)
            self.reload()

    class Read(Message):
        """The newest deliveries in scope and filter, read off the loop (newest first)."""

        def __init__(self, gen: int, docs: list[dict]) -> None:
            super().__init__()
            self.gen, self.docs = gen, docs

    class FailedFound(Message):
        """The ids of every failed delivery in scope and filter, for `S`."""

        def __init__(self, ids: list[str], what: str) -> None:
            super().__init__()
            self.ids, self.what = ids, what

    def _predicate(self) -> Callable[[dict], bool]:
        """Whether a delivery is in the current scope and filter (fixed now: safe to use on a thread)."""
        (kind, id, _), flt, names = self.scope, self.flt, dict(self.names)

        def wanted(doc: dict) -> bool:
            if kind == "event" and doc.get("event_id") != id:
                return False
            if kind == "webhook" and doc.get("webhook_id") != id:
                return False
            return flt.empty or flt.matches(delivery_record(doc, names.get(doc.get("webhook_id", ""))))

        return wanted

    def reload(self) -> None:
        """Read the rows again, off the loop."""
        self._gen += 1
        self._held = {}
        self._read(self._gen, self.service.store, self._predicate())

    @work(thread=True, exclusive=True, group="read-log", exit_on_error=False)
    def _read(self, gen: int, store: Store | None, wanted: Callable[[dict], bool]) -> None:
        docs = queries.first(store, "deliveries", wanted, LIMIT) if store is not None else []
        self.post_message(self.Read(gen, docs))

    def on_delivery_log_read(self, msg: Read) -> None:
        msg.stop()
        if msg.gen != self._gen:
            return  # overtaken by a newer read
        self.docs = {d["id"]: d for d in reversed(msg.docs)}
        for did in self.docs:
            self.touch(did)
        self.set_rows(list(self.docs))
        self.move_cursor(row=self.row_count - 1)
        self._title()
        held, self._held = self._held, None
        if held:
            self.apply(held)

    def apply(self, deliveries: dict[str, dict]) -> None:
        """Apply delivery documents from the bus: change rows in place, append new ones, keep at most LIMIT."""
        if self._held is not None:  # a read is under way: these go in once it lands
            self._held.update(deliveries)
            return
        wanted_now = self._predicate()
        at_end = self.cursor_row >= self.row_count - 1
        added = False
        for doc in deliveries.values():
            did = doc.get("id")
            if did in self.docs:
                self.docs[did] = doc
                self.touch(did)
            elif did and wanted_now(doc):
                self.docs[did] = doc
                added = True
        if added:
            for oldest in list(self.docs)[: max(0, len(self.docs) - LIMIT)]:
                del self.docs[oldest]
            self.set_rows(list(self.docs))
            if at_end:
                self.move_cursor(row=self.row_count - 1)
        self._title()

    def _title(self) -> None:
        label = self.scope[2]
        extra = "" if self.flt.empty else f" · {self.flt.source}"
        pending = sum(1 for d in self.docs.values() if d.get("state") == "pending")
        set_borders(
            self, title=f"Deliveries: {label}{extra}", subtitle=f"{len(self.docs)} shown · {pending} pending"
        )
        self._bindings_changed()

    def _bindings_changed(self) -> None:
        """Refresh the keys only when what they can do changed."""
        doc = self.selected
        sig = None if doc is None else doc.get("state") == "pending"
        if sig != getattr(self, "_binding_sig", object()):
            self._binding_sig = sig
            self.refresh_bindings()

    def cells(self, key: str) -> tuple[Text | str, ...]:
        return self._cells(self.docs[key])

    def _cells(self, doc: dict) -> tuple[Text | str, ...]:
        attempts = doc.get("attempts") or []
        last = attempts[-1] if attempts else {}
        status = last.get("status_code")
        latency = last.get("latency_ms")
        state = doc.get("state")
        status_cell = (
            tone(self.app, str(status), "text-error" if status >= 400 else "text-success")
            if status
            else tone(self.app, last.get("error_class") or "-", "text-error" if last else "text-muted")
        )
        return (
            Text(self.names.get(doc.get("webhook_id", ""), doc.get("webhook_id") or "")),
            state_cell(self.app, state),
            str(len(attempts)),
            status_cell,
            "-" if latency is None else f"{latency:.0f}",
            self.clock.until(doc.get("next_attempt_at")) if state == "pending" else "",
            verdict_cell(self.app, doc.get("verdict")),
            Text(doc.get("event_type") or ""),
            Text(doc.get("id") or "", style="dim"),
        )

    def _tick(self) -> None:
        """Advance the countdowns."""
        for did, doc in self.docs.items():
            if doc.get("state") == "pending" and doc.get("next_attempt_at"):
                self.touch(did)

    @property
    def selected(self) -> dict | None:
        key = self.selected_key
        return None if key is None else self.docs.get(key)

    def watch_cursor_row(self, old: int, new: int) -> None:
        super().watch_cursor_row(old, new)
        self._bindings_changed()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        doc = self.selected
        if action == "resend":
            return doc is not None and self.dispatcher is not None
        if action == "cancel":
            return doc is not None and doc.get("state") == "pending" and self.dispatcher is not None
        if action == "resend_failed":
            return self.dispatcher is not None
        if action == "open":
            return doc is not None
        return True

    # -- actions --------------------------------------------------------------------------------------------

    def action_open(self) -> None:
        if (doc := self.selected) is not None:
            self.screen.post_message(OpenDetail("delivery", doc["id"]))

    @work(group="log-resend", exit_on_error=False)
    async def action_resend(self) -> None:
        doc = self.selected
        if doc is None or self.dispatcher is None:
            return
        try:
            result = await self.dispatcher.resend(doc["id"])
        except Exception as exc:
            self.notify(f"resend failed: {exc}", severity="error")
            return
        attempts = (result or {}).get("attempts") or []
        last = attempts[-1] if attempts else {}
        self.notify(
            f"resent {doc['id']}: {last.get('status_code') or last.get('reason') or result.get('state')}"
        )

    def failed_matching(self) -> list[str]:
        """Ids of failed deliveries in the current scope and filter, over the whole store (a scan: `S` runs it
        on a thread)."""
        store = self.service.store
        return queries.failed_matching(store, self._predicate()) if store is not None else []

    def action_resend_failed(self) -> None:
        what = self.scope[2] + ("" if self.flt.empty else f", filter {self.flt.source}")
        self._find_failed(self.service.store, self._predicate(), what)

    @work(thread=True, exclusive=True, group="read-failed", exit_on_error=False)
    def _find_failed(self, store: Store | None, wanted: Callable[[dict], bool], what: str) -> None:
        ids = queries.failed_matching(store, wanted) if store is not None else []
        self.post_message(self.FailedFound(ids, what))

    def on_delivery_log_failed_found(self, msg: FailedFound) -> None:
        from ..screens.dialogs import ConfirmDialog

        msg.stop()
        ids, what = msg.ids, msg.what
        if not ids:
            self.notify("no failed deliveries match", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._resend_many(ids)

        self.app.push_screen(
            ConfirmDialog(f"Resend {len(ids):,} failed deliveries ({what})?", yes=f"Resend {len(ids):,}"),
            answered,
        )

    @work(group="log-resend", exit_on_error=False)
    async def _resend_many(self, ids: list[str], concurrency: int = 8) -> None:
        gate = asyncio.Semaphore(concurrency)
        errors: list[str] = []

        async def one(did: str) -> None:
            async with gate:
                try:
                    await self.dispatcher.resend(did)
                except Exception as exc:
                    errors.append(f"{did}: {exc}")

        await asyncio.gather(*(one(d) for d in ids))
        done = len(ids) - len(errors)
        self.notify(
            f"resent {done:,} of {len(ids):,} failed deliveries" + (f"; {errors[0]}" if errors else ""),
            severity="warning" if errors else "information",
        )

    def action_cancel(self) -> None:
        doc = self.selected
        if doc is None or self.dispatcher is None:
            return
        try:
            result = self.dispatcher.cancel(doc["id"])
        except Exception as exc:
            self.notify(f"cancel failed: {exc}", severity="error")
            return
        self.apply({doc["id"]: result or {**doc, "state": "cancelled"}})
        self.notify(f"cancelled {doc['id']}")
