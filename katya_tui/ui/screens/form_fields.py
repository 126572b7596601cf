"""Form building blocks shared by the subscription form and the endpoints editor: a labelled row, an error line
under it, and showing a `ValidationFailed`'s per-field problems in those lines."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from textual.containers import Horizontal
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Label, Static


def row(label: str, *widgets: Widget, id: str | None = None) -> Horizontal:
    """`label` in the label column, then the widgets."""
    return Horizontal(Label(label), *widgets, classes="row", id=id)


def slot_id(slot: str) -> str:
    return "err-" + re.sub(r"[^A-Za-z0-9_-]", "-", slot)


def error_line(slot: str) -> Static:
    """The (hidden until needed) line that shows the problems of `slot`."""
    return Static("", id=slot_id(slot), classes="field-error")


def hint(text: str) -> Static:
    return Static(text, classes="hint")


def show_errors(root: DOMNode, fields: dict[str, list[str]], slot_for: Callable[[str], str]) -> str | None:
    """Clear every error line under `root`, then show each problem under the slot `slot_for(key)` names (keys
    that are not the slot itself are shown with their key). Returns the first slot with a problem."""
    for line in root.query(".field-error").results(Static):
        line.update("")
        line.remove_class("shown")
    grouped: dict[str, list[str]] = {}
    for key, problems in fields.items():
        slot = slot_for(key)
        prefix = "" if key == slot else f"{key}: "
        grouped.setdefault(slot, []).extend(f"{prefix}{p}" for p in problems)
    for slot, problems in grouped.items():
        line = root.query_one(f"#{slot_id(slot)}", Static)
        line.update("\n".join(f"✗ {p}" for p in problems))
        line.add_class("shown")
    return next(iter(grouped), None)


def number(text: str) -> Any:
    """An int or float when the text is one, else the text itself (so the validator names the problem)."""
    t = text.strip()
    if re.fullmatch(r"-?\d+", t):
        return int(t)
    try:
        return float(t)
    except ValueError:
        return t
