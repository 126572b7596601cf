"""Opening a damaged store: a torn tail is cut, damage in the middle is reported and skipped with every record
after it kept, an unreadable snapshot is refused (one line, exit 1) until `--repair`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from katya_tui.core.store import Store, StoreCorrupt
from katya_tui.core.store.repair import repair, salvage

ROOT = Path(__file__).parent.parent


def _filled(path: Path, n: int) -> Path:
    store = Store(path)
    for i in range(n):
        store.table("t").insert({"id": f"x_{i}", "i": i})
    store.close()
    return next(path.glob("journal.*.jsonl"))


def test_garbage_in_the_middle_is_reported_and_every_record_after_it_kept(tmp_path):
    journal = _filled(tmp_path, 10)
    lines = journal.read_bytes().splitlines(keepends=True)
    offset = sum(map(len, lines[:4]))
    journal.write_bytes(b"".join(lines[:4]) + b"\x00garbage{\n" + b"".join(lines[4:]))
    store = Store(tmp_path)
    assert [d["i"] for d in store.table("t").all()] == list(range(10))
    assert store.report.torn_bytes == 0
    [damage] = store.report.damaged
    assert (damage.file, damage.line, damage.offset) == (journal.name, 5, offset)
    assert str(damage) == f"{journal.name} line 5 (byte {offset}, 9 bytes)"
    assert (tmp_path / (journal.name + ".damaged")).read_bytes() == b"\x00garbage{\n"
    store.compact_sync()  # the journal goes; its damaged line stays aside
    store.close()
    assert (tmp_path / (journal.name + ".damaged")).exists()
    store = Store(tmp_path)
    assert len(store.table("t")) == 10 and not store.report.damaged
    store.close()


def test_a_partial_record_followed_by_later_writes_loses_none_of_them(tmp_path):
    """A failed write leaves a fragment; what is appended after it shares its line: that line alone is lost."""
    journal = _filled(tmp_path, 3)
    with open(journal, "ab") as f:
        f.write(b'["t","p",4,{"id":"x_hal')
        f.write(orjson.dumps(["t", "p", 5, {"id": "x_5", "i": 5}]) + b"\n")
        f.write(orjson.dumps(["t", "p", 6, {"id": "x_6", "i": 6}]) + b"\n")
    store = Store(tmp_path)
    assert [d["i"] for d in store.table("t").all()] == [0, 1, 2, 6]
    assert [d.line for d in store.report.damaged] == [4] and store.report.torn_bytes == 0
    store.close()


def test_only_the_newest_journal_has_a_torn_tail(tmp_path):
    journal = _filled(tmp_path, 2)
    newer = tmp_path / "journal.1.jsonl"
    newer.write_bytes(orjson.dumps(["t", "p", 3, {"id": "x_3", "i": 3}]) + b"\n" + b'["t","p",4,{"tor')
    with open(journal, "ab") as f:
        f.write(b'["t","p",9,{"cut')  # an older journal ends cut: damage, not a tail
    store = Store(tmp_path)
    assert [d["i"] for d in store.table("t").all()] == [0, 1, 3]
    assert store.report.torn_file == newer.name and store.report.torn_bytes == len(b'["t","p",4,{"tor')
    assert [(d.file, d.line) for d in store.report.damaged] == [(journal.name, 3)]
    store.close()
    assert newer.read_bytes().endswith(b"\n")


@pytest.mark.parametrize(("content", "why"), [(b"", "it is empty"), (b'{"t": {"1": {"i"', "not valid JSON")])
def test_an_unreadable_snapshot_is_refused_never_read_as_empty(tmp_path, content, why):
    (tmp_path / "db.json").write_bytes(content)
    with pytest.raises(StoreCorrupt) as err:
        Store(tmp_path)
    assert (
        why in str(err.value) and str(tmp_path / "db.json") in str(err.value) and "--repair" in str(err.value)
    )
    with pytest.raises(StoreCorrupt):
        Store(tmp_path, readonly=True)


def test_salvage_reads_the_whole_records_before_the_damage():
    text = orjson.dumps(
        {"a": {"1": {"x": 1}, "2": {"x": 2}}, "b": {"1": {"y": [1, 2]}, "2": {"y": 3}}}
    ).decode()
    assert salvage(text[: text.index('"2":{"y"') + 3]) == {
        "a": {"1": {"x": 1}, "2": {"x": 2}},
        "b": {"1": {"y": [1, 2]}},
    }
    assert salvage("") == {} and salvage("garbage") == {}


def test_repair_keeps_what_is_readable_and_moves_the_rest_aside(tmp_path):
    store = Store(tmp_path)
    for i in range(5):
        store.table("t").insert({"id": f"x_{i}", "i": i})
    store.compact_sync()
    store.table("t").insert({"id": "x_5", "i": 5})  # in the journal
    store.close()
    snap = tmp_path / "db.json"
    raw = snap.read_bytes()
    snap.write_bytes(raw[: raw.index(b'"5":')])  # cut after the fourth record
    done = repair(tmp_path)
    assert any("moved to db.json.damaged-" in line and "4 records" in line for line in done), done
    [aside] = tmp_path.glob("db.json.damaged-*")
    assert aside.read_bytes() == raw[: raw.index(b'"5":')]
    store = Store(tmp_path)
    assert sorted(d["i"] for d in store.table("t").all()) == [0, 1, 2, 3, 5]
    store.close()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "katya_tui", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KATYA_TUI_TOKEN": "serve-test-token"},
        timeout=60,
    )


def test_serve_and_export_refuse_a_corrupt_snapshot_in_one_line_and_repair_opens_it(tmp_path):
    (tmp_path / "db.json").write_bytes(b'{"captures": {"1": {"id": "cap_')
    for args in (["serve", "--port", "0"], ["export"]):
        res = _cli(*args, "--data-dir", str(tmp_path))
        assert res.returncode == 1, (args, res.stderr)
        assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr, res.stderr
        assert str(tmp_path / "db.json") in res.stderr and "--repair" in res.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "katya_tui", "serve", "--repair", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KATYA_TUI_TOKEN": "serve-test-token"},
    )
    try:
        ready = orjson.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert ready["ready"] is True
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "repair:" in err and "db.json.damaged-" in err
    assert proc.returncode == 0
    assert _cli("export", "--data-dir", str(tmp_path)).returncode == 0


async def test_the_tui_refuses_a_corrupt_snapshot_with_the_reason(settings):
    from ui_main_helpers import until

    from katya_tui.ui.app import KatyaApp, StartupFailed

    (settings.data_dir / "db.json").write_bytes(b"")
    app = KatyaApp(settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, StartupFailed))
        await pilot.press("q")
    assert app.startup_error and "\n" not in app.startup_error
    assert str(settings.data_dir / "db.json") in app.startup_error and "--repair" in app.startup_error


@pytest.mark.parametrize("newest", [True, False])
def test_replay_reports_each_bad_line_where_it_is_and_counts_the_records(tmp_path, newest):
    from katya_tui.core.store.journal import Damage, ReplayReport, replay

    good = [orjson.dumps(["t", "p", i, {"i": i}]) + b"\n" for i in range(6)]
    bad = [b"not json\n", b'{"a": 1}\n', b"[1]\n"]  # not JSON; JSON but not a record (twice)
    lines = good[:2] + bad[:1] + good[2:4] + bad[1:] + good[4:] + [b'["t","p",9,{"to']
    journal = tmp_path / "journal.0.jsonl"
    journal.write_bytes(b"".join(lines))
    applied: list = []
    report = ReplayReport()

    def apply(rec: list) -> None:
        if type(rec) is not list or len(rec) < 4:
            raise ValueError("not a record")
        applied.append(rec[2])

    whole = replay(journal, apply, report, cut=False, newest=newest)
    at = [sum(map(len, lines[:n])) for n in range(len(lines))]
    expected = [
        Damage(journal.name, 3, at[2], 8),
        Damage(journal.name, 6, at[5], 8),
        Damage(journal.name, 7, at[6], 3),
    ]
    if newest:  # the unterminated last line is the torn tail
        assert not whole and report.torn_bytes == len(lines[-1]) and report.torn_file == journal.name
    else:  # in an older journal it is damage like any other
        assert whole and report.torn_bytes == 0
        expected.append(Damage(journal.name, 10, at[9], len(lines[-1])))
    assert report.damaged == expected and applied == list(range(6)) and report.records == 6
