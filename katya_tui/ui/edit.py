"""A captured request as an editable text (headers, a blank line, the body) and back.

Editors add a newline at the end of a file; when the original body had none, one trailing newline is taken off
again so an unchanged body keeps its exact bytes (and its signature).
"""

from __future__ import annotations

from typing import Any

from .diff import capture_body

INTRO = "# Edit the headers and the body, save and quit to replay. Lines starting with # before the headers are ignored.\n"


class EditError(ValueError):
    """The edited text cannot be read back as headers and a body."""


def to_edit_text(capture: dict[str, Any]) -> str:
    """`# intro`, `Name: value` lines, a blank line, then the body as text. Raises EditError for binary bodies."""
    try:
        body = capture_body(capture).decode("utf-8")
    except UnicodeDecodeError:
        raise EditError("the body is binary; only text bodies can be edited") from None
    headers = "".join(f"{name}: {value}\n" for name, value in capture.get("headers") or [])
    return f"{INTRO}{headers}\n{body}"


def from_edit_text(text: str, capture: dict[str, Any]) -> tuple[list[list[str]], bytes]:
    """The headers and body bytes of an edited text made by `to_edit_text`."""
    lines = text.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        i += 1
    headers: list[list[str]] = []
    while i < len(lines) and lines[i].strip() != "":
        name, sep, value = lines[i].partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t"):
            raise EditError(f"line {i + 1}: a header is `Name: value`, got {lines[i]!r}")
        headers.append([name.strip(), value.strip()])
        i += 1
    if i >= len(lines):
        raise EditError("no blank line between the headers and the body")
    body = "\n".join(lines[i + 1 :])
    original = capture_body(capture)
    if body.endswith("\n") and not original.endswith(b"\n"):
        body = body[:-1]
    return headers, body.encode("utf-8")
