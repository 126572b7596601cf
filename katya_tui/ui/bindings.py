"""Keys answered on the App's first look at them, not after they have bubbled back up.

Textual runs a binding that is not `priority` only once the key has gone from the App to the focused widget and
bubbled up through every ancestor back to the App: one message hop per node, and while the core is busy on the
same event loop each hop waits for a turn of it. A `priority` binding is found on the App's first look. The panes
and the detail panel have no text input under them and no descendant binding the same keys, so their keys mean the
same either way (and Textual leaves to a focused input the keys it types).
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding, BindingType


def first_look(bindings: list[Binding]) -> list[BindingType]:
    """`bindings`, each made `priority` (for a class's `BINDINGS`)."""
    made: list[BindingType] = [replace(b, priority=True) for b in bindings]
    return made
