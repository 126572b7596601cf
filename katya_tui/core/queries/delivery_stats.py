"""Delivery statistics in seed 000's shape, computed from the stored deliveries and their attempts (no counters).

A delivery counts in a period when it was created in it; `total` is the finished ones (delivered + failed, as in
seed 000 where total = successful + failed); `pending` and `cancelled` are reported beside. Response times are the
latencies of the attempts in the period that got an HTTP answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..models import iso


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[min(len(sorted_values), int(rank)) - 1]


def compute(
    deliveries: Iterable[dict[str, Any]], *, webhook_id: str | None, start: float | None, end: float | None
) -> dict[str, Any]:
    states: Counter[str] = Counter()
    events: Counter[str] = Counter()
    latencies: list[float] = []
    attempts = 0
    for d in deliveries:
        if webhook_id is not None and d.get("webhook_id") != webhook_id:
            continue
        created = d.get("created_at") or 0
        if (start is not None and created < start) or (end is not None and created > end):
            continue
        states[d.get("state", "pending")] += 1
        events[d.get("event_type") or "?"] += 1
        for a in d.get("attempts") or ():
            attempts += 1
            if a.get("status_code") is not None and a.get("latency_ms") is not None:
                latencies.append(float(a["latency_ms"]))
    latencies.sort()
    ok, bad = states["delivered"], states["failed"]
    total = ok + bad
    return {
        "webhookId": webhook_id,
        "period": {"startDate": iso(start), "endDate": iso(end)},
        "delivery": {
            "total": total,
            "successful": ok,
            "failed": bad,
            "successRate": round(ok / total, 3) if total else None,
            "pending": states["pending"],
            "cancelled": states["cancelled"],
            "attempts": attempts,
        },
        "events": dict(events.most_common()),
        "responseTimes": {
            "average": round(sum(latencies) / len(latencies), 1) if latencies else None,
            "p50": _r(percentile(latencies, 50)),
            "p95": _r(percentile(latencies, 95)),
            "p99": _r(percentile(latencies, 99)),
        },
    }


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)
