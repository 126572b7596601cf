"""``job`` (seed 003): ``X-Signature: <bare hex HMAC-SHA256 of the raw body>``; no timestamp, no id."""

from __future__ import annotations

from ._base import Scheme


class Job(Scheme):
    name = "job"
    sig_header = "X-Signature"


SCHEME = Job()
