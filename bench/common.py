"""Helpers for benchmark scripts: percentiles, ratio lines, a headline."""

from __future__ import annotations

import statistics


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
