"""Retry policy math (seed 000) and the status-code rules (seed 003), as pure functions.

Retry n (n >= 1) waits `retryDelay * backoffMultiplier^(n-1)` ms, capped at `maxRetryDelay`. Retried: connection
errors, timeouts, 408, 429 and 5xx. Not retried: other 4xx. 3xx is a failure and is not followed. A `Retry-After`
answer (seconds or an HTTP date) replaces the schedule's delay, up to `maxRetryDelay`.

The schedule's delay gets a jitter of +-`JITTER` of itself (still capped at `maxRetryDelay`): deliveries that failed
together (a target that went down) spread out instead of retrying in lockstep, while each retry stays near the
delay the policy names. Not "full jitter" (anywhere from 0 to the delay): a retry a few milliseconds after the
failure would defeat the backoff a user set. A `Retry-After` is the target's own word and is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

DEFAULT_POLICY: dict[str, Any] = {
    "maxRetries": 3,
    "retryDelay": 1000,
    "backoffMultiplier": 2,
    "maxRetryDelay": 30000,
}
RETRYABLE_4XX = frozenset({408, 429})
JITTER = 0.1  # a scheduled retry waits its delay times a factor drawn from [1 - JITTER, 1 + JITTER]
_DELAY_SECONDS = re.compile(r"[0-9]+")  # RFC 9110: delay-seconds = 1*DIGIT, ASCII digits only
_HUGE_S = 10**9  # a longer delay-seconds is as good as forever (and `int()` refuses some long digit strings)


def delay_ms(policy: dict[str, Any], n: int) -> float:
    """How long retry `n` (1 = the first retry) waits, in milliseconds."""
    p = {**DEFAULT_POLICY, **policy}
    raw = float(p["retryDelay"]) * float(p["backoffMultiplier"]) ** max(0, n - 1)
    return min(raw, float(p["maxRetryDelay"]))


def retry_after_s(headers: list[list[str]] | list[tuple[str, str]], now: float) -> float | None:
    """The `Retry-After` of an answer in seconds from `now`, or None when there is none or it is unreadable.

    RFC 9110 section 10.2.3: ASCII digits are delay-seconds; anything else is read as an HTTP date (a date in the
    past means now); what is neither (a negative number, a Unicode digit, garbage) is ignored."""
    value = next((v for k, v in headers if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(_HUGE_S) if len(value) > 9 else float(int(value))
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": a date in UTC with no zone said
            when = when.replace(tzinfo=UTC)
        at = when.timestamp()
    except (
        TypeError,
        ValueError,
        IndexError,
        OverflowError,
        OSError,
    ):  # (a bad date raises, never gives None)
        return None
    return max(0.0, at - now)


@dataclass(frozen=True)
class Outcome:
    """What one attempt's result means: `delivered`, `retry` or `fail`, and why (the retry reason header)."""

    verdict: str
    reason: str


@lru_cache(maxsize=4096)  # outcomes are immutable: each one is made once and shared
def judge(status: int | None, error_class: str | None) -> Outcome:
    """Seed 003's table: 2xx done, 4xx (but 408/429) final, 5xx and network trouble retried, 3xx a failure."""
    if status is None:
        return Outcome("retry", error_class or "error")
    if 200 <= status < 300:
        return Outcome("delivered", f"status_{status}")
    if 300 <= status < 400:
        return Outcome("fail", f"redirect_{status} (not followed)")
    if status in RETRYABLE_4XX or status >= 500:
        return Outcome("retry", f"status_{status}")
    return Outcome("fail", f"status_{status}")


def next_delay_s(
    policy: dict[str, Any],
    retries_done: int,
    headers: list[list[str]],
    now: float,
    random: Callable[[], float] | None = None,
) -> float | None:
    """Seconds until the next retry after a retryable attempt, or None when the policy has no retries left.

    `retries_done` counts the retries already made (0 after the first attempt). `random` (a float in [0, 1), as
    `random.random` gives) draws the jitter; None: no jitter."""
    p = {**DEFAULT_POLICY, **policy}
    if retries_done >= int(p["maxRetries"]):
        return None
    cap_s = float(p["maxRetryDelay"]) / 1000
    asked = retry_after_s(headers, now)
    if asked is not None:
        return min(asked, cap_s)
    delay = delay_ms(p, retries_done + 1) / 1000
    if random is not None:
        delay = min(delay * (1 - JITTER + 2 * JITTER * random()), cap_s)
    return delay
