"""`katya-tui trigger`, `send` and `resend`: publish events to a running instance, post one signed event
straight to a URL, and resend a delivery.

`trigger` and `resend` talk to the instance at `--url` (default http(s)://HOST:PORT from the settings) with the token
from `--token`, `KATYA_TUI_TOKEN`, or the data dir's `token` file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .options import instance_options
from .remote import call, instance

if TYPE_CHECKING:
    from ..core.outbound import OutboundResult

BATCH = 1000


def read_data(value: str | None) -> Any:
    """`--data`: JSON text, or `@file` (`@-` for stdin); None when not given."""
    if value is None:
        return None
    try:
        if value.startswith("@"):
            text = sys.stdin.read() if value == "@-" else Path(value[1:]).read_text(encoding="utf-8")
        else:
            text = value
        return json.loads(text)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}", param_hint="--data") from None
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--data") from None


def _known_type(event_type: str) -> str:
    from ..core import catalog

    if not catalog.is_known(event_type):
        problem = catalog.validate_pattern(event_type) or f"{event_type!r} is a pattern, not one event type"
        raise click.BadParameter(problem, param_hint="TYPE")
    return event_type


@click.command()
@click.argument("event_type", metavar="TYPE")
@click.option(
    "--data", default=None, help="The event's data: JSON, or @file (@- for stdin). Default: a sample."
)
@click.option(
    "--count", type=click.IntRange(1, 1_000_000), default=1, show_default=True, help="How many events."
)
@instance_options
@click.pass_context
def trigger(
    ctx: click.Context, event_type: str, data: str | None, count: int, url: str | None, **options: Any
) -> None:
    """Publish TYPE to a running instance (a fresh sample payload per event unless --data is given)."""
    _known_type(event_type)
    payload = read_data(data)
    if payload is not None and not isinstance(payload, dict | list):
        raise click.BadParameter("must be a JSON object", param_hint="--data")
    inst = instance(ctx, options, url)
    sent = 0
    while sent < count:
        n = min(BATCH, count - sent)
        items = [{"type": event_type, **({"data": payload} if payload is not None else {})} for _ in range(n)]
        for ev in call(inst, "POST", "/v1/events", items):
            k = len(ev.get("deliveries") or [])
            click.echo(f"{ev['id']}  {ev['type']}  -> {k} deliver{'y' if k == 1 else 'ies'}")
        sent += n


@click.command()
@click.argument("url")
@click.option("--type", "event_type", default="message.created", show_default=True, help="The event type.")
@click.option("--secret", default=None, help="Signing secret (default: a new one, printed on stderr).")
@click.option(
    "--profile",
    metavar="PROFILE",
    default="katya",
    show_default=True,
    help="Body and headers: katya (seed 000), admin (001), job (003), standard (Standard Webhooks).",
)
@click.option(
    "--serialization",
    metavar="SERIALIZATION",
    default=None,
    help="JSON bytes: compact (JSON.stringify), python (json.dumps), sorted (sort_keys). "
    "Default: compact; sorted for admin.",
)
@click.option(
    "--data", default=None, help="The event's data: JSON, or @file (@- for stdin). Default: a sample."
)
@click.option(
    "--timeout", type=click.FloatRange(0.001, 600), default=30.0, show_default=True, help="Seconds."
)
def send(
    url: str,
    event_type: str,
    secret: str | None,
    profile: str,
    serialization: str | None,
    data: str | None,
    timeout: float,
) -> None:
    """Sign one event and POST it straight to URL; print the request and the response. Exit 0 on a 2xx answer."""
    _known_type(event_type)
    payload = read_data(data)
    body = {
        "name": "send",
        "url": url,
        "events": [event_type],
        "profile": profile,
        "serialization": serialization,
        "secret": secret,
    }
    import asyncio
    import time

    from ..core import catalog
    from ..core.dispatcher import profiles, subscriptions
    from ..core.errors import ValidationFailed
    from ..core.models import new_id

    try:
        hook = subscriptions.validate(body)
    except ValidationFailed as exc:
        raise click.UsageError(str(exc)) from None
    if secret is None:
        click.echo(f"secret: {hook['secret']}", err=True)
    now = time.time()
    delivery = {
        "id": new_id("dlv"),
        "event_id": catalog.new_event_id(),
        "event_type": event_type,
        "created_at": now,
        "event_created_at": now,
        "data": catalog.sample_data(event_type) if payload is None else payload,
    }
    headers, raw = profiles.request_for(hook, delivery, now=now)
    click.echo(f"> POST {url}")
    for k, v in headers:
        click.echo(f"> {k}: {v}")
    click.echo(f">\n{raw.decode('utf-8', 'replace')}\n")
    result = asyncio.run(_post(url, headers, raw, timeout))
    if result.status is None:
        click.echo(f"< no answer: {result.error_class}: {result.reason} ({result.latency_ms:.0f} ms)")
        sys.exit(1)
    click.echo(f"< {result.reason} ({result.latency_ms:.1f} ms)")
    for k, v in result.headers:
        click.echo(f"< {k}: {v}")
    click.echo(f"<\n{result.body}")
    sys.exit(0 if result.ok else 1)


async def _post(url: str, headers: list[tuple[str, str]], body: bytes, timeout: float) -> OutboundResult:
    from ..core import outbound

    client = outbound.Outbound(max_connections=1)
    try:
        return await client.send("POST", url, headers, body, timeout)
    finally:
        await client.aclose()


@click.command()
@click.argument("delivery_id", metavar="ID")
@instance_options
@click.pass_context
def resend(ctx: click.Context, delivery_id: str, url: str | None, **options: Any) -> None:
    """Resend delivery ID now through a running instance (the TUI's `s` key); print the attempt."""
    inst = instance(ctx, options, url)
    d = call(inst, "POST", f"/v1/deliveries/{delivery_id}/resend")
    last = (d.get("attempts") or [{}])[-1]
    status = last.get("statusCode")
    click.echo(
        f"{d['id']}  {d['state']}  attempt {last.get('n')}: "
        f"{status if status is not None else last.get('errorClass')} {last.get('reason', '')}".rstrip()
    )
    sys.exit(0 if last.get("outcome") == "delivered" else 1)
