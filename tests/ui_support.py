"""Helpers for the screen tests: an app that starts a service and pushes one screen, and fixed sample data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.screen import Screen

from katya_tui.core.models import Attempt, Capture, Delivery, Event, encode_body
from katya_tui.core.service import Service
from katya_tui.core.signing import sign, verify
from katya_tui.core.store import Store

T0 = 1_893_499_200.0  # 2030-01-01 12:00:00 UTC: in the future, so the dispatcher never fires the seeded retry
SECRET = "whsec_right_secret"
WEBHOOK_ID = "webhook_fixed01"
CAPTURE_ID = "cap_fixed01"
EVENT_ID = "evt_fixed01"
DELIVERY_OK = "dlv_fixed01"
DELIVERY_PENDING = "dlv_fixed02"


class ScreenApp(App):
    """Fills the data dir with `prepare(store)` (as a previous run would have), starts `service`, runs
    `seed(service)`, then pushes the screen `make(service)`; stops the service on exit."""

    def __init__(
        self,
        service: Service,
        make: Callable[[Service], Screen],
        prepare: Callable[[Store], Any] | None = None,
        seed: Callable[[Service], Any] | None = None,
    ) -> None:
        super().__init__()
        self.service, self.make, self.prepare, self.seed = service, make, prepare, seed
        self.results: list[Any] = []

    async def on_mount(self) -> None:
        if self.prepare:
            store = Store(self.service.settings.data_dir, fsync=False)
            try:
                self.prepare(store)
            finally:
                store.close()
        await self.service.start()
        if self.seed:
            self.seed(self.service)
        self.push_screen(self.make(self.service), self.results.append)

    async def on_unmount(self) -> None:
        await self.service.stop()


def webhook_doc(**kw: Any) -> dict[str, Any]:
    doc = {
        "id": WEBHOOK_ID,
        "name": "orders-service",
        "url": "http://127.0.0.1:9/webhooks",
        "events": ["message.*"],
        "secret": SECRET,
        "active": True,
        "retryPolicy": {"maxRetries": 3, "retryDelay": 1000, "backoffMultiplier": 2, "maxRetryDelay": 30000},
        "createdAt": "2026-01-01T11:00:00.000Z",
        "lastDelivery": None,
        "profile": "katya",
        "serialization": "compact",
    }
    doc.update(kw)
    return doc


def forged_capture() -> Capture:
    """A Katya delivery whose body was re-serialised on the way (the classic signature failure)."""
    data = {
        "id": EVENT_ID,
        "type": "message.created",
        "createdAt": "2026-01-01T12:00:00.000Z",
        "data": {"messageId": "msg_1", "roomId": "room_7", "text": "hello"},
    }
    sent = json.dumps(data, separators=(",", ":")).encode()
    signed = sign("katya", sent, SECRET, timestamp=int(T0), msg_id="dlv_upstream")
    received = json.dumps(data).encode()  # re-serialised: spaces after , and :
    headers = [
        ["Host", "127.0.0.1:18765"],
        *[[k, v] for k, v in signed.headers],
        ["User-Agent", "Katya-Webhooks/1.0"],
    ]
    verdict = verify(
        "katya", body=received, headers=[(k, v) for k, v in headers], secrets=[("#1", SECRET)], now=T0 + 2
    )
    text, enc = encode_body(received)
    return Capture(
        id=CAPTURE_ID,
        endpoint="orders",
        method="POST",
        path="/hooks/orders",
        query="",
        headers=headers,
        body=text,
        body_encoding=enc,
        body_size=len(received),
        body_sha256=hashlib.sha256(received).hexdigest(),
        truncated=False,
        remote="127.0.0.1",
        received_at=T0 + 2,
        verdict=verdict.to_dict(),
        response={
            "status": 200,
            "headers": [["Content-Type", "application/json"]],
            "body": '{"status":"ok"}',
            "latency_ms": 1.4,
        },
        forward=None,
        event_id=EVENT_ID,
    )


def attempt(n: int, status: int | None, at: float, **kw: Any) -> dict[str, Any]:
    a = Attempt(
        n=n,
        started_at=at,
        latency_ms=kw.pop("latency_ms", 42.0),
        status_code=status,
        error_class=kw.pop("error_class", None if status and status < 400 else "http"),
        reason=kw.pop("reason", "ok" if status and status < 400 else "server error"),
        request_headers=[["X-Katya-Timestamp", str(int(at))]],
        response_headers=[["Content-Type", "text/plain"]],
        response_body=kw.pop("body", ""),
        **kw,
    )
    return a.to_doc()


def seed_flow(store: Store) -> None:
    """Two webhooks, a forged capture, its event, one delivered and one pending delivery."""
    store.table("webhooks").insert(webhook_doc())
    store.table("webhooks").insert(
        webhook_doc(id="webhook_fixed02", name="audit-log", url="http://127.0.0.1:9/audit", events=["*"])
    )
    cap = forged_capture()
    store.table("captures").insert(cap.to_doc())
    store.table("events").insert(
        Event(
            id=EVENT_ID,
            type="message.created",
            data={"messageId": "msg_1", "text": "hello"},
            created_at=T0 + 2,
            source="hook",
            capture_id=CAPTURE_ID,
            verdict="invalid",
        ).to_doc()
    )
    store.table("deliveries").insert(
        Delivery(
            id=DELIVERY_OK,
            webhook_id=WEBHOOK_ID,
            event_id=EVENT_ID,
            event_type="message.created",
            url="http://127.0.0.1:9/webhooks",
            state="delivered",
            created_at=T0 + 2,
            attempts=[attempt(1, 503, T0 + 2, body="upstream busy"), attempt(2, 200, T0 + 3, body="thanks")],
            verdict="invalid",
        ).to_doc()
    )
    store.table("deliveries").insert(
        Delivery(
            id=DELIVERY_PENDING,
            webhook_id="webhook_fixed02",
            event_id=EVENT_ID,
            event_type="message.created",
            url="http://127.0.0.1:9/audit",
            state="pending",
            created_at=T0 + 2,
            attempts=[
                attempt(1, None, T0 + 2, error_class="refused", reason="connection refused", latency_ms=None)
            ],
            next_attempt_at=T0 + 9,
            verdict="invalid",
        ).to_doc()
    )


ACTIVITY_TYPES = (
    "message.created",
    "message.created",
    "message.updated",
    "security.alert.created",
    "trust.verification.created",
    "message.created",
    "room.created",
    "message.deleted",
)


def seed_activity(store: Store) -> None:
    """`seed_flow`, plus an hour of events (busier lately) and finished deliveries with varied latencies."""
    seed_flow(store)
    events, deliveries = store.table("events"), store.table("deliveries")
    for i in range(240):
        at = T0 - 3600 + 3600 * (i / 240) ** 0.5
        etype = ACTIVITY_TYPES[(i * 7) % len(ACTIVITY_TYPES)]
        events.insert(Event(id=f"evt_a{i:03d}", type=etype, data={}, created_at=at, source="demo").to_doc())
        if i % 3 == 0:
            ok = i % 27 != 0
            hook = WEBHOOK_ID if i % 2 == 0 else "webhook_fixed02"
            deliveries.insert(
                Delivery(
                    id=f"dlv_a{i:03d}",
                    webhook_id=hook,
                    event_id=f"evt_a{i:03d}",
                    event_type=etype,
                    url="http://127.0.0.1:9/x",
                    state="delivered" if ok else "failed",
                    created_at=at,
                    attempts=[attempt(1, 200 if ok else 500, at, latency_ms=20.0 + (i * 37) % 400)],
                ).to_doc()
            )
