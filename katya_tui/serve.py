"""`katya-tui serve`: the core with no terminal UI, one JSON object a line on stdout.

Facts are printed in batches (one write and one flush per batch, at most every `PRINT_EVERY_S` under load), and a
capture is printed as a one-line summary (id, endpoint, method, path, verdict, answer status, event id), not the
whole document: its headers and body are in the store and on `GET /v1/captures/{id}`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any, TextIO

import orjson

from .config import Settings
from .core import gcpolicy
from .core.facts import CaptureRecorded, fact_to_dict
from .core.service import Service

log = logging.getLogger(__name__)

PRINT_EVERY_S = 0.005  # under load, facts gather this long between two writes (a lone fact prints at once)


def capture_line(capture: dict[str, Any]) -> dict[str, Any]:
    """What `serve` prints of a capture: enough to follow the traffic and look the capture up."""
    verdict = capture.get("verdict") or {}
    response = capture.get("response") or {}
    out = {
        "id": capture.get("id"),
        "endpoint": capture.get("endpoint"),
        "method": capture.get("method"),
        "path": capture.get("path"),
        "verdict": verdict.get("status"),
        "status": response.get("status"),
        "event_id": capture.get("event_id"),
    }
    if capture.get("duplicate_of"):
        out["duplicate_of"] = capture["duplicate_of"]
    return out


def _line(obj: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)
    except TypeError as exc:  # one odd fact must not stop the log
        log.warning("could not print a fact: %s", exc)
        return orjson.dumps(
            {"fact": obj.get("fact"), "error": f"unprintable: {exc}"}, option=orjson.OPT_APPEND_NEWLINE
        )


def fact_line(fact: Any) -> bytes:
    """One fact as a JSON line (a capture as its summary, see `capture_line`)."""
    if isinstance(fact, CaptureRecorded):
        return _line({"fact": "CaptureRecorded", "capture": capture_line(fact.capture)})
    return _line(fact_to_dict(fact))


def _write(out: TextIO, data: bytes) -> None:
    """Write whole lines and flush once: straight to the byte buffer when there is one."""
    if not data:
        return
    buf = getattr(out, "buffer", None)
    if buf is not None:
        out.flush()  # anything written as text before goes first
        buf.write(data)
        buf.flush()
    else:
        out.write(data.decode())
        out.flush()


async def serve(settings: Settings, out: TextIO = sys.stdout) -> None:
    """Run until SIGINT or SIGTERM; the first line is the ready object, then one line per fact."""
    gcpolicy.for_serve()
    service = Service(settings, headless=True)
    facts = service.bus.subscribe(maxsize=100_000)
    await service.start()
    gcpolicy.settle()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (
        signal.SIGINT,
        signal.SIGTERM,
    ):  # before the ready line: a signal right after it stops cleanly
        loop.add_signal_handler(sig, stop.set)
    _write(
        out,
        _line(
            {"ready": True, "url": service.url, "ws_url": service.ws_url, "data_dir": str(settings.data_dir)}
        ),
    )

    async def pump() -> None:
        while True:
            batch = await facts.get_batch(10_000)
            _write(out, b"".join(map(fact_line, batch)))
            await asyncio.sleep(PRINT_EVERY_S)  # let the next facts gather: one write for many

    printer = asyncio.create_task(pump())
    await stop.wait()
    await service.stop("signal")
    await asyncio.sleep(0)
    printer.cancel()
    _write(out, b"".join(map(fact_line, facts.drain())))
