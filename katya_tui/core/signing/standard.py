"""``standard`` (Standard Webhooks; Svix's ``svix-*`` header names too).

``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64> [v1,<base64> ...]`` over
``{id}.{timestamp}.{body}``; any one v1 entry matching suffices, unknown versions are ignored. The secret is
``whsec_`` + base64 and is decoded to get the key. Window ±300 s.
"""

from __future__ import annotations

from ._base import Headers, Parsed, Scheme, Signed, SigningConfigError
from ._hmac import B64, b64_key, encode, mac, text_key


class Standard(Scheme):
    name = "standard"
    sig_header = "webhook-signature"
    encoding = B64
    ts_header = "webhook-timestamp"
    id_header = "webhook-id"
    id_prefix = "msg_"
    window = "both"
    detect = ("webhook-id", "webhook-timestamp", "svix-id", "svix-timestamp")

    @property
    def sig_headers(self) -> tuple[str, ...]:
        return ("webhook-signature", "svix-signature")

    def key(self, secret: str) -> bytes:
        raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
        key = b64_key(raw)
        if key is None:
            raise SigningConfigError("a standard secret must be whsec_ followed by base64")
        return key

    def key_variants(self, secret: str) -> list[tuple[str, bytes]]:
        out = [("used as text, without base64-decoding it", text_key(secret))]
        if secret.startswith("whsec_"):
            out.append(("without its whsec_ prefix, used as text (not base64-decoded)", text_key(secret[6:])))
        return out

    def ready(self, p: Parsed) -> bool:
        return bool(p.ts_raw) and p.msg_id is not None

    def build(self, body: bytes, p: Parsed) -> bytes:
        return f"{p.msg_id}.{p.ts_raw}.".encode("utf-8", "surrogatepass") + body

    def fmt(self, digest: bytes) -> str:
        return "v1," + encode(digest, B64)

    def parse(self, h: Headers, body: bytes) -> Parsed:
        p = Parsed(body)
        fam = "webhook" if h.has("webhook-signature") or not h.has("svix-signature") else "svix"
        sig_h = f"{fam}-signature"
        p.msg_id = p.header(h, f"{fam}-id")
        p.parse_ts(f"{fam}-timestamp", p.header(h, f"{fam}-timestamp"))
        values = h.all(sig_h)
        tokens = " ".join(values).split()
        if not tokens:
            p.missing.append(sig_h)
            return p
        p.read.append(sig_h)
        p.received = " ".join(values)
        unknown, bad = [], 0
        for tok in tokens:
            ver, sep, val = tok.partition(",")
            if not sep:
                p.notes.append(f"entry {tok[:24]!r} in {sig_h} has no 'version,' prefix")
                p.add_token(tok, B64, sig_h, strict=False)
                bad += 1
            elif ver == "v1":
                digest = p.add_token(val, B64, sig_h, strict=False)
                if digest is not None:
                    p.sigs.append(digest)
                else:
                    bad += 1
            else:
                unknown.append(ver)
        if not p.sigs and bad:
            p.errors += p.notes
            p.notes = []
        elif not p.sigs:
            p.hint = (
                "missing",
                f"{sig_h} has only unknown versions ({', '.join(unknown)[:80]}); v1 is required",
            )
        return p

    def sign(self, body: bytes, key: bytes, ts: int, msg_id: str | None) -> Signed:
        p = Parsed(body, ts_raw=str(ts), timestamp=ts, msg_id=msg_id)
        sig = self.fmt(mac(key, self.build(body, p)))
        return Signed(
            [("webhook-id", msg_id or ""), ("webhook-timestamp", str(ts)), ("webhook-signature", sig)], body
        )


SCHEME = Standard()
