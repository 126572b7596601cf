"""`katya-tui serve`: the core with no terminal UI, one JSON object a line on stdout."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TextIO

import orjson

from .config import Settings
from .core.facts import fact_to_dict
from .core.service import Service

log = logging.getLogger(__name__)


def _emit(out: TextIO, obj: dict) -> None:
    try:
        line = orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:  # one odd fact must not stop the log
        log.warning("could not print a fact: %s", exc)
        line = orjson.dumps({"fact": obj.get("fact"), "error": f"unprintable: {exc}"})
    out.write(line.decode() + "\n")
    out.flush()


async def serve(settings: Settings, out: TextIO = sys.stdout) -> None:
    """Run until SIGINT or SIGTERM; the first line is the ready object, then one line per fact."""
    service = Service(settings)
    facts = service.bus.subscribe(maxsize=100_000)
    await service.start()
    _emit(out, {"ready": True, "url": service.url, "ws_url": service.ws_url, "data_dir": str(settings.data_dir)})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def pump() -> None:
        while True:
            for fact in await facts.get_batch():
                _emit(out, fact_to_dict(fact))

    printer = asyncio.create_task(pump())
    await stop.wait()
    await service.stop("signal")
    await asyncio.sleep(0)
    printer.cancel()
    for fact in facts.drain():
        _emit(out, fact_to_dict(fact))
