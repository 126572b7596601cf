"""The one bridge from the core's bus to Textual: a worker reads facts in batches and posts messages.

At most one `FactsArrived` every `interval` seconds, however hard the receiver is hit, and less often while a
flood lasts (`pause_after`): each batch costs the panes a redraw of every visible row, which a reader cannot
follow at hundreds of rows a second anyway, while keys want the loop. The bus's queue is bounded and drops the
oldest facts when the UI falls behind, and then the bridge posts `FactsLost` so panes reload from the store
(which lost nothing).
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual.message_pump import MessagePump

from ..core.service import Service
from .messages import CoreNotice, FactsArrived, FactsLost, FollowChanged, UpstreamChanged

WANTED = {
    "CaptureRecorded",
    "EventPublished",
    "DeliveryUpdated",
    "UpstreamStateChanged",
    "FollowStateChanged",
    "StoreRecovered",
    "StoreDamaged",
    "ServiceStopping",
    "StoreNotWritable",
    "StoreWritable",
}


class Bridge:
    """`run()` is the worker body: `target.run_worker(bridge.run(), group="bridge", exit_on_error=False)`."""

    FLOOD = 100  # facts in one batch from which the pause after it grows, up to `slowest`

    def __init__(
        self,
        service: Service,
        target: MessagePump,
        *,
        interval: float = 0.1,
        slowest: float = 0.25,
        maxsize: int = 50_000,
    ):
        self.service = service
        self.target = target
        self.interval = interval
        self.slowest = max(interval, slowest)
        self.sub = service.bus.subscribe(maxsize, accept=lambda f: type(f).__name__ in WANTED)
        self.posted = 0

    async def run(self) -> None:
        dropped = 0
        try:
            while True:
                batch = await self.sub.get_batch(100_000)
                if self.sub.dropped != dropped:
                    self.target.post_message(FactsLost(self.sub.dropped - dropped))
                    dropped = self.sub.dropped
                self.dispatch(batch)
                await asyncio.sleep(self.pause_after(len(batch)))  # let the next batch gather
        finally:
            self.sub.close()

    def pause_after(self, facts: int) -> float:
        """`interval` after a batch of up to `FLOOD` facts (~10 updates a second), then longer in proportion,
        up to `slowest` (4 a second)."""
        return min(self.slowest, self.interval * max(1.0, facts / self.FLOOD))

    def dispatch(self, batch: list[Any]) -> None:
        captures: list[dict] = []
        events: list[dict] = []
        deliveries: dict[str, dict] = {}
        for fact in batch:
            name = type(fact).__name__
            if name == "CaptureRecorded":
                captures.append(fact.capture)
            elif name == "EventPublished":
                events.append(fact.event)
            elif name == "DeliveryUpdated":
                deliveries[fact.delivery.get("id")] = fact.delivery
            elif name == "UpstreamStateChanged":
                self.target.post_message(UpstreamChanged(fact.state, getattr(fact, "detail", "")))
            elif name == "FollowStateChanged":
                self.target.post_message(FollowChanged())
            elif name == "StoreRecovered":
                self.target.post_message(
                    CoreNotice(
                        f"the store was recovered after a crash: cut {fact.torn_bytes} torn bytes", "warning"
                    )
                )
            elif name == "StoreNotWritable":
                self.target.post_message(CoreNotice(f"store not writable: {fact.reason}", "error"))
            elif name == "StoreWritable":
                self.target.post_message(CoreNotice("the store writes again", "information"))
            elif name == "StoreDamaged":
                self.target.post_message(
                    CoreNotice(
                        f"the store skipped damaged journal records (kept aside): {', '.join(fact.damaged)}",
                        "warning",
                    )
                )
            elif name == "ServiceStopping":
                self.target.post_message(CoreNotice(f"the core is stopping ({fact.reason})", "warning"))
        if captures or events or deliveries:
            self.target.post_message(FactsArrived(captures, events, deliveries))
            self.posted += 1
