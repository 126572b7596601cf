"""What the widgets and the command palette ask of the screen or app they run in: the running service.

A runtime-checkable protocol, so that they reach it typed without importing the app or the screens (which
import them): `KatyaApp` and `MainScreen` hold one, and so do the tests' apps around a single screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..core.service import Service


@runtime_checkable
class WithService(Protocol):
    service: Service
