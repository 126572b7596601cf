"""Private by default: the data dir is made 0700 and every file in it 0600; an unsafe existing dir is refused."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from katya_tui.core.datadir import DataDirUnsafe, prepare
from katya_tui.core.prefs import Prefs

ROOT = Path(__file__).parent.parent


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "katya_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_a_real_run_leaves_a_0700_dir_of_0600_files(tmp_path):
    data = tmp_path / "new" / "data"
    proc = _cli("serve", "--port", "0", "--data-dir", str(data))  # no token given: one is made and kept
    try:
        ready = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        token = (data / "token").read_text().strip()
        req = urllib.request.Request(
            ready["url"] + "/hooks/x", data=b'{"a":1}', headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200
        req = urllib.request.Request(
            ready["url"] + "/v1/captures", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["data"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0
    Prefs(data).set("replay", {"x": 1})
    out = tmp_path / "export.jsonl"
    exp = _cli("export", "--data-dir", str(data), "-o", str(out))
    exp.communicate(timeout=30)
    assert exp.returncode == 0 and _mode(out) == 0o600
    exp = _cli("export", "--data-dir", str(data), "--format", "har", "-o", str(tmp_path / "x.har"))
    exp.communicate(timeout=30)
    assert _mode(tmp_path / "x.har") == 0o600
    # a compaction writes a new snapshot: it is 0600 too
    from katya_tui.core.store import Store

    store = Store(data)
    store.compact_sync()
    store.close()
    assert _mode(data) == 0o700
    names = sorted(p.name for p in data.iterdir())
    for want in ("db.json", "katya-tui.log", "katya.lock", "prefs.json", "token"):
        assert want in names, names
    assert any(n.startswith("journal.") for n in names)
    assert {n: _mode(data / n) for n in names} == {n: 0o600 for n in names}


def test_rotated_logs_stay_0600(tmp_path):
    import logging

    from katya_tui.logs import log_to_file

    path = log_to_file(tmp_path)
    handler = logging.getLogger().handlers[0]
    try:
        assert isinstance(handler, logging.handlers.RotatingFileHandler)
        logging.getLogger("t").warning("one")
        handler.doRollover()
        logging.getLogger("t").warning("two")
        handler.doRollover()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert path.exists()
    logs = sorted(tmp_path.glob("katya-tui.log*"))
    assert len(logs) == 3 and all(_mode(p) == 0o600 for p in logs)


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_a_dir_others_can_write_is_refused(tmp_path, mode):
    d = tmp_path / "d"
    d.mkdir()
    os.chmod(d, mode)
    with pytest.raises(DataDirUnsafe, match="group or others can write"):
        prepare(d)
    assert _mode(d) == mode  # left as it was
    proc = _cli("serve", "--port", "0", "--data-dir", str(d))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err and str(d) in err, err
    assert os.listdir(d) == []  # nothing written there: no token, no log


def test_a_dir_another_user_owns_is_refused(tmp_path):
    if os.geteuid() == 0:
        d = tmp_path / "theirs"
        d.mkdir(mode=0o700)
        os.chown(d, 65534, 65534)
    else:
        d = Path("/")  # owned by root: another user
    with pytest.raises(DataDirUnsafe, match="belongs to another user"):
        prepare(d)
    proc = _cli("run", "--data-dir", str(d))  # the TUI refuses before it starts
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "belongs to another user" in err and err.strip().count("\n") == 0


def test_a_readable_katya_dir_is_tightened_and_its_files_too(tmp_path):
    d = tmp_path / "old"
    d.mkdir()
    os.chmod(d, 0o755)
    for name in ("db.json", "katya.lock", "journal.0.jsonl"):
        (d / name).write_bytes(b"{}" if name == "db.json" else b"")
        os.chmod(d / name, 0o644)
    (d / "notes.txt").write_text("mine")
    os.chmod(d / "notes.txt", 0o644)
    prepare(d)
    assert _mode(d) == 0o700
    assert [_mode(d / n) for n in ("db.json", "katya.lock", "journal.0.jsonl")] == [0o600] * 3
    assert _mode(d / "notes.txt") == 0o644  # not ours: left alone


def test_a_readable_dir_of_other_things_is_accepted_as_is(tmp_path):
    d = tmp_path / "project"
    d.mkdir()
    os.chmod(d, 0o755)
    (d / "README").write_text("x")
    assert prepare(d) == d
    assert _mode(d) == 0o755
