"""Ids already seen per endpoint within a window: duplicates are flagged on the capture, never dropped."""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple


class Sighting(NamedTuple):
    capture_id: str
    at: float
    authentic: bool  # its signature was valid


class SeenIds:
    """`(endpoint, id) -> Sighting` of the first capture that carried it (the first authentic one, once one came),
    oldest first; entries past `window_s` or `cap` are forgotten."""

    def __init__(self, window_s: float = 24 * 3600, cap: int = 200_000) -> None:
        self.window_s = window_s
        self.cap = cap
        self._seen: OrderedDict[tuple[str, str], Sighting] = OrderedDict()

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen and (next(iter(seen.values())).at <= now - self.window_s or len(seen) > self.cap):
            seen.popitem(last=False)

    def first(self, endpoint: str, msg_id: str, now: float) -> Sighting | None:
        """The sighting that first carried `msg_id` on `endpoint` within the window, or None."""
        self._expire(now)
        return self._seen.get((endpoint, msg_id))

    def add(self, endpoint: str, msg_id: str, capture_id: str, at: float, authentic: bool) -> None:
        """Remember `msg_id`: the first sighting wins, unless it was not authentic and this one is (a forged
        request that took an id first must not make the real one a repeat)."""
        key = (endpoint, msg_id)
        old = self._seen.get(key)
        if old is None or (authentic and not old.authentic):
            self._seen[key] = Sighting(capture_id, at, authentic)
        if len(self._seen) > self.cap:
            self._seen.popitem(last=False)
