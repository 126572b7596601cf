"""AppendFile: chunks kept as given, written whole with `writev` (whatever it writes at a time), read from the
buffer or the disk, and dropped from the buffer once durable."""

from __future__ import annotations

import os

import pytest

from katya_tui.core.store import appendfile
from katya_tui.core.store.appendfile import AppendFile


def test_reads_span_chunks_before_and_after_they_are_durable(tmp_path):
    f = AppendFile(tmp_path / "a.dat", fsync=False)
    offsets = [f.append(c) for c in (b"abc", b"", b"defgh", b"ij")]
    assert offsets == [0, 3, 3, 8]
    assert f.read(2, 5) == b"cdefg"  # across two chunks, from the buffer
    assert f.read(8, 10) == b"ij"  # short at the end
    f.put(*f.staged())
    f.append(b"klm")
    assert f.trim() == 10
    assert f.read(1, 4) == b"bcde"  # from the disk
    assert f.read(10, 3) == b"klm"  # still buffered
    f.put(*f.staged())
    assert f.trim() == 13 and f.pending == 0
    assert (tmp_path / "a.dat").read_bytes() == b"abcdefghijklm"
    f.close()


def test_a_writev_that_writes_less_is_continued(tmp_path, monkeypatch):
    real = os.writev
    calls = []

    def stingy(fd, buffers):  # at most 3 bytes a call, as a full pipe or a signal may make it
        calls.append(len(buffers))
        return real(fd, [bytes(buffers[0][:3])])

    monkeypatch.setattr(appendfile.os, "writev", stingy)
    f = AppendFile(tmp_path / "b.dat", fsync=False)
    for c in (b"hello", b" ", b"world"):
        f.append(c)
    f.put(*f.staged())
    f.close()
    assert (tmp_path / "b.dat").read_bytes() == b"hello world"
    assert len(calls) >= 4


def test_a_group_larger_than_iov_max_is_written_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(appendfile, "IOV_MAX", 7)
    f = AppendFile(tmp_path / "c.dat", fsync=False)
    lines = [f"{i}\n".encode() for i in range(100)]
    for line in lines:
        f.append(line)
    f.put(*f.staged())
    f.close()
    assert (tmp_path / "c.dat").read_bytes() == b"".join(lines)


def test_a_failed_write_is_cut_back_and_written_again_at_the_same_offsets(tmp_path, monkeypatch):
    real = os.writev
    f = AppendFile(tmp_path / "d.dat", fsync=False)
    f.append(b"kept")
    f.put(*f.staged())
    f.trim()
    f.append(b"0123456789")

    def half_then_full(fd, buffers):
        monkeypatch.setattr(appendfile.os, "writev", full)
        return real(fd, [bytes(buffers[0][:5])])

    def full(fd, buffers):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(appendfile.os, "writev", half_then_full)
    with pytest.raises(OSError):
        f.put(*f.staged())
    assert (tmp_path / "d.dat").read_bytes() == b"kept"
    monkeypatch.setattr(appendfile.os, "writev", real)
    f.put(*f.staged())
    f.close()
    assert (tmp_path / "d.dat").read_bytes() == b"kept0123456789"
