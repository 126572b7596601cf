"""Durability: `serve` killed with -9 while 200 deliveries are pending or in flight to a slow sink; after a restart
every one of the 200 event ids reaches the sink (at least once)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from aiohttp import web
from dispatcher_support import TOKEN, fast_policy, settle

ROOT = Path(__file__).parent.parent


def start_serve(data_dir: Path, log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "katya_tui", "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=out,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, "KATYA_TUI_TOKEN": TOKEN},
    )
    out.close()
    return proc


async def ready_url(log: Path, proc: subprocess.Popen, skip: int = 0) -> str:
    """The url of the ready line (the first `ready` object after `skip` earlier ones)."""

    def find() -> str | None:
        seen = 0
        for line in log.read_text(errors="replace").splitlines():
            if '"ready"' in line:
                seen += 1
                if seen > skip:
                    return json.loads(line)["url"]
        assert proc.poll() is None, "serve exited"
        return None

    return await settle(find, timeout=30, step=0.05)


async def test_kill_9_with_200_pending_then_restart_delivers_all(tmp_path):
    mode = {"slow": True}
    answered: set[str] = set()

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        if mode["slow"]:
            await asyncio.sleep(30)
            return web.Response(status=503)
        answered.add(body["id"])
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sink_url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"

    data, log = tmp_path / "data", tmp_path / "serve.log"
    proc = start_serve(data, log)
    try:
        url = await ready_url(log, proc)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=20) as api:
            r = await api.post(
                "/v1/webhooks",
                json={
                    "name": "sink",
                    "url": sink_url,
                    "events": ["*"],
                    "retryPolicy": fast_policy(retries=10, delay=50, cap=200),
                },
            )
            assert r.status_code == 201
            ids: list[str] = []
            for i in range(10):
                batch = [
                    {"type": "message.created", "id": f"evt_crash_{i}_{j}", "data": {"n": j}}
                    for j in range(20)
                ]
                r = await api.post("/v1/events", json=batch)
                assert r.status_code == 202
                ids += [e["id"] for e in r.json()["data"]]
        assert len(set(ids)) == 200
        await asyncio.sleep(0.3)  # some requests are now in flight to the slow sink, the rest wait
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        mode["slow"] = False
        proc = start_serve(data, log)
        await ready_url(log, proc, skip=1)
        await settle(lambda: answered >= set(ids), timeout=60, step=0.05)
        assert answered == set(ids)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        await runner.cleanup()
