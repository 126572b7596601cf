"""The stream's rows, built from stored records without a widget: a capture and the event it carried share one row,
and a window of thousands of records is built on the thread that read it (`build_window`), not on the UI's loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from textual.strip import Strip

from ..filters import Filter, capture_record, event_record


@dataclass(slots=True)
class Row:
    kind: str  # capture | event
    id: str
    time: float
    source: str
    record: dict[str, Any]
    method: str = ""
    path: str = ""
    type: str = ""
    event_id: str | None = None
    capture_id: str | None = None
    verdict: str | None = None
    status: int | None = None
    replay_of: str | None = None
    deliveries: dict[str, str] = field(default_factory=dict)  # delivery id -> state
    drawn: tuple[Any, Strip] | None = None  # (key, strip): the last drawing, reused while the key holds


def capture_row(doc: dict[str, Any]) -> Row:
    rec = capture_record(doc)
    return Row(
        "capture",
        doc["id"],
        doc.get("received_at") or 0.0,
        rec["source"],
        rec,
        method=doc.get("method") or "",
        path=doc.get("path") or "",
        type=doc.get("event_type") or "",
        event_id=doc.get("event_id"),
        capture_id=doc["id"],
        verdict=rec["verdict"],
        status=rec["status"],
        replay_of=doc.get("replay_of"),
    )


def event_row(doc: dict[str, Any]) -> Row:
    rec = event_record(doc)
    return Row(
        "event",
        doc["id"],
        doc.get("created_at") or 0.0,
        doc.get("source") or "?",
        rec,
        type=doc.get("type") or "",
        event_id=doc["id"],
        capture_id=doc.get("capture_id"),
        verdict=doc.get("verdict"),
    )


def attach_event(row: Row, doc: dict[str, Any]) -> None:
    """Join an event to the capture row it came from."""
    row.type = doc.get("type") or ""
    row.event_id = doc["id"]
    row.record["type"] = row.type


def attach_capture(row: Row, doc: dict[str, Any]) -> None:
    """Join a capture that arrived after its event: the row becomes the capture's."""
    cap = capture_row(doc)
    cap.type, cap.event_id, cap.deliveries = row.type, row.event_id, row.deliveries
    cap.record["type"] = row.type
    for name in Row.__slots__:
        setattr(row, name, getattr(cap, name))


def summary(deliveries: dict[str, str]) -> tuple[str, str]:
    """`2/3 ok` and its tone (ok, warn, bad, muted)."""
    if not deliveries:
        return "", "muted"
    states = list(deliveries.values())
    ok = states.count("delivered")
    tone = "ok" if ok == len(states) else "bad" if "failed" in states else "warn"
    return f"{ok}/{len(states)} ok", tone


def join(by_id: dict[str, Row], flt: Filter, captures: Iterable[dict], events_: Iterable[dict]) -> list[Row]:
    """Join a batch to the rows indexed in `by_id` (a capture and the event it carried share a row); the rows
    new and matching `flt` are indexed and returned, for the caller to append."""
    fresh: list[Row] = []
    for doc in captures:
        # its event came first: found by the event id, or by the capture id the event row carries
        row = by_id.get(doc.get("event_id") or doc["id"])
        if row is not None and row.kind == "event":
            attach_capture(row, doc)
            by_id[doc["id"]] = row
            continue
        row = capture_row(doc)
        if flt.matches(row.record):
            index(by_id, row)
            fresh.append(row)
    for doc in events_:
        row = by_id.get(doc.get("capture_id") or "") if doc.get("capture_id") else None
        if row is not None:
            attach_event(row, doc)
            by_id[doc["id"]] = row
            continue
        row = event_row(doc)
        if flt.matches(row.record):
            index(by_id, row)
            fresh.append(row)
    return fresh


def index(by_id: dict[str, Row], row: Row) -> None:
    by_id[row.id] = row
    if row.event_id:
        by_id[row.event_id] = row
    if row.capture_id:
        by_id[row.capture_id] = row


def prune(rows: list[Row], by_id: dict[str, Row], max_rows: int) -> int:
    """Drop the oldest rows past `max_rows` (and a tenth more: in chunks, not one row a batch); how many."""
    excess = len(rows) - max_rows
    if excess <= 0:
        return 0
    excess += max_rows // 10
    for row in rows[:excess]:
        for key in (row.id, row.event_id, row.capture_id):
            if key:
                by_id.pop(key, None)
    del rows[:excess]
    return excess


def build_window(
    captures: list[dict], events_: list[dict], deliveries: Iterable[dict], flt: Filter, max_rows: int
) -> tuple[list[Row], dict[str, Row]]:
    """The stream's rows from records read from the store, sorted by time, with their deliveries counted: no
    widget needed, so that a read of thousands of records builds its rows on the thread that read them."""
    rows: list[Row] = []
    by_id: dict[str, Row] = {}
    rows += join(by_id, flt, sorted(captures, key=lambda d: d.get("received_at") or 0.0), [])
    rows += join(by_id, flt, [], sorted(events_, key=lambda d: d.get("created_at") or 0.0))
    rows.sort(key=lambda r: r.time)
    prune(rows, by_id, max_rows)
    for d in deliveries:
        row = by_id.get(d.get("event_id") or "")
        if row is not None:
            row.deliveries[d["id"]] = d.get("state") or "pending"
    return rows, by_id
