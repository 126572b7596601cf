"""The garbage collector's settings: one function per kind of process, called once by its entry point.

Python's cyclic collector walks the container objects it tracks. A katya-tui process holds many long-lived ones
(stored documents, widgets, what the imports made) and its requests leave almost no cyclic garbage (their objects
go by reference counting), so at Python's defaults it walks survivors for nothing, and more of them the longer it
runs. Hence:
- young collections less often (`THRESHOLDS`, the one place they are set);
- a process that keeps what it receives (serve, the TUI) freezes whatever survives a full collection. Stored
  documents are acyclic JSON trees, freed by reference counting when removed; unfrozen, each full collection would
  walk every document ever stored, a cost that grows with the store. Frozen after the collection that first sees
  them, each is walked once. Raised thresholds and this together also keep opening a large store fast, as long as
  they are set before the store opens;
- `settle()` once start-up is done: what it built goes out of the collector's reach at once, instead of costing
  one long full collection later;
- `loading()` while a store opens: the one place outside the entry points, since only the store knows when it
  builds its documents.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# (young, middle, old) as `gc.set_threshold` takes them; Python's defaults are (700, 10, 10)
THRESHOLDS: dict[str, tuple[int, int, int]] = {
    "serve": (20_000, 20, 100),
    # small young generations: each collection is a pause between two frames, as long as what it walks (under a
    # flood, the middle one at (5_000, 20) held a key back by a frame or two); the old one waits as long as before
    "tui": (2_000, 5, 500),
}
_OLDEST = 2
_AT_IMPORT = gc.get_threshold()


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == _OLDEST:
        gc.freeze()


def _keeping(kind: str) -> None:
    gc.set_threshold(*THRESHOLDS[kind])
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def for_serve() -> None:
    """`katya-tui serve`: call before the service starts (it opens the store)."""
    _keeping("serve")


def for_tui() -> None:
    """The Textual app: call before the service starts (it opens the store)."""
    _keeping("tui")


def settle() -> None:
    """Start-up is done: collect the young garbage only (a full collection would itself be a long pause) and
    freeze the rest."""
    gc.collect(1)
    gc.freeze()


@contextmanager
def loading() -> Iterator[None]:
    """Opening a store builds its documents, millions of long-lived acyclic objects, at once: no collection runs
    meanwhile (each would walk them only to free nothing). A process that keeps what it receives freezes them
    then, as its first full collection would have; any other gets its collector back as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _freeze_survivors in gc.callbacks:
            gc.freeze()
        if enabled:
            gc.enable()


def reset() -> None:
    """The settings this module found, nothing frozen (for benchmarks and tests that apply a policy a while)."""
    while _freeze_survivors in gc.callbacks:
        gc.callbacks.remove(_freeze_survivors)
    gc.unfreeze()
    gc.set_threshold(*_AT_IMPORT)
