"""Relay (like `stripe listen --forward-to`): pick the target by event type or the endpoint's `forward_to`, send the
exact bytes and headers (hop-by-hop ones excepted), and record what the target answered."""

from __future__ import annotations

from typing import Any

from .. import outbound
from ..catalog import matches
from .capture import HOP_BY_HOP


def target_for(cfg: dict[str, Any], event_type: str | None) -> tuple[str, str] | None:
    """(url, why): the first route whose pattern matches the event type, else `forward_to`, else None."""
    if event_type:
        for route in cfg.get("routes") or []:
            if matches(route["match"], event_type):
                return route["to"], f"route {route['match']}"
    if cfg.get("forward_to"):
        return cfg["forward_to"], "forward_to"
    return None


def end_to_end(headers: list[list[str]] | list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers to pass on, in order: everything but hop-by-hop ones, Host and Content-Length."""
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]


def with_query(url: str, query: str) -> str:
    """The target URL with the captured request's query string added."""
    if not query:
        return url
    return url + ("&" if "?" in url else "?") + query


def _text(body: Any) -> str:
    if isinstance(body, bytes | bytearray):
        return bytes(body).decode("utf-8", "replace")
    return "" if body is None else str(body)


async def send(
    client: outbound.Outbound,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    timeout: float,
    why: str,
) -> dict[str, Any]:
    """Send and describe the outcome as the capture's `forward` record (never raises for network trouble)."""
    r = await client.send(method, url, headers, body, timeout)
    return {
        "url": url,
        "via": why,
        "status": r.status,
        "headers": [[str(k), str(v)] for k, v in (r.headers or [])],
        "body": _text(r.body),
        "latency_ms": r.latency_ms,
        "error_class": r.error_class,
        "reason": r.reason,
        "truncated": getattr(r, "truncated", False),
        "sent": getattr(r, "sent", True),
    }
