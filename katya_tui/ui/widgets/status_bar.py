"""The status bar: where to send webhooks, the feed, the upstream state, counts, the paused marker, and why the
store cannot write (while it cannot)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from textual.markup import escape
from textual.widgets import Static


@dataclass(frozen=True)
class Status:
    url: str = ""
    ws_url: str = ""
    upstream: str | None = None  # None: no upstream configured
    follow: tuple[str, ...] = ()  # the state of each followed relay channel
    captures: int = 0
    events: int = 0
    pending: int = 0
    failed: int = 0
    paused: bool = False
    following: bool = True
    token_key: str = "ctrl+t"
    not_writable: str | None = None  # why the store's writes fail, while they do


class StatusBar(Static):
    """Two lines; the screen sets `status` (attributes down)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__("", **kw)
        self.status = Status()

    def set(self, **changes: Any) -> None:
        new = replace(self.status, **changes)
        if new != self.status:
            self.status = new
            self.update(self.text(), layout=False)  # two lines, always: no layout pass

    def text(self) -> str:
        s = self.status
        hook = f"{s.url}/hooks/<name>"
        up = ""
        if s.upstream is not None:
            tone = "$text-success" if s.upstream == "connected" else "$text-warning"
            if s.upstream.startswith("failed"):
                tone = "$text-error"
            up = f"  upstream [{tone}]{escape(s.upstream)}[/]"
        if s.follow:
            up += f"  follow {follow_text(s.follow)}"
        paused = "  [reverse $text-warning] ⏸ PAUSED [/]" if s.paused else ""
        if s.not_writable is not None:
            paused += f"  [reverse $text-error] store not writable: {escape(s.not_writable)} [/]"
        failed = f"[$text-error]{s.failed:,} failed[/]" if s.failed else "0 failed"
        pending = f"[$text-warning]{s.pending:,} pending[/]" if s.pending else "0 pending"
        return (
            f"[b]▶ {escape(hook)}[/b]   ws {escape(s.ws_url)}{up}{paused}\n"
            f"[$text-muted]captures[/] {s.captures:,}  [$text-muted]events[/] {s.events:,}  "
            f"[$text-muted]deliveries[/] {pending} · {failed}   "
            f"[$text-muted]token: {escape(s.token_key)} · help: ? · palette: ctrl+p[/]"
        )


def follow_text(states: tuple[str, ...]) -> str:
    """`connected` (all of them), else the first one that is not, with how many are: e.g. `1/2 retrying in 4 s`."""
    live = sum(1 for st in states if st == "connected")
    if live == len(states):
        return f"[$text-success]{'connected' if live == 1 else f'{live} connected'}[/]"
    other = next(st for st in states if st != "connected")
    count = "" if len(states) == 1 else f"{live}/{len(states)} · "
    return f"[$text-warning]{escape(count + other)}[/]"
