"""The delivery log on the Line API: a delivery updated again and again redraws its own row, not the log; a
cursor move repaints the two rows it changes."""

from __future__ import annotations

from types import SimpleNamespace

from textual.app import App, ComposeResult

from katya_tui.ui.widgets.delivery_log import DeliveryLog


def delivery(i: int, state: str = "pending", attempts: int = 0) -> dict:
    return {
        "id": f"dlv_{i:03d}",
        "event_id": f"evt_{i}",
        "webhook_id": "wh_1",
        "event_type": "message.created",
        "state": state,
        "attempts": [{"status_code": 500, "latency_ms": 3.0}] * attempts,
    }


class Holder(App):
    def compose(self) -> ComposeResult:
        yield DeliveryLog(SimpleNamespace(store=None, dispatcher=None))


async def test_a_delivery_updated_n_times_redraws_its_row_only(monkeypatch):
    app = Holder()
    async with app.run_test(size=(120, 20)) as pilot:
        log = app.query_one(DeliveryLog)
        await pilot.pause()  # the (empty) first read has landed
        log.apply({d["id"]: d for d in (delivery(i) for i in range(10))})
        await pilot.pause()
        drawn: list[str] = []
        cells = log.cells
        monkeypatch.setattr(log, "cells", lambda key: drawn.append(key) or cells(key))
        for n in range(1, 6):
            log.apply({"dlv_004": delivery(4, "pending", attempts=n)})
            await pilot.pause()
        assert drawn and set(drawn) == {"dlv_004"}
        assert len(drawn) <= 5  # at most once an update
        assert str(log.get_row("dlv_004")[2]) == "5"  # its attempts column shows the last update
        assert list(log.docs) == [f"dlv_{i:03d}" for i in range(10)]  # nothing else moved


async def test_a_delivery_updated_n_times_repaints_its_line_not_the_log(monkeypatch):
    app = Holder()
    async with app.run_test(size=(120, 20)) as pilot:
        log = app.query_one(DeliveryLog)
        await pilot.pause()
        log.apply({d["id"]: d for d in (delivery(i) for i in range(10))})
        await pilot.pause()
        painted: list[int] = []
        render_line = log.render_line
        monkeypatch.setattr(log, "render_line", lambda y: painted.append(y) or render_line(y))
        for n in range(1, 6):
            log.apply({"dlv_004": delivery(4, "pending", attempts=n)})
            await pilot.pause()
        line = log.get_row_index("dlv_004") - round(log.scroll_y) + 1  # (below the header)
        assert painted and set(painted) == {line}  # its line was painted again, no other line of the log
        assert str(log.get_row("dlv_004")[2]) == "5"  # with the last update


async def test_new_deliveries_are_appended_and_the_oldest_dropped_past_the_limit():
    from katya_tui.ui.widgets.delivery_log import LIMIT

    app = Holder()
    async with app.run_test(size=(120, 20)) as pilot:
        log = app.query_one(DeliveryLog)
        await pilot.pause()
        for start in range(0, LIMIT + 50, 50):
            log.apply({d["id"]: d for d in (delivery(i) for i in range(start, start + 50))})
        await pilot.pause()
        assert log.row_count == LIMIT and log.keys == list(log.docs)
        assert log.keys[0] == f"dlv_{50:03d}" and log.keys[-1] == f"dlv_{LIMIT + 49:03d}"
        assert log.selected is not None and log.selected["id"] == log.keys[-1]  # the cursor follows the tail


async def test_a_cursor_move_repaints_the_two_rows_it_changes(monkeypatch):
    app = Holder()
    async with app.run_test(size=(120, 20)) as pilot:
        log = app.query_one(DeliveryLog)
        await pilot.pause()
        log.apply({d["id"]: d for d in (delivery(i) for i in range(5))})
        log.move_cursor(row=2)
        await pilot.pause()
        painted: list[int] = []
        render_line = log.render_line
        monkeypatch.setattr(log, "render_line", lambda y: painted.append(y) or render_line(y))
        log.move_cursor(row=3)
        await pilot.pause()
        assert sorted(set(painted)) == [3, 4]  # rows 2 and 3, below the header
        assert log.render_line(4) != log.render_line(3)  # the cursor's look moved with it
