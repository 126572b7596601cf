"""The `katya-tui` command: parse options, load settings once, start the TUI, `serve`, or a tool."""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from dataclasses import replace
from typing import Any

import click

from .config import ConfigError, Settings, load_settings
from .core.loops import fast_loop
from .core.service import PortInUse
from .core.store import StoreLocked


def common_options(f):
    """--host, --port, --data-dir, --token, --config, --upstream, --upstream-token (SPEC section 2), --workers."""
    opts = [
        click.option("--host", default=None, help="Address to listen on (default 127.0.0.1)."),
        click.option("--port", default=None, help="Port to listen on (default 8765; 0 picks a free port)."),
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
            "--workers",
            default=None,
            help='Receiver worker processes for /hooks (0: none; default "auto": '
            "1 on a machine with 2 or more cores).",
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def settings_from(ctx: click.Context, options: dict[str, Any]) -> Settings:
    """Merge the group's options with the sub-command's; a bad setting is a usage error (exit 2)."""
    merged = dict((ctx.obj or {}).get("options", {}))
    merged.update({k: v for k, v in options.items() if v is not None})
    try:
        return load_settings(merged)
    except ConfigError as exc:
        raise click.UsageError(f"bad setting {exc}") from None


def run_core(f):
    """Turn the core's start-up failures (port in use, data dir locked) into one line and exit 1."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except (PortInUse, StoreLocked) as exc:
            click.echo(f"katya-tui: {exc}", err=True)
            sys.exit(1)

    return wrapper


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="katya-tui")
@click.pass_context
def main(ctx: click.Context, **options: Any) -> None:
    """katya-tui: a terminal workbench for webhooks.

    With no command, starts the TUI with the embedded receiver, dispatcher and WebSocket feed.
    """
    ctx.obj = {"options": {k: v for k, v in options.items() if v is not None}}
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


def _tui(settings: Settings) -> None:
    from .logs import log_to_file
    from .ui.app import KatyaApp

    log_to_file(settings.data_dir)
    app = KatyaApp(settings)
    app.run()
    if app.startup_error:
        click.echo(f"katya-tui: {app.startup_error}", err=True)
        sys.exit(1)


def _headless(settings: Settings) -> None:
    from .logs import log_to_file
    from .serve import serve as serve_main

    log_to_file(settings.data_dir)
    with asyncio.Runner(loop_factory=fast_loop()) as runner:
        runner.run(serve_main(settings))


@main.command()
@common_options
@click.pass_context
@run_core
def run(ctx: click.Context, **options: Any) -> None:
    """The TUI with the embedded receiver, dispatcher and WebSocket feed (the default)."""
    _tui(settings_from(ctx, options))


@main.command()
@common_options
@click.pass_context
@run_core
def serve(ctx: click.Context, **options: Any) -> None:
    """The same core with no terminal UI; one JSON object a line on stdout, the first one the ready line."""
    _headless(settings_from(ctx, options))


@main.command()
@common_options
@click.option("--headless", is_flag=True, help="No UI: print facts as JSON lines, like serve.")
@click.option("--rate", "demo_rate", default="1", show_default=True, help="Demo events a second.")
@click.pass_context
@run_core
def demo(ctx: click.Context, headless: bool, **options: Any) -> None:
    """The TUI plus a demo consumer (sometimes failing or slow) and a generator of realistic event flows.

    Without --data-dir it keeps its data in a `demo` folder inside the default data dir, apart from your own.
    """
    settings = settings_from(ctx, options)
    if not (
        options.get("data_dir")
        or (ctx.obj or {}).get("options", {}).get("data_dir")
        or os.environ.get("KATYA_TUI_DATA_DIR")
    ):
        settings = replace(settings, data_dir=settings.data_dir / "demo")
    (_headless if headless else _tui)(settings)


# Tools: each lives in katya_tui/commands/ and is registered here.
from .commands.sign_verify import sign, verify  # noqa: E402

main.add_command(sign)
main.add_command(verify)
from .commands.export import export  # noqa: E402

main.add_command(export)
from .commands.publish import resend, send, trigger  # noqa: E402

main.add_command(trigger)
main.add_command(send)
main.add_command(resend)
from .commands.replay import replay  # noqa: E402

main.add_command(replay)
