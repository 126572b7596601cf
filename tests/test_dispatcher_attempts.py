"""What an answer means for a delivery (`dispatcher.attempts`), without sending anything."""

from __future__ import annotations

from katya_tui.core.dispatcher import attempts
from katya_tui.core.outbound import OutboundResult

HOOK = {"id": "webhook_1", "retryPolicy": {"maxRetries": 2, "retryDelay": 1000, "maxRetryDelay": 30000}}
SENT = (1, 100.0, "http://127.0.0.1:9/x", [("X-Katya-Event", "user.created")])


def no_jitter() -> float:
    return 0.5  # the middle of the jitter's range: the policy's own delay


def settle(result, doc=None, manual=False, hook=HOOK):
    return attempts.settle(doc or {"attempts": []}, hook, SENT, result, manual, 200.0, no_jitter)


def test_a_2xx_delivers_and_keeps_the_request_and_answer():
    attempt, fields = settle(OutboundResult(204, headers=[["Server", "x"]], body="", latency_ms=12.5))
    assert fields == {"url": SENT[2], "state": "delivered", "next_attempt_at": None}
    assert attempt["outcome"] == "delivered" and attempt["error_class"] is None
    assert attempt["request_headers"] == [["X-Katya-Event", "user.created"]]
    assert attempt["response_headers"] == [["Server", "x"]] and attempt["latency_ms"] == 12.5
    assert attempt["started_at"] == 100.0 and attempt["n"] == 1 and attempt["manual"] is False


def test_a_503_is_retried_after_its_retry_after_and_a_redirect_is_not_followed():
    _, fields = settle(OutboundResult(503, headers=[["Retry-After", "7"]]))
    assert fields["state"] == "pending" and fields["next_attempt_at"] == 207.0
    attempt, fields = settle(OutboundResult(302))
    assert fields["state"] == "failed" and attempt["error_class"] == "redirect"
    attempt, fields = settle(OutboundResult(404))
    assert fields["state"] == "failed" and attempt["error_class"] == "http"


def test_retries_stop_at_the_policy_and_manual_attempts_do_not_count():
    auto = {"manual": False}
    _, fields = settle(OutboundResult(500), doc={"attempts": [auto, {"manual": True}]})
    assert fields["state"] == "pending" and fields["next_attempt_at"] == 202.0  # the second retry: 2 s
    _, fields = settle(OutboundResult(500), doc={"attempts": [auto, auto, auto]})
    assert fields["state"] == "failed"


def test_a_failed_resend_leaves_the_delivery_as_it_was():
    attempt, fields = settle(OutboundResult(None, error_class="refused", reason="refused"), manual=True)
    assert fields == {"url": SENT[2]} and attempt["manual"] is True and attempt["outcome"] != "delivered"


def test_the_next_attempt_says_which_retry_it_is_and_why():
    assert attempts.retry_info([], manual=False, now=10.0) is None
    last = {"status_code": 503, "error_class": "http", "started_at": 4.0, "latency_ms": 1000.0}
    count, reason, since = attempts.retry_info([last], manual=False, now=10.0)
    assert count == 1 and since == 5.0 and reason
    assert attempts.retry_info([last], manual=True, now=10.0) == (1, "manual", 0.0)
