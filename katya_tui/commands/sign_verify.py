"""``katya-tui sign`` and ``katya-tui verify``: offline signing and verification under any scheme."""

from __future__ import annotations

import json
import time
from typing import BinaryIO

import click

from ..core.scheme_names import SCHEMES

SCHEME_HELP = "Signature scheme: " + ", ".join(SCHEMES) + "."


def _parse_header(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected 'Name: value', got {value!r}", param_hint="--header")
    return name.strip(), rest.strip()


def _parse_other(value: str) -> tuple[str, str]:
    name, sep, secret = value.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected 'NAME=SECRET', got {value!r}", param_hint="--other-endpoint")
    return name.strip(), secret


@click.command()
@click.option("--scheme", required=True, type=click.Choice(SCHEMES), help=SCHEME_HELP)
@click.option("--secret", required=True, help="The signing secret (whsec_... for standard).")
@click.option("--timestamp", type=click.IntRange(min=0), default=None, help="Unix seconds (default: now).")
@click.option("--id", "msg_id", default=None, help="Message/delivery id, where the scheme sends one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of header lines.")
@click.argument("file", type=click.File("rb"))
def sign(
    scheme: str, secret: str, timestamp: int | None, msg_id: str | None, as_json: bool, file: BinaryIO
) -> None:
    """Sign the body in FILE (- for stdin) and print the headers to send.

    Where the scheme signs inside the body (wazzup), the new body follows the headers after a blank line.
    """
    from ..core import signing as core

    body = file.read()
    try:
        signed = core.sign(scheme, body, secret, timestamp=timestamp, msg_id=msg_id)
    except core.SigningConfigError as e:
        raise click.UsageError(str(e)) from None
    changed = signed.body != body
    if as_json:
        out: dict = {"scheme": scheme, "headers": [list(h) for h in signed.headers]}
        if changed:
            out["body"] = signed.body.decode("utf-8", "surrogateescape")
        click.echo(json.dumps(out, indent=2))
        return
    for name, value in signed.headers:
        click.echo(f"{name}: {value}")
    if changed:
        if signed.headers:
            click.echo("")
        click.echo(signed.body)


@click.command()
@click.option(
    "--scheme",
    default="auto",
    show_default=True,
    type=click.Choice(("auto", *SCHEMES)),
    help=SCHEME_HELP + " 'auto' detects it from the headers.",
)
@click.option(
    "--secret", "secrets", multiple=True, help="A secret to try; repeat for rotation (#1, #2, ...)."
)
@click.option("--header", "headers", multiple=True, help="A received header, 'Name: value'; repeatable.")
@click.option(
    "--other-endpoint",
    "others",
    multiple=True,
    help="NAME=SECRET of another endpoint, to tell when the request was signed for it.",
)
@click.option(
    "--tolerance",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Timestamp window in seconds.",
)
@click.option(
    "--now", type=float, default=None, help="The current Unix time to judge against (default: now)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.argument("file", type=click.File("rb"))
def verify(
    scheme: str,
    secrets: tuple[str, ...],
    headers: tuple[str, ...],
    others: tuple[str, ...],
    tolerance: int,
    now: float | None,
    as_json: bool,
    file: BinaryIO,
) -> None:
    """Verify the body in FILE (- for stdin) against the given headers and explain the verdict.

    Exit status: 0 when valid, 1 for any other verdict, 2 for usage errors.
    """
    from ..core import signing as core

    pairs = [_parse_header(h) for h in headers]
    other_endpoints: dict[str, list[str]] = {}
    for name, secret in map(_parse_other, others):
        other_endpoints.setdefault(name, []).append(secret)
    v = core.verify(
        scheme,
        body=file.read(),
        headers=pairs,
        secrets=list(secrets),
        now=time.time() if now is None else now,
        tolerance_s=tolerance,
        other_endpoints=other_endpoints or None,
    )
    if as_json:
        click.echo(json.dumps(v.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"verdict: {v.status}")
        click.echo(f"scheme: {v.scheme or '-'}")
        click.echo(f"reason: {v.reason}")
        for label, value in (
            ("secret", v.secret),
            ("id", v.msg_id),
            ("timestamp", v.timestamp),
            ("skew", None if v.skew_s is None else f"{v.skew_s} s"),
            ("expected", v.expected),
            ("received", v.received),
        ):
            if value is not None:
                click.echo(f"{label}: {value}")
        if v.diagnosis:
            click.echo("diagnosis:")
            for line in v.diagnosis:
                click.echo(f"  - {line}")
    click.get_current_context().exit(0 if v.status == "valid" else 1)
