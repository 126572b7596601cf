"""A journal write or sync that fails (ENOSPC, EIO) acknowledges nothing of its group, leaves no fragment in the
file, keeps the records for the next commit, and loses nothing acknowledged before or after it."""

from __future__ import annotations

import asyncio
import errno
import os

import orjson
import pytest
from store_faults import Faults

from katya_tui.core.store import Store, StoreNotWritable


def journal_bytes(store: Store) -> bytes:
    assert store.journal is not None
    return store.journal.path.read_bytes()


def whole_lines(data: bytes) -> list:
    assert data == b"" or data.endswith(b"\n"), "a fragment at the end of the journal"
    return [orjson.loads(line) for line in data.splitlines()]


async def write_group(store: Store, names: list[str]) -> list[BaseException | None]:
    """Several writers in one group commit: each inserts and awaits its commit."""

    async def one(name: str) -> None:
        store.table("captures").insert({"id": name})
        await store.commit()

    return await asyncio.gather(*(one(n) for n in names), return_exceptions=True)


@pytest.mark.parametrize("inline", [False, True], ids=["thread", "inline"])
@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO], ids=["ENOSPC", "EIO"])
@pytest.mark.parametrize("step", ["before", "mid", "sync", "mid+cut"])
async def test_a_failed_group_acknowledges_nothing_and_loses_nothing(
    tmp_path, monkeypatch, step, err, inline
):
    store = Store(tmp_path, inline_sync=inline)
    store.journal.retry_s = 60  # (only commits retry in this test)
    states: list[str | None] = []
    store.on_writable = states.append
    faults = Faults(monkeypatch, store)

    assert await write_group(store, ["before-1", "before-2"]) == [None, None]
    durable = journal_bytes(store)

    faults.arm(step, err)
    results = await write_group(store, ["lost-1", "lost-2", "lost-3"])
    assert faults.failed >= 1
    assert all(isinstance(r, StoreNotWritable) for r in results), results  # no waiter acknowledged
    reason = results[0].reason
    assert os.strerror(err) in reason and "journal.0.jsonl" in reason
    assert store.not_writable == reason and states == [reason]
    assert journal_bytes(store) == durable or step == "mid+cut"  # cut back to its durable end...
    assert store.journal.pending > 0  # ...and the records kept for the next commit

    # still failing: the next group is refused too, and nothing is appended after a fragment
    results = await write_group(store, ["lost-4"])
    assert isinstance(results[0], StoreNotWritable)
    assert journal_bytes(store) == durable
    assert states == [reason]  # said once

    faults.heal()
    assert await write_group(store, ["after-1", "after-2"]) == [None, None]
    assert store.not_writable is None and states == [reason, None]
    assert store.journal.pending == 0
    lines = whole_lines(journal_bytes(store))
    assert [rec[3]["id"] for rec in lines if rec[1] == "p"] == [
        "before-1",
        "before-2",
        "lost-1",
        "lost-2",
        "lost-3",
        "lost-4",
        "after-1",
        "after-2",
    ]
    store.close()

    again = Store(tmp_path)
    assert again.report.torn_bytes == 0
    ids = {doc["id"] for doc in again.all("captures")}
    assert {"before-1", "before-2", "after-1", "after-2"} <= ids  # every acknowledged record
    assert {"lost-1", "lost-4"} <= ids  # (and the refused ones, written by the later commit)
    again.close()


async def test_writes_are_retried_without_a_commit_and_the_state_clears(tmp_path, monkeypatch):
    store = Store(tmp_path)
    store.journal.retry_s = 0.01
    states: list[str | None] = []
    store.on_writable = states.append
    faults = Faults(monkeypatch, store)
    faults.arm("mid", errno.ENOSPC)
    assert isinstance((await write_group(store, ["x"]))[0], StoreNotWritable)
    faults.heal()
    for _ in range(500):  # the retry timer writes it: no commit asks
        if store.not_writable is None:
            break
        await asyncio.sleep(0.01)
    assert store.not_writable is None and states[-1] is None
    assert [rec[3]["id"] for rec in whole_lines(journal_bytes(store))] == ["x"]
    store.close()


def test_closing_on_a_full_disk_drops_only_what_was_never_acknowledged(tmp_path, monkeypatch):
    store = Store(tmp_path)
    faults = Faults(monkeypatch, store)
    store.table("captures").insert({"id": "kept"})
    store.flush()
    faults.arm("mid", errno.ENOSPC)
    store.table("captures").insert({"id": "never acknowledged", "pad": "x" * 1000})
    with pytest.raises(StoreNotWritable):
        store.flush()
    store.close()  # does not raise; releases the data dir
    assert [rec[3]["id"] for rec in whole_lines((tmp_path / "journal.0.jsonl").read_bytes())] == ["kept"]
    again = Store(tmp_path)
    assert [d["id"] for d in again.all("captures")] == ["kept"]
    again.close()


async def test_a_compaction_on_a_full_disk_leaves_no_temp_file_and_the_journals_whole(tmp_path, monkeypatch):
    store = Store(tmp_path)
    store.table("captures").insert({"id": "a"})
    await store.commit()
    real_open = open

    def full_open(path, *a, **kw):
        f = real_open(path, *a, **kw)
        if str(path).endswith(".tmp"):
            f.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return f

    monkeypatch.setattr("builtins.open", full_open)
    await store.compact()  # logs the failure; the journals still hold everything
    monkeypatch.undo()
    assert not (tmp_path / "db.json.tmp").exists()
    store.table("captures").insert({"id": "b"})
    await store.commit()
    store.close()
    again = Store(tmp_path)
    assert [d["id"] for d in again.all("captures")] == ["a", "b"]
    again.close()
