"""The schemes by name, in the canonical order."""

from __future__ import annotations

from ..scheme_names import SCHEMES as NAMES
from . import admin, github, job, katya, shopify, slack, standard, stripe, wazzup
from ._base import Scheme, SigningConfigError

_ALL: dict[str, Scheme] = {
    m.SCHEME.name: m.SCHEME for m in (katya, admin, job, wazzup, standard, stripe, github, shopify, slack)
}
SCHEMES: tuple[str, ...] = tuple(_ALL)
if SCHEMES != NAMES:
    raise ImportError(f"core/scheme_names.py lists {NAMES}, the registry has {SCHEMES}: make them the same")


def get(name: str) -> Scheme:
    """The scheme called ``name``; SigningConfigError when there is none."""
    try:
        return _ALL[name]
    except (KeyError, TypeError):
        raise SigningConfigError(f"unknown scheme {name!r}; known: {', '.join(SCHEMES)}") from None


def all_schemes() -> list[Scheme]:
    """Every scheme, in order."""
    return list(_ALL.values())
