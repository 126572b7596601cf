"""Facts the core publishes on the bus: plain dataclasses, past-tense names. `fact_to_dict` gives their wire form."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ServiceStarted:
    url: str
    ws_url: str
    data_dir: str


@dataclass(frozen=True)
class ServiceStopping:
    reason: str


@dataclass(frozen=True)
class StoreRecovered:
    """The store opened after a crash and cut a torn journal tail."""

    torn_bytes: int
    file: str | None


def fact_to_dict(fact: Any) -> dict[str, Any]:
    """`{"fact": "CaptureRecorded", ...fields}`: one line of `serve`'s output."""
    body = asdict(fact) if hasattr(fact, "__dataclass_fields__") else {"value": fact}
    return {"fact": type(fact).__name__, **body}
