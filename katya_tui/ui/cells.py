"""Coloured table cells from theme variables (Rich text, which the tables draw, knows no `$variables`)."""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.color import Color, ColorParseError

from .badges import STATES, VERDICTS


def tone(app: App, text: str, variable: str) -> Text:
    """`text` in the colour of the theme variable (`text-success`, ...); dim when the theme gives no colour."""
    return Text(text, style=_style(app.theme_variables.get(variable.lstrip("$"), "")), end="")


@lru_cache(maxsize=256)
def _style(value: str) -> Style:
    """The style for a theme colour value, parsed once (an unparsable one costs ms: Textual looks for a
    suggestion), and cells are made for every delivery update."""
    try:
        return Style(color=Color.parse(value).rich_color)
    except ColorParseError:
        return Style(dim=True)


def verdict_cell(app: App, status: str | None) -> Text:
    if not status:
        return tone(app, "-", "text-muted")
    symbol, colour = VERDICTS.get(status, ("·", "$text-muted"))
    return tone(app, f"{symbol} {status}", colour)


def state_cell(app: App, state: str | None) -> Text:
    if not state:
        return tone(app, "-", "text-muted")
    symbol, colour = STATES.get(state, ("·", "$text-muted"))
    return tone(app, f"{symbol} {state}", colour)
