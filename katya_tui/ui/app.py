"""The Textual app: runs the core service on Textual's own event loop and shows what it does.

A core that cannot start (port in use, data dir locked, unreadable store) shows a screen with the reason; the
process then exits 1 and `cli.run` prints the same reason. SIGTERM exits cleanly so the last writes are flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from ..config import Settings
from ..core import gcpolicy
from ..core.service import Service
from .clock import Clock
from .commands import KatyaCommands
from .screens.main import MainScreen


class StartupFailed(Screen):
    """Why the core did not start, instead of a traceback."""

    BINDINGS = [Binding("q,escape,enter", "app.quit", "Quit", id="startup.quit", tooltip="Leave katya-tui")]

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="startup-failed"):
            yield Static("[b $text-error]katya-tui could not start[/]", id="title")
            yield Static(self.reason, id="reason", markup=False)
            yield Static("[$text-muted]press q to leave[/]")


class KatyaApp(App):
    CSS_PATH = "styles/app.tcss"
    TITLE = "katya-tui"
    COMMANDS = App.COMMANDS | {KatyaCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Stop the receiver and leave"),
        Binding(
            "question_mark",
            "help",
            "Keys",
            id="app.help",
            tooltip="Show or hide the keys of the focused pane",
        ),
        Binding(
            "ctrl+t",
            "token",
            "Token",
            show=False,
            id="app.token",
            tooltip="Show the API token (and copy it to the clipboard)",
        ),
    ]

    def __init__(
        self,
        settings: Settings,
        service: Service | None = None,
        *,
        clock: Clock | None = None,
        display_url: str | None = None,
    ) -> None:
        super().__init__()
        self.service = service or Service(settings)
        self.clock = clock or Clock()
        self.display_url = display_url  # shown instead of the real URL (snapshots, screenshots)
        self.startup_error: str | None = None
        self.key_overrides = dict(settings.keymap)  # binding id -> key, as the user wrote it
        if settings.keymap:
            self.set_keymap(settings.keymap)

    async def on_mount(self) -> None:
        gcpolicy.for_tui()
        try:
            await self.service.start()
        except (
            Exception
        ) as exc:  # PortInUse, StoreLocked, OSError, a corrupt store: a reason, not a traceback
            self.startup_error = str(exc) or type(exc).__name__
            await self.push_screen(StartupFailed(self.startup_error))
            return
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._on_sigterm)
        await self.push_screen(MainScreen(self.service, clock=self.clock, display_url=self.display_url))
        self.call_after_refresh(gcpolicy.settle)  # after the first paint: store and widgets built

    def _on_sigterm(self) -> None:
        self.exit(return_code=0)

    async def on_unmount(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        await self.service.stop("quit")

    def key_for(self, binding_id: str, default: str) -> str:
        """The key a binding id is mapped to (the keymap from the settings wins)."""
        return self.key_overrides.get(binding_id, default)

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_token(self) -> None:
        token = self.service.settings.token or ""
        self.copy_to_clipboard(token)
        self.notify(
            f"API token: {token}\n(copied; also in {self.service.settings.data_dir / 'token'})",
            title="Token",
            timeout=15,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "token":
            return self.startup_error is None
        return True
