"""The Textual app: runs the core service on its own event loop and shows what it does."""

from __future__ import annotations

import signal

from textual.app import App
from textual.binding import Binding

from ..config import Settings
from ..core.service import PortInUse, Service
from ..core.store import StoreLocked
from .screens.home import HomeScreen


class KatyaApp(App):
    CSS_PATH = "styles/app.tcss"
    TITLE = "katya-tui"
    BINDINGS = [Binding("q", "quit", "Quit", id="quit", tooltip="Stop the receiver and leave")]

    def __init__(self, settings: Settings, service: Service | None = None) -> None:
        super().__init__()
        self.service = service or Service(settings)
        self.startup_error: str | None = None

    async def on_mount(self) -> None:
        try:
            await self.service.start()
        except (PortInUse, StoreLocked, OSError) as exc:
            self.startup_error = str(exc)
            self.exit(return_code=1)
            return
        try:
            import asyncio

            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.exit)
        except (NotImplementedError, RuntimeError):
            pass
        self.push_screen(HomeScreen(self.service))

    async def on_unmount(self) -> None:
        await self.service.stop("quit")
