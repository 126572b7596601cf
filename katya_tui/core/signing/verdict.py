"""The Verdict: the outcome of verifying one request, JSON-able and free of secret values."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

STATUSES = ("valid", "invalid", "missing", "unsigned", "stale", "duplicate", "malformed")


@dataclass
class Verdict:
    """What verification found; ``secret`` is a label such as ``#1``, never a secret's value."""

    status: str
    scheme: str | None
    reason: str
    diagnosis: list[str] = field(default_factory=list)
    secret: str | None = None
    msg_id: str | None = None
    timestamp: int | None = None
    skew_s: int | None = None
    headers_read: list[str] = field(default_factory=list)
    expected: str | None = None
    received: str | None = None

    @property
    def ok(self) -> bool:
        """True when the verdict is ``valid``."""
        return self.status == "valid"

    def mark_duplicate(self) -> None:
        """Turn a valid verdict into `duplicate`: its message id was already seen within the window."""
        mark_duplicate(vars(self))

    def to_dict(self) -> dict:
        """A JSON-able dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        """Rebuild a Verdict from :meth:`to_dict` output; unknown keys are ignored."""
        kw = {f.name: d[f.name] for f in fields(cls) if f.name in d}
        for name in ("diagnosis", "headers_read"):
            kw[name] = list(kw.get(name) or [])
        return cls(**kw)


def mark_duplicate(verdict: dict) -> None:
    """`Verdict.mark_duplicate` on a verdict's dict (as stored with a capture)."""
    mid = verdict["msg_id"]
    verdict["status"] = "duplicate"
    verdict["reason"] = (
        f"authentic (secret {verdict['secret']}) but id {mid!r} was already seen within the window"
    )
    verdict["diagnosis"] = [
        f"id {mid!r} repeats: a retry or a replay of a delivery already received",
        *verdict["diagnosis"],
    ]
