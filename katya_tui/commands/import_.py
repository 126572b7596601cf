"""`katya-tui import FILE`: captures back from a JSON lines or HAR export into this data dir's store.

It opens the store itself, so it refuses (one line, exit 1) while another katya-tui holds the data dir, as a
second instance does: the API has no way to add a capture with its original time, and a tool that writes the
store must be its only writer. Stop the instance, import, start it again.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .options import run_core, settings_from

if TYPE_CHECKING:
    from ..config import Settings
    from ..core.receiver.imported import Incoming


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option(
    "--publish",
    is_flag=True,
    help="Publish the events the imported requests carry (as the receiver would), setting off deliveries.",
)
@click.option("--data-dir", default=None, help="The data dir to import into (env KATYA_TUI_DATA_DIR).")
@click.option("--config", default=None, help="A TOML config file (env KATYA_TUI_CONFIG).")
@click.pass_context
@run_core
def import_(ctx: click.Context, file: str, publish: bool, **opts: Any) -> None:
    """Load FILE, a JSON lines or HAR export (katya-tui's, or a HAR from a browser's dev tools), into the store.

    Each request becomes a capture marked imported, with its original time, verified against this instance's
    endpoint configs; none is published unless --publish. A capture already there is skipped, so importing a
    file twice adds nothing. A record that cannot be read is named on stderr and skipped (exit 1 at the end).
    """
    from ..core.receiver.imported import Incoming
    from ..imports import NotAnExport, read

    settings = settings_from(ctx, opts)
    try:
        found = list(read(Path(file).read_bytes(), file))
    except NotAnExport as exc:
        click.echo(f"katya-tui import: {file}: {exc}", err=True)
        sys.exit(1)
    records = [r for r in found if isinstance(r, Incoming)]
    problems = [r for r in found if not isinstance(r, Incoming)]
    for p in problems:
        click.echo(f"katya-tui import: {file}: {p}", err=True)
    added, events = asyncio.run(_import(settings, records, publish))
    there = len(records) - added
    said = f", {events} events published" if publish else ""
    click.echo(
        f"imported {added} captures from {file} ({there} already there, {len(problems)} not readable{said})",
        err=True,
    )
    if problems:
        sys.exit(1)


async def _import(settings: Settings, records: list[Incoming], publish: bool) -> tuple[int, int]:
    """(captures added, events published)."""
    from ..core.receiver.endpoints import Endpoints
    from ..core.receiver.imported import keep_imported
    from ..core.store import Store

    if publish:
        return await _import_published(settings, records)
    store = Store(settings.data_dir, caps=settings.caps, fsync=settings.fsync)
    try:
        endpoints = Endpoints(store)
        endpoints.load_toml(settings.endpoints)
        added = sum(keep_imported(store, endpoints, r, settings.body_limit, None) for r in records)
        await store.commit()
    finally:
        store.close()
    return added, 0


async def _import_published(settings: Settings, records: list[Incoming]) -> tuple[int, int]:
    """Through the core service (its dispatcher fans the events out; their deliveries are stored pending and go
    on whenever katya-tui runs), on a free loopback port, with no upstream or demo."""
    from ..core.receiver.imported import keep_imported
    from ..core.service import Service

    quiet = replace(
        settings, host="127.0.0.1", port=0, upstream=None, demo_rate=None, tls_cert=None, tls_key=None
    )
    svc = Service(quiet, headless=True, tool=True)
    await svc.start()
    try:
        assert svc.store is not None and svc.events is not None
        before = len(svc.events)
        added = sum(
            keep_imported(svc.store, svc.receiver.endpoints, r, settings.body_limit, svc.publish_event)
            for r in records
        )
        await svc.store.commit()
        return added, len(svc.events) - before
    finally:
        await svc.stop()
