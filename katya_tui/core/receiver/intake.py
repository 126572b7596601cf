"""The request-bound half of receiving: read the body, build the capture, verify its signature, recognise the
event. What to answer and what to store is decided by `Receiver.take_in`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ..catalog import HeaderGet, classify_body
from ..models import Capture, storable
from ..outbound import ORIGIN_HEADER
from ..signing import Verdict, verify
from .capture import Body, new_capture, raw_headers, read_body

log = logging.getLogger(__name__)

AUTHENTIC = (
    "valid",
    "stale",
    "duplicate",
)  # verdicts whose signature matched: its `expected` is what was sent
EXPECTED_SHOWN = (
    14  # characters of a failed check's expected signature kept: enough to compare, too few to use
)
Found = tuple[str, Any, str | None, str]
"""(event type, data, event id, where the data is in the body: "" the whole of it, else its key) of a body that
carries an event."""


@dataclass
class Intake:
    """One request as received: its capture (verdict set), body, event (if any), when it arrived, its origin."""

    cap: Capture
    body: Body
    found: Found | None
    started: float  # time.perf_counter() when it arrived
    origin: str | None  # the X-Katya-Origin header: which katya-tui instance sent it, if one did
    limited: bool = False  # answered by a limit (413, 408, 429, validation): set by `Receiver.decide`


async def take(
    request: web.BaseRequest,
    cfg: dict[str, Any],
    others: dict[str, list[str]],
    body_limit: int,
    idle_timeout: float,
    total_timeout: float,
    *,
    body: Body | None = None,
) -> Intake:
    """Read and verify one request on `/hooks/{endpoint}` (aiohttp); `others` are the other endpoints' secrets.
    `body`: the body already decided on (a refusal before it was sent), instead of reading it."""
    started = time.perf_counter()
    now = time.time()
    if body is None:
        body = await read_body(request, body_limit, idle_timeout, total_timeout)
    return intake(
        cfg,
        others,
        request.method,
        request.raw_path,
        raw_headers(request.raw_headers),
        request.remote,
        body,
        started,
        now,
    )


def intake(
    cfg: dict[str, Any],
    others: dict[str, list[str]],
    method: str,
    target: str,
    headers: list[list[str]],
    remote: str | None,
    body: Body,
    started: float,
    now: float,
) -> Intake:
    """A request whose body has been read."""
    cap = new_capture(method, target, headers, remote, cfg["name"], body, now)
    cap.body_note = body.detail or None
    cap.verdict = dict(
        vars(check(cfg, cap, body.data, now, others))
    )  # (vars, not asdict: the verdict is made for this capture alone, its lists need no deep copy)
    header = header_of(headers)
    found = classify(body.data, header) if not body.truncated else None
    if found and len(body.data) > 500 and not storable(found[1]):  # (256 levels take 512 bytes at least)
        cap.verdict["diagnosis"] = [*cap.verdict.get("diagnosis", []), TOO_DEEP]
        found = None
    if found:
        cap.event_type = found[0]
    fetch_site = header("Sec-Fetch-Site")
    cap.browser = header("Origin") is not None or (fetch_site is not None and fetch_site.lower() != "none")
    return Intake(cap, body, found, started, header(ORIGIN_HEADER))


def header_of(headers: list[list[str]]) -> HeaderGet:
    """`header(name)`: the first value of a header, whatever the case of its name; None when absent."""

    def header(name: str) -> str | None:
        name = name.lower()
        for k, v in headers:
            if k.lower() == name:
                return v
        return None

    return header


def verify_under(cfg: dict[str, Any], cap: Capture, body: bytes, now: float, **more: Any) -> Verdict:
    """`body`, with `cap`'s headers, method and path, verified under the endpoint config `cfg`."""
    return verify(
        cfg["scheme"],
        body=body,
        headers=cap.headers,
        secrets=cfg["secrets"],
        now=now,
        tolerance_s=cfg["tolerance_s"],
        method=cap.method,
        url=cap.path,
        **more,
    )


def check(
    cfg: dict[str, Any], cap: Capture, body: bytes, now: float, others: dict[str, list[str]]
) -> Verdict:
    """The verdict on `cap` under its endpoint's scheme and secrets, with the hints a user needs to act on it."""
    name = cfg["name"]
    try:
        v = verify_under(cfg, cap, body, now, other_endpoints=others)
    except Exception as exc:  # a verifier bug must never cost the capture
        log.exception("verification failed on capture %s", cap.id)
        return Verdict("malformed", None, f"verification could not run: {exc!r}")
    if v.status == "unsigned":
        v.diagnosis.append(
            f"to check signatures, add the secret: PUT /v1/endpoints/{name} with "
            f'{{"secrets": ["..."]}}, or a [[endpoints]] table with name = "{name}" in the config file'
        )
    if cap.truncated:
        v.diagnosis.append(f"the body is incomplete ({cap.body_note}); a signature over it cannot match")
    if v.expected and v.status not in AUTHENTIC:
        v.expected = v.expected[:EXPECTED_SHOWN] + "…"  # a forged request must not be handed the signature
    return v


TOO_DEEP = (
    "the body carries an event, but its data nests deeper than the store can write (255 levels): "
    "kept as this capture only, not published as an event"
)


def classify(body: bytes, header: HeaderGet) -> Found | None:
    """The event a JSON body carries (see `catalog.classify_body`); `header(name)` reads a request header."""
    if body.lstrip()[:1] != b"{":
        return None
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    found = classify_body(obj, header)
    return None if found is None else (*found, "" if found[1] is obj else "data")
