"""Talking to a running instance (`trigger`, `resend`, `replay`): its address, token and TLS trust, and one API
call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from .options import given, settings_from

if TYPE_CHECKING:
    import ssl


class Instance(NamedTuple):
    base: str  # http(s)://HOST:PORT, no trailing slash
    token: str
    tls: ssl.SSLContext | None  # what an https instance is trusted by


def instance(ctx: click.Context, options: dict[str, Any], url: str | None) -> Instance:
    """The running instance the command should talk to: `--url`; else `--host`/`--port` when given; else the
    address the data dir's instance last listened on (it may have picked its port: `--port 0`); else the settings'
    http(s)://HOST:PORT. With TLS settings (--tls-cert or --ca) the default URL is https, and the certificate is
    trusted when the system trusts it, or it is in --ca (or is --tls-cert itself, as a self-signed one is)."""
    from ..config import TokenFileUnsafe, client_ssl_context, read_token_file
    from ..core.datadir import recorded_address

    s = settings_from(ctx, options)
    token = s.token
    if not token:
        try:
            token = read_token_file(Path(s.data_dir) / "token")
        except TokenFileUnsafe as exc:
            click.echo(f"katya-tui: {exc}", err=True)
            sys.exit(1)
    if not token:
        raise click.UsageError(
            f"no API token: pass --token, set KATYA_TUI_TOKEN, or start katya-tui once with "
            f"--data-dir {s.data_dir} so that it keeps one there"
        )
    scheme = "https" if s.tls_cert or s.tls_ca else "http"
    chosen = {**(ctx.obj or {}).get("options", {}), **{k: v for k, v in options.items() if given(v)}}
    recorded = None if "host" in chosen or "port" in chosen else recorded_address(s.data_dir)
    base = (url or recorded or f"{scheme}://{s.host}:{s.port}").rstrip("/")
    tls = client_ssl_context(s.tls_ca or s.tls_cert) if base.startswith("https:") else None
    return Instance(base, token, tls)


def call(inst: Instance, method: str, path: str, body: Any = None) -> Any:
    """One API call; the `data` of a success, else a one-line error and exit 1."""
    import httpx

    try:
        r = httpx.request(
            method,
            inst.base + path,
            json=body,
            timeout=60,
            headers={"Authorization": f"Bearer {inst.token}"},
            verify=inst.tls or True,
        )
    except httpx.HTTPError as exc:
        click.echo(
            f"katya-tui: cannot reach {inst.base}: {exc} (is katya-tui running there? see --url/--port"
            + (", and --ca for a certificate the system does not trust)" if inst.tls else ")"),
            err=True,
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
