"""Shared by the fuzz tests: one reproducible hypothesis profile, a guard that fails on any logged error, and a
check that a capture answered 2xx is on disk with the bytes that were sent.

The profile is derandomized (the same examples on every run, so CI is reproducible and a failure replays) and
keeps each test to a few dozen examples: the whole fuzz set stays under a minute on two shared cores."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from hypothesis import HealthCheck, settings

from katya_tui.core.models import decode_body
from katya_tui.core.store import Store

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

WATCHED = ("katya_tui", "aiohttp.server", "aiohttp.web", "aiohttp.websocket", "asyncio")
"""Our own loggers, aiohttp's (an exception in a handler), and asyncio's (a task's exception nobody retrieved, a
callback that raised)."""


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


def assert_kept_on_disk(service: Any, sent: bytes | None) -> dict[str, Any]:
    """The newest capture (answered 2xx) is durable: a second, read-only store opened on the data dir (what a
    restart would read) has it, and its body is the bytes `sent` (unless None), SHA-256 for SHA-256, and what
    it recorded. The capture, as read there."""
    newest = service.store.table("captures").newest(1)[0]
    disk = Store(service.settings.data_dir, readonly=True)
    try:
        doc = disk.record("captures", newest["id"])
    finally:
        disk.close()
    assert doc is not None, f"capture {newest['id']} was acknowledged but is not on disk"
    sha = hashlib.sha256(decode_body(doc["body"], doc["body_encoding"])).hexdigest()
    if not doc["truncated"]:
        assert sha == doc["body_sha256"], doc["id"]
    if sent is not None:
        assert sha == hashlib.sha256(sent).hexdigest() and doc["body_size"] == len(sent), doc["id"]
    return doc
