"""Load generator for the UI benchmark, run as its own process: `python -m bench._flood URL RATE SECONDS`.

Sends ~1 KB JSON POSTs at up to RATE a second (open loop, at most 64 in flight) for SECONDS, each carrying an event
id of its own (every request is captured, published as an event and fanned out to the subscriptions, as in real
use; a fixed id would make all but the first a duplicate). Then prints one JSON line:
{"sent", "ok", "errors", "seconds", "rate"} where rate counts 2xx answers a second.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import aiohttp

PRE, POST = (
    part.encode()
    for part in json.dumps(
        {
            "id": "EVENT_ID",
            "type": "message.created",
            "createdAt": "2030-01-01T00:00:00Z",
            "data": {"text": "x" * 900},
        }
    ).split("EVENT_ID")
)


async def flood(url: str, rate: float, seconds: float) -> dict:
    gate = asyncio.Semaphore(64)
    ok = errors = sent = 0
    run = f"evt_{os.getpid()}_{int(time.time())}_"

    async def one(session: aiohttp.ClientSession, body: bytes) -> None:
        nonlocal ok, errors
        try:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                await r.read()
                ok += 200 <= r.status < 300
                errors += not 200 <= r.status < 300
        except aiohttp.ClientError:
            errors += 1
        finally:
            gate.release()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        start = time.perf_counter()
        tasks = set()
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(elapsed * rate) - sent
            for _ in range(due):
                await gate.acquire()
                t = asyncio.create_task(one(session, PRE + f"{run}{sent}".encode() + POST))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
        took = time.perf_counter() - start
    return {"sent": sent, "ok": ok, "errors": errors, "seconds": round(took, 3), "rate": round(ok / took, 1)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))), flush=True)
