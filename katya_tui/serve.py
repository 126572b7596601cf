"""`katya-tui serve`: the core with no terminal UI, one JSON object a line on stdout.

Facts are printed in batches (one write and one flush per batch, at most every `PRINT_EVERY_S` under load), and a
capture is printed as a one-line summary (id, endpoint, method, path, verdict, answer status, event id), not the
whole document: its headers and body are in the store and on `GET /v1/captures/{id}`.

The writes are blocking and run on a thread of their own (`Printer`), fed through a bounded queue: a reader that
does not keep up (a paused terminal, a slow `jq`, a supervisor that does not drain the pipe) never stalls the event
loop, so the receiver, the API and the deliveries go on. Lines that find the queue full are dropped and counted; a
`{"fact": "FactsDropped", "count": N}` line stands where they were. The ready line and the last lines (with
ServiceStopping) are never dropped: they are waited for.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections import deque
from typing import Any, TextIO

import orjson

from .config import Settings
from .core import gcpolicy
from .core.facts import CaptureRecorded, EventPublished, fact_to_dict
from .core.service import Service

log = logging.getLogger(__name__)

PRINT_EVERY_S = 0.005  # under load, facts gather this long between two writes (a lone fact prints at once)
QUEUE_LINES = 20_000  # lines waiting for a slow reader; past this they are dropped and counted


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


EVENT_FIELDS = ("id", "type", "source", "capture_id", "verdict", "endpoint", "created_at")


def fact_line(fact: Any) -> bytes:
    """One fact as a JSON line: a capture as its summary (see `capture_line`), an event without its data (which
    can be as large as a body: it is on `GET /v1/events/{id}`)."""
    if isinstance(fact, CaptureRecorded):
        return _line({"fact": "CaptureRecorded", "capture": capture_line(fact.capture)})
    if isinstance(fact, EventPublished):
        return _line({"fact": "EventPublished", "event": {k: fact.event.get(k) for k in EVENT_FIELDS}})
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


class _Gap:
    """Where lines were dropped, and how many (grows while the queue stays full)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class Printer:
    """Writes lines to `out` on a thread of its own, from a queue of at most `limit` lines (see the module's
    docstring). `offer` never blocks the caller; `close` waits until everything queued is written."""

    def __init__(self, out: TextIO, limit: int = QUEUE_LINES) -> None:
        self._out = out
        self._limit = limit
        self._queue: deque[bytes | _Gap] = deque()
        self._lines = 0
        self._cond = threading.Condition()
        self._closing = False
        self.dropped = 0  # lines dropped so far, in all
        self._thread = threading.Thread(target=self._run, name="katya-serve-out", daemon=True)
        self._thread.start()

    def offer(self, lines: list[bytes], *, keep: bool = False) -> None:
        """Queue `lines`; those that find the queue full are dropped and counted, unless `keep`."""
        if not lines:
            return
        with self._cond:
            room = len(lines) if keep else max(0, self._limit - self._lines)
            if room < len(lines):
                gap = self._queue[-1] if self._queue and isinstance(self._queue[-1], _Gap) else None
                if gap is None:
                    gap = _Gap()
                    self._queue.append(gap)
                gap.count += len(lines) - room
                self.dropped += len(lines) - room
                lines = lines[:room]
            if lines:
                self._queue.append(b"".join(lines))
                self._lines += len(lines)
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                items, self._queue = self._queue, deque()
                self._lines = 0
            data = b"".join(
                item if isinstance(item, bytes) else _line({"fact": "FactsDropped", "count": item.count})
                for item in items
            )
            try:
                _write(self._out, data)
            except (OSError, ValueError):  # the reader went away (or stdout was closed): nobody to print for
                log.warning("stdout is gone: facts are no longer printed")
                with self._cond:
                    self._closing = True
                    self._queue.clear()
                return

    def close(self, timeout: float | None = None) -> bool:
        """Let the thread write what is queued and end; False when it has not finished within `timeout`."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()


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
    _write(  # before any traffic, and waited for: the caller learns the addresses from it
        out,
        _line(
            {"ready": True, "url": service.url, "ws_url": service.ws_url, "data_dir": str(settings.data_dir)}
        ),
    )
    printer = Printer(out)

    async def pump() -> None:
        while True:
            batch = await facts.get_batch(10_000)
            printer.offer(list(map(fact_line, batch)))
            await asyncio.sleep(PRINT_EVERY_S)  # let the next facts gather: one write for many

    pumping = asyncio.create_task(pump())
    await stop.wait()
    await service.stop("signal")
    await asyncio.sleep(0)
    pumping.cancel()
    printer.offer(list(map(fact_line, facts.drain())), keep=True)  # ServiceStopping is among them
    # wait for the reader to take the last lines; a second signal stops waiting
    stop.clear()
    while not printer.close(timeout=0) and not stop.is_set():
        await asyncio.sleep(0.02)
