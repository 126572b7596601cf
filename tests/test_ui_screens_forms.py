"""Endpoints editor, dialogs, subscription form helpers and the stats screen, against a started core."""

from __future__ import annotations

import time

from textual.widgets import Checkbox, Input, OptionList, Select, Sparkline, Static, TextArea
from ui_support import T0, ScreenApp

from katya_tui.core import queries
from katya_tui.core.models import Event
from katya_tui.core.service import Service
from katya_tui.ui.clock import Clock
from katya_tui.ui.screens.dialogs import ConfirmDialog, EventTypePicker
from katya_tui.ui.screens.endpoints import EndpointsScreen, parse_headers, parse_routes
from katya_tui.ui.screens.stats import StatsScreen
from katya_tui.ui.screens.subscription_form import (
    EventsSuggester,
    SubscriptionForm,
    error_slot,
    new_secret,
    split_retry_errors,
)

SIZE = (120, 36)


def shown_error(screen, slot: str) -> str:
    line = screen.query_one(f"#err-{slot}", Static)
    return str(line.render()) if line.has_class("shown") else ""


async def test_endpoints_screen_validates_saves_and_deletes(settings):
    app = ScreenApp(Service(settings), EndpointsScreen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        endpoints = app.service.receiver.endpoints
        assert screen.current is None and screen.check_action("delete", ()) is None
        screen.query_one("#name", Input).value = "bad name!"
        screen.query_one("#response-status", Input).value = "999"
        screen.query_one("#response-sequence", Input).value = "500, nope"
        screen.query_one("#forward_to", Input).value = "ftp://x"
        screen.query_one("#routes", TextArea).text = "message.* = http://localhost:3000/m\nsecurity.*"
        screen.query_one("#rate-requests", Input).value = "0"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert endpoints.list() == []  # nothing saved
        assert "letters, digits" in shown_error(screen, "name")
        assert "100 to 599" in shown_error(screen, "response-status")
        assert '"timeout" or "drop"' in shown_error(screen, "response-sequence")
        assert "http://" in shown_error(screen, "forward_to")
        assert "routes[1]" in shown_error(screen, "routes")
        assert "rate_limit.requests" in shown_error(screen, "rate_limit")
        assert shown_error(screen, "scheme") == ""

        screen.query_one("#name", Input).value = "stripe-dev"
        screen.query_one("#secrets", TextArea).text = "whsec_one\n  whsec_two  \n"
        screen.query_one("#scheme", Select).value = "stripe"
        screen.query_one("#response-status", Input).value = "503"
        screen.query_one("#response-body", Input).value = '{"error": "busy"}'
        screen.query_one("#response-headers", Input).value = "X-Test: 1; X-Other: two"
        screen.query_one("#response-sequence", Input).value = "500 500 timeout 200"
        screen.query_one("#forward_to", Input).value = "http://localhost:3000/hooks"
        screen.query_one("#routes", TextArea).text = "message.* = http://localhost:3000/m"
        screen.query_one("#rate-requests", Input).value = "100"
        screen.query_one("#publish", Select).value = "verified"
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = endpoints.get("stripe-dev")
        assert saved is not None
        assert saved["publish"] == "verified"
        assert saved["secrets"] == ["whsec_one", "whsec_two"] and saved["scheme"] == "stripe"
        assert saved["response"]["status"] == 503 and saved["response"]["body"] == {"error": "busy"}
        assert saved["response"]["headers"] == {"X-Test": "1", "X-Other": "two"}
        assert saved["response"]["sequence"] == [500, 500, "timeout", 200]
        assert saved["routes"] == [{"match": "message.*", "to": "http://localhost:3000/m"}]
        assert saved["rate_limit"] == {"requests": 100, "window_s": 60}
        assert all(not line.has_class("shown") for line in screen.query(".field-error"))
        options = screen.query_one("#list", OptionList)
        assert options.get_option_at_index(options.highlighted).id == "stripe-dev"

        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen.query_one("#name", Input).value == "" and screen.current is None
        options.highlighted = 0
        options.action_select()
        await pilot.pause()
        assert screen.current == "stripe-dev"
        assert screen.query_one("#response-sequence", Input).value == "500, 500, timeout, 200"
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        assert endpoints.get("stripe-dev") is None and screen.current is None


async def test_endpoints_rename_moves_the_config(settings):
    def seed(svc):
        svc.receiver.endpoints.put({"name": "old", "secrets": ["s1"]})

    app = ScreenApp(Service(settings), EndpointsScreen, seed=seed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.current == "old"
        screen.query_one("#name", Input).value = "new"
        await pilot.press("ctrl+s")
        await pilot.pause()
        names = [c["name"] for c in app.service.receiver.endpoints.list()]
        assert names == ["new"]


def test_endpoint_field_parsers():
    assert parse_headers("A: 1; B: x:y") == {"A": "1", "B": "x:y"}
    assert parse_headers("no colon") == "no colon"
    assert parse_routes("a.* = http://x\n\nbad") == [{"match": "a.*", "to": "http://x"}, "bad"]


async def test_confirm_dialog_answers(settings):
    for keys, expected in (
        (["y"], True),
        (["n"], False),
        (["escape"], False),
        (["enter"], False),
        (["tab", "enter"], True),
    ):
        app = ScreenApp(Service(settings), lambda svc: ConfirmDialog("Delete it?"))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()
            assert app.results == [expected], keys


async def test_event_type_picker_filters_and_picks(settings):
    app = ScreenApp(Service(settings), lambda svc: EventTypePicker())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"security alert")
        await pilot.pause()
        options = app.screen.query_one("#types", OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids and all(i.startswith("security.alert") for i in ids)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.results == [ids[0]]

    app = ScreenApp(Service(settings), lambda svc: EventTypePicker())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]


async def test_events_suggester_completes_the_last_pattern():
    s = EventsSuggester()
    assert await s.get_suggestion("mess") in ("message.*", "message.created")
    assert (await s.get_suggestion("message.created, secu")).startswith("message.created, security.")
    assert await s.get_suggestion("message.created, ") is None
    assert await s.get_suggestion("zzz") is None


def test_secret_and_error_slots():
    assert new_secret("standard").startswith("whsec_")
    assert len(new_secret("katya")) == 48 and new_secret("katya") != new_secret("katya")
    assert error_slot("retryPolicy.maxRetries") == "retry-maxRetries"
    assert error_slot("retryPolicy") == "retryPolicy"
    assert error_slot("events[1]") == "events"
    assert error_slot("event_type") == "events"
    assert error_slot("whatever") == "general"
    assert split_retry_errors({"retryPolicy": ["maxRetries must be 0-100", "odd"], "url": ["bad"]}) == {
        "retry-maxRetries": ["must be 0-100"],
        "retryPolicy": ["odd"],
        "url": ["bad"],
    }


def seed_events(store):
    t = store.table("events")
    for i in range(90):  # one a minute over the last 90 minutes, and three security alerts in the last minute
        t.insert(
            Event(
                id=f"evt_m{i}", type="message.created", data={}, created_at=T0 - 60 * i - 30, source="demo"
            ).to_doc()
        )
    for i in range(3):
        t.insert(
            Event(
                id=f"evt_s{i}", type="security.alert.created", data={}, created_at=T0 - 5, source="demo"
            ).to_doc()
        )


async def test_stats_activity_and_types(settings):
    clock = Clock(now=lambda: T0, utc=True)
    app = ScreenApp(Service(settings), lambda svc: StatsScreen(svc, clock=clock, interval=0), seed_events)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        spark = screen.query_one("#spark", Sparkline)
        assert len(spark.data) == 60 and spark.data[-1] == 4 and sum(spark.data) == 63
        assert "63 events" in str(screen.query_one("#spark-title", Static).render())
        types = screen.query_one("#types")
        assert types.get_row_at(0)[0] == "message.created" and types.get_row_at(0)[1].startswith("    60")
        await pilot.press("p")  # last 24 hours: every event
        await pilot.pause()
        assert types.get_row_at(0)[1].startswith("    90")
        assert "last 24 hours" in str(screen.query_one("#headline", Static).render())


async def test_event_activity_counts_by_period(service):
    service.publish_event("message.created", {}, source="trigger")
    per_minute, types = queries.event_activity(service.store, time.time() + 1, None)
    assert sum(per_minute) == 1 and types == {"message.created": 1}


async def test_subscription_form_shows_the_dispatchers_errors_then_creates(settings):
    app = ScreenApp(Service(settings), lambda svc: SubscriptionForm(svc, None))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form = app.screen
        await pilot.press(*"orders", "tab", *"ftp://nowhere", "tab", *"message.created, bogus.thing")
        form.query_one("#retry-maxRetries", Input).value = "-1"
        form.query_one("#retry-retryDelay", Input).value = "soon"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.service.dispatcher.list_webhooks() == []
        assert "http" in shown_error(form, "url")
        assert "bogus.thing" in shown_error(form, "events")
        assert "between 0 and 100" in shown_error(form, "retry-maxRetries")
        assert "number" in shown_error(form, "retry-retryDelay")
        assert shown_error(form, "name") == ""
        assert app.results == []  # still open

        form.query_one("#url", Input).value = "http://localhost:3000/hooks"
        form.query_one("#events", Input).value = "message.created, security.*"
        form.query_one("#retry-maxRetries", Input).value = "5"
        form.query_one("#retry-retryDelay", Input).value = "500"
        form.query_one("#profile", Select).value = "standard"
        await pilot.click("#generate")
        secret = form.query_one("#secret", Input).value
        assert secret.startswith("whsec_") and not form.query_one("#secret", Input).password
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = app.results[0]
    assert saved["name"] == "orders" and saved["url"] == "http://localhost:3000/hooks"
    assert saved["events"] == ["message.created", "security.*"] and saved["profile"] == "standard"
    assert saved["secret"] == secret
    assert saved["retryPolicy"]["maxRetries"] == 5 and saved["retryPolicy"]["retryDelay"] == 500


async def test_subscription_form_edits_an_existing_one(settings):
    made = {}

    def seed(svc):
        made.update(
            svc.dispatcher.create_webhook({"name": "a", "url": "http://localhost:1/x", "events": ["*"]})
        )

    app = ScreenApp(Service(settings), lambda svc: SubscriptionForm(svc, made["id"]), seed=seed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form = app.screen
        assert form.query_one("#name", Input).value == "a"
        assert form.query_one("#events", Input).value == "*"
        form.query_one("#name", Input).value = ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert shown_error(form, "name")
        form.query_one("#name", Input).value = "renamed"
        form.query_one("#active", Checkbox).value = False
        form.query_one("#serialization", Select).value = "sorted"
        await pilot.press("ctrl+s")
        await pilot.pause()
        hook = app.service.dispatcher.get_webhook(made["id"])
    assert app.results[0]["id"] == made["id"]
    assert hook["name"] == "renamed" and hook["active"] is False and hook["serialization"] == "sorted"


async def test_subscription_form_cancel(settings):
    app = ScreenApp(Service(settings), lambda svc: SubscriptionForm(svc, None))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"x", "escape")
        await pilot.pause()
    assert app.results == [None]
