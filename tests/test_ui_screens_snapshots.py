"""Snapshots of engineer B's screens: fixed size, fixed clock (UTC) and ids, no port in the picture."""

from __future__ import annotations

from ui_main_helpers import reads_done, until
from ui_support import CAPTURE_ID, DELIVERY_PENDING, T0, WEBHOOK_ID, ScreenApp, seed_activity, seed_flow

from katya_tui.core.service import Service
from katya_tui.ui.clock import Clock
from katya_tui.ui.screens.detail import DetailScreen
from katya_tui.ui.screens.dialogs import ConfirmDialog, EventTypePicker, ReplayDialog
from katya_tui.ui.screens.endpoints import EndpointsScreen
from katya_tui.ui.screens.stats import StatsScreen
from katya_tui.ui.screens.subscription_form import SubscriptionForm

SIZE = (120, 36)
CLOCK = Clock(now=lambda: T0 + 5, utc=True)


async def detail_shown(pilot) -> None:
    """Until the detail screen shows its item (read on a thread, then written into its tabs)."""
    await until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen) and pilot.app.screen.shown)
    await pilot.pause()


def app_for(settings, make, prepare=seed_flow, seed=None) -> ScreenApp:
    return ScreenApp(Service(settings), make, prepare, seed)


def with_endpoint(svc: Service) -> None:
    svc.receiver.endpoints.put(
        {
            "name": "orders",
            "secrets": ["whsec_one", "whsec_two"],
            "scheme": "katya",
            "forward_to": "http://localhost:3000/hooks",
            "routes": [{"match": "security.*", "to": "http://localhost:3000/security"}],
            "response": {"sequence": [500, 500, 200], "retry_after": 2},
        }
    )


def test_detail_signature_tab(snap_compare, settings):
    app = app_for(settings, lambda svc: DetailScreen(svc, "capture", CAPTURE_ID, clock=CLOCK))
    assert snap_compare(app, terminal_size=SIZE, run_before=detail_shown, press=["right"])


def test_detail_delivery_attempts(snap_compare, settings):
    app = app_for(settings, lambda svc: DetailScreen(svc, "delivery", DELIVERY_PENDING, clock=CLOCK))
    assert snap_compare(app, terminal_size=SIZE, run_before=detail_shown)


def test_subscription_form_edit(snap_compare, settings):
    app = app_for(settings, lambda svc: SubscriptionForm(svc, WEBHOOK_ID))
    assert snap_compare(app, terminal_size=SIZE, run_before=reads_done)


def test_endpoints_screen(snap_compare, settings):
    app = app_for(settings, EndpointsScreen, seed=with_endpoint)
    assert snap_compare(app, terminal_size=SIZE, run_before=reads_done)


def test_stats_screen(snap_compare, settings):
    app = app_for(settings, lambda svc: StatsScreen(svc, clock=CLOCK, interval=0), seed_activity)
    assert snap_compare(app, terminal_size=SIZE, run_before=reads_done)


def test_replay_dialog(snap_compare, settings):
    app = app_for(settings, lambda svc: ReplayDialog(svc, CAPTURE_ID), seed=with_endpoint)
    assert snap_compare(app, terminal_size=SIZE, run_before=reads_done)


def test_event_type_picker(snap_compare, settings):
    app = app_for(settings, lambda svc: EventTypePicker("Send a test event of type"), None)
    assert snap_compare(app, terminal_size=SIZE, run_before=reads_done, press=list("trust"))


def test_confirm_dialog(snap_compare, settings):
    app = app_for(
        settings, lambda svc: ConfirmDialog("Resend all 12 failed deliveries matching the filter?"), None
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=reads_done)
