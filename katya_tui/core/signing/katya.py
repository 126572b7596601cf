"""``katya`` (seed 000): ``X-Katya-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.

``X-Katya-Timestamp`` (Unix seconds, ±300 s window) and ``X-Katya-Delivery`` (the id for duplicates).
The timestamp is not part of the signed content.
"""

from __future__ import annotations

from ._base import Scheme


class Katya(Scheme):
    name = "katya"
    sig_header = "X-Katya-Signature"
    prefix = "sha256="
    ts_header = "X-Katya-Timestamp"
    id_header = "X-Katya-Delivery"
    id_prefix = "dlv_"
    window = "both"
    detect = ("X-Katya-Delivery", "X-Katya-Timestamp", "X-Katya-Event")


SCHEME = Katya()
