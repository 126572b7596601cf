"""What one attempt leaves behind, as pure functions: the attempt record, the delivery's next state, and the
retry headers the next attempt carries. The dispatcher sends; these decide what the answer means."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import outbound
from . import retry


def ended(attempt: dict[str, Any]) -> float:
    """When an attempt's answer came (or it gave up)."""
    return float(attempt.get("started_at") or 0) + float(attempt.get("latency_ms") or 0) / 1000


def retry_info(attempts: list[dict[str, Any]], manual: bool, now: float) -> tuple[int, str, float] | None:
    """(retry count, reason, seconds since the last answer) for the retry headers of the attempt after
    `attempts`; None for a first attempt."""
    if not attempts:
        return None
    last = attempts[-1]
    reason = "manual" if manual else retry.judge(last.get("status_code"), last.get("error_class")).reason
    return len(attempts), reason, 0.0 if manual else max(0.0, now - ended(last))


def settle(
    doc: dict[str, Any],
    hook: dict[str, Any],
    sent: tuple[int, float, str, list[tuple[str, str]]],
    result: outbound.OutboundResult,
    manual: bool,
    now: float,
    rand: Callable[[], float],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the attempt to append, the delivery's fields to set) once attempt `sent` = (n, started, url, request
    headers) of delivery `doc` for subscription `hook` got `result`. A manual attempt (a resend) that failed
    leaves the delivery's state and schedule as they were."""
    n, started, url, headers = sent
    outcome = retry.judge(result.status, result.error_class)
    if result.error_class == "config":
        outcome = retry.Outcome("fail", "config")
    error_class = result.error_class
    if error_class is None and outcome.verdict != "delivered":
        error_class = "redirect" if 300 <= (result.status or 0) < 400 else "http"
    attempt = {
        "n": n,
        "started_at": started,
        "latency_ms": result.latency_ms,
        "status_code": result.status,
        "error_class": error_class,
        "reason": result.reason,
        "request_headers": list(map(list, headers)),
        "response_headers": result.headers,
        "response_body": result.body,
        "manual": manual,
        "url": url,
        "outcome": outcome.verdict,
    }  # models.Attempt's fields in order
    fields: dict[str, Any] = {"url": url}
    if outcome.verdict == "delivered":
        fields.update(state="delivered", next_attempt_at=None)
    elif manual:
        pass
    elif outcome.verdict == "fail":
        fields.update(state="failed", next_attempt_at=None)
    else:
        retries_done = sum(1 for a in doc.get("attempts") or () if not a.get("manual"))
        wait = retry.next_delay_s(hook.get("retryPolicy") or {}, retries_done, result.headers, now, rand)
        if wait is None:
            fields.update(state="failed", next_attempt_at=None)
        else:
            fields.update(state="pending", next_attempt_at=now + wait)
    return attempt, fields
