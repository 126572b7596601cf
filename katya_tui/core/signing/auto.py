"""Scheme detection from the headers present (and, for wazzup, a ``signature`` field in a JSON body)."""

from __future__ import annotations

from collections.abc import Callable

from ._base import HeaderPairs, Headers, load_json
from ._engine import normalise, verify_one
from ._registry import all_schemes, get
from .verdict import Verdict

_RANK = {"valid": 0, "duplicate": 1, "stale": 2, "invalid": 3, "malformed": 4, "missing": 5, "unsigned": 6}


def detect_scheme(headers: HeaderPairs, body: bytes = b"") -> tuple[str, ...]:
    """Schemes that fit the request, best first; empty when none does.

    Signature headers decide first; then a JSON object body with a ``signature`` field (wazzup); then other
    headers typical of a scheme (``X-Katya-Delivery``, ``X-GitHub-Event``, ``svix-id``...).
    """
    h = Headers(headers)
    schemes = all_schemes()
    strong = tuple(s.name for s in schemes if any(h.has(n) for n in s.sig_headers))
    if strong:
        return strong
    obj = load_json(body) if b'"signature"' in body else None
    if isinstance(obj, dict) and "signature" in obj:
        return ("wazzup",)
    return tuple(s.name for s in schemes if any(h.has(n) for n in s.detect))


def verify_auto(
    body: bytes,
    headers: HeaderPairs,
    secrets: list,
    now: float,
    tolerance: int,
    seen_ids: Callable[[str], bool] | None,
    other_endpoints: dict[str, list[str]] | None,
) -> Verdict:
    """Verify under every scheme that fits and keep the best verdict, saying when several fit."""
    found = detect_scheme(headers, body)
    if not found:
        looked = [n for s in all_schemes() for n in s.sig_headers]
        line = f"looked for {', '.join(looked)} and a 'signature' field in a JSON body"
        if not normalise(secrets)[0]:
            reason = "no secret configured and no signature of a known scheme (add one with --secret)"
            return Verdict("unsigned", None, reason, [line])
        return Verdict("missing", None, "no signature of any known scheme", [line])
    verdicts = [
        verify_one(get(name), body, headers, secrets, now, tolerance, seen_ids, other_endpoints)
        for name in found
    ]
    best = min(verdicts, key=lambda v: _RANK.get(v.status, 9))
    if len(found) > 1:
        others = ", ".join(n for n in found if n != best.scheme)
        best.reason += f" (auto: the headers also fit {others})"
        if best.status != "valid":
            best.diagnosis.insert(
                0, f"the headers fit several schemes ({', '.join(found)}); chose {best.scheme}"
            )
    return best
