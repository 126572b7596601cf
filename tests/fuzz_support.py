"""Shared by the fuzz tests: one reproducible hypothesis profile and a guard that fails on any logged error.

The profile is derandomized (the same examples on every run, so CI is reproducible and a failure replays) and
keeps each test to a few dozen examples: the whole fuzz set stays under a minute on two shared cores."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from aiohttp.http_exceptions import HttpProcessingError
from hypothesis import HealthCheck, settings

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

WATCHED = ("katya_tui", "aiohttp.server")  # our own loggers, and aiohttp's for an exception in a handler


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not _refused_by_parser(record):
            self.records.append(record)


def _refused_by_parser(record: logging.LogRecord) -> bool:
    """aiohttp logs a request its parser refused (answered 4xx, e.g. a bad chunk size) with the traceback, at
    ERROR: the sender's mistake, answered, not an unhandled exception of ours."""
    exc = record.exc_info[1] if record.exc_info else None
    return (
        record.name == "aiohttp.server"
        and isinstance(exc, HttpProcessingError)
        and 400 <= (exc.code or 0) < 500
    )


@contextlib.contextmanager
def no_logged_errors() -> Iterator[list[logging.LogRecord]]:
    """Fail when anything is logged at ERROR (an unhandled exception) by katya_tui or aiohttp's server while the
    block runs; yields the list of records, for a test that injects a fault and expects exactly its own."""
    keep = _Keep()
    loggers = [logging.getLogger(name) for name in WATCHED]
    for lg in loggers:
        lg.addHandler(keep)
    try:
        yield keep.records
    finally:
        for lg in loggers:
            lg.removeHandler(keep)
    assert not keep.records, "logged: " + "; ".join(
        f"{r.name}: {r.getMessage()}" + (f" ({r.exc_info[1]!r})" if r.exc_info else "") for r in keep.records
    )
