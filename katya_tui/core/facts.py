"""Facts the core publishes on the bus: plain dataclasses, past-tense names. `fact_to_dict` gives their wire form."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class StoreNotWritable:
    """Writes to the data dir started failing (disk full, I/O error): captures get 503 until they succeed again."""

    reason: str


@dataclass(frozen=True)
class StoreWritable:
    """Writes to the data dir succeed again (after `StoreNotWritable`)."""


@dataclass(frozen=True)
class StoreDamaged:
    """The store opened past journal lines that are not records: each skipped (every record after it kept) and
    copied to `<journal>.damaged`; `damaged` names each one's file, line and byte offset."""

    damaged: list[str]


def fact_to_dict(fact: Any) -> dict[str, Any]:
    """`{"fact": "CaptureRecorded", ...fields}`: one line of `serve`'s output."""
    body = (
        vars(fact) if hasattr(fact, "__dataclass_fields__") else {"value": fact}
    )  # (shallow: documents as they are)
    return {"fact": type(fact).__name__, **body}


@dataclass(frozen=True)
class EventPublished:
    """A new event entered the stream (from a capture, the upstream feed, a trigger, the demo or the API)."""

    event: dict[str, Any]  # models.Event.to_doc()


@dataclass(frozen=True)
class CaptureRecorded:
    """An inbound request was captured and answered. `capture` is the document without its body."""

    capture: dict[str, Any]


@dataclass(frozen=True)
class DeliveryUpdated:
    """A delivery was created, attempted, resent, cancelled or finished. `delivery` is its document."""

    delivery: dict[str, Any]


@dataclass(frozen=True)
class CaptureForwarded:
    """A capture was relayed to its forward target; `forward` is `{url, status, latency_ms, error_class, ...}`."""

    capture_id: str
    forward: dict[str, Any]


@dataclass(frozen=True)
class UpstreamStateChanged:
    """The upstream feed's state: connecting | connected | retrying in N s | failed: reason | stopped."""

    state: str
    detail: str


@dataclass(frozen=True)
class UpstreamMessageSkipped:
    """A message from the upstream feed was malformed and skipped; `sample` is its start."""

    reason: str
    sample: str


@dataclass(frozen=True)
class FollowStateChanged:
    """A followed relay channel's state: connecting | connected | retrying in N s; `url` without its query."""

    url: str
    endpoint: str
    state: str
    detail: str
