"""WebSocket: the feed katya-tui serves (`/v1/ws`, `/ws`) and the upstream feed it can follow."""

from .client import Upstream
from .server import Feed

__all__ = ["Feed", "Upstream"]
