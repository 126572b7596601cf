"""The event loop `serve` and the TUI run on: uvloop's where it is installed (Linux and macOS), faster than
asyncio's own at the socket work a receiver does (`bench/bench_receiver.py` prints both); Textual runs on any
asyncio loop. `KATYA_TUI_LOOP=asyncio` keeps asyncio's (to debug)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable


def fast_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A `loop_factory` for `asyncio.Runner`: uvloop's, or None for asyncio's own."""
    if os.environ.get("KATYA_TUI_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
