"""``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``; ``X-GitHub-Delivery`` is the id."""

from __future__ import annotations

from ._base import Scheme


class GitHub(Scheme):
    name = "github"
    sig_header = "X-Hub-Signature-256"
    prefix = "sha256="
    id_header = "X-GitHub-Delivery"
    detect = ("X-GitHub-Delivery", "X-GitHub-Event", "X-Hub-Signature")


SCHEME = GitHub()
