"""`katya-tui replay ID`: the TUI's `r` key against a running instance, through `POST /v1/captures/{id}/replay`."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import click

from .options import instance_options
from .remote import call, instance


def _body(value: str) -> dict[str, str]:
    """`--body` text, or `@file` (`@-` for stdin), as the API's `body` (UTF-8) or `bodyBase64` (anything else)."""
    if value.startswith("@"):
        try:
            raw = sys.stdin.buffer.read() if value == "@-" else Path(value[1:]).read_bytes()
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {value[1:]}: {exc.strerror}", param_hint="--body"
            ) from None
    else:
        raw = value.encode("utf-8")
    try:
        return {"body": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bodyBase64": base64.b64encode(raw).decode("ascii")}


def _set_headers(original: list[list[str]], changes: tuple[str, ...]) -> list[list[str]]:
    """The original headers with each `Name: value` replacing every header of that name (`Name:` removes it)."""
    out = [list(h) for h in original]
    for change in changes:
        name, sep, value = change.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected 'Name: value', got {change!r}", param_hint="--header")
        name = name.strip()
        out = [h for h in out if h[0].lower() != name.lower()]
        if value.strip():
            out.append([name, value.strip()])
    return out


def describe(cap: dict[str, Any]) -> str:
    fwd = cap.get("forward") or {}
    answer = (
        f"{fwd['status']}"
        if fwd.get("status") is not None
        else f"{fwd.get('error_class')}: {fwd.get('reason')}"
    )
    verdict = (cap.get("verdict") or {}).get("status")
    return (
        f"{cap['id']}  replay of {cap['replayOf']}  {cap['method']} {fwd.get('url')}  <-- {answer}"
        f"  ({fwd.get('latency_ms', 0):.1f} ms; signature {verdict})"
    )


@click.command()
@click.argument("capture_id", metavar="ID")
@click.option("--to", default=None, help="Send it here instead of the endpoint's forward target.")
@click.option(
    "--resign", is_flag=True, help="Sign it again now (fresh timestamp) with the endpoint's secret."
)
@click.option("--body", default=None, help="Replace the body: text, or @file (@- for stdin).")
@click.option(
    "--header", "headers", multiple=True, help="'Name: value' replaces that header ('Name:' drops it)."
)
@click.option("--show-body", is_flag=True, help="Print the target's answer body too.")
@instance_options
@click.pass_context
def replay(
    ctx: click.Context,
    capture_id: str,
    to: str | None,
    resign: bool,
    body: str | None,
    headers: tuple[str, ...],
    show_body: bool,
    url: str | None,
    **options: Any,
) -> None:
    """Replay capture ID on a running instance: verbatim by default, re-signed now with --resign, or edited
    with --body/--header. Exit 1 when the target could not be reached."""
    inst = instance(ctx, options, url)
    payload: dict[str, Any] = {"resign": resign}
    if to:
        payload["to"] = to
    if body is not None:
        payload.update(_body(body))
    if headers:
        original = call(inst, "GET", f"/v1/captures/{capture_id}")
        payload["headers"] = _set_headers(original["headers"], headers)
    cap = call(inst, "POST", f"/v1/captures/{capture_id}/replay", payload)
    click.echo(describe(cap))
    fwd = cap.get("forward") or {}
    if show_body and fwd.get("body"):
        click.echo(fwd["body"])
    if fwd.get("status") is None:
        sys.exit(1)
