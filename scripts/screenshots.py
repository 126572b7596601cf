"""Make the README screenshots: run the whole app through a realistic flow and save SVGs into `screenshots/`.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]

A local sink plays the user's services (one healthy, one flaky, one down); an endpoint `orders` verifies Katya
signatures; signed, re-serialised, stale and unsigned webhooks arrive over HTTP; triggers add events. Then:
main screen, delivery log narrowed to a subscription with retries pending, detail of a failed signature,
subscription form, stats, endpoints. The URL shown is a placeholder, not the random port used.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiohttp import web

from katya_tui.config import load_settings
from katya_tui.core.catalog import envelope, sample_data
from katya_tui.core.signing import sign
from katya_tui.ui.app import KatyaApp
from katya_tui.ui.screens.detail import DetailScreen
from katya_tui.ui.screens.endpoints import EndpointsScreen
from katya_tui.ui.screens.stats import StatsScreen
from katya_tui.ui.screens.subscription_form import SubscriptionForm

SIZE = (120, 36)
SECRET = "whsec_orders_demo_secret"


def free_port(wanted: int = 0) -> int:
    """`wanted` when it is free (so the pictures show the same URL on every run), else any free port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", wanted))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_sink() -> tuple[web.AppRunner, str]:
    """`/ok` answers 200 after a short delay; `/flaky` answers 503 to every other request."""
    count = {"flaky": 0}

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(0.005 + (hash(request.headers.get("X-Katya-Delivery", "")) % 60) / 1000)
        return web.json_response({"received": True})

    async def flaky(request: web.Request) -> web.Response:
        await request.read()
        count["flaky"] += 1
        return web.Response(status=503, text="busy") if count["flaky"] % 2 else web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/flaky", flaky)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port(3001)
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def send_webhooks(url: str) -> None:
    """Signed, re-serialised, stale and unsigned requests, and an availability check."""
    async with httpx.AsyncClient() as client:
        for i, etype in enumerate(
            [
                "message.created",
                "message.updated",
                "room.created",
                "message.created",
                "trust.verification.created",
                "message.deleted",
            ]
        ):
            body = json.dumps(envelope(etype, sample_data(etype)), separators=(",", ":")).encode()
            signed = sign("katya", body, SECRET, msg_id=f"dlv_demo{i}")
            await client.post(
                f"{url}/hooks/orders",
                content=signed.body,
                headers=dict(signed.headers)
                | {"Content-Type": "application/json", "User-Agent": "Katya-Webhooks/1.0"},
            )
        env = envelope("message.created", sample_data("message.created"))
        compact = json.dumps(env, separators=(",", ":")).encode()
        signed = sign("katya", compact, SECRET, msg_id="dlv_reser")
        await client.post(
            f"{url}/hooks/orders",
            content=json.dumps(env).encode(),  # a proxy re-serialised it
            headers=dict(signed.headers) | {"Content-Type": "application/json"},
        )
        stale = sign("katya", compact, SECRET, timestamp=int(time.time()) - 900, msg_id="dlv_stale")
        await client.post(f"{url}/hooks/orders", content=stale.body, headers=dict(stale.headers))
        await client.post(
            f"{url}/hooks/github?source=ci",
            json={"action": "opened", "number": 42},
            headers={"X-GitHub-Event": "pull_request"},
        )
        await client.get(f"{url}/hooks/orders")


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    runner, sink = await start_sink()
    data_dir = Path(tempfile.mkdtemp(prefix="katya-shots-"))
    settings = load_settings({"port": 0, "data_dir": str(data_dir), "token": "screenshot-token"}, env={})
    app = KatyaApp(settings, display_url="http://127.0.0.1:8765")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.3)
            svc = app.service
            d = svc.dispatcher
            orders = d.create_webhook(
                {"name": "orders-service", "url": f"{sink}/ok", "events": ["message.*"], "secret": SECRET}
            )
            d.create_webhook(
                {
                    "name": "audit-log",
                    "url": f"{sink}/flaky",
                    "events": ["*"],
                    "secret": "audit",
                    "retryPolicy": {
                        "maxRetries": 3,
                        "retryDelay": 300,
                        "backoffMultiplier": 2,
                        "maxRetryDelay": 2000,
                    },
                }
            )
            down = d.create_webhook(
                {
                    "name": "analytics",
                    "url": f"http://127.0.0.1:{free_port()}/events",
                    "events": ["analytics.*", "security.*"],
                    "secret": "analytics",
                    "retryPolicy": {
                        "maxRetries": 5,
                        "retryDelay": 20000,
                        "backoffMultiplier": 2,
                        "maxRetryDelay": 300000,
                    },
                }
            )
            svc.receiver.endpoints.put(
                {"name": "orders", "secrets": [SECRET], "scheme": "katya", "forward_to": f"{sink}/ok"}
            )
            await send_webhooks(svc.url)
            for etype in (
                "analytics.metric.updated",
                "security.alert.created",
                "system.status.changed",
                "analytics.report.completed",
            ):
                svc.publish_event(etype, sample_data(etype), source="trigger")
            await pilot.pause(2.5)
            app.save_screenshot("main.svg", str(out))

            subs = app.screen.query_one("#subs")
            subs.focus()
            subs.move_cursor(row=subs.get_row_index(down["id"]))
            await pilot.press("enter")
            await pilot.pause(0.5)
            app.screen.query_one("#log").focus()
            await pilot.pause(0.3)
            app.save_screenshot("delivery-log-retries.svg", str(out))

            forged = svc.store.table("captures").newest(
                1, where=lambda c: (c.get("verdict") or {}).get("status") == "invalid"
            )[0]
            detail = DetailScreen(svc, "capture", forged["id"])
            await app.push_screen(detail)
            for _ in range(100):  # read on a thread, then written into its tabs
                await pilot.pause(0.05)
                if detail.shown:
                    break
            await pilot.press("right")
            await pilot.pause(0.3)
            app.save_screenshot("detail-failed-signature.svg", str(out))
            app.pop_screen()

            await app.push_screen(SubscriptionForm(svc, orders["id"]))
            await pilot.pause(0.3)
            app.save_screenshot("subscription-form.svg", str(out))
            app.pop_screen()

            await app.push_screen(StatsScreen(svc))
            await pilot.pause(0.3)
            app.save_screenshot("stats.svg", str(out))
            app.pop_screen()

            await app.push_screen(EndpointsScreen(svc))
            await pilot.pause(0.3)
            app.save_screenshot("endpoints.svg", str(out))
    finally:
        await runner.cleanup()
    for name in sorted(p.name for p in out.glob("*.svg")):
        print(out / name)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")))
