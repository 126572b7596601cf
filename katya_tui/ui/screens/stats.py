"""The stats screen: success rate and latency percentiles per subscription and overall (`core.queries`' stats,
computed from the attempts), events per minute over the last hour, and the busiest event types.

The figures scan every event and delivery: they are computed on a thread worker (`FiguresRead` brings them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Sparkline, Static

from ...core import queries
from ...core.service import Service
from ...core.store import Store
from ..clock import Clock
from ..widgets.keys_bar import KeysBar

SUBS_COLUMNS = ("subscription", "deliveries", "ok", "failed", "success", "avg ms", "p50", "p95", "p99")
TYPES_COLUMNS = ("event type", "events")
PERIODS = (("last hour", 3600.0), ("last 24 hours", 86400.0), ("all time", None))
TOP_TYPES = 12


@dataclass
class Figures:
    """What the screen shows for one period, read in one go."""

    per_minute: list[int]
    types: Counter[str]
    overall: dict[str, Any] | None = None  # None: no dispatcher, no delivery figures
    per_webhook: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)


def read_figures(store: Store | None, now: float, start: float | None, deliveries: bool) -> Figures:
    if store is None:
        return Figures([0] * 60, Counter())
    figures = Figures(*queries.event_activity(store, now, start))
    if deliveries:
        figures.overall, figures.per_webhook = queries.stats_by_webhook(store, start, now)
    return figures


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
        yield KeysBar()

    def on_mount(self) -> None:
        _fill(self.query_one("#subs", DataTable), SUBS_COLUMNS, [])
        _fill(self.query_one("#types", DataTable), TYPES_COLUMNS, [])
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

    class FiguresRead(Message):
        def __init__(self, period: int, figures: Figures) -> None:
            super().__init__()
            self.period, self.figures = period, figures

    def action_refresh(self) -> None:
        """Compute the figures again, off the loop."""
        now = self.clock.now()
        span = PERIODS[self.period][1]
        has_dispatcher = getattr(self.service, "dispatcher", None) is not None
        self._read(self.service.store, self.period, now, now - span if span else None, has_dispatcher)

    @work(thread=True, exclusive=True, group="read-stats", exit_on_error=False)
    def _read(
        self, store: Store | None, period: int, now: float, start: float | None, deliveries: bool
    ) -> None:
        self.post_message(self.FiguresRead(period, read_figures(store, now, start, deliveries)))

    def on_stats_screen_figures_read(self, msg: FiguresRead) -> None:
        if msg.period != self.period:
            return  # the period changed since: its own read follows
        label = PERIODS[self.period][0]
        per_minute, types = msg.figures.per_minute, msg.figures.types
        self.query_one("#spark", Sparkline).data = per_minute
        self.query_one("#spark-title", Static).update(
            f"[b]Events per minute[/b], last hour: {plural(sum(per_minute), 'event')}, peak {max(per_minute):,}/min, "
            f"last minute {per_minute[-1]:,}"
        )
        self._fill_types(types)
        overall = msg.figures.overall
        if overall is None:
            self.query_one("#headline", Static).update(
                f"[b]Stats[/b], {label}  ·  [$text-warning]the dispatcher is not running: no delivery figures[/]"
            )
            return
        self.query_one("#headline", Static).update(
            f"[b]Stats[/b], {label}  ·  overall " + self._summary(overall) + "  ·  [$text-muted]p: period[/]"
        )
        self._fill_subs(msg.figures.per_webhook)

    @staticmethod
    def _summary(stats: dict[str, Any]) -> str:
        d, rt = stats.get("delivery") or {}, stats.get("responseTimes") or {}
        return (
            f"[b]{pct(d.get('successRate'))}[/b] of {plural(d.get('total', 0), 'delivery', 'deliveries')} succeeded, "
            f"latency p50 {ms(rt.get('p50'))} · p95 {ms(rt.get('p95'))} · p99 {ms(rt.get('p99'))} ms"
        )

    def _fill_subs(self, per_webhook: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        rows: list[tuple[str, tuple[str, ...]]] = []
        for w, s in sorted(per_webhook, key=lambda ws: ws[0].get("name") or ""):
            d, rt = s.get("delivery") or {}, s.get("responseTimes") or {}
            name = (w.get("name") or w["id"]) + ("" if w.get("active", True) else " (paused)")
            cells = (
                name,
                f"{d.get('total', 0):,}",
                f"{d.get('successful', 0):,}",
                f"{d.get('failed', 0):,}",
                pct(d.get("successRate")),
                ms(rt.get("average")),
                ms(rt.get("p50")),
                ms(rt.get("p95")),
                ms(rt.get("p99")),
            )
            rows.append((w["id"], cells))
        _fill(self.query_one("#subs", DataTable), SUBS_COLUMNS, rows)

    def _fill_types(self, types: Counter[str]) -> None:
        top = types.most_common(TOP_TYPES)
        peak = top[0][1] if top else 1
        rows = [(name, (name, f"{n:>6,} " + "█" * max(1, round(8 * n / peak)))) for name, n in top]
        _fill(self.query_one("#types", DataTable), TYPES_COLUMNS, rows)


def _fill(table: DataTable, labels: tuple[str, ...], rows: Sequence[tuple[str, tuple[str, ...]]]) -> None:
    """Replace the table's rows, with columns as wide as their widest cell. The widths are given, not left to
    the table's auto width: that is measured when the table is next idle, and rows drawn before then (the
    figures arrive from a worker while the screen is shown) keep the width they were first drawn at."""
    widths = [
        max([cell_len(label), *(cell_len(cells[i]) for _, cells in rows)]) for i, label in enumerate(labels)
    ]
    table.clear(columns=True)
    for label, width in zip(labels, widths, strict=True):
        table.add_column(label, width=width)
    for key, cells in rows:
        table.add_row(*cells, key=key)
