"""Building blocks shared by the schemes: headers, parsed requests, JSON helpers, the Scheme base."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ._hmac import B64, HEX, b64_key, decode, encode, mac, other, text_key

NOJSON = object()  # the body is not JSON
_UNSET = object()
_TS_RE = re.compile(r"[0-9]{1,15}")
_VERSIONED = re.compile(r"(sha1|sha256|sha512|v[0-9]+)([=,])(.*)", re.I | re.S)
_TOKEN_SEP = re.compile(r"[\s,]+")
ENC_LABEL = {HEX: "hex", B64: "base64"}


class SigningConfigError(ValueError):
    """A configuration error (empty secret, unknown scheme, undecodable key): not a verdict."""


@dataclass(frozen=True)
class Signed:
    """The result of signing: headers to send, and the body (changed only where a scheme signs inside it)."""

    headers: list[tuple[str, str]]
    body: bytes


HeaderPairs = list[tuple[str, str]] | list[list[str]]
"""Received headers as (name, value) pairs, as built here or as stored in a capture (two-item lists)."""


class Headers:
    """Received headers with case-insensitive lookup; every occurrence is kept."""

    def __init__(self, pairs: HeaderPairs):
        d: dict[str, list[str]] = {}
        for name, value in pairs:
            key = (name if type(name) is str else str(name)).strip().lower()
            value = value if type(value) is str else str(value)
            values = d.get(key)
            if values is None:
                d[key] = [value]
            else:
                values.append(value)
        self._d = d

    def all(self, name: str) -> list[str]:
        """Every value of ``name`` in received order."""
        return self._d.get(name.lower(), [])

    def has(self, name: str) -> bool:
        """Whether ``name`` is present."""
        return name.lower() in self._d


def load_json(body: bytes) -> object:
    """Parse a JSON body; :data:`NOJSON` when it is not JSON (never raises)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError, TypeError):
        return NOJSON


def dumps_bytes(obj: object, **kw: Any) -> bytes | None:
    """Serialise ``obj`` with json.dumps(**kw) to UTF-8 bytes; None when it cannot be."""
    try:
        return json.dumps(obj, **kw).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError, TypeError):
        return None


def compact(obj: object) -> bytes | None:
    """JSON.stringify-like bytes: no spaces, non-ASCII kept, keys in their order."""
    return dumps_bytes(obj, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Parsed:
    """What a scheme read from one request, before any secret is involved."""

    body: bytes
    read: list[str] = field(default_factory=list)  # headers (or body fields) present and read
    missing: list[str] = field(default_factory=list)  # required but absent
    absent: list[str] = field(default_factory=list)  # optional and absent
    errors: list[str] = field(default_factory=list)  # format problems that make the request malformed
    notes: list[str] = field(default_factory=list)  # format findings that do not decide the verdict
    sigs: list[bytes] = field(default_factory=list)  # well-formed signatures of the supported version
    candidates: list[tuple[bytes, str]] = field(default_factory=list)  # every decoding, for diagnosis
    hint: tuple[str, str] | None = None  # (status, reason) decided by the header itself
    received: str | None = None
    timestamp: int | None = None
    ts_raw: str = ""
    msg_id: str | None = None
    payload: object = _UNSET  # the JSON value re-serialisations start from

    def json(self) -> object:
        """The parsed JSON payload (loaded once), or NOJSON."""
        if self.payload is _UNSET:
            self.payload = load_json(self.body)
        return self.payload

    def header(self, h: Headers, name: str, required: bool = True) -> str | None:
        """Read one header; repeated differing values are a format error."""
        values = h.all(name)
        if not values:
            (self.missing if required else self.absent).append(name)
            return None
        self.read.append(name)
        if len(values) > 1 and len(set(values)) > 1:
            self.errors.append(f"{name} appears {len(values)} times with different values")
            return None
        return values[0]

    def parse_ts(self, name: str, raw: str | None) -> None:
        """Accept only whole non-negative Unix seconds written as plain digits."""
        if raw is None:
            return
        if _TS_RE.fullmatch(raw):
            self.ts_raw, self.timestamp = raw, int(raw)
        else:
            self.errors.append(f"{name} is not a Unix time in whole seconds: {raw[:40]!r}")

    def add_token(self, raw: str, enc: str, where: str, strict: bool = True) -> bytes | None:
        """Decode one signature token; record candidates and, when strict, format errors. The digest or None."""
        good = decode(raw, enc)
        alt = (
            decode(raw, other(enc)) if good is None else None
        )  # (64 hex digits are never 44 base64 characters)
        if good is not None:
            self.candidates.append((good, ""))
        if alt is not None:
            self.candidates.append((alt, ENC_LABEL[other(enc)]))
        if good is not None:
            return good
        if alt is not None:
            msg = f"the signature in {where} is {ENC_LABEL[other(enc)]} where {ENC_LABEL[enc]} was expected"
        else:
            msg = f"the signature in {where} is not {ENC_LABEL[enc]} of a SHA-256 digest: {raw[:24]!r}"
        (self.errors if strict else self.notes).append(msg)
        return None


def parse_single(p: Parsed, where: str, value: str, prefix: str, enc: str) -> None:
    """Parse a header carrying exactly one signature, ``<prefix><digest>`` (prefix may be empty)."""
    p.received = value
    v = value.strip()
    n_err = len(p.errors)
    if prefix and v.lower().startswith(prefix) and v[len(prefix) : len(prefix) + 1].isspace():
        p.errors.append(f"a space after {prefix!r} in {where}")
        v = v[: len(prefix)] + v[len(prefix) :].lstrip()
    tokens = [t for t in _TOKEN_SEP.split(v) if t]
    if not tokens:
        p.missing.append(where)
        return
    if len(tokens) > 1:
        p.errors.append(f"{len(tokens)} signatures in {where}; this scheme sends exactly one")
        for t in tokens:
            m = _VERSIONED.fullmatch(t)
            p.add_token(m[3] if m else t, enc, where, strict=False)
        return
    tok = tokens[0]
    if prefix and tok.lower().startswith(prefix):
        raw = tok[len(prefix) :]
    elif (m := _VERSIONED.fullmatch(tok)) and prefix:
        p.hint = (
            "missing",
            f"{where} carries only an unsupported version {m[1] + m[2]!r}; expected {prefix!r}",
        )
        p.add_token(m[3], enc, where, strict=False)
        return
    elif prefix:
        p.errors.append(f"{where} lacks the {prefix!r} prefix")
        raw = tok
    elif m:
        p.errors.append(
            f"{where} carries a {m[1] + m[2]!r} prefix; this scheme sends a bare {ENC_LABEL[enc]} digest"
        )
        raw = m[3]
    else:
        raw = tok
    digest = p.add_token(raw, enc, where)
    if digest is not None and len(p.errors) == n_err:
        p.sigs.append(digest)


class Scheme:
    """A one-header HMAC-SHA256 scheme; subclasses set the class attributes or override the hooks."""

    name = ""
    sig_header = ""
    prefix = ""  # e.g. "sha256="
    encoding = HEX
    ts_header: str | None = None
    id_header: str | None = None
    window: str | None = None  # "both" (±tolerance), "past" (past only) or None (no timestamp)
    detect: tuple[str, ...] = ()  # other headers that suggest this scheme to auto detection
    id_prefix = ""
    signs_raw_body = True  # False where the signed content is not the raw body (wazzup)

    @property
    def sig_headers(self) -> tuple[str, ...]:
        """Headers whose presence identifies this scheme."""
        return (self.sig_header,)

    def key(self, secret: str) -> bytes:
        """The HMAC key for a configured secret (raise SigningConfigError when unusable)."""
        return text_key(secret)

    def key_variants(self, secret: str) -> list[tuple[str, bytes]]:
        """Plausible wrong keys derived from a secret, for diagnosis only."""
        key = b64_key(secret[6:]) if secret.startswith("whsec_") else None
        return [("base64-decoded, but this scheme uses the whsec_ secret as is", key)] if key else []

    def ready(self, p: Parsed) -> bool:
        """Whether the signed content can be built from what was parsed."""
        return True

    def new_id(self) -> str | None:
        """A fresh message id, where the scheme sends one."""
        return f"{self.id_prefix}{uuid.uuid4()}" if self.id_header else None

    def build(self, body: bytes, p: Parsed) -> bytes:
        """The signed content for the given body bytes."""
        return body

    def contents(self, p: Parsed) -> list[tuple[str, bytes]]:
        """Accepted signed contents, in the order tried, each with a label."""
        return [("the raw body", self.build(p.body, p))]

    def fmt(self, digest: bytes) -> str:
        """A digest as it appears in the header."""
        return self.prefix + encode(digest, self.encoding)

    def parse(self, h: Headers, body: bytes) -> Parsed:
        """Read signature, timestamp and id headers."""
        p = Parsed(body)
        sig = h.all(self.sig_header)
        if sig:
            p.read.append(self.sig_header)
            parse_single(p, self.sig_header, ", ".join(sig), self.prefix, self.encoding)
        else:
            p.missing.append(self.sig_header)
        if self.ts_header:
            p.parse_ts(self.ts_header, p.header(h, self.ts_header))
        if self.id_header:
            p.msg_id = p.header(h, self.id_header, required=False)
        return p

    def sign_content(self, body: bytes, p: Parsed) -> bytes:
        """What sign() signs."""
        return self.build(body, p)

    def sign(self, body: bytes, key: bytes, ts: int, msg_id: str | None) -> Signed:
        """Sign ``body``; headers in the order the sender would send them."""
        p = Parsed(body, ts_raw=str(ts), timestamp=ts, msg_id=msg_id)
        headers = [(self.sig_header, self.fmt(mac(key, self.sign_content(body, p))))]
        if self.ts_header:
            headers.append((self.ts_header, str(ts)))
        if self.id_header and msg_id is not None:
            headers.append((self.id_header, msg_id))
        return Signed(headers, body)
