"""The fuzz tests' own guards fail when they should: a capture only in memory is not "kept", and an exception
logged by asyncio (a task's, nobody retrieved it) is an error in the log."""

from __future__ import annotations

import asyncio
import gc

import pytest
from fuzz_support import assert_kept_on_disk, no_logged_errors
from receiver_support import answer_to

from katya_tui.core.receiver.capture import Body, new_capture


async def test_a_capture_not_yet_on_disk_is_not_kept(service):
    raw = b"POST /hooks/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
    assert (await answer_to(service.port, raw)).startswith(b"HTTP/1.1 200")
    assert assert_kept_on_disk(service, b"{}")["body_size"] == 2
    cap = new_capture("POST", "/hooks/k", [], None, "k", Body(b"[]", 2, False))
    service.store.table("captures").insert(cap.to_doc())  # no commit: in memory only
    with pytest.raises(AssertionError, match="not on disk"):
        assert_kept_on_disk(service, b"[]")


async def test_an_exception_nobody_retrieved_is_an_error_in_the_log():
    async def fails() -> None:
        raise RuntimeError("lost")

    with pytest.raises(AssertionError, match="Task exception was never retrieved"), no_logged_errors():
        task = asyncio.get_running_loop().create_task(fails())
        await asyncio.sleep(0)
        del task
        gc.collect()
