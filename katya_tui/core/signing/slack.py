"""``slack``: ``X-Slack-Signature: v0=<hex>`` over ``v0:{timestamp}:{body}``; ``X-Slack-Request-Timestamp``, ±300 s."""

from __future__ import annotations

from ._base import Parsed, Scheme


class Slack(Scheme):
    name = "slack"
    sig_header = "X-Slack-Signature"
    prefix = "v0="
    ts_header = "X-Slack-Request-Timestamp"
    window = "both"
    detect = ("X-Slack-Request-Timestamp",)

    def build(self, body: bytes, p: Parsed) -> bytes:
        return b"v0:" + p.ts_raw.encode("ascii") + b":" + body


SCHEME = Slack()
