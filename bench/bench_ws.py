"""WebSocket feed: events/s fanned out to 10 subscribed clients vs the rate the same process accepts events with no
clients, and publish→receipt latency (p50/p99) at a steady 1,000 events/s.

The clients run in a subprocess (aiohttp WebSocket clients); the service runs here.
`python -m bench.bench_ws` runs it alone.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time

from bench.common import figure, headline, percentile, ratio_line

CLIENTS = 10
BURST = 50_000  # events for the throughput figures
STEADY = 2_000  # events for the latency figure, at STEADY_RATE a second
STEADY_RATE = 1_000
TOKEN = "bench-token-123"
PAYLOAD = {
    "id": "msg_456",
    "roomId": "room_789",
    "senderId": "user_101",
    "senderName": "Alice",
    "content": "Hello, world!",
    "messageType": "text",
    "createdAt": "2024-01-01T12:00:00Z",
    "metadata": {"priority": "normal", "encrypted": True},
}


# -- the clients (subprocess) -------------------------------------------------------------------------------------


async def _clients(url: str, n_clients: int, burst: int, steady: int) -> None:
    """aiohttp clients with orjson: the lightest real clients, so the figure is the server's, not theirs."""
    import aiohttp
    import orjson

    counts = [0] * n_clients
    lat: list[float] = []
    done1 = asyncio.Event()
    done2 = asyncio.Event()

    async def one(i: int, ws) -> None:
        async for m in ws:
            msg = orjson.loads(m.data)
            if msg.get("type") != "event":
                continue
            counts[i] += 1
            if msg["data"].get("steady"):
                lat.append(time.monotonic() - msg["data"]["t"])
            if counts[i] == burst and all(c >= burst for c in counts):
                done1.set()
            if counts[i] == burst + steady:
                if all(c >= burst + steady for c in counts):
                    done2.set()
                return

    async with aiohttp.ClientSession() as http:
        conns = [await http.ws_connect(f"{url}?token={TOKEN}", autoping=True) for _ in range(n_clients)]
        for ws in conns:
            await ws.receive()  # connection
            await ws.send_str(json.dumps({"type": "subscribe", "channels": ["messages"]}))
            await ws.receive()  # response
        tasks = [asyncio.create_task(one(i, ws)) for i, ws in enumerate(conns)]
        print("ready", flush=True)
        await done1.wait()
        print(json.dumps({"phase": 1, "t_last": time.monotonic()}), flush=True)
        await done2.wait()
        lat_ms = [x * 1000 for x in lat]
        summary = {
            "p50": percentile(lat_ms, 50),
            "p99": percentile(lat_ms, 99),
            "max": max(lat_ms),
            "n": len(lat_ms),
        }
        print(json.dumps({"phase": 2, **summary}), flush=True)
        await asyncio.gather(*tasks)
        for ws in conns:
            await ws.close()


# -- the service (this process) -----------------------------------------------------------------------------------


async def _publish_burst(service, n: int, backlog_limit: int | None) -> float:
    """Publish n events as fast as the process accepts them; with clients, hold back while their queues are long
    (so the figure is the rate they are actually served, not the rate they are dropped). Returns seconds taken."""
    feed = service.feed
    t0 = time.monotonic()
    for i in range(n):
        service.publish_event("message.created", {**PAYLOAD, "i": i}, source="bench")
        if i % 100 == 99:
            await asyncio.sleep(0)
            while backlog_limit and feed.clients and max(len(c.queue) for c in feed.clients) > backlog_limit:
                await asyncio.sleep(0.001)
    while service.feed._sub._queue:  # until the feed has taken every fact off the bus
        await asyncio.sleep(0)
    return time.monotonic() - t0


async def _run() -> None:
    from katya_tui.config import load_settings
    from katya_tui.core.service import Service

    with tempfile.TemporaryDirectory() as d:
        settings = load_settings({"port": 0, "data_dir": d, "token": TOKEN, "fsync": False}, env={})
        service = Service(settings)
        await service.start()
        try:
            await _publish_burst(service, BURST // 10, None)  # uncounted: both figures below come after it
            c0 = time.process_time()
            base_s = await _publish_burst(service, BURST, None)
            base_rate = BURST / base_s
            base_cpu = (time.process_time() - c0) / BURST

            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.bench_ws",
                "--clients",
                service.ws_url,
                str(CLIENTS),
                str(BURST),
                str(STEADY),
                stdout=asyncio.subprocess.PIPE,
            )
            assert proc.stdout is not None
            assert (await proc.stdout.readline()).strip() == b"ready"
            t0, c0 = time.monotonic(), time.process_time()
            await _publish_burst(service, BURST, 1_000)
            phase1 = json.loads(await proc.stdout.readline())
            fan_rate = BURST / (phase1["t_last"] - t0)
            fan_cpu = (time.process_time() - c0) / BURST

            for i in range(STEADY):
                service.publish_event(
                    "message.created", {"steady": True, "t": time.monotonic(), "i": i}, source="bench"
                )
                if i % 10 == 9:
                    await asyncio.sleep(10 / STEADY_RATE)
            phase2 = json.loads(await proc.stdout.readline())
            await proc.wait()
        finally:
            await service.stop()

    ratio_line(
        f"ws fan-out to {CLIENTS} clients",
        fan_rate,
        "events/s",
        "accepted with no clients",
        base_rate,
        goal=0.3,
    )
    figure(f"ws messages delivered ({CLIENTS} clients)", f"{fan_rate * CLIENTS:,.0f} messages/s")
    ratio_line(
        f"ws service CPU an event, fanned out to {CLIENTS} clients",
        fan_cpu * 1e6,
        "µs",
        "with no clients",
        base_cpu * 1e6,
        goal=3,
        higher_is_better=False,
    )
    figure(
        f"ws latency publish→receipt at {STEADY_RATE:,} events/s, {CLIENTS} clients",
        f"p50 {phase2['p50']:.2f} ms, p99 {phase2['p99']:.2f} ms, max {phase2['max']:.2f} ms "
        f"over {phase2['n']:,} receipts",
    )
    figure("ws clients dropped as too slow", str(service.feed.dropped_slow))


def main() -> None:
    headline("websocket feed")
    asyncio.run(_run())


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--clients":
        asyncio.run(_clients(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
    else:
        main()
