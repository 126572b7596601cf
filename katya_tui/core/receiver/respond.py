"""What to answer a captured request: the endpoint's response, its chaos (status sequences, delay, hold past the
sender's timeout, dropped connection, Retry-After), seed 004's validation, and the limits (413, 429)."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from .capture import Body
from .endpoints import default_response
from .intake import Intake

log = logging.getLogger(__name__)

_DEFAULT = default_response()

OK_BODY = b'{"status":"ok"}'
AVAILABLE_BODY = b'{"status":"ok","message":"Webhook endpoint is available"}'
WAZZUP_EVENTS = ("message", "status", "contact")
JSON = "application/json"


@dataclass
class Plan:
    """The answer decided for one request. `action`: answer | timeout (hold, then close) | drop (close at once)."""

    status: int
    body: bytes = OK_BODY
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON})
    delay_ms: int = 0
    action: str = "answer"
    hold_s: float = 0.0
    reason: str = "default answer"
    _record: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        """The capture's `response`, made once per plan: shared, never change it (copy it to add to it)."""
        if self._record is None:
            text = self.body.decode("utf-8", "replace")
            self._record = {
                "status": self.status,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": text,
                "action": self.action,
                "reason": self.reason,
                "delay_ms": self.delay_ms,
            }
        return self._record


def _json_plan(status: int, obj: Any, reason: str, **headers: str) -> Plan:
    return Plan(status, orjson.dumps(obj), {"Content-Type": JSON, **headers}, reason=reason)


def not_stored(reason: str, retry_after_s: int = 5) -> Plan:
    """The answer to a capture the disk refused (full, I/O error): nothing was acknowledged, send it again later."""
    msg = f"store not writable: {reason}; the request was not stored, retry later"
    obj = {"status": "error", "message": msg, "code": 503}
    return _json_plan(503, obj, msg, **{"Retry-After": str(retry_after_s)})


def wazzup_errors(body: bytes) -> dict[str, list[str]] | None:
    """Seed 004's checks: `{event, data}` required, event one of message/status/contact, data an object."""
    try:
        obj = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        return {"body": ["Body must be valid JSON"]}
    if not isinstance(obj, dict):
        return {"event": ["Event field is required"], "data": ["Data field is required"]}
    errors: dict[str, list[str]] = {}
    if obj.get("event") in (None, ""):
        errors["event"] = ["Event field is required"]
    elif obj["event"] not in WAZZUP_EVENTS:
        errors["event"] = [f"Event must be one of: {', '.join(WAZZUP_EVENTS)}"]
    if obj.get("data") is None:
        errors["data"] = ["Data field is required"]
    elif not isinstance(obj["data"], dict):
        errors["data"] = ["Data must be an object"]
    return errors or None


class RateLimiter:
    """A sliding-window count per endpoint; `check` answers None (allowed) or the seconds to wait."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def check(self, name: str, requests: int, window_s: float, now: float) -> int | None:
        hits = self._hits.setdefault(name, deque())
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if len(hits) >= requests:
            return max(1, math.ceil(hits[0] + window_s - now))
        hits.append(now)
        return None

    def reset(self, name: str) -> None:
        self._hits.pop(name, None)


class Responder:
    """Decides each answer; keeps each endpoint's place in its status sequence (reset when its config changes)."""

    def __init__(self) -> None:
        self._step: dict[str, int] = {}
        self._plans: dict[tuple[str, bool], tuple[dict[str, Any], Plan]] = {}
        self.limiter = RateLimiter()

    def reset(self, name: str) -> None:
        self._step.pop(name, None)
        self._plans = {k: v for k, v in self._plans.items() if k[0] != name}
        self.limiter.reset(name)

    def limits(self, cfg: dict[str, Any], method: str, body: Body, now: float) -> Plan | None:
        """413 / 408 / 400 for a body that did not arrive whole, 429 past the rate limit, 400 for seed 004's
        validation; None when the request passes."""
        if body.problem == "too_large":
            return _json_plan(413, {"status": "error", "message": body.detail, "code": 413}, body.detail)
        if body.problem == "timeout":
            return _json_plan(408, {"status": "error", "message": body.detail, "code": 408}, body.detail)
        if body.problem == "incomplete":
            return _json_plan(400, {"status": "error", "message": body.detail, "code": 400}, body.detail)
        rl = cfg.get("rate_limit")
        if rl and (wait := self.limiter.check(cfg["name"], rl["requests"], rl["window_s"], now)) is not None:
            msg = f"rate limit of {rl['requests']} requests per {rl['window_s']} s reached; retry in {wait} s"
            return _json_plan(
                429, {"status": "error", "message": msg, "code": 429}, msg, **{"Retry-After": str(wait)}
            )
        if cfg.get("validate") == "wazzup" and not (method in ("GET", "HEAD") and not body.data):
            errors = wazzup_errors(body.data)
            if errors:
                obj = {"status": "error", "message": "Invalid webhook data", "errors": errors}
                return _json_plan(400, obj, "seed 004 validation failed: " + ", ".join(sorted(errors)))
        return None

    def answer(self, cfg: dict[str, Any], method: str, body: bytes) -> Plan:
        """The configured answer, with the next step of the status sequence when there is one. Without a sequence
        the answer depends only on the config: made once per config (plans are never changed once made)."""
        r = cfg["response"]
        if r["sequence"]:
            return self._answer(cfg, method, body)
        key = (cfg["name"], method in ("GET", "HEAD") and not body)
        made = self._plans.get(key)
        if made is None or made[0] is not r:
            made = (r, self._answer(cfg, method, body))
            if key in self._plans or len(self._plans) < 10_000:  # any name is an endpoint: stay bounded
                self._plans[key] = made
        return made[1]

    def _answer(self, cfg: dict[str, Any], method: str, body: bytes) -> Plan:
        r = cfg["response"]
        status, action, reason = r["status"], r["mode"], "configured answer"
        seq = r["sequence"]
        if seq:
            i = self._step.get(cfg["name"], 0)
            self._step[cfg["name"]] = i + 1
            step = seq[min(i, len(seq) - 1)]
            reason = f"sequence step {min(i, len(seq) - 1) + 1} of {len(seq)}"
            if i >= len(seq):
                reason += " (repeating the last)"
            if isinstance(step, int):
                status, action = step, "answer"
            else:
                action = step
        headers = {"Content-Type": JSON}
        if r["body"] is None:
            if method in ("GET", "HEAD") and not body and status == 200:
                out, reason = (
                    AVAILABLE_BODY,
                    "availability answer" if reason == "configured answer" else reason,
                )
            else:
                out = OK_BODY if 200 <= status < 300 else orjson.dumps({"status": "error", "code": status})
        elif isinstance(r["body"], str):
            out = r["body"].encode("utf-8")
            headers["Content-Type"] = "text/plain; charset=utf-8"
        else:
            out = orjson.dumps(r["body"])
        if reason == "configured answer" and r == _DEFAULT:
            reason = "default answer"
        headers.update(r["headers"])
        if status in (429, 503) and not any(k.lower() == "retry-after" for k in headers):
            headers["Retry-After"] = str(r["retry_after"])
        return Plan(
            status,
            out,
            headers,
            r["delay_ms"],
            action,
            float(r["hold_s"]) if action == "timeout" else 0.0,
            reason,
        )


async def answer(
    request: web.BaseRequest, plan: Plan, took: Intake, sleep: Callable[[float], Awaitable[None]]
) -> web.Response:
    """Carry out `plan` on `request`'s connection: the answer (the connection closed after it when the body was
    cut: the rest is not worth reading), or no answer at all (chaos): the connection held past the sender's
    timeout, then dropped, or dropped at once."""
    if plan.action in ("timeout", "drop"):
        log.warning("%s %s: %s (chaos), no answer", took.cap.method, took.cap.path, plan.action)
        if plan.action == "timeout":
            await sleep(plan.hold_s)
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError(f"{plan.action} (chaos)")
    resp = web.Response(status=plan.status, body=plan.body, headers=plan.headers)
    if took.body.truncated:
        resp.force_close()
    return resp
