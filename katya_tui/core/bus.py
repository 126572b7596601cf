"""The event bus: the core's only way to tell the outside (serve's log, the TUI, the WebSocket feed) what happened.

Publishing never blocks: each subscriber has a bounded queue; when it is full the oldest facts are dropped and
counted, so a slow reader never slows the receiver.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any


class BusSubscription:
    def __init__(self, bus: Bus, maxsize: int, accept: Callable[[Any], bool] | None) -> None:
        self._bus = bus
        self._queue: deque[Any] = deque()
        self._maxsize = maxsize
        self._accept = accept
        self._ready = asyncio.Event()
        self.dropped = 0

    def _put(self, fact: Any) -> None:
        if self._accept is not None and not self._accept(fact):
            return
        if len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(fact)
        self._ready.set()

    async def get_batch(self, max_items: int = 1000) -> list[Any]:
        """Wait for at least one fact, then return up to `max_items` of them, oldest first."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        n = min(max_items, len(self._queue))
        return [self._queue.popleft() for _ in range(n)]

    def drain(self) -> list[Any]:
        items = list(self._queue)
        self._queue.clear()
        return items

    def close(self) -> None:
        self._bus._remove(self)


class Bus:
    def __init__(self) -> None:
        self._subs: set[BusSubscription] = set()
        self._fanout: tuple[BusSubscription, ...] = ()  # a snapshot of `_subs`, remade on (un)subscribe only

    def publish(self, fact: Any) -> None:
        for sub in self._fanout:
            sub._put(fact)

    def subscribe(
        self, maxsize: int = 10_000, accept: Callable[[Any], bool] | None = None
    ) -> BusSubscription:
        sub = BusSubscription(self, maxsize, accept)
        self._subs.add(sub)
        self._fanout = tuple(self._subs)
        return sub

    def _remove(self, sub: BusSubscription) -> None:
        self._subs.discard(sub)
        self._fanout = tuple(self._subs)
