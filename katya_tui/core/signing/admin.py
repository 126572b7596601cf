"""``admin`` (seed 001): ``X-Webhook-Signature: sha256=<hex>`` over ``json.dumps(payload, sort_keys=True)``.

Verification tries the raw body first, then that canonical form, and says which matched. Signing signs the
canonical form of a JSON body (the raw bytes when the body is not JSON). No timestamp, no delivery id
(``X-Webhook-Id`` names the webhook, not the delivery).
"""

from __future__ import annotations

from ._base import NOJSON, Parsed, Scheme, dumps_bytes, load_json

CANONICAL = "the canonical form json.dumps(payload, sort_keys=True)"


def canonical(payload: object) -> bytes | None:
    """Seed 001's canonical bytes: sort_keys, Python's default separators and ensure_ascii."""
    return None if payload is NOJSON else dumps_bytes(payload, sort_keys=True)


class Admin(Scheme):
    name = "admin"
    sig_header = "X-Webhook-Signature"
    prefix = "sha256="
    detect = ("X-Webhook-Event", "X-Webhook-Id")

    def contents(self, p: Parsed) -> list[tuple[str, bytes]]:
        out = [("the raw body", p.body)]
        canon = canonical(p.json())
        if canon is not None and canon != p.body:
            out.append((CANONICAL, canon))
        return out

    def sign_content(self, body: bytes, p: Parsed) -> bytes:
        return canonical(load_json(body)) or body


SCHEME = Admin()
