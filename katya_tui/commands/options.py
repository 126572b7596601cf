"""The options every command shares and how they become settings (SPEC section 2).

Imported by `cli.py` and by the commands alike, so neither imports the other. Light at import time: the settings
module and the core load only when a command runs, so that `--help` and the offline tools start fast.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

if TYPE_CHECKING:
    from ..config import Settings

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


def common_options(f: F) -> F:
    """--host, --port, --tls-cert, --tls-key, --data-dir, --token, --config, --upstream, --upstream-token (SPEC
    section 2), --follow."""
    opts = [
        click.option("--host", default=None, help="Address to listen on (default 127.0.0.1)."),
        click.option("--port", default=None, help="Port to listen on (default 8765; 0 picks a free port)."),
        click.option(
            "--tls-cert",
            default=None,
            help="PEM certificate (chain): serve https and wss on the same port (with --tls-key).",
        ),
        click.option("--tls-key", default=None, help="PEM private key of --tls-cert."),
        click.option("--data-dir", default=None, help="Where the store lives (env KATYA_TUI_DATA_DIR)."),
        click.option(
            "--token", default=None, help="API token (env KATYA_TUI_TOKEN; else kept in the data dir)."
        ),
        click.option("--config", default=None, help="A TOML config file (env KATYA_TUI_CONFIG)."),
        click.option("--upstream", default=None, help="Follow an upstream WebSocket feed (ws://...)."),
        click.option(
            "--upstream-token",
            default=None,
            help="Token for the upstream feed (env KATYA_TUI_UPSTREAM_TOKEN).",
        ),
        click.option(
            "--follow",
            multiple=True,
            help="Follow a relay channel ([ENDPOINT=]URL: a katya-tui /relay/... or a smee.io channel); "
            "repeatable. Its captures land on ENDPOINT (default relay).",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def ca_option(f: F) -> F:
    """`--ca`: what to trust for an https instance (the tools' `--url`, or a followed channel)."""
    return click.option(
        "--ca",
        "tls_ca",
        default=None,
        help="PEM file of certificates to trust for an https instance, e.g. its self-signed certificate "
        "(default: the system's, SSL_CERT_FILE if set, and --tls-cert).",
    )(f)


def instance_options(f: F) -> F:
    """The common options plus `--url` and `--ca`: for the commands that talk to a running instance."""
    f = ca_option(f)
    f = click.option(
        "--url",
        default=None,
        help="The running instance (default: the address the data dir's instance listens on, else "
        "http(s)://HOST:PORT, https with TLS).",
    )(f)
    return common_options(f)


def given(value: Any) -> bool:
    """Whether an option was given: None, or () for a repeatable one, leaves the config file's value."""
    return value is not None and value != ()


def settings_from(ctx: click.Context, options: dict[str, Any]) -> Settings:
    """Merge the group's options with the sub-command's; a bad setting is a usage error (exit 2)."""
    from ..config import ConfigError, load_settings

    merged = dict((ctx.obj or {}).get("options", {}))
    merged.update({k: v for k, v in options.items() if given(v)})
    try:
        return load_settings(merged)
    except ConfigError as exc:
        raise click.UsageError(f"bad setting {exc}") from None


def run_core(f: Callable[P, R]) -> Callable[P, R]:
    """Turn the core's start-up failures (port in use, data dir locked or unsafe, store unreadable, token file
    readable by others) into one line and exit 1."""

    @functools.wraps(f)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from ..config import TokenFileUnsafe
        from ..core.datadir import DataDirUnsafe
        from ..core.errors import PortInUse
        from ..core.store import StoreCorrupt, StoreLocked

        try:
            return f(*args, **kwargs)
        except (PortInUse, StoreLocked, StoreCorrupt, DataDirUnsafe, TokenFileUnsafe) as exc:
            click.echo(f"katya-tui: {exc}", err=True)
            sys.exit(1)

    return wrapper
