"""Errors the core raises for callers (API, CLI, TUI) to show."""

from __future__ import annotations


class ValidationFailed(ValueError):
    """Input refused, with the problems per field: `{"url": ["must start with http:// or https://"]}`."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()))


class PortInUse(OSError):
    """The service's port is taken (raised by `Service.start`)."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"port {port} on {host} is already in use; pick another with --port (0 picks a free one)"
        )
