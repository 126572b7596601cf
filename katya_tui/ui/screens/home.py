"""The home screen: where the receiver listens and what the store holds."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ...core.service import Service


class HomeScreen(Screen):
    def __init__(self, service: Service) -> None:
        super().__init__()
        self.service = service

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="status")
        yield Static(id="counts")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(1.0, self.refresh_status)

    def refresh_status(self) -> None:
        s = self.service
        self.query_one("#status", Static).update(
            f"Receiver  {s.url}/hooks/<name>\n"
            f"Feed      {s.ws_url}\n"
            f"Data dir  {s.settings.data_dir}   (token in {s.settings.data_dir / 'token'})"
        )
        counts = s.counts()
        lines = [f"{name:<12}{n:>10,}" for name, n in counts.items()] or ["the store is empty"]
        self.query_one("#counts", Static).update("Stored\n" + "\n".join(lines))
