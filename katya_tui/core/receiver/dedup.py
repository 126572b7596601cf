"""Ids already seen per endpoint within a window: duplicates are flagged on the capture, never dropped."""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    """`(endpoint, id) -> (first capture id, time)`, oldest first; entries past `window_s` or `cap` are forgotten."""

    def __init__(self, window_s: float = 24 * 3600, cap: int = 200_000) -> None:
        self.window_s = window_s
        self.cap = cap
        self._seen: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen and (next(iter(seen.values()))[1] <= now - self.window_s or len(seen) > self.cap):
            seen.popitem(last=False)

    def first(self, endpoint: str, msg_id: str, now: float) -> str | None:
        """The capture that first carried `msg_id` on `endpoint` within the window, or None."""
        self._expire(now)
        found = self._seen.get((endpoint, msg_id))
        return found[0] if found else None

    def add(self, endpoint: str, msg_id: str, capture_id: str, at: float) -> None:
        """Remember `msg_id` (the first sighting wins); `first` has just forgotten what is past the window."""
        self._seen.setdefault((endpoint, msg_id), (capture_id, at))
        if len(self._seen) > self.cap:
            self._seen.popitem(last=False)
