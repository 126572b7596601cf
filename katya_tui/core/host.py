"""What the service lends the components it builds (receiver, dispatcher, upstream feed, demo).

Typed as protocols, so that a component names the facilities it uses without importing the service that wires
it: `service.py` imports the components, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..config import Settings
    from .bus import Bus
    from .models import Event
    from .store import Store
    from .store.book import Book


class Publisher(Protocol):
    """Publishing events, and the events index that finds them by id (deduplication, `/v1/events`)."""

    @property
    def events(self) -> Book | None: ...

    def publish_event(self, type: str, data: Any, *, source: str, **kw: Any) -> Event: ...


class Host(Publisher, Protocol):
    """The running service as its components see it; `store` is open from `start()` to `stop()`."""

    @property
    def settings(self) -> Settings: ...

    @property
    def bus(self) -> Bus: ...

    @property
    def store(self) -> Store | None: ...

    @property
    def instance_id(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def event_hooks(self) -> list[Callable[[Event], object]]: ...


def open_store(host: Host) -> Store:
    """The host's store, for a component at work: the service starts its components once the store is open
    and stops them before it closes it."""
    store = host.store
    assert store is not None, "the store is not open"
    return store
