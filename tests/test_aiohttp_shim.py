"""The receiver's one reach into aiohttp's internals (`receiver/aiohttp_shim.py`): this fails loudly when aiohttp
moves what it relies on, before a cut-off body silently loses the bytes that came."""

import asyncio
from unittest import mock

import aiohttp
from aiohttp import StreamReader
from aiohttp.http_exceptions import ContentLengthError

from katya_tui.core.receiver.aiohttp_shim import buffered_after_failure


async def test_the_bytes_buffered_before_a_failure_are_still_reachable():
    protocol = mock.Mock(_reading_paused=False)
    stream = StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    stream.feed_data(b"first ")
    stream.feed_data(b"second")
    stream.set_exception(ContentLengthError("Not enough data to satisfy content length header."))
    try:
        stream.read_nowait()
    except ContentLengthError:
        pass
    else:  # a public read that hands the bytes back would make the shim unnecessary
        raise AssertionError(f"aiohttp {aiohttp.__version__} reads after a failure now: drop the shim")
    assert buffered_after_failure(stream) == b"first second", (
        f"aiohttp {aiohttp.__version__} no longer keeps a stream's bytes in StreamReader._buffer"
    )
