"""``stripe``: ``Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...]`` over ``{t}.{body}``.

The ``whsec_...`` secret is used as is (not decoded). Timestamps may be at most 300 s in the past (the future is
not limited). A header carrying only ``v0`` entries is refused as a downgrade. The duplicate id is the event's
``id`` field in the JSON body.
"""

from __future__ import annotations

from ._base import Headers, Parsed, Scheme, Signed
from ._hmac import HEX, encode, mac

NAME = "Stripe-Signature"


class Stripe(Scheme):
    name = "stripe"
    sig_header = NAME
    window = "past"

    def ready(self, p: Parsed) -> bool:
        return bool(p.ts_raw)

    def build(self, body: bytes, p: Parsed) -> bytes:
        return p.ts_raw.encode("ascii") + b"." + body

    def fmt(self, digest: bytes) -> str:
        return encode(digest, HEX)

    def parse(self, h: Headers, body: bytes) -> Parsed:
        p = Parsed(body)
        values = h.all(NAME)
        items = [i.strip() for i in ",".join(values).split(",") if i.strip()]
        if not items:
            p.missing.append(NAME)
            return p
        p.read.append(NAME)
        p.received = ",".join(values)
        ts, v0, unknown, bad = [], 0, [], 0
        for item in items:
            k, sep, val = item.partition("=")
            if not sep:
                p.errors.append(f"entry {item[:24]!r} in {NAME} is not key=value")
            elif k == "t":
                ts.append(val)
            elif k == "v1":
                digest = p.add_token(val, HEX, NAME, strict=False)
                if digest is not None:
                    p.sigs.append(digest)
                else:
                    bad += 1
            elif k == "v0":
                v0 += 1
            else:
                unknown.append(k)
        if len(ts) != 1:
            p.errors.append(
                f"{NAME} has {'no' if not ts else len(ts)} t= timestamp entries; exactly one is required"
            )
        else:
            p.parse_ts(f"t= in {NAME}", ts[0])
        if not p.sigs and bad:
            p.errors += p.notes
            p.notes = []
        elif not p.sigs and v0:
            p.hint = ("invalid", f"downgrade refused: {NAME} carries only v0 signatures; v1 is required")
        elif not p.sigs:
            p.hint = (
                "missing",
                f"{NAME} has no v1 signature (only: {', '.join(unknown)[:80] or 'a timestamp'})",
            )
        obj = p.json()
        if isinstance(obj, dict) and isinstance(obj.get("id"), str):
            p.msg_id = obj["id"]
        return p

    def sign(self, body: bytes, key: bytes, ts: int, msg_id: str | None) -> Signed:
        p = Parsed(body, ts_raw=str(ts), timestamp=ts)
        return Signed([(NAME, f"t={ts},v1={self.fmt(mac(key, self.build(body, p)))}")], body)


SCHEME = Stripe()
