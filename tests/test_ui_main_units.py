"""Pure parts of the main screen: the clock's texts, the delivery tally, the bridge's batching, stream rows."""

from __future__ import annotations

from katya_tui.core.bus import Bus
from katya_tui.core.facts import CaptureRecorded, DeliveryUpdated, EventPublished, ServiceStarted
from katya_tui.ui.bridge import Bridge
from katya_tui.ui.clock import Clock
from katya_tui.ui.messages import FactsArrived
from katya_tui.ui.tally import Tally
from katya_tui.ui.widgets.stream_rows import summary

T = 1_700_000_000.0


def test_clock_texts():
    c = Clock(now=lambda: T, utc=True)
    assert (
        c.hms(T + 0.25) == "22:13:20.250"
        and c.hms(T, ms=False) == "22:13:20"
        and c.hms(None) == "--:--:--.---"
    )
    assert [c.until(T + d) for d in (0, 4, 99, 600, 7200, 5 * 86400)] == [
        "now",
        "in 4s",
        "in 99s",
        "in 10m",
        "in 2h",
        "in 5d",
    ]
    assert c.until(None) == "" and c.ago(None) == "never"
    assert [c.ago(T - d) for d in (3, 120, 7200, 3 * 86400, -5)] == [
        "3s ago",
        "2m ago",
        "2h ago",
        "3d ago",
        "0s ago",
    ]


def test_tally_moves_deliveries_between_states():
    t = Tally()
    t.load(
        [
            {"id": "d1", "webhook_id": "w", "state": "pending"},
            {"id": "d2", "webhook_id": "w", "state": "failed"},
        ]
    )
    assert t.count("pending") == 1 and t.count("failed", "w") == 1 and t.rate("w") == 0.0
    t.update({"id": "d1", "webhook_id": "w", "state": "delivered", "attempts": [{"started_at": T}]})
    assert t.count("pending") == 0 and t.rate("w") == 0.5 and t.last["w"] == T
    t.update({"id": "d2", "webhook_id": "w", "state": "pending"})  # a resend
    t.update({"id": "d2", "webhook_id": "w", "state": "delivered"})
    assert t.rate("w") == 1.0 and t.count("failed") == 0 and t.count("delivered", "w") == 2
    t.forget(["d1"])
    assert t.count("delivered", "w") == 1 and t.rate("other") is None


def test_summary_tone():
    assert summary({}) == ("", "muted")
    assert summary({"a": "delivered", "b": "delivered"}) == ("2/2 ok", "ok")
    assert summary({"a": "delivered", "b": "pending"}) == ("1/2 ok", "warn")
    assert summary({"a": "failed", "b": "pending"}) == ("0/2 ok", "bad")


class Target:
    def __init__(self) -> None:
        self.messages = []

    def post_message(self, m) -> bool:
        self.messages.append(m)
        return True


def test_bridge_batches_facts_into_one_message_and_merges_queued_ones():
    class Svc:
        bus = Bus()

    target = Target()
    bridge = Bridge(Svc(), target)
    facts = [
        CaptureRecorded({"id": "c1"}),
        EventPublished({"id": "e1"}),
        ServiceStarted("u", "w", "d"),
        DeliveryUpdated({"id": "d1", "state": "pending"}),
        DeliveryUpdated({"id": "d1", "state": "delivered"}),
    ]
    for f in facts:
        Svc.bus.publish(f)
    bridge.dispatch(bridge.sub.drain())
    (msg,) = target.messages
    assert isinstance(msg, FactsArrived) and msg.captures == [{"id": "c1"}] and msg.events == [{"id": "e1"}]
    assert msg.deliveries == {"d1": {"id": "d1", "state": "delivered"}}  # the latest state of each delivery
    newer = FactsArrived([{"id": "c2"}], [], {"d1": {"id": "d1", "state": "failed"}, "d2": {"id": "d2"}})
    assert msg.can_replace(newer)  # queued batches coalesce, nothing lost
    assert newer.captures == [{"id": "c1"}, {"id": "c2"}] and newer.events == [{"id": "e1"}]
    assert newer.deliveries["d1"]["state"] == "failed" and set(newer.deliveries) == {"d1", "d2"}


def test_the_bridge_waits_longer_after_a_big_batch_up_to_its_slowest():
    class Svc:
        bus = Bus()

    bridge = Bridge(Svc(), Target(), interval=0.1, slowest=0.25)
    assert bridge.pause_after(1) == bridge.pause_after(Bridge.FLOOD) == 0.1  # ~10 updates a second
    assert bridge.pause_after(2 * Bridge.FLOOD) == 0.2
    assert bridge.pause_after(100 * Bridge.FLOOD) == 0.25  # 4 a second at the least
