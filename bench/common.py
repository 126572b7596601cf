"""Helpers for benchmark scripts: percentiles, ratio lines, a headline."""

from __future__ import annotations

import mmap
import os
import statistics
import time


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def headline(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def ratio_line(
    label: str,
    value: float,
    unit: str,
    base_label: str,
    base: float,
    goal: float | None = None,
    higher_is_better: bool = True,
) -> float:
    """Print `label: value unit vs base_label base unit  ratio r (goal >= g)` and return the ratio."""
    r = value / base if base else float("nan")
    goal_txt = ""
    if goal is not None:
        met = r >= goal if higher_is_better else r <= goal
        goal_txt = f"  (goal {'>=' if higher_is_better else '<='} {goal:g}: {'met' if met else 'NOT met'})"
    print(
        f"{label}: {value:,.1f} {unit} vs {base_label} {base:,.1f} {unit}  ratio {r:.2f}{goal_txt}",
        flush=True,
    )
    return r


def figure(label: str, text: str) -> None:
    print(f"{label}: {text}", flush=True)


WARM_GB = 6


def warm_memory(gb: float = WARM_GB) -> float:
    """Touch `gb` of fresh memory once and give it back; the seconds it took.

    On these machines (Firecracker VMs) the host backs a guest's memory lazily: a page the guest touches for the
    first time since boot costs about 15 us, one it has used before about 2 us (as on a real machine). A server
    that keeps what it receives in memory would pay the hypervisor's cost on a freshly booted machine and not on
    one that has run for a while; touching the memory once first makes every run measure the software alone.
    """
    if os.environ.get("KATYA_BENCH_WARM", "1") == "0":
        return 0.0
    try:  # never more than half of what the machine has free
        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) << 10 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return 0.0  # (not Linux: no such VM either)
    t0 = time.perf_counter()
    size, page = min(int(gb * (1 << 30)), free // 2), mmap.PAGESIZE
    with mmap.mmap(-1, size) as m:
        for i in range(0, size, page):
            m[i] = 1
    return time.perf_counter() - t0
