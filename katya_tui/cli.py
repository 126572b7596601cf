"""The `katya-tui` command: parse options, load settings once, start the TUI, `serve`, or a tool.

Light at import time (click and the command modules only): the TUI, the service and their libraries load inside
the command that needs them, so `--help`, `sign` and `verify` start fast.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from .commands.export import export
from .commands.options import common_options, run_core, settings_from
from .commands.publish import resend, send, trigger
from .commands.replay import replay
from .commands.sign_verify import sign, verify

if TYPE_CHECKING:
    from .config import Settings


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
    _warn_if_exposed(settings)
    app = KatyaApp(settings)
    app.run()
    if app.startup_error:
        click.echo(f"katya-tui: {app.startup_error}", err=True)
        sys.exit(1)


def _warn_if_exposed(settings: Settings) -> None:
    """Listening beyond this machine is allowed, never silent: say what becomes reachable."""
    import ipaddress

    host = settings.host.strip("[]")
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        click.echo(
            f"katya-tui: warning: listening on {settings.host}: other machines can reach /hooks (no token needed), "
            "and the API and the WebSocket feed with the token, which travels in clear without TLS",
            err=True,
        )


def _headless(settings: Settings) -> None:
    import asyncio

    from .core.loops import fast_loop
    from .logs import log_to_file
    from .serve import serve as serve_main

    log_to_file(settings.data_dir)
    _warn_if_exposed(settings)
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
    from dataclasses import replace

    settings = settings_from(ctx, options)
    if not (
        options.get("data_dir")
        or (ctx.obj or {}).get("options", {}).get("data_dir")
        or os.environ.get("KATYA_TUI_DATA_DIR")
    ):
        settings = replace(settings, data_dir=settings.data_dir / "demo")
    (_headless if headless else _tui)(settings)


# the tools, one module each in katya_tui/commands/
for _tool in (sign, verify, export, trigger, send, resend, replay):
    main.add_command(_tool)
