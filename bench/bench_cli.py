"""Start-up time of the command-line tools (issue 13: `katya-tui sign|verify|--help` in 0.15 s or less).

Each command runs as a user runs it (the `katya-tui` console script, else `python -m katya_tui`) with its output
thrown away; the baseline is the same interpreter started with `-c pass`, the floor no command can go below.
Rounds interleave the commands and the baseline, so that a busy moment of the machine falls on all of them.
Bytecode is written and used as in an installed copy (`PYTHONDONTWRITEBYTECODE` is dropped for these runs: with
it, every start compiles the project's sources again).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import figure, headline

ROUNDS = 15
GOAL_S = 0.15
COMMANDS = (["--help"], ["sign", "--help"], ["verify", "--help"])


def _launcher() -> list[str]:
    script = Path(sys.executable).with_name("katya-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "katya_tui"]


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _seconds(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV)
    return time.perf_counter() - t0


def measure(rounds: int = ROUNDS) -> dict[str, float]:
    """Median seconds of each command and of the baseline (key `python -c pass`)."""
    runs = {"python -c pass": [sys.executable, "-c", "pass"]}
    runs |= {"katya-tui " + " ".join(c): [*_launcher(), *c] for c in COMMANDS}
    times: dict[str, list[float]] = {label: [] for label in runs}
    for argv in runs.values():  # once each first: bytecode written, files in the page cache before timing
        _seconds(argv)
    for _ in range(rounds):
        for label, argv in runs.items():
            times[label].append(_seconds(argv))
    return {label: statistics.median(t) for label, t in times.items()}


def main() -> None:
    headline(f"CLI start-up (median of {ROUNDS} runs)")
    medians = measure()
    base = medians.pop("python -c pass")
    for label, s in medians.items():
        met = "met" if s <= GOAL_S else "NOT met"
        figure(label, f"{s:.3f} s vs python -c pass {base:.3f} s  (goal <= {GOAL_S} s: {met})")


if __name__ == "__main__":
    main()
