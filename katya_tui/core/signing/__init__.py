"""Signing core: sign and verify webhooks under every supported scheme, and explain each verdict.

Pure functions with an injected clock; no terminal, no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ._base import HeaderPairs, Signed, SigningConfigError
from ._engine import verify_one
from ._registry import SCHEMES, get
from .auto import detect_scheme, verify_auto
from .verdict import Verdict

__all__ = ["SCHEMES", "Signed", "SigningConfigError", "Verdict", "detect_scheme", "sign", "verify"]


def sign(
    scheme: str,
    body: bytes,
    secret: str,
    *,
    timestamp: int | None = None,
    msg_id: str | None = None,
    now: float | None = None,
) -> Signed:
    """Sign ``body`` under ``scheme``; raise SigningConfigError for an empty secret or an unknown scheme."""
    s = get(scheme)
    if not isinstance(secret, str) or not secret.strip():
        raise SigningConfigError("the secret is empty")
    ts = int(timestamp) if timestamp is not None else int(now if now is not None else time.time())
    if ts < 0:
        raise SigningConfigError("the timestamp must not be negative")
    return s.sign(bytes(body), s.key(secret), ts, msg_id if msg_id is not None else s.new_id())


def verify(
    scheme: str,
    *,
    body: bytes,
    headers: HeaderPairs,
    secrets: list[str] | list[tuple[str, str]],
    now: float,
    tolerance_s: int = 300,
    method: str = "POST",
    url: str = "",
    seen_ids: Callable[[str], bool] | None = None,
    other_endpoints: dict[str, list[str]] | None = None,
) -> Verdict:
    """Verify one received request; ``scheme`` may be ``"auto"``. Never mutates its arguments.

    ``method`` and ``url`` are accepted for schemes that sign them; none of the current ones does.
    """
    if scheme == "auto":
        return verify_auto(body, headers, secrets, now, tolerance_s, seen_ids, other_endpoints)
    return verify_one(get(scheme), body, headers, secrets, now, tolerance_s, seen_ids, other_endpoints)
