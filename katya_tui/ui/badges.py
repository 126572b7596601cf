"""Badges for verdicts and delivery states: a symbol, the word, a theme colour (readable without colour too).

They return Textual content markup (`[$text-success]✓ valid[/]`), usable in `Static`, `OptionList` and `Content`.
"""

from __future__ import annotations

from textual.markup import escape

VERDICTS: dict[str, tuple[str, str]] = {
    "valid": ("✓", "$text-success"),
    "invalid": ("✗", "$text-error"),
    "stale": ("◷", "$text-warning"),
    "duplicate": ("≡", "$text-warning"),
    "unsigned": ("○", "$text-muted"),
    "missing": ("?", "$text-error"),
    "malformed": ("!", "$text-error"),
}

STATES: dict[str, tuple[str, str]] = {
    "delivered": ("✓", "$text-success"),
    "failed": ("✗", "$text-error"),
    "pending": ("…", "$text-warning"),
    "cancelled": ("⊘", "$text-muted"),
}


def _badge(table: dict[str, tuple[str, str]], word: str | None, none: str) -> str:
    if not word:
        return f"[$text-muted]{none}[/]"
    symbol, colour = table.get(word, ("·", "$text-muted"))
    return f"[{colour}]{symbol} {escape(word)}[/]"


def verdict_badge(status: str | None) -> str:
    """`✓ valid`, `✗ invalid`, ... in the verdict's colour; `-` when the request was not verified."""
    return _badge(VERDICTS, status, "-")


def state_badge(state: str | None) -> str:
    """`✓ delivered`, `✗ failed`, `… pending`, `⊘ cancelled`."""
    return _badge(STATES, state, "-")
