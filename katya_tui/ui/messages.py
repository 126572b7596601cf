"""Textual messages: the core's facts as the UI sees them (posted by the bridge), and the panes' requests upward.

Messages that report a flood implement `can_replace` so queued ones coalesce: `Textual` calls
`older.can_replace(newer)` and, when it says yes, drops the older one, so the newer one first takes its content.
"""

from __future__ import annotations

from textual.message import Message
from textual.notifications import SeverityLevel


class FactsArrived(Message):
    """A batch of captures, events and delivery updates from the bus, oldest first (merged while queued)."""

    def __init__(self, captures: list[dict], events: list[dict], deliveries: dict[str, dict]) -> None:
        super().__init__()
        self.captures = captures
        self.events = events
        self.deliveries = deliveries  # by delivery id, the latest document of each

    def can_replace(self, message: Message) -> bool:
        if not isinstance(message, FactsArrived):
            return False
        message.captures[:0] = self.captures
        message.events[:0] = self.events
        message.deliveries = {**self.deliveries, **message.deliveries}
        return True


class FactsLost(Message):
    """The bus dropped facts the UI did not read in time: panes reload from the store."""

    def __init__(self, dropped: int) -> None:
        super().__init__()
        self.dropped = dropped

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, FactsLost):
            message.dropped += self.dropped
            return True
        return False


class UpstreamChanged(Message):
    """The upstream feed's state changed ("connected", "retrying in 4 s", "failed: ...")."""

    def __init__(self, state: str, detail: str = "") -> None:
        super().__init__()
        self.state = state
        self.detail = detail

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, UpstreamChanged)


class FollowChanged(Message):
    """A followed relay channel's state changed; the status bar reads every follower's state again."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FollowChanged)


class CoreNotice(Message):
    """Something the user should read: a recovered store, a stopping service."""

    def __init__(self, text: str, severity: SeverityLevel = "information") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class RowSelected(Message):
    """The stream's selection moved (None: following the tail). Coalesces while the cursor runs."""

    def __init__(self, kind: str | None, id: str | None, event_id: str | None) -> None:
        super().__init__()
        self.kind = kind
        self.id = id
        self.event_id = event_id

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RowSelected)


class OpenDetail(Message):
    """Open the detail view of a record. Posted to the screen itself, not bubbled up from the pane: a message
    bubbles one ancestor at a time, and each hop waits for a turn of the event loop the core is busy on."""

    def __init__(self, kind: str, id: str) -> None:
        super().__init__()
        self.kind = kind
        self.id = id


class ScopeChanged(Message):
    """The subscriptions pane asks the delivery log to show one subscription (None: back to the selection)."""

    def __init__(self, webhook_id: str | None, name: str | None = None) -> None:
        super().__init__()
        self.webhook_id = webhook_id
        self.name = name


class FilterRequested(Message):
    """A pane asks the screen to open the `/` filter bar."""


class StreamStatus(Message):
    """The stream's state for the status bar: paused, following, rows shown, new rows below."""

    def __init__(self, paused: bool, following: bool, rows: int, new: int) -> None:
        super().__init__()
        self.paused = paused
        self.following = following
        self.rows = rows
        self.new = new

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StreamStatus)
