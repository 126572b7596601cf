"""A focused pane's keys answered on the App's first look at the key, not after it has bubbled back up.

Textual runs a binding that is not `priority` only once the key has gone from the App to the focused widget and
bubbled up through every ancestor back to the App: one message hop per node, and while the core is busy on the same
event loop each hop waits for a turn of it. A `priority` binding is found on the App's first look. The panes are
leaves with no text input under them, so their keys mean the same either way. `escape` stays ordinary: the main
screen's `on_key` answers it first in some states (closing the filter, leaving a narrowed log).
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding


def first_look(bindings: list[Binding]) -> list[Binding]:
    """`bindings` made `priority`, `escape` excepted."""
    return [b if "escape" in b.key.split(",") else replace(b, priority=True) for b in bindings]
