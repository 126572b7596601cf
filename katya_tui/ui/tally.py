"""Delivery counts per subscription, kept up to date from delivery documents (no Textual; one scan at start)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any


class Tally:
    """Delivery states by subscription. `update(doc)` moves one delivery from its old state to its new one."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[str, str]] = {}  # delivery id -> (webhook id, state)
        self.per: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.last: dict[str, float] = {}  # webhook id -> time of its last attempt

    def load(self, docs: Iterable[dict[str, Any]]) -> None:
        self._state.clear()
        self.per.clear()
        self.last.clear()
        for doc in docs:
            self.update(doc)

    def adopt(self, other: Tally) -> None:
        """Take the counts of `other` (one loaded off the loop), keeping this object, which the panes hold."""
        self._state, self.per, self.last = other._state, other.per, other.last

    def update(self, doc: dict[str, Any]) -> None:
        did, wid, state = doc.get("id"), doc.get("webhook_id") or "", doc.get("state") or "pending"
        if did is None:
            return
        prev = self._state.get(did)
        if prev is not None:
            self.per[prev[0]][prev[1]] -= 1
        self._state[did] = (wid, state)
        self.per[wid][state] += 1
        attempts = doc.get("attempts") or []
        if attempts:
            t = attempts[-1].get("started_at") or 0.0
            if t > self.last.get(wid, 0.0):
                self.last[wid] = t

    def forget(self, delivery_ids: Iterable[str]) -> None:
        """Deliveries pruned from the store."""
        for did in delivery_ids:
            prev = self._state.pop(did, None)
            if prev is not None:
                self.per[prev[0]][prev[1]] -= 1

    def rate(self, webhook_id: str) -> float | None:
        """Delivered / finished (delivered + failed), or None before anything finished."""
        c = self.per.get(webhook_id, Counter())
        done = c["delivered"] + c["failed"]
        return c["delivered"] / done if done else None

    def count(self, state: str, webhook_id: str | None = None) -> int:
        if webhook_id is not None:
            return self.per.get(webhook_id, Counter())[state]
        return sum(c[state] for c in self.per.values())
