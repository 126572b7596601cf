"""The `katya-tui` command: parse options, load settings once, start the TUI, `serve`, or a tool.

Light at import time (click and the command modules only): the TUI, the service and their libraries load inside
the command that needs them, so `--help`, `sign` and `verify` start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .commands.export import export
from .commands.import_ import import_
from .commands.options import ca_option, common_options, given, run_core, settings_from
from .commands.publish import resend, send, trigger
from .commands.replay import replay
from .commands.sign_verify import sign, verify

if TYPE_CHECKING:
    from .config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def repair_option(f: F) -> F:
    """`--repair`, on the commands that open the store: a flag of the start rather than a command of its own, so
    the refusal of a damaged store says how to go on in one step (the same command, with --repair), and a
    repaired store is opened and seen at once."""
    return click.option(
        "--repair",
        is_flag=True,
        default=None,
        help="Open a damaged store: keep every readable record, move the unreadable rest aside.",
    )(f)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@repair_option
@click.version_option(package_name="katya-tui")
@click.pass_context
def main(ctx: click.Context, repair: bool | None, **options: Any) -> None:
    """katya-tui: a terminal workbench for webhooks.

    With no command, starts the TUI with the embedded receiver, dispatcher and WebSocket feed.
    """
    ctx.obj = {"options": {k: v for k, v in options.items() if given(v)}, "repair": bool(repair)}
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


def _open(ctx: click.Context, settings: Settings, repair: bool | None) -> None:
    """Check the data dir and log there; with --repair (here or before the command), repair the store first."""
    from .logs import log_to_file

    log_to_file(settings.data_dir)
    _warn_if_exposed(settings)
    if repair or (ctx.obj or {}).get("repair"):
        from .core.store.repair import repair as repair_store

        for line in repair_store(settings.data_dir):
            click.echo(f"katya-tui: repair: {line}", err=True)


def _tui(settings: Settings) -> None:
    import asyncio

    from .core.loops import fast_loop
    from .ui.app import KatyaApp

    app = KatyaApp(settings)
    with asyncio.Runner(loop_factory=fast_loop()) as runner:  # (as `serve`'s: the core's sockets on uvloop)
        runner.run(app.run_async())
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
            "and the API and the WebSocket feed with the token"
            + ("" if settings.tls_cert else ", which travels in clear without TLS (see --tls-cert)"),
            err=True,
        )


def _headless(settings: Settings) -> None:
    import asyncio

    from .core.loops import fast_loop
    from .serve import serve as serve_main

    with asyncio.Runner(loop_factory=fast_loop()) as runner:
        runner.run(serve_main(settings))


@main.command()
@common_options
@ca_option
@repair_option
@click.pass_context
@run_core
def run(ctx: click.Context, repair: bool | None = None, **options: Any) -> None:
    """The TUI with the embedded receiver, dispatcher and WebSocket feed (the default)."""
    settings = settings_from(ctx, options)
    _open(ctx, settings, repair)
    _tui(settings)


@main.command()
@common_options
@ca_option
@repair_option
@click.pass_context
@run_core
def serve(ctx: click.Context, repair: bool | None, **options: Any) -> None:
    """The same core with no terminal UI; one JSON object a line on stdout, the first one the ready line."""
    settings = settings_from(ctx, options)
    _open(ctx, settings, repair)
    _headless(settings)


@main.command()
@common_options
@repair_option
@click.option("--headless", is_flag=True, help="No UI: print facts as JSON lines, like serve.")
@click.option("--rate", "demo_rate", default="1", show_default=True, help="Demo events a second.")
@click.pass_context
@run_core
def demo(ctx: click.Context, headless: bool, repair: bool | None, **options: Any) -> None:
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
    _open(ctx, settings, repair)
    (_headless if headless else _tui)(settings)


# the tools, one module each in katya_tui/commands/
for _tool in (sign, verify, export, import_, trigger, send, resend, replay):
    main.add_command(_tool)
