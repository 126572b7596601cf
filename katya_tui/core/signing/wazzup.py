"""``wazzup`` (seed 004): the signature travels inside the JSON body as ``"signature": "sha256=<hex>"``.

Signed content (katya-tui's choice, shared by sign and verify): the body's JSON object without its
``signature`` field, serialised compactly -- ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)``
in UTF-8, keys in received order. Numbers and escapes are therefore as Python's json writes them. sign()
returns that object with ``signature`` appended as the last key, serialised the same way.
"""

from __future__ import annotations

import json

from ._base import (
    NOJSON,
    Headers,
    Parsed,
    Scheme,
    Signed,
    SigningConfigError,
    compact,
    load_json,
    parse_single,
)
from ._hmac import mac

WHERE = "body field 'signature'"
CONTENT = "the body without its signature field, as compact JSON"


def _strip(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k != "signature"}


class Wazzup(Scheme):
    name = "wazzup"
    sig_header = WHERE
    prefix = "sha256="
    signs_raw_body = False

    @property
    def sig_headers(self) -> tuple[str, ...]:
        return ()

    def ready(self, p: Parsed) -> bool:
        return isinstance(p.payload, dict)

    def contents(self, p: Parsed) -> list[tuple[str, bytes]]:
        return [(CONTENT, compact(p.payload) or b"")]

    def parse(self, h: Headers, body: bytes) -> Parsed:
        p = Parsed(body)
        obj = p.json()
        if not isinstance(obj, dict) or "signature" not in obj:
            p.missing.append(WHERE)
            if not isinstance(obj, dict):
                p.notes.append(
                    "the body is not JSON" if obj is NOJSON else "the body is JSON but not an object"
                )
            return p
        p.read.append(WHERE)
        p.payload = _strip(obj)
        sig = obj["signature"]
        if isinstance(sig, str):
            parse_single(p, WHERE, sig, self.prefix, self.encoding)
        else:
            p.received = json.dumps(sig)[:200]
            p.errors.append(f"{WHERE} is {type(sig).__name__}, not a string")
        return p

    def sign(self, body: bytes, key: bytes, ts: int, msg_id: str | None) -> Signed:
        obj = load_json(body)
        if not isinstance(obj, dict):
            raise SigningConfigError("wazzup signs inside the body: it must be a JSON object")
        out = _strip(obj)
        out["signature"] = self.fmt(mac(key, compact(_strip(obj)) or b""))
        return Signed([], compact(out) or b"")


SCHEME = Wazzup()
