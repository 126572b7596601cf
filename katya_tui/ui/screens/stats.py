"""The stats screen: success rate and latency percentiles per subscription and overall (the dispatcher's `stats`,
computed from the attempts), events per minute over the last hour, and the busiest event types."""

from __future__ import annotations

from collections import Counter
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from ...core.service import Service
from ..clock import Clock

PERIODS = (("last hour", 3600.0), ("last 24 hours", 86400.0), ("all time", None))
TOP_TYPES = 12


def event_activity(service: Service, now: float, since: float | None) -> tuple[list[int], Counter[str]]:
    """Events per minute over the 60 minutes before `now` (oldest first), and event counts per type since `since`.

    One pass over the events table: the store keeps them in memory, so this costs tens of ms at 100k events.
    """
    per_minute = [0] * 60
    types: Counter[str] = Counter()
    hour_ago = now - 3600

    def visit(doc: dict[str, Any]) -> bool:
        ts = doc.get("created_at") or 0.0
        if hour_ago <= ts < now:
            per_minute[min(59, int((ts - hour_ago) // 60))] += 1
        if since is None or ts >= since:
            types[doc.get("type") or "?"] += 1
        return False

    if service.store is not None:
        service.store.table("events").newest(1, where=visit)  # `visit` never matches: one pass, no copies
    return per_minute, types


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def pct(value: float | None) -> str:
    return f"{value * 100:.1f}%" if value is not None else "-"


def ms(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "-"


class StatsScreen(Screen):
    """Delivery and event statistics; refreshes every few seconds."""

    CSS_PATH = "../styles/stats.tcss"
    BINDINGS = [
        Binding("escape", "close", "Back", id="stats.close", tooltip="Back to the previous screen"),
        Binding(
            "p",
            "period",
            "Period",
            id="stats.period",
            tooltip="Switch the period: last hour, last 24 hours, all time",
        ),
        Binding("r", "refresh", "Refresh", id="stats.refresh", tooltip="Compute the figures again now"),
    ]

    def __init__(self, service: Service, *, clock: Clock | None = None, interval: float = 5.0) -> None:
        super().__init__()
        self.service, self.interval = service, interval
        self._clock = clock
        self.period = 0

    @property
    def clock(self) -> Clock:
        """The clock given, else the app's (fixed in snapshots), else the wall clock."""
        return self._clock or getattr(self.app, "clock", None) or Clock()

    def compose(self) -> ComposeResult:
        yield Static("", id="headline")
        with Vertical(id="activity"):
            yield Static("", id="spark-title")
            yield Sparkline([0] * 60, summary_function=max, id="spark")
            with Horizontal(id="spark-axis"):
                yield Static("60 min ago")
                yield Static("30 min ago", classes="middle")
                yield Static("now", classes="right")
        with Horizontal(id="tables"):
            with Vertical(id="subs-pane"):
                yield Static("Subscriptions", classes="pane-title")
                yield DataTable(id="subs", cursor_type="row", zebra_stripes=True)
            with Vertical(id="types-pane"):
                yield Static("Busiest event types", classes="pane-title")
                yield DataTable(id="types", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        subs = self.query_one("#subs", DataTable)
        subs.add_columns(
            "subscription", "deliveries", "ok", "failed", "success", "avg ms", "p50", "p95", "p99"
        )
        self.query_one("#types", DataTable).add_columns("event type", "events")
        self.action_refresh()
        if self.interval:
            self.set_interval(self.interval, self.action_refresh)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return True

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_period(self) -> None:
        self.period = (self.period + 1) % len(PERIODS)
        self.action_refresh()

    def action_refresh(self) -> None:
        now = self.clock.now()
        label, span = PERIODS[self.period]
        start = now - span if span else None
        per_minute, types = event_activity(self.service, now, start)
        self.query_one("#spark", Sparkline).data = per_minute
        self.query_one("#spark-title", Static).update(
            f"[b]Events per minute[/b], last hour: {plural(sum(per_minute), 'event')}, peak {max(per_minute):,}/min, "
            f"last minute {per_minute[-1]:,}"
        )
        self._fill_types(types)
        dispatcher = getattr(self.service, "dispatcher", None)
        if dispatcher is None:
            self.query_one("#headline", Static).update(
                f"[b]Stats[/b], {label}  ·  [$text-warning]the dispatcher is not running: no delivery figures[/]"
            )
            return
        overall = dispatcher.stats(None, start, now)
        self.query_one("#headline", Static).update(
            f"[b]Stats[/b], {label}  ·  overall " + self._summary(overall) + "  ·  [$text-muted]p: period[/]"
        )
        self._fill_subs(dispatcher, start, now)

    @staticmethod
    def _summary(stats: dict[str, Any]) -> str:
        d, rt = stats.get("delivery") or {}, stats.get("responseTimes") or {}
        return (
            f"[b]{pct(d.get('successRate'))}[/b] of {plural(d.get('total', 0), 'delivery', 'deliveries')} succeeded, "
            f"latency p50 {ms(rt.get('p50'))} · p95 {ms(rt.get('p95'))} · p99 {ms(rt.get('p99'))} ms"
        )

    def _fill_subs(self, dispatcher: Any, start: float | None, now: float) -> None:
        table = self.query_one("#subs", DataTable)
        table.clear()
        webhooks = self.service.store.table("webhooks").all() if self.service.store else []
        for w in sorted(webhooks, key=lambda w: w.get("name") or ""):
            s = dispatcher.stats(w["id"], start, now)
            d, rt = s.get("delivery") or {}, s.get("responseTimes") or {}
            name = (w.get("name") or w["id"]) + ("" if w.get("active", True) else " (paused)")
            table.add_row(
                name,
                f"{d.get('total', 0):,}",
                f"{d.get('successful', 0):,}",
                f"{d.get('failed', 0):,}",
                pct(d.get("successRate")),
                ms(rt.get("average")),
                ms(rt.get("p50")),
                ms(rt.get("p95")),
                ms(rt.get("p99")),
                key=w["id"],
            )

    def _fill_types(self, types: Counter[str]) -> None:
        table = self.query_one("#types", DataTable)
        table.clear()
        top = types.most_common(TOP_TYPES)
        peak = top[0][1] if top else 1
        for name, n in top:
            table.add_row(name, f"{n:>6,} " + "█" * max(1, round(8 * n / peak)), key=name)
