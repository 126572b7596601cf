"""The detail screen against a started core: tabs, copy, pager, diff, replay, edit and replay."""

from __future__ import annotations

import json
import stat

from aiohttp import web
from textual.widgets import Static, TabbedContent, TabPane
from ui_main_helpers import until
from ui_support import CAPTURE_ID, DELIVERY_OK, DELIVERY_PENDING, SECRET, T0, ScreenApp, seed_flow

from katya_tui.core.service import Service
from katya_tui.ui.clock import Clock
from katya_tui.ui.screens.detail import DetailScreen, DetailView
from katya_tui.ui.screens.dialogs import ReplayDialog, TextViewer, replay_prefs

SIZE = (120, 36)
CLOCK = Clock(now=lambda: T0 + 5, utc=True)


def detail_app(settings, kind: str, id: str, prepare=seed_flow, seed=None) -> ScreenApp:
    return ScreenApp(Service(settings), lambda svc: DetailScreen(svc, kind, id, clock=CLOCK), prepare, seed)


def text_of(screen, selector: str) -> str:
    return "\n".join(str(w.render()) for w in screen.query(selector).results(Static))


async def opened(pilot) -> None:
    """Until the detail screen shows its item (read on a thread, then written into its tabs)."""
    await until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen) and pilot.app.screen.shown)


def tabs_shown(screen) -> list[str]:
    tabs = screen.query_one(TabbedContent)
    return [p.id for p in tabs.query(TabPane) if tabs.get_tab(p).display]


class Sink:
    """A local HTTP target that records what it receives."""

    def __init__(self) -> None:
        self.got: list[tuple[str, list[tuple[str, str]], bytes]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((request.path, [(k, v) for k, v in request.headers.items()], await request.read()))
        return web.json_response({"received": True}, status=202)

    async def __aenter__(self) -> Sink:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/target"
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_capture_detail_shows_request_signature_and_attempts(settings):
    app = detail_app(settings, "capture", CAPTURE_ID)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        assert tabs_shown(screen) == [
            "tab-request",
            "tab-signature",
            "tab-event",
            "tab-attempts",
            "tab-answer",
            "tab-forward",
        ]
        title = str(screen.query_one("#detail-title", Static).render())
        assert "✗ invalid" in title and "message.created" in title
        assert "X-Katya-Signature" in text_of(screen, "#tab-request Static")
        signature = text_of(screen, "#signature")
        assert "re-serialised" in signature and "expected" in signature and "received" in signature
        attempts = text_of(screen, "#attempts Static")
        assert "orders-service" in attempts and "HTTP 503" in attempts and "HTTP 200" in attempts
        assert "next attempt in 4s" in attempts  # the pending delivery, counted down on the fixed clock
        assert "not forwarded" in text_of(screen, "#tab-forward Static")
        # D: a capture that is not a replay has nothing to diff against, but its event's delivery has two attempts
        assert screen.check_action("diff", ()) is True
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, TextViewer)
        diff = str(app.screen.query_one("#body", Static).render())
        assert "-attempt 1: HTTP 503" in diff and "+attempt 2: HTTP 200" in diff
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_copy_curl_and_body(settings):
    app = detail_app(settings, "capture", CAPTURE_ID)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("c")
        assert app.clipboard.startswith("curl -sS")
        assert f"{app.service.url}/hooks/orders" in app.clipboard
        assert "X-Katya-Signature: sha256=" in app.clipboard
        await pilot.press("y")
        body = json.loads(app.clipboard)
        assert body["data"]["text"] == "hello"


async def test_event_and_delivery_kinds(settings):
    app = detail_app(settings, "delivery", DELIVERY_PENDING)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        screen = app.screen
        assert screen.query_one(TabbedContent).active == "tab-attempts"
        attempts = text_of(screen, "#attempts Static")
        assert "audit-log" in attempts and "refused" in attempts
        assert "orders-service" not in attempts  # only the delivery asked for
        assert screen.check_action("diff", ()) is None  # one attempt: nothing to compare
        assert screen.check_action("copy_curl", ()) is True  # it came from a capture

    app = detail_app(settings, "event", "evt_nothing", prepare=None)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        screen = app.screen
        assert "no event evt_nothing" in str(screen.query_one("#detail-title", Static).render())
        for action in ("copy_curl", "copy_body", "replay", "edit", "resend", "diff"):
            assert screen.check_action(action, ()) is None, action


async def test_event_without_capture(settings):
    def seed(svc):
        svc.publish_event("security.alert.created", {"alertId": "a1"}, source="trigger", event_id="evt_t1")

    app = detail_app(settings, "event", "evt_t1", prepare=None, seed=seed)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        screen = app.screen
        assert tabs_shown(screen) == ["tab-event", "tab-attempts"]
        assert "no subscription matched" in text_of(screen, "#attempts Static")
        assert screen.check_action("copy_curl", ()) is None
        await pilot.press("y")
        assert json.loads(app.clipboard) == {"alertId": "a1"}


async def test_pager_gets_everything(settings, tmp_path, monkeypatch):
    out = tmp_path / "paged.txt"
    pager = tmp_path / "pager.sh"
    pager.write_text(f"#!/bin/sh\ncat > {out}\n")
    pager.chmod(pager.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PAGER", str(pager))
    app = detail_app(settings, "capture", CAPTURE_ID)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("o")
        await pilot.pause()
    text = out.read_text()
    assert "== request ==" in text and "POST /hooks/orders" in text
    assert "re-serialised" in text
    assert f"== delivery {DELIVERY_OK}" in text and "attempt 2: HTTP 200" in text


async def wait_workers(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_replay_asks_then_remembers_and_diffs(settings):
    async with Sink() as sink:
        app = detail_app(settings, "capture", CAPTURE_ID)
        async with app.run_test(size=SIZE) as pilot:
            await opened(pilot)
            svc = app.service
            svc.receiver.endpoints.put({"name": "orders", "secrets": [SECRET], "forward_to": sink.url})
            await pilot.press("r")
            await pilot.pause()
            assert isinstance(app.screen, ReplayDialog)
            await pilot.press("enter")  # empty "to": the forward target; verbatim; remember ticked
            await wait_workers(app, pilot)
            assert len(sink.got) == 1
            original = svc.store.record("captures", CAPTURE_ID)
            path, headers, body = sink.got[0]
            assert path == "/target" and body.decode() == original["body"]
            assert dict(headers)["X-Katya-Signature"] == dict(original["headers"])["X-Katya-Signature"]
            # the replay's own record is shown, linked to its original, with the target's answer
            await opened(pilot)
            screen = app.screen
            assert isinstance(screen, DetailScreen) and screen.item_id != CAPTURE_ID
            assert screen.data.capture["replay_of"] == CAPTURE_ID
            assert "HTTP 202" in text_of(screen, "#tab-forward Static")
            assert replay_prefs(svc, "orders") == {"to": None, "resign": False}
            await pilot.press("D")
            await pilot.pause()
            diff = str(app.screen.query_one("#body", Static).render())
            assert f"--- {CAPTURE_ID}" in diff and "+POST /target" in diff
            await pilot.press("escape")
            # r again: the remembered choice, no dialog
            await pilot.press("r")
            await wait_workers(app, pilot)
            assert len(sink.got) == 2
            assert not isinstance(app.screen, ReplayDialog)


async def test_replay_dialog_refuses_bad_url_and_resigns(settings):
    async with Sink() as sink:
        app = detail_app(settings, "capture", CAPTURE_ID)
        async with app.run_test(size=SIZE) as pilot:
            await opened(pilot)
            app.service.receiver.endpoints.put({"name": "orders", "secrets": [SECRET], "scheme": "katya"})
            await pilot.press("R")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, ReplayDialog)
            await pilot.press("enter")  # no URL and no forward target
            await pilot.pause()
            assert "no forward target" in str(dialog.query_one("#to-error", Static).render())
            await pilot.press(*"ftp://x", "enter")
            await pilot.pause()
            assert "http://" in str(dialog.query_one("#to-error", Static).render())
            dialog.query_one("#to").value = sink.url
            dialog.query_one("#resign").value = True
            dialog.query_one("#remember").value = False
            await pilot.press("enter")
            await wait_workers(app, pilot)
            await opened(pilot)
            assert len(sink.got) == 1
            _, headers, body = sink.got[0]
            assert dict(headers)["X-Katya-Timestamp"] != str(int(T0))  # signed again now
            replay = app.screen.data.capture
            assert replay["verdict"]["status"] == "valid"
            assert replay_prefs(app.service, "orders") is None


async def test_edit_and_replay(settings, tmp_path, monkeypatch):
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\nsed -i 's/hello/edited by hand/; s/^User-Agent: .*/User-Agent: edited/' \"$1\"\n"
    )
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    async with Sink() as sink:
        app = detail_app(settings, "capture", CAPTURE_ID)
        async with app.run_test(size=SIZE) as pilot:
            await opened(pilot)
            app.service.receiver.endpoints.put({"name": "orders", "forward_to": sink.url})
            await pilot.press("E")
            await pilot.pause()
            assert isinstance(app.screen, ReplayDialog)
            await pilot.press("enter")
            await wait_workers(app, pilot)
        assert len(sink.got) == 1
        _, headers, body = sink.got[0]
        assert b"edited by hand" in body and not body.endswith(b"\n")
        assert dict(headers)["User-Agent"] == "edited"


async def test_edit_refuses_binary_bodies(settings, monkeypatch):
    from katya_tui.core.models import Capture

    def prepare(store):
        store.table("captures").insert(
            Capture(
                id="cap_bin",
                endpoint="x",
                method="POST",
                path="/hooks/x",
                query="",
                headers=[],
                body="/wA=",
                body_encoding="base64",
                body_size=2,
                body_sha256="",
                truncated=False,
                remote=None,
                received_at=T0,
            ).to_doc()
        )

    monkeypatch.setenv("EDITOR", "false")
    app = detail_app(settings, "capture", "cap_bin", prepare=prepare)
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        assert "00000000  ff 00" in text_of(app.screen, "#request-body")
        await pilot.press("E")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert any("binary" in str(n.message) for n in app._notifications)


def test_every_binding_has_id_and_tooltip():
    from katya_tui.ui.screens import dialogs, endpoints, stats, subscription_form

    screens = [
        DetailView,
        dialogs.ConfirmDialog,
        dialogs.ReplayDialog,
        dialogs.EventTypePicker,
        dialogs.TextViewer,
        endpoints.EndpointsScreen,
        stats.StatsScreen,
        subscription_form.SubscriptionForm,
    ]
    for screen in screens:
        for b in screen.BINDINGS:
            assert b.id and b.description and b.tooltip, (screen.__name__, b)


async def test_resend_from_the_detail_of_a_delivery(settings):
    async with Sink() as sink:
        ids: dict[str, str] = {}

        def seed(svc):
            hook = svc.dispatcher.create_webhook({"name": "sink", "url": sink.url, "events": ["message.*"]})
            svc.publish_event("message.created", {"text": "hi"}, source="trigger", event_id="evt_r1")
            ids["delivery"] = svc.dispatcher.last_fan_out[0]
            ids["hook"] = hook["id"]

        app = ScreenApp(
            Service(settings), lambda svc: DetailScreen(svc, "delivery", ids["delivery"]), seed=seed
        )
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(100):  # the first attempt goes out on its own
                await pilot.pause(0.02)
                if sink.got:
                    break
            assert len(sink.got) == 1
            screen = app.screen
            assert screen.check_action("resend", ()) is True
            await pilot.press("s")
            await wait_workers(app, pilot)
            assert len(sink.got) == 2
            attempts = screen.data.deliveries[0]["attempts"]
            assert [a["manual"] for a in attempts] == [False, True]
            assert "(resend)" in text_of(screen, "#attempts Static")
            assert screen.check_action("diff", ()) is True
