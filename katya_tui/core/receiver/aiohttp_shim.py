"""The one place the receiver reaches into aiohttp's internals (tests/test_aiohttp_shim.py fails when they move)."""

from __future__ import annotations

from aiohttp import StreamReader


def buffered_after_failure(stream: StreamReader) -> bytes:
    """The body bytes aiohttp had buffered when the request failed (the connection lost mid-body, bad chunking).
    Every public read raises the failure instead, and a capture must keep every byte that came."""
    return b"".join(stream._buffer)
