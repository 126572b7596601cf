"""Talking to a running instance (`trigger`, `resend`, `replay`): its address and token, and one API call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .options import settings_from


def instance(ctx: click.Context, options: dict[str, Any], url: str | None) -> tuple[str, str]:
    """(base URL, token) of the running instance the command should talk to."""
    s = settings_from(ctx, options)
    token = s.token
    if not token:
        path = Path(s.data_dir) / "token"
        token = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if not token:
        raise click.UsageError(
            f"no API token: pass --token, set KATYA_TUI_TOKEN, or start katya-tui once with "
            f"--data-dir {s.data_dir} so that it keeps one there"
        )
    return (url or s.url).rstrip("/"), token


def call(base: str, token: str, method: str, path: str, body: Any = None) -> Any:
    """One API call; the `data` of a success, else a one-line error and exit 1."""
    import httpx

    try:
        r = httpx.request(
            method, base + path, json=body, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:
        click.echo(
            f"katya-tui: cannot reach {base}: {exc} (is katya-tui running there? see --url/--port)", err=True
        )
        sys.exit(1)
    try:
        payload = r.json()
    except ValueError:
        payload = {}
    if r.status_code >= 400 or not payload.get("success", False):
        err = payload.get("error") or {}
        fields = "; ".join(f"{k}: {', '.join(v)}" for k, v in (err.get("fields") or {}).items())
        click.echo(
            f"katya-tui: {r.status_code} {err.get('message') or r.reason_phrase}"
            + (f" ({fields})" if fields else ""),
            err=True,
        )
        sys.exit(1)
    return payload["data"]
