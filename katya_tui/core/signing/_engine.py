"""The verification flow for one scheme: headers, format, signature, timestamp, then duplicate id."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from ._base import _VERSIONED, HeaderPairs, Headers, Parsed, Scheme, SigningConfigError
from ._hmac import B64, HEX, decode, equal, mac
from .diagnose import diagnose
from .verdict import Verdict

ADD_SECRET = "add one with --secret, or to the endpoint's secrets"


def normalise(secrets: list | None) -> tuple[list[tuple[str, str]], list[str]]:
    """(label, secret) pairs, plain strings labelled ``#1``, ``#2``...; empty ones are dropped with a note."""
    named, notes = [], []
    for i, item in enumerate(secrets or [], 1):
        label, value = (str(item[0]), item[1]) if isinstance(item, tuple | list) else (f"#{i}", item)
        if not isinstance(value, str) or not value.strip():
            notes.append(f"secret {label} is empty and was ignored")
        else:
            named.append((label, value))
    return named, notes


Keys = tuple[list[tuple[str, str]], list[str], list[tuple[str, bytes]]]


def _keys(scheme: Scheme, secrets: list | None) -> Keys:
    """(named secrets, notes, (label, HMAC key) pairs) for a scheme's secrets; remembered for plain-text secret
    lists (an endpoint's, every request). The lists returned are shared: read them, never change them."""
    if secrets and all(type(s) is str for s in secrets):
        return _keys_of_texts(scheme, tuple(secrets))
    return _make_keys(scheme, secrets)


@lru_cache(maxsize=256)
def _keys_of_texts(scheme: Scheme, secrets: tuple[str, ...]) -> Keys:
    return _make_keys(scheme, list(secrets))


def _make_keys(scheme: Scheme, secrets: list | None) -> Keys:
    named, notes = normalise(secrets)
    keys = []
    for label, secret in named:
        try:
            keys.append((label, scheme.key(secret)))
        except SigningConfigError as e:
            notes.append(f"secret {label} is unusable here: {e}")
    return named, notes, keys


def _skew(scheme: Scheme, p: Parsed, now: float, tolerance: int) -> tuple[int | None, int | None]:
    """(now - timestamp, the same when it falls outside the window, else None)."""
    if p.timestamp is None or scheme.window is None:
        return None, None
    skew = math.floor(now) - p.timestamp
    stale = skew > tolerance if scheme.window == "past" else abs(skew) > tolerance
    return skew, skew if stale else None


def _skew_lines(scheme: Scheme, p: Parsed, skew: int, tolerance: int) -> list[str]:
    way = "past" if skew > 0 else "future"
    cause = (
        "the sender's clock is behind, or the request is a replay"
        if skew > 0
        else "the sender's clock is ahead"
    )
    only = ", past only" if scheme.window == "past" else ""
    lines = [
        f"clock skew of {abs(skew)} s: the timestamp is {abs(skew)} s in the {way} "
        f"(window {tolerance} s{only}); {cause}"
    ]
    if len(p.ts_raw) == 13:
        lines.append("the timestamp has 13 digits: milliseconds where seconds are expected")
    return lines


def _header_lines(p: Parsed) -> list[str]:
    lines = [f"read: {', '.join(p.read)}"] if p.read else []
    gone = p.missing + [f"{n} (optional)" for n in p.absent]
    return lines + ([f"missing: {', '.join(gone)}"] if gone else [])


def _first_match(
    keys: list[tuple[str, bytes]], contents: list[tuple[str, bytes]], sigs: list[bytes], first: bytes | None
) -> tuple[str, str, bytes] | None:
    """(secret label, content label, digest) of the first key and content whose HMAC is one of ``sigs``;
    ``first`` is the HMAC of the first key over the first content, already computed."""
    for i, (label, key) in enumerate(keys):
        for j, (what, c) in enumerate(contents):
            d = first if i == 0 and j == 0 and first is not None else mac(key, c)
            for s in sigs:
                if equal(d, s):
                    return label, what, d
    return None


@lru_cache(maxsize=32)  # one answer per scheme (they are the registry's singletons)
def _plain(scheme: Scheme) -> bool:
    """One signature header over the raw body: the base Scheme's parse and signed content, unchanged."""
    kind = type(scheme)
    return (
        kind.parse is Scheme.parse
        and kind.contents is Scheme.contents
        and kind.ready is Scheme.ready
        and kind.build is Scheme.build
        and scheme.encoding in (HEX, B64)
    )


def _usual(
    scheme: Scheme, body: bytes, headers: HeaderPairs, secrets: list, now: float, tolerance: int
) -> Verdict | None:
    """`verify_one`'s verdict on the usual request of a plain scheme, found in one pass: one signature header
    with one well-formed signature made with the first secret, one timestamp inside the window (where the
    scheme has one), at most one id. None for anything else, which the full flow then decides and explains.
    (`test_signing_property` checks that both give the same verdict wherever this one gives any; a `seen_ids`
    makes `verify_one` take the full flow.)"""
    if not _plain(scheme):
        return None
    sig_name, ts_name, id_name = scheme.sig_header, scheme.ts_header, scheme.id_header
    sig_key = sig_name.lower()
    ts_key = ts_name.lower() if ts_name else None
    id_key = id_name.lower() if id_name else None
    sig = ts_raw = mid = None
    for name, value in headers:
        if type(name) is not str or type(value) is not str:
            return None
        key = name.strip().lower()
        if key == sig_key:
            if sig is not None:
                return None
            sig = value
        elif key == ts_key:
            if ts_raw is not None:
                return None
            ts_raw = value
        elif key == id_key:
            if mid is not None:
                return None
            mid = value
    if sig is None or (ts_name and ts_raw is None):
        return None
    prefix, token = scheme.prefix, sig.strip()
    if prefix:
        if token[: len(prefix)].lower() != prefix:
            return None
        token = token[len(prefix) :]
    elif _VERSIONED.fullmatch(token):
        return None  # (a versioned signature where a bare one is expected: the full flow says what it makes of it)
    digest = decode(token, scheme.encoding)  # (a whole digest: no separator or space anywhere in the value)
    if digest is None:
        return None
    timestamp = skew = None
    if ts_raw is not None:  # (read only where the scheme has a timestamp header, which it then requires)
        if not (ts_raw.isascii() and ts_raw.isdigit() and len(ts_raw) <= 15):
            return None
        timestamp = int(ts_raw)
        if scheme.window is not None:
            skew = math.floor(now) - timestamp
            if (skew > tolerance) if scheme.window == "past" else (abs(skew) > tolerance):
                return None
    keys = _keys(scheme, secrets)[2]
    if not keys:
        return None
    first = mac(keys[0][1], body)
    if not equal(first, digest):
        return None
    read = [sig_name]
    if ts_name:
        read.append(ts_name)
    if mid is not None and id_name:
        read.append(id_name)
    label = keys[0][0]
    return Verdict(
        "valid",
        scheme.name,
        f"the signature matches the raw body with secret {label}",
        secret=label,
        msg_id=mid,
        timestamp=timestamp,
        skew_s=skew,
        headers_read=read,
        expected=scheme.fmt(first),
        received=sig,
    )


def verify_one(
    scheme: Scheme,
    body: bytes,
    headers: HeaderPairs,
    secrets: list,
    now: float,
    tolerance: int,
    seen_ids: Callable[[str], bool] | None,
    other_endpoints: dict[str, list[str]] | None,
) -> Verdict:
    """Verify one request under ``scheme``; pure apart from calling ``seen_ids``."""
    if seen_ids is None and (usual := _usual(scheme, body, headers, secrets, now, tolerance)) is not None:
        return usual
    # the full flow, whatever the request: every finding kept for the diagnosis
    p = scheme.parse(Headers(headers), bytes(body))
    skew, stale = _skew(scheme, p, now, tolerance)
    v = Verdict(
        "",
        scheme.name,
        "",
        msg_id=p.msg_id,
        timestamp=p.timestamp,
        skew_s=skew,
        headers_read=list(p.read),
        received=p.received,
    )
    named, notes, keys = _keys(scheme, secrets)
    if not named:
        v.status = "unsigned"
        v.reason = f"no secret configured, so the signature was not checked ({ADD_SECRET})"
        sig_names = scheme.sig_headers or (scheme.sig_header,)
        present = [n for n in p.read if n in sig_names]
        seen = (
            f"present in {present[0]} (not checked)"
            if present
            else f"absent (looked for {', '.join(sig_names)})"
        )
        v.diagnosis = [f"{scheme.name} signature {seen}", *_header_lines(p), *notes]
        return v
    contents = scheme.contents(p) if scheme.ready(p) else []
    first = mac(keys[0][1], contents[0][1]) if keys and contents else None  # also the first one tried below
    if first is not None:
        v.expected = scheme.fmt(first)
    extra: list[str] = []
    if p.missing:
        v.status, v.reason = "missing", f"missing {', '.join(p.missing)}"
    elif p.errors:
        v.status, v.reason = "malformed", p.errors[0]
    elif p.hint:
        v.status, v.reason = p.hint
    else:
        found = _first_match(keys, contents, p.sigs, first)
        if found is None:
            v.status = "invalid"
            v.reason = (
                f"the signature matches none of the {len(named)} configured secret(s)"
                if keys
                else f"no configured secret is usable for {scheme.name}"
            )
        else:
            label, what, digest = found
            v.secret = label
            if digest is not first:
                v.expected = scheme.fmt(digest)
            if stale is not None:
                v.status = "stale"
                v.reason = (
                    f"authentic (secret {label}) but the timestamp is {abs(stale)} s in the "
                    f"{'past' if stale > 0 else 'future'}, outside the {tolerance} s window"
                )
                extra = _skew_lines(scheme, p, stale, tolerance)
            elif p.msg_id is not None and seen_ids is not None and seen_ids(p.msg_id):
                v.diagnosis = _header_lines(p)
                v.mark_duplicate()
                return v
            else:
                v.status, v.reason = "valid", f"the signature matches {what} with secret {label}"
                return v
            v.diagnosis = extra + _header_lines(p)
            return v
    if stale is not None:
        extra = _skew_lines(scheme, p, stale, tolerance)
    v.diagnosis = (
        diagnose(scheme, p, v.status, named, keys, other_endpoints) + extra + notes + _header_lines(p)
    )
    return v
