"""``shopify``: ``X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the raw body>``; ``X-Shopify-Webhook-Id`` is the id."""

from __future__ import annotations

from ._base import Scheme
from ._hmac import B64


class Shopify(Scheme):
    name = "shopify"
    sig_header = "X-Shopify-Hmac-Sha256"
    encoding = B64
    id_header = "X-Shopify-Webhook-Id"
    detect = ("X-Shopify-Webhook-Id", "X-Shopify-Topic", "X-Shopify-Shop-Domain")


SCHEME = Shopify()
