"""`katya-tui export`: every format, filters, masking, and reading beside a running owner."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import json
import stat
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from haralyzer import HarParser
from receiver_support import answer_to

from katya_tui.cli import main
from katya_tui.core.models import Capture, encode_body
from katya_tui.core.store import Store


def _capture(i: int, body: bytes, endpoint: str = "stripe", verdict: str = "valid") -> dict:
    text, enc = encode_body(body)
    return Capture(
        id=f"cap_{i}",
        endpoint=endpoint,
        method="POST",
        path=f"/hooks/{endpoint}",
        query="a=1",
        headers=[["Content-Type", "application/json"], ["Authorization", "Bearer sender-credential"]],
        body=text,
        body_encoding=enc,
        body_size=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        truncated=False,
        remote="127.0.0.1",
        received_at=time.time() - 10 + i,
        verdict={"status": verdict, "reason": "r"},
        response={
            "status": 200,
            "headers": [["Content-Type", "application/json"]],
            "body": '{"status":"ok"}',
            "latency_ms": 1.5,
        },
    ).to_doc()


@pytest.fixture
def owned_store(tmp_path):
    """A store held by its owner (as a running instance would), with three captures and a subscription."""
    store = Store(tmp_path)
    t = store.table("captures")
    t.insert(_capture(1, b'{"id":"evt_1","type":"message.created"}'))
    t.insert(_capture(2, b"\x00\xffbinary\n", endpoint="github", verdict="invalid"))
    t.insert(_capture(3, '{"msg": "привет"}'.encode()))
    store.table("webhooks").insert({"id": "webhook_1", "name": "n", "secret": "whsec_topsecret"})
    store.flush()
    yield tmp_path
    store.close()


def _run(*args: str):
    return CliRunner().invoke(main, ["export", *args], catch_exceptions=False)


def test_jsonl_masks_credentials_unless_asked(owned_store):
    out = _run("captures", "--data-dir", str(owned_store))
    assert out.exit_code == 0
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["cap_1", "cap_2", "cap_3"]  # oldest first
    assert ["Authorization", "***"] in rows[0]["headers"]
    raw = _run("captures", "--data-dir", str(owned_store), "--include-secrets")
    assert "sender-credential" in raw.stdout
    hooks = _run("webhooks", "--data-dir", str(owned_store))
    assert "topsecret" not in hooks.stdout and '"secret":"***"' in hooks.stdout


def test_filters_and_limit(owned_store):
    out = _run("captures", "--data-dir", str(owned_store), "--verdict", "invalid")
    assert [json.loads(x)["id"] for x in out.stdout.splitlines()] == ["cap_2"]
    out = _run("captures", "--data-dir", str(owned_store), "--limit", "2")
    assert [json.loads(x)["id"] for x in out.stdout.splitlines()] == ["cap_2", "cap_3"]
    out = _run("captures", "--data-dir", str(owned_store), "--endpoint", "github", "--since", "1h")
    assert [json.loads(x)["id"] for x in out.stdout.splitlines()] == ["cap_2"]


def test_har_is_read_by_a_har_library_and_keeps_binary_bodies_exact(owned_store):
    out = _run("captures", "--format", "har", "--data-dir", str(owned_store), "--base-url", "http://x:1")
    har = json.loads(out.stdout)
    assert har["log"]["version"] == "1.2"
    parsed = HarParser(har)  # (haralyzer refuses what is not a HAR log, and parses every entry's time)
    [page] = parsed.pages
    entries = page.entries
    assert [e.request.method for e in entries] == ["POST"] * 3
    assert [e.request.url for e in entries][1] == "http://x:1/hooks/github?a=1"
    assert [e.response.status for e in entries] == [200] * 3
    assert [e.request.text for e in entries] == [
        '{"id":"evt_1","type":"message.created"}',
        None,  # not UTF-8: no text, which a consumer would send as other bytes
        '{"msg": "привет"}',
    ]
    assert entries[0].request.get_header_value("Content-Type") == "application/json"
    binary = har["log"]["entries"][1]
    assert "encoding" not in binary["request"]["postData"]  # (not in HAR 1.2's postData)
    assert "_katya.bodyBase64" in binary["request"]["postData"]["comment"]
    assert base64.b64decode(binary["_katya"]["bodyBase64"]) == b"\x00\xffbinary\n"
    assert binary["_katya"]["captureId"] == "cap_2" and binary["_katya"]["endpoint"] == "github"


async def test_har_and_curl_default_to_the_address_the_instance_listened_on(settings):
    from katya_tui.core.service import Service

    svc = Service(settings)
    await svc.start()
    try:
        assert (settings.data_dir / "address").read_text().strip() == svc.url != settings.url
        assert stat.S_IMODE((settings.data_dir / "address").stat().st_mode) == 0o600
        raw = b"POST /hooks/here?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        assert (await answer_to(svc.port, raw)).startswith(b"HTTP/1.1 200")
        d = str(settings.data_dir)
        har = await asyncio.to_thread(_run, "captures", "--format", "har", "--data-dir", d)
        curl = await asyncio.to_thread(_run, "captures", "--format", "curl", "--data-dir", d)
    finally:
        await svc.stop()
    assert json.loads(har.stdout)["log"]["entries"][0]["request"]["url"] == f"{svc.url}/hooks/here?x=1"
    assert f"{svc.url}/hooks/here?x=1" in curl.stdout and ":8765" not in curl.stdout


def test_pytest_fixtures_carry_the_exact_bytes(owned_store, tmp_path):
    target = tmp_path / "fixtures_katya.py"
    out = _run("captures", "--format", "pytest", "--data-dir", str(owned_store), "-o", str(target))
    assert out.exit_code == 0
    spec = importlib.util.spec_from_file_location("fixtures_katya", target)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert [c["body"] for c in mod.CAPTURES] == [
        b'{"id":"evt_1","type":"message.created"}',
        b"\x00\xffbinary\n",
        '{"msg": "привет"}'.encode(),
    ]
    assert mod.CAPTURES[1]["verdict"] == "invalid"


def test_curl_script_and_usage_errors(owned_store, tmp_path):
    out = _run("captures", "--format", "curl", "--data-dir", str(owned_store), "--base-url", "http://x:1")
    assert out.stdout.startswith("#!/usr/bin/env bash") and out.stdout.count("curl -sS") == 3
    bad = CliRunner().invoke(main, ["export", "events", "--format", "har", "--data-dir", str(owned_store)])
    assert bad.exit_code == 2 and "captures only" in bad.output
    empty = CliRunner().invoke(main, ["export", "--data-dir", str(tmp_path / "nothing")])
    assert empty.exit_code == 1 and "no katya-tui store" in empty.output


def test_the_fixture_module_run_alone_checks_its_own_bytes(owned_store, tmp_path):
    target = tmp_path / "test_katya_fixtures.py"
    assert (
        _run("captures", "--format", "pytest", "--data-dir", str(owned_store), "-o", str(target)).exit_code
        == 0
    )
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(target)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert ran.returncode == 0 and "3 passed" in ran.stdout, ran.stdout + ran.stderr


async def test_a_curl_script_resends_a_body_too_large_for_one_argument(tmp_path):
    from receiver_support import Sink

    big = (b'{"blob":"' + b"x" * 200_000 + b'"}', b"\x00" + b"y" * 150_000)
    store = Store(tmp_path / "data")
    for i, body in enumerate(big):
        store.table("captures").insert(_capture(i, body))
    store.flush()
    store.close()
    async with Sink() as sink:
        script = tmp_path / "resend.sh"
        args = ["captures", "--format", "curl", "--data-dir", str(tmp_path / "data"), "--base-url", sink.url]
        assert _run(*args, "-o", str(script)).exit_code == 0
        proc = await asyncio.create_subprocess_exec("bash", str(script), stdout=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    assert [r["body"] for r in sink.requests] == list(big)


@pytest.mark.parametrize("fmt", ["jsonl", "har", "curl", "pytest"])
def test_an_export_holds_one_body_at_a_time_not_all_of_them(tmp_path, fmt):
    """Records are read and written out one by one: exporting 40 bodies of 256 KB takes no more memory than
    exporting 8 of them, give or take one body."""
    import tracemalloc

    data = tmp_path / "data"
    store = Store(data)
    for i in range(40):
        store.table("captures").insert(_capture(i, (f"{i:04d}" * 64 * 1024).encode()))
    store.close()
    out = tmp_path / f"out.{fmt}"

    def export(n: int) -> int:
        tracemalloc.start()
        try:
            result = _run(
                "captures", "--data-dir", str(data), "--format", fmt, "-o", str(out), "--limit", str(n)
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.exit_code == 0, result.output
        return peak

    export(1)  # (imports and first-use caches, outside the comparison)
    few, many = export(8), export(40)
    assert many - few < 256 * 1024, (few, many)
    text = out.read_text()
    assert text.count("cap_") >= 40  # every record is in the file
    if fmt in ("jsonl", "pytest"):
        assert all(f"{i:04d}" * 64 in text for i in range(40))
    if fmt == "har":
        entries = json.loads(text)["log"]["entries"]
        assert [e["request"]["postData"]["text"][:4] for e in entries] == [f"{i:04d}" for i in range(40)]
