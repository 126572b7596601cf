"""Which captures may become events (the receiver's rule, shared with `katya-tui import`)."""

from __future__ import annotations

from typing import Any


def publishable(cfg: dict[str, Any], verdict: dict[str, Any] | None) -> bool:
    """An accepted, first-seen capture becomes an event unless its endpoint publishes only verified requests."""
    return cfg.get("publish", "all") == "all" or (verdict or {}).get("status") == "valid"
