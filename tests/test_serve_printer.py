"""`serve`'s printer: a slow reader costs lines (counted where they were dropped), never the caller's time."""

from __future__ import annotations

import io
import json
import threading

from katya_tui.serve import Printer


class GatedOut(io.StringIO):
    """stdout whose writes wait until the test opens the gate (a reader that stopped reading)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def write(self, s: str) -> int:
        self.entered.set()
        assert self.gate.wait(10), "the gate was never opened"
        return super().write(s)


def _line(i: int) -> bytes:
    return b'{"n": %d}\n' % i


def test_a_full_queue_drops_and_counts_lines_where_they_were_dropped():
    out = GatedOut()
    printer = Printer(out, limit=10)
    printer.offer([_line(0)])  # the thread takes this one and blocks writing it
    assert out.entered.wait(10)
    for i in range(1, 31):  # offer never blocks: 10 queued, 20 dropped
        printer.offer([_line(i)])
    assert printer.dropped == 20
    out.gate.set()
    assert printer.close(timeout=10)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    numbers = [x["n"] for x in lines if "n" in x]
    gaps = [x for x in lines if x.get("fact") == "FactsDropped"]
    assert gaps == [{"fact": "FactsDropped", "count": 20}]
    assert len(numbers) == 11 and numbers == sorted(numbers)
    assert lines.index(gaps[0]) == len(lines) - 1  # the gap stands after the lines that were kept


def test_kept_lines_are_never_dropped_and_writing_resumes_after_a_gap():
    out = GatedOut()
    printer = Printer(out, limit=2)
    printer.offer([_line(0)])
    assert out.entered.wait(10)
    printer.offer([_line(1), _line(2), _line(3), _line(4)])  # some of these dropped
    printer.offer([b'{"fact": "ServiceStopping", "reason": "signal"}\n'] * 3, keep=True)
    out.gate.set()
    assert printer.close(timeout=10)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[-3:] == [{"fact": "ServiceStopping", "reason": "signal"}] * 3
    dropped = [x["count"] for x in lines if x.get("fact") == "FactsDropped"]
    assert sum(dropped) == printer.dropped > 0
    assert len([x for x in lines if "n" in x]) + printer.dropped == 5


def test_an_event_is_printed_without_its_data():
    from katya_tui.core.facts import EventPublished
    from katya_tui.serve import fact_line

    event = {"id": "evt_1", "type": "message.created", "data": {"content": "x" * 100_000}, "source": "hook"}
    line = json.loads(fact_line(EventPublished(event)))
    assert line["fact"] == "EventPublished" and line["event"]["id"] == "evt_1"
    assert line["event"]["type"] == "message.created" and "data" not in line["event"]
