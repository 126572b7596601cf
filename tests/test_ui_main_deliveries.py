"""Subscriptions pane and delivery log keys against the real dispatcher, delivering to a local sink.

(Not to the core's own receiver: a `*` subscription to it turns every delivery into a new event, a loop.)
"""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from textual.widgets import Input
from ui_main_helpers import panes, reads_done, running, until

from katya_tui.ui.screens.dialogs import ConfirmDialog, EventTypePicker
from katya_tui.ui.screens.main import MainScreen
from katya_tui.ui.screens.subscription_form import SubscriptionForm


class Sink:
    """A webhook receiver that answers `status` to every request and counts them."""

    def __init__(self) -> None:
        self.status = 200
        self.hits = 0
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(app)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        await request.read()
        return web.json_response({"ok": self.status < 400}, status=self.status)

    def url(self, path: str) -> str:
        return str(self.server.make_url(f"/{path}"))


@pytest.fixture
async def sink():
    s = Sink()
    await s.server.start_server()
    yield s
    await s.server.close()


def hook(app, sink: Sink, name: str, **policy) -> dict:
    """A subscription to every event, delivering to the sink."""
    retry = {"maxRetries": 0, "retryDelay": 10, "backoffMultiplier": 1, "maxRetryDelay": 10, **policy}
    return app.service.dispatcher.create_webhook(
        {"name": name, "url": sink.url(name), "events": ["*"], "retryPolicy": retry}
    )


async def focus_subs(app, pilot, wid: str) -> None:
    _, subs, _ = panes(app)
    subs.refresh_rows()
    await pilot.press("2")
    subs.move_cursor(row=subs.get_row_index(wid))
    await pilot.pause()


async def test_new_and_edit_open_the_form_and_the_saved_one_is_shown(settings):
    async with running(settings) as (app, pilot):
        _, subs, _ = panes(app)
        await pilot.press("2", "n")
        await until(pilot, lambda: isinstance(app.screen, SubscriptionForm))
        app.screen.query_one("#name", Input).value = "orders"
        app.screen.query_one("#url", Input).value = "http://127.0.0.1:9/x"
        app.screen.query_one("#events", Input).value = "message.*"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert [w["name"] for w in subs.webhooks.values()] == ["orders"]
        wid = subs.selected_id
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, SubscriptionForm) and app.screen.webhook_id == wid)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_space_pauses_and_resumes_and_d_deletes_after_asking(settings, sink):
    async with running(settings) as (app, pilot):
        _, subs, _ = panes(app)
        wid = hook(app, sink, "pausable")["id"]
        await focus_subs(app, pilot, wid)
        await pilot.press("space")
        assert app.service.dispatcher.get_webhook(wid)["active"] is False
        await pilot.press("space")
        assert app.service.dispatcher.get_webhook(wid)["active"] is True
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.service.dispatcher.get_webhook(wid) is not None
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: app.service.dispatcher.get_webhook(wid) is None)
        assert wid not in subs.webhooks and subs.check_action("delete", ()) is False


async def test_t_sends_a_test_event_of_the_chosen_type_and_enter_narrows_the_log(settings, sink):
    async with running(settings) as (app, pilot):
        stream, subs, log = panes(app)
        wid = hook(app, sink, "tested")["id"]
        other = hook(app, sink, "other")["id"]
        await focus_subs(app, pilot, wid)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, EventTypePicker))
        await pilot.press(*"room.created", "enter")
        await until(pilot, lambda: any(r.type == "room.created" and r.source == "test" for r in stream.rows))
        await pilot.press("enter")
        assert log.scope[:2] == ("webhook", wid) and log.has_focus
        await until(pilot, lambda: [d["state"] for d in log.docs.values()] == ["delivered"])
        assert all(d["webhook_id"] == wid for d in log.docs.values())
        await until(pilot, lambda: subs.tally.rate(wid) == 1.0 and subs.tally.rate(other) is None)
        await pilot.press("escape")  # back to the stream's selection (none: the latest of all)
        assert log.scope[0] == "all" and app.screen.pinned is None


async def test_failed_delivery_shows_status_and_inbound_verdict_and_s_resends(settings, sink):
    async with running(settings) as (app, pilot):
        stream, subs, log = panes(app)
        sink.status = 500
        wid = hook(app, sink, "down-sub")["id"]
        app.service.publish_event("message.created", {"id": "m"}, source="trigger", verdict="invalid")
        await until(pilot, lambda: [d["state"] for d in log.docs.values()] == ["failed"])
        row = stream.rows[-1]
        await until(pilot, lambda: row.deliveries and list(row.deliveries.values()) == ["failed"])
        text = " ".join(s.text for s in stream.row_segments(row, 118))
        assert "0/1 ok" in text
        did = next(iter(log.docs))
        cells = [str(c) for c in log.get_row(did)]
        assert cells[0] == "down-sub" and "failed" in cells[1] and cells[3] == "500" and "invalid" in cells[6]
        assert subs.tally.count("failed", wid) == 1
        await pilot.press("3")
        assert log.check_action("cancel", ()) is False  # not pending
        await pilot.press("s")
        await until(pilot, lambda: len(log.docs[did]["attempts"]) == 2)


async def test_S_resends_all_failed_matching_after_confirming_the_count(settings, sink):
    async with running(settings) as (app, pilot):
        _, _, log = panes(app)
        sink.status = 500
        hook(app, sink, "down-sub")
        for t in ("message.created", "message.deleted", "room.created"):
            app.service.publish_event(t, {}, source="trigger")
        await until(pilot, lambda: [d["state"] for d in log.docs.values()] == ["failed"] * 3)
        app.screen.set_filter(app.screen.flt.parse("type:message.*", now=app.clock.now()))
        await reads_done(pilot)  # the log reads its rows off the loop
        assert len(log.docs) == 2 and sorted(log.failed_matching()) == sorted(log.docs)
        await pilot.press("3", "S")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Resend 2 failed" in app.screen.message
        await pilot.press("y")
        await until(pilot, lambda: all(len(d["attempts"]) == 2 for d in log.docs.values()))
        room = app.service.store.table("deliveries").search(lambda d: d["event_type"] == "room.created")
        assert len(room[0]["attempts"]) == 1  # outside the filter: untouched


async def test_pending_retry_counts_down_and_x_cancels(settings, sink):
    async with running(settings) as (app, pilot):
        _, _, log = panes(app)
        sink.status = 503
        hook(app, sink, "slow-retry", maxRetries=3, retryDelay=60_000, maxRetryDelay=60_000)
        app.service.publish_event("message.created", {}, source="trigger")
        await until(pilot, lambda: any(len(d["attempts"]) == 1 for d in log.docs.values()))
        did = next(iter(log.docs))
        assert log.docs[did]["state"] == "pending"
        assert str(log.get_row(did)[5]).startswith("in ")  # the countdown to the next retry
        await pilot.press("3")
        assert log.check_action("cancel", ()) is True
        await pilot.press("x")
        await until(pilot, lambda: log.docs[did]["state"] == "cancelled")
        assert (
            app.service.store.table("deliveries").search(lambda d: d["id"] == did)[0]["state"] == "cancelled"
        )
