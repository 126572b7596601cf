"""The command palette (ctrl+p): every key's action by name, and "go to" a capture, event or delivery by id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import WorkerCancelled, WorkerFailed

from ..core import queries
from .host import WithService
from .textual_shim import node_bindings

PANE_NAMES = {"stream": "stream", "subs": "subscription", "log": "delivery"}


def actions(screen: Screen) -> Iterator[tuple[str, str, Callable[[], Any]]]:
    """(title, help, run) for every binding of the screen, its panes and the app, each run on its owner; while a
    detail panel shows, the app's and the detail's alone (the panes' keys wait under it)."""
    detail = next((node for node in screen.query("#detail") if node.display), None)
    owners: list[tuple[str, App[object] | Widget]] = [("", screen.app)]
    if detail is not None:
        owners.append(("", detail))
    else:
        owners.append(("", screen))
        for node in screen.query("*"):
            if node.id in PANE_NAMES:
                owners.append((PANE_NAMES[node.id] + ": ", node))
    seen: set[str] = set()
    for prefix, owner in owners:
        for binding in node_bindings(owner):
            key = f"{prefix}{binding.action}"
            if key in seen or not binding.description or binding.action.startswith(("cursor", "page")):
                continue
            seen.add(key)
            title = f"{prefix}{binding.description.lower()}"
            yield title, binding.tooltip or "", partial(_run, owner, binding.action)


def _run(owner: App[object] | Widget, action: str) -> None:
    if isinstance(owner, Widget) and owner is not owner.screen:
        owner.focus()
    owner.call_later(owner.run_action, action)  # run_action is a coroutine: let the owner's loop await it


class KatyaCommands(Provider):
    """Actions by name; an id (or the start of one) opens that record's detail."""

    async def discover(self) -> Hits:
        for title, help, run in sorted(actions(self.screen)):
            yield DiscoveryHit(title, run, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help, run in actions(self.screen):
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help)
        worker = self.app.run_worker(
            partial(self.find_ids, query.strip()),
            thread=True,
            exclusive=True,
            group="read-ids",
            exit_on_error=False,
        )  # a scan of the ids: off the loop
        try:
            found = await worker.wait()
        except (WorkerCancelled, WorkerFailed):
            return  # overtaken by the next keystroke's search
        for kind, doc_id in found:
            yield Hit(
                1.0,
                f"go to {kind} {doc_id}",
                partial(self.open, kind, doc_id),
                help=f"open the {kind}'s detail",
            )

    def find_ids(self, query: str, limit: int = 5) -> list[tuple[str, str]]:
        """(kind, id) of records whose id starts with `query` (at least 5 characters with an underscore)."""
        app = self.app
        store = app.service.store if isinstance(app, WithService) else None
        if store is None or len(query) < 5 or "_" not in query:
            return []
        return queries.ids_starting(store, query.lower(), limit)

    def open(self, kind: str, doc_id: str) -> None:
        from .screens.detail import DetailScreen

        app = self.app
        if isinstance(app, WithService):
            app.push_screen(DetailScreen(app.service, kind, doc_id, clock=getattr(app, "clock", None)))
