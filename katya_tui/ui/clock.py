"""The UI's clock: `now()` for countdowns and `since:` filters, and how times are shown. Tests fix both."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float] = field(default=time.time)
    utc: bool = False  # show times in UTC (snapshots) instead of local time

    def hms(self, ts: float | None, *, ms: bool = True) -> str:
        """`14:03:07.123` (or without milliseconds); `--:--:--` for no time."""
        if ts is None:
            return "--:--:--.---" if ms else "--:--:--"
        t = time.gmtime(ts) if self.utc else time.localtime(ts)
        text = time.strftime("%H:%M:%S", t)
        return f"{text}.{int(ts * 1000) % 1000:03d}" if ms else text

    def ago(self, ts: float | None) -> str:
        """`4s ago`, `3m ago`, `2h ago`, `5d ago`; `never` for no time."""
        if ts is None:
            return "never"
        d = max(0.0, self.now() - ts)
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if d >= size:
                return f"{int(d // size)}{unit} ago"
        return f"{int(d)}s ago"

    def until(self, ts: float | None) -> str:
        """A short countdown: `in 4s`, `in 12m`, `in 5h`, `in 3d`, `now`; empty for no time."""
        if ts is None:
            return ""
        d = ts - self.now()
        if d <= 0.5:
            return "now"
        for unit, size, limit in (("s", 1, 100), ("m", 60, 100 * 60), ("h", 3600, 48 * 3600)):
            if d < limit:
                return f"in {int(d / size + 0.5) if unit == 's' else int(d // size)}{unit}"
        return f"in {int(d // 86400)}d"
