"""`katya-tui import`: JSON lines and HAR exports back into a store, marked imported with their original time,
re-verified against the local endpoint configs, published only when asked, idempotent, refusing a held data dir,
and naming each record it cannot read while keeping the rest."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from click.testing import CliRunner

from katya_tui.cli import main
from katya_tui.core.models import Capture, decode_body, encode_body
from katya_tui.core.signing import sign
from katya_tui.core.store import Store

SECRET = "bank-secret-1"
T0 = time.time() - 3600  # an hour ago: verified as of when it came, it is not stale


def _capture(i: int, body: bytes, headers: list[list[str]], endpoint: str = "bank") -> dict:
    text, enc = encode_body(body)
    return Capture(
        id=f"cap_{i:026d}",
        endpoint=endpoint,
        method="POST",
        path=f"/hooks/{endpoint}",
        query="a=1" if i == 1 else "",
        headers=headers,
        body=text,
        body_encoding=enc,
        body_size=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        truncated=False,
        remote="127.0.0.1",
        received_at=T0 + i,
        verdict={"status": "valid"},
        response={"status": 200, "headers": [["Content-Type", "application/json"]], "body": "{}"},
    ).to_doc()


ENVELOPE = b'{"id":"evt_imp","type":"message.created","createdAt":"2024-01-01T00:00:00Z","data":{"n":1}}'
BINARY = b"\x00\xff\xfe binary \x80"


@pytest.fixture
def source(tmp_path):
    """A store with a signed envelope, a binary body and an unsigned request, as an export would find them."""
    d = tmp_path / "source"
    store = Store(d)
    signed = [
        ["Content-Type", "application/json"],
        *map(list, sign("katya", ENVELOPE, SECRET, now=T0 + 1).headers),
    ]
    t = store.table("captures")
    t.insert(_capture(1, ENVELOPE, signed))
    t.insert(_capture(2, BINARY, [["Content-Type", "application/octet-stream"]], endpoint="files"))
    t.insert(_capture(3, b'{"hello": "world"}', [["Content-Type", "application/json"]], endpoint="open"))
    store.flush()
    store.close()
    return d


@pytest.fixture
def dest(tmp_path):
    """An empty data dir and a config whose endpoint `bank` holds the secret."""
    d = tmp_path / "dest"
    config = tmp_path / "katya.toml"
    config.write_text(
        f'[[endpoints]]\nname = "bank"\nsecrets = ["{SECRET}"]\nscheme = "katya"\n', encoding="utf-8"
    )
    return d, config


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def export(source, fmt: str, target) -> None:
    out = run(
        "export",
        "captures",
        "--format",
        fmt,
        "--data-dir",
        str(source),
        "--include-secrets",
        "-o",
        str(target),
    )
    assert out.exit_code == 0, out.output


def imported(dest) -> dict[str, dict]:
    store = Store(dest, readonly=True)
    try:
        return {d["id"]: store.record("captures", d["id"]) for d in store.records("captures")}
    finally:
        store.close()


def events_in(dest) -> list[dict]:
    store = Store(dest, readonly=True)
    try:
        return list(store.records("events"))
    finally:
        store.close()


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_an_export_round_trips_re_verified_unpublished_and_twice_adds_nothing(source, dest, tmp_path, fmt):
    d, config = dest
    file = tmp_path / f"caps.{fmt}"
    export(source, fmt, file)
    first = run("import", str(file), "--data-dir", str(d), "--config", str(config))
    assert first.exit_code == 0, first.output
    assert "imported 3 captures" in first.output
    caps = imported(d)
    assert sorted(caps) == [f"cap_{i:026d}" for i in (1, 2, 3)]
    signed, binary, plain = (caps[f"cap_{i:026d}"] for i in (1, 2, 3))
    assert signed["verdict"]["status"] == "valid"  # re-verified here, with this config's secret
    assert plain["verdict"]["status"] == "unsigned" and binary["endpoint"] == "files"
    assert decode_body(binary["body"], binary["body_encoding"]) == BINARY  # byte for byte
    assert binary["body_sha256"] == hashlib.sha256(BINARY).hexdigest()
    assert signed["received_at"] == pytest.approx(T0 + 1, abs=1e-3) and signed["query"] == "a=1"
    assert all(c["imported"]["from"] == fmt for c in caps.values())
    assert signed["event_type"] == "message.created" and signed["event_id"] is None
    assert events_in(d) == []  # never published unless asked
    again = run("import", str(file), "--data-dir", str(d), "--config", str(config))
    assert (
        again.exit_code == 0 and "imported 0 captures" in again.output and "3 already there" in again.output
    )
    assert len(imported(d)) == 3


def test_publish_makes_the_events_the_receiver_would(source, dest, tmp_path):
    d, config = dest
    file = tmp_path / "caps.jsonl"
    export(source, "jsonl", file)
    out = run("import", str(file), "--publish", "--data-dir", str(d), "--config", str(config))
    assert out.exit_code == 0, out.output
    [event] = events_in(d)
    assert event["id"] == "evt_imp" and event["source"] == "import" and event["verdict"] == "valid"
    assert imported(d)[f"cap_{1:026d}"]["event_id"] == "evt_imp"
    assert not (d / "address").exists()  # the tool's own port is not the instance's address


def test_a_browser_har_is_imported_by_a_key_of_its_own(dest, tmp_path):
    d, _ = dest
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "entries": [
                {
                    "startedDateTime": "2024-05-01T10:00:00.123Z",
                    "time": 12,
                    "request": {
                        "method": "POST",
                        "url": "https://example.test/hooks/gh/push?x=1",
                        "httpVersion": "h2",
                        "headers": [
                            {"name": ":authority", "value": "example.test"},
                            {"name": "x-a", "value": "1"},
                        ],
                        "postData": {"mimeType": "application/json", "text": '{"ü": 1}'},
                    },
                    "response": {"status": 204, "headers": [], "content": {"size": 0, "mimeType": ""}},
                },
                {"startedDateTime": "2024-05-01T10:00:01Z", "request": {"url": "https://x.test/"}},
            ],
        }
    }
    file = tmp_path / "browser.har"
    file.write_text(json.dumps(har), encoding="utf-8")
    out = run("import", str(file), "--data-dir", str(d))
    assert out.exit_code == 1 and "entry 2: not a HAR request (missing 'method')" in out.output
    [cap] = imported(d).values()
    assert cap["endpoint"] == "gh" and cap["path"] == "/hooks/gh/push" and cap["query"] == "x=1"
    assert (
        cap["headers"] == [["x-a", "1"]]
        and decode_body(cap["body"], cap["body_encoding"]) == '{"ü": 1}'.encode()
    )
    assert cap["received_at"] == pytest.approx(1714557600.123) and cap["response"]["status"] == 204
    assert "imported 0 captures" in run("import", str(file), "--data-dir", str(d)).output


def test_bad_records_are_named_and_the_rest_kept(source, dest, tmp_path):
    d, _ = dest
    file = tmp_path / "caps.jsonl"
    export(source, "jsonl", file)
    good = file.read_bytes().splitlines()
    file.write_bytes(b"\n".join([good[0], b"{not json", b'{"id": "cap_x"}', b"[1, 2]", good[2]]) + b"\n")
    out = run("import", str(file), "--data-dir", str(d))
    assert out.exit_code == 1
    errors = [line for line in out.output.splitlines() if line.startswith("katya-tui import:")]
    assert [e.split(": ")[2] for e in errors] == ["line 2", "line 3", "line 4"]
    assert "not JSON" in errors[0] and "not a katya-tui capture (missing 'body')" in errors[1]
    assert "imported 2 captures" in out.output and "3 not readable" in out.output
    assert len(imported(d)) == 2
    notahar = tmp_path / "x.har"
    notahar.write_text('{"entries": []}', encoding="utf-8")
    refused = run("import", str(notahar), "--data-dir", str(d))
    assert refused.exit_code == 1 and refused.output.strip().endswith("not a HAR file (missing 'log')")


def test_a_body_over_the_limit_is_kept_cut_and_noted(source, tmp_path):
    d = tmp_path / "small"
    config = tmp_path / "small.toml"
    config.write_text("body_limit = 8\n", encoding="utf-8")
    file = tmp_path / "caps.jsonl"
    export(source, "jsonl", file)
    assert run("import", str(file), "--data-dir", str(d), "--config", str(config)).exit_code == 0
    cap = imported(d)[f"cap_{3:026d}"]
    assert (
        cap["truncated"]
        and cap["body_size"] == 18
        and decode_body(cap["body"], cap["body_encoding"]) == b'{"hello"'
    )
    assert "over the 8 byte limit" in cap["body_note"]


def test_a_data_dir_held_by_a_running_instance_is_refused_in_one_line(source, dest, tmp_path):
    d, _ = dest
    file = tmp_path / "caps.jsonl"
    export(source, "jsonl", file)
    owner = Store(d)
    try:
        out = run("import", str(file), "--data-dir", str(d))
    finally:
        owner.close()
    assert out.exit_code == 1
    [line] = out.output.strip().splitlines()
    assert line.startswith("katya-tui: another katya-tui") and "data dir" in line
    assert imported(d) == {}
