"""Append-only JSON-lines journal with group commit.

Writers append records in memory (microseconds); `await commit()` returns once every record appended so far
is written and `fdatasync`ed. Appends that arrive while a sync is running are grouped into the next one, so
many writes share one fsync. Replay cuts a torn tail (an unterminated last line) and skips, reporting it, any
other line that is not a record.

The write and the sync run on a thread of their own (`Writer`), so the event loop goes on meanwhile (the TUI
draws); or, with `inline`, on the event loop's thread (`serve`): under load the hand-off to a thread and back
costs more than the sync itself, at the median and in the tail, and in a headless process nothing waits to be
drawn meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Damage:
    """A journal line that is not a record, where it is: kept in the file, skipped by replay."""

    file: str
    line: int  # 1-based
    offset: int  # of its first byte
    size: int  # bytes, without the newline

    def __str__(self) -> str:
        return f"{self.file} line {self.line} (byte {self.offset}, {self.size} bytes)"


@dataclass
class ReplayReport:
    records: int = 0
    torn_bytes: int = 0
    torn_file: str | None = None
    damaged: list[Damage] = field(default_factory=list)


_BAD = (ValueError, TypeError, LookupError, AttributeError)  # not JSON, or JSON that is not a record


def replay(
    path: Path, apply: Callable[[list], None], report: ReplayReport, *, cut: bool = True, newest: bool = True
) -> bool:
    """Apply each record of `path` in order. Only an unterminated last line of the newest journal is a torn tail
    (a write a crash cut short: nothing after it was acknowledged), cut off unless `cut` is False (a reader that
    does not own the store leaves it to its writer). Any other line that is not a record is damage: reported in
    `report.damaged` with its position, skipped, and every record after it applied. False when a tail was cut."""
    data = path.read_bytes()
    pos = 0
    line = 0
    end = len(data)
    while pos < end:
        nl = data.find(b"\n", pos)
        line += 1
        if nl < 0:
            if newest:
                break
            nl = end  # an older journal was complete when it was rotated: a fragment at its end is damage
        try:
            apply(orjson.loads(data[pos:nl]))
        except _BAD:
            report.damaged.append(Damage(path.name, line, pos, nl - pos))
        else:
            report.records += 1
        pos = nl + 1
    if pos < end:
        report.torn_bytes += end - pos
        report.torn_file = path.name
        if not cut:
            return False
        with open(path, "r+b") as f:
            f.truncate(pos)
            os.fsync(f.fileno())
        return False
    return True


def damaged_lines(path: Path, damaged: list[Damage]) -> bytes:
    """The bytes of `damaged`'s lines of `path`, one a line (to keep them aside)."""
    data = path.read_bytes()
    return b"".join(data[d.offset : d.offset + d.size] + b"\n" for d in damaged if d.file == path.name)


class Writer:
    """One thread for the journal's system calls. Between two of them it runs only this small loop, so it seldom
    needs the GIL: each time it does, the event loop's thread has to hand the GIL over, which under load costs
    more than the write itself (a thread pool's futures and conditions made it do so for every job)."""

    def __init__(self) -> None:
        self._puts: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="katya-journal", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._puts.get()) is not None:
            fn, args, done = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed to the caller
                result, error = None, exc
            done(result, error)

    async def run(self, fn: Callable, *args: object) -> object:
        """`fn(*args)` on the thread, awaited from the event loop."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._puts.put((fn, args, lambda r, e: loop.call_soon_threadsafe(_settle, fut, r, e)))
        return await fut

    def call(self, fn: Callable, *args: object) -> object:
        """`fn(*args)` on the thread, waited for (shutdown, rotation, tools)."""
        box: list = []
        done = threading.Event()

        def settle(result: object, error: BaseException | None) -> None:
            box.extend((result, error))
            done.set()

        self._puts.put((fn, args, settle))
        done.wait()
        if box[1] is not None:
            raise box[1]
        return box[0]

    def stop(self) -> None:
        self._puts.put(None)
        self._thread.join()


def _settle(fut: asyncio.Future, result: object, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


class StoreNotWritable(Exception):
    """A write or sync of the journal failed (disk full, I/O error): nothing of that group commit is durable."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"store not writable: {reason}")
        self.reason = reason


def _reason(exc: OSError, path: Path) -> str:
    return f"{exc.strerror or exc} ({path.name})"


class Journal:
    """One journal file at a time; `rotate()` switches to a new file between two group commits.

    A failed write or sync acknowledges nothing of its group: the records stay in the buffer, the file is cut back
    to its last durable offset (a partial record left in it would end the next replay there), and the next commit,
    or a retry every `retry_s` seconds, writes them again. Offsets count the bytes appended since opening
    (`_synced` of them are durable); the buffer holds those from `_base` on.
    """

    gather_turns = 16  # at most this many turns of the event loop a group commit waits for more writers,
    gather_quiet = 2  # and no more once this many turns in a row have added none
    retry_s = 1.0  # while writes fail, how often to try again when no commit asks

    def __init__(
        self,
        path: Path,
        *,
        fsync: bool = True,
        inline: bool = False,
        on_state: Callable[[str | None], None] | None = None,
    ) -> None:
        """`on_state(reason)` is called when writes start failing, `on_state(None)` when they succeed again."""
        self._fsync = fsync
        self.inline = inline  # write and sync on the event loop's thread (see the module's docstring)
        self.on_state = on_state
        self.failure: str | None = None  # why the last write failed, until one succeeds
        self._writer = Writer()
        self._buffer = bytearray()
        self._base = 0  # the offset of the buffer's first byte
        self._synced = 0  # bytes known to be on disk
        self._torn = False  # the file may hold bytes past `_synced` (a failed write whose cut failed)
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._flushing = False
        self._retry: asyncio.TimerHandle | None = None
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.size = os.fstat(self._fd).st_size
        self._origin = -self.size  # the file's offset of a byte is its offset here minus `_origin`

    def append(self, record: Any) -> None:
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        self._buffer += line
        self.size += len(line)

    @property
    def pending(self) -> int:
        """Bytes appended and not yet durable."""
        return len(self._buffer) - (self._synced - self._base)

    def _put(self, data: bytes, start: int) -> None:
        """Write `data` (the bytes from offset `start`) and sync, skipping what an earlier job made durable. On
        failure cut the file back to its durable end, so that nothing is ever appended after a fragment."""
        if self._torn:  # the cut after a failed write failed too: do it now
            os.ftruncate(self._fd, self._synced - self._origin)
            self._torn = False
        done = self._synced - start
        if done >= len(data):
            return
        try:
            view = memoryview(data)[done:]
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if self._fsync:
                os.fdatasync(self._fd)
        except OSError:
            self._torn = True
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._synced - self._origin)
                self._torn = False
            raise
        self._synced = start + len(data)

    def flush(self) -> None:
        """Write and sync everything appended so far, synchronously (for shutdown and tools). Raises
        `StoreNotWritable` when it cannot."""
        if not self._buffer and self.failure is None:
            return
        try:
            self._writer.call(self._put, bytes(self._buffer), self._base)
        except OSError as exc:
            self._failed(exc)
            raise StoreNotWritable(_reason(exc, self.path)) from exc
        self._wrote()

    async def commit(self) -> None:
        """Return once every record appended before this call is durable; raise `StoreNotWritable` when the write
        or sync of its group failed (the records stay buffered for the next try)."""
        target = self._base + len(self._buffer)
        if self._synced >= target:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((target, fut))
        self._start_flush()
        await fut

    def _start_flush(self) -> None:
        if not self._flushing:
            self._flushing = (
                True  # now, not when the task starts: the other writers of this turn must not start one
            )
            asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        gather = self.gather_turns
        try:
            while self.pending or self.failure is not None:
                # Let the writers the loop is about to run append first (requests already read, handlers already
                # woken): one write and one fsync for all of them instead of one each. Stops as soon as a turn of
                # the loop adds nothing, so a lone writer waits one turn (microseconds), never a timer. After a
                # sync, what came meanwhile is the next group: waiting more would only add to everyone's latency.
                quiet = 0
                for _ in range(gather):
                    seen = len(self._buffer)
                    await asyncio.sleep(0)
                    quiet = quiet + 1 if len(self._buffer) == seen else 0
                    if quiet >= self.gather_quiet:
                        break
                gather = 0
                data, start = bytes(self._buffer), self._base
                try:
                    if self.inline:
                        self._put(data, start)
                    else:
                        await self._writer.run(self._put, data, start)
                except OSError as exc:
                    self._failed(exc)
                    return
                self._wrote()
        finally:
            self._flushing = False

    def _wrote(self) -> None:
        """After a successful write: drop the durable bytes from the buffer, answer their waiters."""
        self._trim()
        if self.failure is not None:
            self.failure = None
            if self._retry is not None:
                self._retry.cancel()
                self._retry = None
            if self.on_state is not None:
                self.on_state(None)

    def _trim(self) -> None:
        synced = self._synced  # (read once: a job on the writer thread may move it meanwhile)
        del self._buffer[: synced - self._base]
        self._base = synced
        still = []
        for target, fut in self._waiters:
            if target <= synced:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((target, fut))
        self._waiters = still

    def _failed(self, exc: OSError) -> None:
        """A write failed: every waiter not yet durable gets `StoreNotWritable`; try again in `retry_s`."""
        self._trim()  # (what an earlier job made durable)
        reason = _reason(exc, self.path)
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(StoreNotWritable(reason))
        self._waiters = []
        first = self.failure is None
        self.failure = reason
        if first:
            log.warning("store not writable: %s", reason)
            if self.on_state is not None:
                self.on_state(reason)
        with contextlib.suppress(RuntimeError):  # (no running loop: a synchronous flush)
            loop = asyncio.get_running_loop()
            if self._retry is None or self._retry.cancelled():
                self._retry = loop.call_later(self.retry_s, self._try_again)

    def _try_again(self) -> None:
        self._retry = None
        if self.failure is not None:
            self._start_flush()

    def rotate(self, path: Path) -> None:
        """Flush the current file and continue in `path` (called from the event loop thread)."""
        self.flush()
        old = self._fd
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.path = path
        self.size = 0
        self._origin = self._synced
        self._writer.call(os.close, old)

    def close(self) -> None:
        """Flush and close; what cannot be written now was never acknowledged, and is dropped."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        try:
            self.flush()
        except StoreNotWritable as exc:
            log.warning("closing the store with %d bytes unwritten: %s", self.pending, exc.reason)
        os.close(self._fd)
        self._writer.stop()
