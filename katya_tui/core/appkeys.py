"""The typed keys of the aiohttp application: how the route handlers in `api/` reach the components.

The service builds the components and stores each under its key (`app[DISPATCHER] = ...`); a handler reads
`request.app[DISPATCHER]`. A leaf module, so that handlers never import the service that wires them (aiohttp's
own advice against circular imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .demo import Demo
    from .dispatcher import Dispatcher
    from .host import Publisher
    from .receiver import Receiver
    from .receiver.endpoints import Endpoints
    from .relay import Channels
    from .store import Store
    from .ws import Feed

STORE: web.AppKey[Store] = web.AppKey("store")
PUBLISHER: web.AppKey[Publisher] = web.AppKey("publisher")
RECEIVER: web.AppKey[Receiver] = web.AppKey("receiver")
ENDPOINTS: web.AppKey[Endpoints] = web.AppKey("endpoints")
DISPATCHER: web.AppKey[Dispatcher] = web.AppKey("dispatcher")
FEED: web.AppKey[Feed] = web.AppKey("feed")
DEMO: web.AppKey[Demo] = web.AppKey("demo")
CHANNELS: web.AppKey[Channels] = web.AppKey("channels")
