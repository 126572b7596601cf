"""The store: TinyDB's API over a snapshot plus journal, with group commit, compaction and retention.

On disk, in the data dir:
- `db.json`: a TinyDB-format snapshot (readable by plain `TinyDB("db.json")`, laid out a chunk of documents a
  line: see `snapshot.py`); its `_meta` table names the first journal generation it does not contain;
- `journal.<gen>.jsonl`: the writes since, one JSON array a line: `[table, "p", doc_id, doc]` puts a document,
  `[table, "d", doc_id]` removes one, `[table, "c"]` clears a table, `[table, "a", doc_id, key, item, fields(, ref)]`
  appends `item` to a document's list `key`, sets `fields` (and adds the reference of the item's blob);
- `segment.<n>.dat`: the large fields of records (bodies, headers, event data, attempts), which documents refer
  to (see `cold.py` and `segments.py`). Retention by bytes deletes the oldest segment whole, with the records that
  refer to it (a record pending work still needs is written again into the newest segment first).
Compaction rotates to a new journal, writes the snapshot to a temp file, fsyncs it and renames it into place, then
deletes the journals it covers. A crash at any point leaves either the old snapshot with every journal, or the new
snapshot with the journals it does not cover; both open to the same data.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import datadir, gcpolicy, mallocpolicy
from . import refcheck
from .cold import COLD, Cold
from .journal import Journal, ReplayReport, StoreNotWritable, damaged_lines, replay, running_loop
from .lock import DataDirLock
from .segments import Segments
from .snapshot import StoreCorrupt, read_snapshot, snapshot_parts
from .table import JournaledDB, JournaledTable, MemoryStorage, add_ref

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

SNAPSHOT = "db.json"
META = "_meta"
_JOURNAL_RE = re.compile(r"^journal\.(\d+)\.jsonl$")


class StoreReadOnly(RuntimeError):
    pass


DEFAULT_BYTES = 2 * 1024**3  # retention by bytes: what the segments may hold before the oldest goes


def _apply_to(tables: dict[str, dict[str, Any]]) -> Callable[[list], None]:
    def apply(rec: list) -> None:
        if type(rec) is not list or len(rec) < 2 or type(name := rec[0]) is not str:
            raise ValueError("not a journal record")
        op = rec[1]
        if op == "p":  # (nearly every record: no new dict for `setdefault` each time)
            docs = tables.get(name)
            if docs is None:
                docs = tables[name] = {}
            docs[str(rec[2])] = rec[3]
        elif op == "d":
            tables.get(name, {}).pop(str(rec[2]), None)
        elif op == "c":
            tables[name] = {}
        elif op == "a":
            if (doc := tables.get(name, {}).get(str(rec[2]))) is not None:
                doc[rec[3]] = [*(doc.get(rec[3]) or ()), rec[4]]  # see `JournaledTable.append_to`
                doc.update(rec[5])
                if len(rec) > 6:
                    add_ref(doc, rec[6])
        else:
            raise ValueError(f"unknown journal operation {op!r}")

    return apply


def _refuse_write(record: Any) -> None:
    raise StoreReadOnly("this store was opened read-only")


class Store:
    """Owns the data dir's database. Writes are synchronous in memory; `await commit()` makes them durable."""

    compact_quiet_s = (
        0.5  # a compaction that is due waits for this long without a commit (a lull in the traffic),
    )
    compact_overdue = 2  # unless the journal has grown to this many times the size that made it due
    # after this many bytes of blobs, the C allocator's free pages go back to the system (see `mallocpolicy`)
    give_back_every = 32 * 1024 * 1024

    def __init__(
        self,
        data_dir: Path,
        *,
        caps: dict[str, int] | None = None,
        max_bytes: int = DEFAULT_BYTES,
        fsync: bool = True,
        compact_min_bytes: int = 64 * 1024 * 1024,
        lock: bool = True,
        readonly: bool = False,
        inline_sync: bool = False,
    ) -> None:
        """`readonly` opens a store that another process may own (for exports): no lock, no journal, no repair.
        `inline_sync`: the journal writes and syncs on the event loop's thread (headless; see `journal.py`)."""
        self.data_dir = Path(data_dir)
        self.caps = dict(caps or {})
        self.max_bytes = max_bytes
        self.compact_min_bytes = compact_min_bytes
        self.report = ReplayReport()
        self._fsync = fsync
        self.readonly = readonly
        self._lock = DataDirLock(self.data_dir) if lock and not readonly else None
        self._compacting: asyncio.Task | None = None
        self._compact_later: asyncio.TimerHandle | None = None
        self._last_commit = 0.0
        self._snapshot_size = 0
        self._given_back = 0
        self.on_writable: Callable[[str | None], None] | None = None  # see `_writable_changed`
        datadir.prepare(self.data_dir)
        if self._lock:
            self._lock.acquire()
        with gcpolicy.loading():
            tables = self._open(max_bytes)
            self.journal: Journal | None = None  # a read-only store has none
            if readonly:
                append = _refuse_write
            else:
                self.segments.drop_unreferenced()
                self.journal = Journal(
                    self._journal_path(self.generation),
                    fsync=fsync,
                    inline=inline_sync,
                    on_state=self._writable_changed,
                    companion=self.segments,
                )
                append = self.journal.append
            self.cold = Cold(self.segments)
            self.db = JournaledDB(storage=MemoryStorage, tables=tables, journal_append=append, cold=self.cold)
        for name in tables:
            self.table(name)

    # -- opening ---------------------------------------------------------------------------------------------

    def _journal_path(self, gen: int) -> Path:
        return self.data_dir / f"journal.{gen}.jsonl"

    def _open(self, max_bytes: int) -> dict[str, dict[str, Any]]:
        """Read the tables and check what they refer to; the data dir's lock is released when that fails."""
        try:
            tables, self.generation = self._load_retrying() if self.readonly else self._load()
            self.segments = Segments(self.data_dir, fsync=self._fsync)
            self.segments.max_size = max(1024**2, min(Segments.max_size, max_bytes // 16))
            self._check_segments(tables)
        except BaseException:
            if self._lock:
                self._lock.release()
            raise
        return tables

    def _load_retrying(self) -> tuple[dict[str, dict[str, Any]], int]:
        """A reader may race its writer's compaction (a journal deleted under it): read again."""
        for _ in range(4):
            try:
                return self._load()
            except FileNotFoundError:
                self.report = ReplayReport()
        return self._load()

    def _load(self) -> tuple[dict[str, dict[str, Any]], int]:
        tables: dict[str, dict[str, Any]] = {}
        first_gen = 0
        snap = self.data_dir / SNAPSHOT
        if snap.exists():
            tables, self._snapshot_size = read_snapshot(snap)
            meta = tables.pop(META, {})
            first_gen = int(meta.get("1", {}).get("next_generation", 0))
        journals = sorted(
            (int(m.group(1)), p) for p in self.data_dir.iterdir() if (m := _JOURNAL_RE.match(p.name))
        )
        apply = _apply_to(tables)
        gen = first_gen
        live = [(g, p) for g, p in journals if g >= first_gen]
        for g, path in journals:
            if g < first_gen:
                if not self.readonly:
                    path.unlink()  # covered by the snapshot; left behind by a crash after the rename
                continue
            gen = g
            seen = len(self.report.damaged)
            if not replay(path, apply, self.report, cut=not self.readonly, newest=(g, path) == live[-1]):
                log.warning("cut a torn journal tail: %d bytes in %s", self.report.torn_bytes, path.name)
            if len(self.report.damaged) > seen and not self.readonly:
                self._keep_aside(path)
        return tables, gen

    def _check_segments(self, tables: dict[str, dict[str, Any]]) -> None:
        """Count the references to each segment (`Segments.live`) and refuse a store whose records refer to a
        segment that is missing or shorter than they say (a checksum is checked on each read)."""
        counts: Counter[int] = Counter()
        bad = False
        for name in COLD:
            bad = refcheck.count_refs(tables.get(name, {}), counts, self.segments.sizes) or bad
        self.segments.live.update(counts)
        if bad:
            self._refuse(tables)

    def _refuse(self, tables: dict[str, dict[str, Any]]) -> None:
        """`StoreCorrupt` for the first segment (by number) that is missing or shorter than its records say."""
        ends: dict[int, int] = {}
        for name in COLD:
            for seg, off, size in refcheck.each_ref(tables.get(name, {}).values()):
                ends[seg] = max(ends.get(seg, 0), off + size)
        for seg, end in sorted(ends.items()):
            have = self.segments.sizes.get(seg)
            if have is None:
                raise StoreCorrupt(self.segments.path(seg), "it is missing")
            if have < end:
                raise StoreCorrupt(self.segments.path(seg), f"it ends at byte {have}, records refer to {end}")

    def _keep_aside(self, journal: Path) -> None:
        """Copy the damaged lines of `journal` to `<journal>.damaged` (rewritten whole at each open): a compaction
        that drops the journal then loses none of its bytes."""
        aside = journal.with_name(journal.name + ".damaged")
        bad = [d for d in self.report.damaged if d.file == journal.name]
        for d in bad:
            log.warning("skipped a damaged journal record: %s (kept in %s)", d, aside.name)
        tmp = aside.with_name(aside.name + ".tmp")
        fd = datadir.create_private(tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(damaged_lines(journal, bad))
        os.replace(tmp, aside)

    # -- the TinyDB API --------------------------------------------------------------------------------------

    def table(self, name: str) -> JournaledTable:
        t = cast(JournaledTable, self.db.table(name))  # (the `table_class` of JournaledDB)
        t.cap = self.caps.get(name)
        return t

    def counts(self) -> dict[str, int]:
        return {
            name: len(self.db.table(name)) for name in sorted(self.db.tables()) if not name.startswith("_")
        }

    # -- reads from any thread (see `queries`) ---------------------------------------------------------------

    def record(self, name: str, ident: str) -> dict[str, Any] | None:
        """The whole record of table `name` whose `id` is `ident` (its large fields read from the segments), by the
        id index (O(1)); or None."""
        doc = cast(MemoryStorage, self.db.storage).peek(name, ident)
        return None if doc is None else self.cold.thaw(name, doc)

    def records(self, name: str) -> list[dict[str, Any]]:
        """Every stored document of table `name`, oldest first, listed at once (`MemoryStorage.records`): a
        worker thread may walk the list while the loop writes. The documents are the live ones, as kept in memory
        (large fields slim or left out: `thaw` gives the whole record): read only."""
        return cast(MemoryStorage, self.db.storage).records(name)

    def all(self, name: str) -> list[dict[str, Any]]:
        """Every record of table `name`, whole, oldest first (reads every blob: for tools and tests)."""
        return [self.cold.thaw(name, d) for d in self.records(name)]

    def thaw(self, name: str, doc: dict[str, Any], body: bool = True) -> dict[str, Any]:
        """The whole record of a document of `records(name)` (a new dict), a capture's body only if `body`."""
        return self.cold.thaw(name, doc, body)

    # -- durability ------------------------------------------------------------------------------------------

    @property
    def _writer(self) -> Journal:
        """The journal, which only a store opened for writing has."""
        if self.journal is None:
            raise StoreReadOnly("this store was opened read-only")
        return self.journal

    @property
    def not_writable(self) -> str | None:
        """Why the last write to disk failed, while writes fail (None when they succeed)."""
        return self.journal.failure if self.journal is not None else None

    def _writable_changed(self, reason: str | None) -> None:
        """Writes started failing (`reason`) or succeed again (None): tell `on_writable` (the service's facts)."""
        if self.on_writable is not None:
            self.on_writable(reason)

    async def commit(self) -> None:
        """Wait until every write made so far is on disk; compact when the journal has grown (see `_compact_due`).
        Raises `StoreNotWritable` when the disk refused them: they stay in memory and are written by a later commit."""
        journal = self._writer
        await journal.commit()
        self._last_commit = time.monotonic()
        if self.segments.total > self.max_bytes:
            self._prune_bytes()
        if self.segments.appended - self._given_back >= self.give_back_every:
            self._given_back = self.segments.appended
            mallocpolicy.give_back()
        if self._compacting is None:
            due = max(self.compact_min_bytes, self._snapshot_size)
            if journal.size > due * self.compact_overdue:
                self._start_compaction()
            elif journal.size > due and self._compact_later is None:
                self._compact_later = running_loop().call_later(self.compact_quiet_s, self._compact_due)

    def _compact_due(self) -> None:
        """A compaction serialises the whole store (holding the GIL) and writes it out: under load the requests
        wait for it all that time, so it waits for a lull of `compact_quiet_s` (bursts have them), or for the
        journal to reach `compact_overdue` times its threshold (sustained load), whichever comes first."""
        self._compact_later = None
        if self._compacting is not None or self.journal is None:
            return
        quiet = time.monotonic() - self._last_commit
        if quiet >= self.compact_quiet_s:
            self._start_compaction()
        else:
            self._compact_later = running_loop().call_later(self.compact_quiet_s - quiet, self._compact_due)

    def _start_compaction(self) -> None:
        if self._compact_later is not None:
            self._compact_later.cancel()
            self._compact_later = None
        self._compacting = running_loop().create_task(self.compact())

    def flush(self) -> None:
        self._writer.flush()

    def _prune_bytes(self) -> None:
        """Retention by bytes: remove the records of the oldest segments until the rest fit in `max_bytes`
        (their deletion follows once that is durable). Costs what it removes, not the size of the tables."""
        segments = self.segments
        while segments.total > self.max_bytes:
            oldest = min(segments.sizes)
            if oldest == segments.current:
                return
            for name in COLD:
                if segments.live[oldest] <= 0:
                    break
                self.table(name).prune_segment(oldest)
            if segments.live[oldest] > 0:  # (never expected: every reference to it is in these tables)
                log.warning("retention could not free %s", segments.path(oldest).name)
                return
            segments.sizes.pop(oldest, None)  # (counted out now; the file goes after the next durable write)

    async def compact(self) -> None:
        """Snapshot the current state and drop the journals it covers; writers go on meanwhile."""
        try:
            gen, state = self._rotate_for_snapshot()
            loop = running_loop()
            self._snapshot_size = await loop.run_in_executor(None, self._write_snapshot, state)
            self._drop_journals_before(gen)
        except (OSError, StoreNotWritable) as exc:  # the journals still hold everything: compact another time
            log.warning("compaction failed: %s", exc)
        finally:
            self._compacting = None

    def compact_sync(self) -> None:
        gen, state = self._rotate_for_snapshot()
        self._snapshot_size = self._write_snapshot(state)
        self._drop_journals_before(gen)

    def _rotate_for_snapshot(self) -> tuple[int, dict[str, Any]]:
        """Start a new journal generation and take the state the snapshot will hold (everything before it).

        Copying each table's dict is enough: serialisation holds the GIL, so no write interleaves with it.
        """
        self._writer.rotate(
            self._journal_path(self.generation + 1)
        )  # (raises when the old one cannot be flushed)
        self.generation += 1
        state = {name: dict(docs) for name, docs in cast(MemoryStorage, self.db.storage).tables.items()}
        state[META] = {"1": {"next_generation": self.generation}}
        return self.generation, state

    def _write_snapshot(self, state: dict[str, Any]) -> int:
        tmp = self.data_dir / (SNAPSHOT + ".tmp")
        size = 0
        try:
            with os.fdopen(datadir.create_private(tmp), "wb") as f:
                for part in snapshot_parts(state):
                    f.write(part)
                    size += len(part)
                f.flush()
                if self._fsync:
                    os.fsync(f.fileno())
        except OSError:
            tmp.unlink(missing_ok=True)  # (on a full disk, the space it took)
            raise
        os.replace(tmp, self.data_dir / SNAPSHOT)
        if self._fsync:
            dir_fd = os.open(self.data_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return size

    def _drop_journals_before(self, gen: int) -> None:
        for p in self.data_dir.iterdir():
            m = _JOURNAL_RE.match(p.name)
            if m and int(m.group(1)) < gen:
                p.unlink()

    async def wait_compaction(self) -> None:
        """Wait for the compaction under way; one that is due but waiting for a lull starts now."""
        if self._compact_later is not None and self._compacting is None:
            self._start_compaction()
        if self._compacting is not None:
            await self._compacting

    def close(self) -> None:
        """Flush every write and release the data dir."""
        if self._compact_later is not None:
            self._compact_later.cancel()
            self._compact_later = None
        if self.journal is not None:
            self.journal.close()
        self.segments.close()
        if self._lock:
            self._lock.release()
            self._lock = None
