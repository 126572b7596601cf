"""`katya-tui export`: captures, events, deliveries or subscriptions out of the store, while it runs or not."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from .options import settings_from

KINDS = ("captures", "events", "deliveries", "webhooks")
FORMATS = {"jsonl": KINDS, "har": ("captures",), "curl": ("captures",), "pytest": ("captures",)}

_TIME_FIELD = {
    "captures": "received_at",
    "events": "created_at",
    "deliveries": "created_at",
    "webhooks": None,
}


def _filter(kind: str, opts: dict[str, Any], since: float | None) -> Callable[[dict[str, Any]], bool]:
    from ..core.catalog import matches

    time_field = _TIME_FIELD[kind]

    def keep(d: dict[str, Any]) -> bool:
        if since is not None and time_field and (d.get(time_field) or 0) < since:
            return False
        if opts["endpoint"] and kind == "captures" and d.get("endpoint") != opts["endpoint"]:
            return False
        if opts["verdict"] and (d.get("verdict") or {}).get("status", d.get("verdict")) != opts["verdict"]:
            return False
        etype = d.get("type") if kind == "events" else d.get("event_type")
        if opts["type"] and (etype is None or not matches(opts["type"], etype)):
            return False
        if opts["status"] and d.get("state") != opts["status"]:
            return False
        return not (opts["webhook"] and d.get("webhook_id") != opts["webhook"])

    return keep


@click.command()
@click.argument("kind", type=click.Choice(KINDS), default="captures")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="jsonl",
    show_default=True,
    help="jsonl for any kind; har, curl and pytest for captures.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout."
)
@click.option("--endpoint", help="Captures of this endpoint only.")
@click.option("--verdict", help="Only this signature verdict (valid, invalid, stale, ...).")
@click.option("--type", "type_", help="Event type or pattern (message.*).")
@click.option("--status", help="Deliveries in this state (pending, delivered, failed, cancelled).")
@click.option("--webhook", help="Deliveries of this subscription id.")
@click.option("--since", help="Only newer than 10m, 2h, 1d or an ISO 8601 time.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="The newest N records (default all).")
@click.option(
    "--base-url",
    default=None,
    help="Base URL for har and curl (default: the address this data dir's instance last listened on).",
)
@click.option("--include-secrets", is_flag=True, help="Keep credentials and subscription secrets unmasked.")
@click.option("--data-dir", default=None, help="The data dir to read (env KATYA_TUI_DATA_DIR).")
@click.option("--config", default=None, help="A TOML config file (env KATYA_TUI_CONFIG).")
@click.pass_context
def export(ctx: click.Context, kind: str, fmt: str, output: str | None, **opts: Any) -> None:
    """Export KIND (captures, events, deliveries, webhooks) as JSON lines, HAR, a curl script or pytest fixtures.

    Reads the store directly, so it works whether or not katya-tui is running. Oldest first.
    """
    from ..core.datadir import DataDirUnsafe, recorded_address
    from ..core.store import Store, StoreCorrupt
    from ..export import curl_script, har, jsonl, masked, parse_since, pytest_module

    if kind not in FORMATS[fmt]:
        raise click.UsageError(f"--format {fmt} exports captures only; use jsonl for {kind}")
    settings = settings_from(ctx, {"data_dir": opts.pop("data_dir"), "config": opts.pop("config")})
    try:
        since = parse_since(opts["since"]) if opts["since"] else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    opts["type"] = opts.pop("type_")
    d = settings.data_dir
    if not d.is_dir() or not ((d / "db.json").exists() or any(d.glob("journal.*.jsonl"))):
        raise click.ClickException(f"no katya-tui store in {settings.data_dir} (pass --data-dir)")
    try:
        store = Store(settings.data_dir, readonly=True)
    except (StoreCorrupt, DataDirUnsafe) as exc:
        raise click.ClickException(str(exc)) from None
    table = store.table(kind)
    found = table.newest(opts["limit"] or len(table) or 1, where=_filter(kind, opts, since))

    def docs() -> Iterator[dict[str, Any]]:  # one whole record at a time: its body read as it is written out
        for d in reversed(found):
            whole = store.thaw(kind, d)
            yield whole if opts["include_secrets"] else masked(whole, kind)

    base_url = opts["base_url"] or recorded_address(settings.data_dir) or settings.url
    if fmt == "jsonl":
        text = jsonl(docs())
    elif fmt == "har":
        text = har(docs(), base_url)
    elif fmt == "curl":
        text = curl_script(docs(), base_url)
    else:
        text = pytest_module(docs())
    if output:
        # created 0600 like every file of the data dir (it may hold secrets); an existing file keeps its mode
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(text)
        click.echo(f"wrote {len(found)} {kind} to {output}", err=True)
    else:
        sys.stdout.writelines(text)
