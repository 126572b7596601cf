"""Snapshots of the main screen: fixed size, fixed clock (UTC) and ids, a placeholder URL instead of the port."""

from __future__ import annotations

import hashlib

from ui_main_helpers import reads_done
from ui_support import T0, attempt, seed_flow

from katya_tui.core.models import Capture, Delivery, Event
from katya_tui.core.store import Store
from katya_tui.ui.app import KatyaApp
from katya_tui.ui.clock import Clock

CLOCK = Clock(now=lambda: T0 + 30, utc=True)
URL = "http://127.0.0.1:8765"
VERDICTS = ("valid", "stale", "duplicate", "missing", "malformed", "unsigned", "valid", "invalid")


def capture(i: int, verdict: str | None, **kw) -> dict:
    body = b'{"event":"message.created","data":{}}'
    return Capture(
        id=f"cap_main{i:02d}",
        endpoint=kw.pop("endpoint", "wazzup"),
        method=kw.pop("method", "POST"),
        path=kw.pop("path", "/hooks/wazzup"),
        query="",
        headers=[["Content-Type", "application/json"]],
        body=body.decode(),
        body_encoding="utf8",
        body_size=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        truncated=False,
        remote="127.0.0.1",
        received_at=T0 + 3 + i,
        verdict={"status": verdict, "reason": verdict} if verdict else None,
        response={"status": kw.pop("status", 200), "latency_ms": 0.8},
        **kw,
    ).to_doc()


def seed_main(store: Store) -> None:
    """B's flow (a forged capture, its event, two subscriptions, a delivered and a pending delivery), plus a
    capture of every verdict, events from the demo and a trigger, a failed delivery and a replay."""
    seed_flow(store)
    captures, events, deliveries = store.table("captures"), store.table("events"), store.table("deliveries")
    for i, verdict in enumerate(VERDICTS):
        event_id = f"evt_main{i:02d}" if verdict in ("valid", "stale") else None
        doc = capture(
            i,
            verdict,
            event_id=event_id,
            event_type="message.created" if event_id else None,
            status=401 if verdict in ("invalid", "missing") else 200,
        )
        captures.insert(doc)
        if event_id:
            events.insert(
                Event(
                    id=event_id,
                    type="message.created",
                    data={},
                    created_at=T0 + 3 + i,
                    source="hook",
                    capture_id=doc["id"],
                    verdict=verdict,
                ).to_doc()
            )
    captures.insert(capture(20, None, method="GET", path="/hooks/github", endpoint="github"))
    captures.insert(capture(21, "valid", replay_of="cap_main00"))
    for i, (etype, source) in enumerate(
        (("room.created", "demo"), ("security.alert.created", "trigger"), ("trust.score.changed", "ws"))
    ):
        events.insert(
            Event(id=f"evt_side{i}", type=etype, data={}, created_at=T0 + 25 + i, source=source).to_doc()
        )
    deliveries.insert(
        Delivery(
            id="dlv_main01",
            webhook_id="webhook_fixed02",
            event_id="evt_side0",
            event_type="room.created",
            url="http://127.0.0.1:9/audit",
            state="failed",
            created_at=T0 + 25,
            attempts=[attempt(1, 500, T0 + 25, body="boom"), attempt(2, 502, T0 + 26, body="bad gateway")],
        ).to_doc()
    )
    deliveries.insert(
        Delivery(
            id="dlv_main02",
            webhook_id="webhook_fixed01",
            event_id="evt_main00",
            event_type="message.created",
            url="http://127.0.0.1:9/webhooks",
            state="delivered",
            created_at=T0 + 3,
            attempts=[attempt(1, 200, T0 + 3)],
            verdict="valid",
        ).to_doc()
    )


def app_with(settings, **kw) -> KatyaApp:
    store = Store(settings.data_dir, fsync=False)
    try:
        seed_main(store)
    finally:
        store.close()
    return KatyaApp(settings, clock=CLOCK, display_url=URL, **kw)


def test_main_screen(snap_compare, settings):
    assert snap_compare(app_with(settings), terminal_size=(120, 36), run_before=reads_done)


def test_main_screen_selection_and_filter(snap_compare, settings):
    # the forged capture selected (its deliveries below), then a filter that keeps only failures of signatures
    async def keys(pilot) -> None:  # each key once the reads it started (panes read off the loop) have landed
        await reads_done(pilot)
        for key in ["g", "slash", *"verdict:invalid,missing,malformed", "enter", "up"]:
            await pilot.press(key)
            await reads_done(pilot)

    assert snap_compare(app_with(settings), terminal_size=(120, 36), run_before=keys)


def test_main_screen_narrow(snap_compare, settings):
    assert snap_compare(app_with(settings), terminal_size=(80, 24), run_before=reads_done)
