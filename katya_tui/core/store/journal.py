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

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from .appendfile import AppendFile

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)


def running_loop() -> asyncio.AbstractEventLoop:
    """The running event loop. asyncio is imported here rather than at the top: what runs a loop has imported it
    already, and what only opens a store (an export, a fresh process's first steps) need not pay for it."""
    import asyncio

    return asyncio.get_running_loop()


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
READ_BUFFER = 1024 * 1024  # replay reads a journal this much at a time, never the whole file at once


def replay(
    path: Path, apply: Callable[[list], None], report: ReplayReport, *, cut: bool = True, newest: bool = True
) -> bool:
    """Apply each record of `path` in order. Only an unterminated last line of the newest journal is a torn tail
    (a write a crash cut short: nothing after it was acknowledged), cut off unless `cut` is False (a reader that
    does not own the store leaves it to its writer). Any other line that is not a record is damage: reported in
    `report.damaged` with its position, skipped, and every record after it applied. False when a tail was cut."""
    loads = orjson.loads
    damaged = report.damaged
    seen = len(damaged)
    lines = 0  # read and not torn
    with open(path, "rb", buffering=READ_BUFFER) as f:
        # (positions are asked of the file only where a line is bad: counting each line's bytes costs more)
        for lines, line in enumerate(f, 1):  # (each keeps its newline, which the JSON parser skips)
            if line[-1] != 0x0A and newest:
                lines -= 1
                break  # an unterminated last line: the torn tail
            # (an older journal was complete when it was rotated: a fragment at its end is damage)
            try:
                apply(loads(line))
            except _BAD:
                start = f.tell() - len(line)
                damaged.append(Damage(path.name, lines, start, len(line) - line.endswith(b"\n")))
        else:
            line = b""
        pos = f.tell() - len(line)  # where the torn tail starts, or the end
        size = f.seek(0, os.SEEK_END)
    report.records += lines - (len(damaged) - seen)
    if pos < size:
        report.torn_bytes += size - pos
        report.torn_file = path.name
        if cut:
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
        loop = running_loop()
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


class Companion(Protocol):
    """Files written in the journal's group commits, before it (the segments)."""

    @property
    def pending(self) -> int: ...
    def stage(self) -> list[AppendFile]: ...
    def trim(self) -> None: ...
    def durable(self) -> None: ...


class Journal:
    """One journal file at a time; `rotate()` switches to a new file between two group commits.

    A failed write or sync acknowledges nothing of its group: the records stay in the buffer, the file is cut back
    to its last durable offset (a partial record left in it would end the next replay there), and the next commit,
    or a retry every `retry_s` seconds, writes them again (see `AppendFile`).

    `companion` (the segments) has its own files written and synced in the same job, before the journal's: a
    record that refers to a blob is never durable without it.
    """

    gather_turns = 16  # at most this many turns of the event loop a group commit waits for more writers,
    gather_quiet = 2  # and no more once this many turns in a row have added none
    retry_s = 1.0  # while writes fail, how often to try again when no commit asks
    # an `inline` journal still hands a group larger than this to its thread: the loop reads the next requests
    # while the disk takes large bodies
    inline_max = 256 * 1024

    def __init__(
        self,
        path: Path,
        *,
        fsync: bool = True,
        inline: bool = False,
        on_state: Callable[[str | None], None] | None = None,
        companion: Companion | None = None,
    ) -> None:
        """`on_state(reason)` is called when writes start failing, `on_state(None)` when they succeed again."""
        self._fsync = fsync
        self.inline = inline  # write and sync on the event loop's thread (see the module's docstring)
        self.on_state = on_state
        self.companion = companion
        self.failure: str | None = None  # why the last write failed, until one succeeds
        self._writer = Writer()
        self.file = AppendFile(path, fsync=fsync)
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._flushing = False
        self._retry: asyncio.TimerHandle | None = None

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def size(self) -> int:
        return self.file.size

    def append(self, record: Any) -> None:
        self.file.append(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

    @property
    def pending(self) -> int:
        """Bytes appended and not yet durable."""
        return self.file.pending + (self.companion.pending if self.companion is not None else 0)

    def _stage(self) -> list[tuple[AppendFile, list[bytes], int]]:
        """What the next write puts: the companion's files first, then the journal's (on the loop's thread)."""
        files = [*(self.companion.stage() if self.companion is not None else ()), self.file]
        return [(f, *f.staged()) for f in files if f.pending]

    @staticmethod
    def _put(jobs: list[tuple[AppendFile, list[bytes], int]]) -> None:
        for file, data, start in jobs:
            file.put(data, start)

    def _failure(self, exc: OSError, jobs: list[tuple[AppendFile, list[bytes], int]]) -> str:
        failed = next((f for f, _, _ in jobs if f.pending), self.file)
        return f"{exc.strerror or exc} ({failed.path.name})"

    def flush(self) -> None:
        """Write and sync everything appended so far, synchronously (for shutdown and tools). Raises
        `StoreNotWritable` when it cannot."""
        jobs = self._stage()
        if not jobs and self.failure is None:
            return
        try:
            self._writer.call(self._put, jobs)
        except OSError as exc:
            reason = self._failure(exc, jobs)
            self._failed(reason)
            raise StoreNotWritable(reason) from exc
        self._wrote()

    async def commit(self) -> None:
        """Return once every record appended before this call is durable; raise `StoreNotWritable` when the write
        or sync of its group failed (the records stay buffered for the next try)."""
        target = self.file.size
        if self.file.synced >= target:
            return
        fut = running_loop().create_future()
        self._waiters.append((target, fut))
        self._start_flush()
        await fut

    def _start_flush(self) -> None:
        if not self._flushing:
            self._flushing = (
                True  # now, not when the task starts: the other writers of this turn must not start one
            )
            running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        import asyncio

        gather = self.gather_turns
        try:
            while self.pending or self.failure is not None:
                # Let the writers the loop is about to run append first (requests already read, handlers already
                # woken): one write and one fsync for all of them instead of one each. Stops as soon as a turn of
                # the loop adds nothing, so a lone writer waits one turn (microseconds), never a timer. After a
                # sync, what came meanwhile is the next group: waiting more would only add to everyone's latency.
                quiet = 0
                for _ in range(gather):
                    seen = self.file.size
                    await asyncio.sleep(0)
                    quiet = quiet + 1 if self.file.size == seen else 0
                    if quiet >= self.gather_quiet:
                        break
                gather = 0
                jobs = self._stage()
                try:
                    if self.inline and sum(f.pending for f, _, _ in jobs) <= self.inline_max:
                        self._put(jobs)
                    else:
                        await self._writer.run(self._put, jobs)
                except OSError as exc:
                    self._failed(self._failure(exc, jobs))
                    return
                self._wrote()
        finally:
            self._flushing = False

    def _wrote(self) -> None:
        """After a successful write: drop the durable bytes from the buffers, answer their waiters."""
        self._trim()
        if self.companion is not None:
            self.companion.durable()
        if self.failure is not None:
            self.failure = None
            if self._retry is not None:
                self._retry.cancel()
                self._retry = None
            if self.on_state is not None:
                self.on_state(None)

    def _trim(self) -> None:
        if self.companion is not None:
            self.companion.trim()
        synced = self.file.trim()
        still = []
        for target, fut in self._waiters:
            if target <= synced:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((target, fut))
        self._waiters = still

    def _failed(self, reason: str) -> None:
        """A write failed: every waiter not yet durable gets `StoreNotWritable`; try again in `retry_s`."""
        self._trim()  # (what an earlier job made durable)
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
            loop = running_loop()
            if self._retry is None or self._retry.cancelled():
                self._retry = loop.call_later(self.retry_s, self._try_again)

    def _try_again(self) -> None:
        self._retry = None
        if self.failure is not None:
            self._start_flush()

    def rotate(self, path: Path) -> None:
        """Flush the current file and continue in `path` (called from the event loop thread). Every waiter was
        answered by the flush, so offsets in the new file start again from 0."""
        self.flush()
        old = self.file
        self.file = AppendFile(path, fsync=self._fsync)
        self._writer.call(old.close)

    def close(self) -> None:
        """Flush and close; what cannot be written now was never acknowledged, and is dropped."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        try:
            self.flush()
        except StoreNotWritable as exc:
            log.warning("closing the store with %d bytes unwritten: %s", self.pending, exc.reason)
        self.file.close()
        self._writer.stop()
