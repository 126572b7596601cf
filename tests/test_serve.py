"""`katya-tui serve` as a user runs it: ready line, /healthz, SIGTERM, a port in use, a second instance."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "katya_tui", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KATYA_TUI_TOKEN": "serve-test-token"},
    )


def test_ready_line_healthz_and_clean_sigterm(tmp_path):
    proc = _serve("--port", "0", "--data-dir", str(tmp_path))
    try:
        ready = json.loads(proc.stdout.readline())
        assert ready["ready"] is True
        assert ready["url"].startswith("http://127.0.0.1:") and not ready["url"].endswith(":0")
        assert ready["ws_url"] == ready["url"].replace("http://", "ws://") + "/v1/ws"
        assert ready["data_dir"] == str(tmp_path)
        with urllib.request.urlopen(ready["url"] + "/healthz", timeout=5) as resp:
            assert json.loads(resp.read()) == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        assert proc.returncode == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        assert {"fact": "ServiceStopping", "reason": "signal"} in lines
        assert (tmp_path / "katya-tui.log").exists()
    finally:
        proc.kill()


def test_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _serve("--port", str(port), "--data-dir", str(tmp_path))
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert err.strip().count("\n") == 0 and f"port {port}" in err
    assert out == ""


def test_second_instance_on_the_same_data_dir_exits_1(tmp_path):
    first = _serve("--port", "0", "--data-dir", str(tmp_path))
    try:
        json.loads(first.stdout.readline())
        second = _serve("--port", "0", "--data-dir", str(tmp_path))
        _, err = second.communicate(timeout=20)
        assert second.returncode == 1
        assert "already using the data dir" in err
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=15)
    assert first.returncode == 0


def test_listening_beyond_loopback_says_what_becomes_reachable(tmp_path):
    warnings = {}
    for host in ("127.0.0.1", "0.0.0.0"):
        proc = _serve("--host", host, "--port", "0", "--data-dir", str(tmp_path / host))
        try:
            assert json.loads(proc.stdout.readline())["ready"] is True
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=15)
        finally:
            proc.kill()
        warnings[host] = [line for line in err.splitlines() if "warning" in line]
    assert warnings["127.0.0.1"] == []
    [line] = warnings["0.0.0.0"]
    assert "listening on 0.0.0.0" in line and "/hooks" in line and "TLS" in line


def test_an_unread_stdout_does_not_stall_the_service(tmp_path):
    """stdout on a pipe nobody reads: every webhook is still answered, /healthz too; what could not be printed
    is counted in a FactsDropped line (or everything was printed)."""
    import asyncio

    import aiohttp

    n = 3000
    proc = _serve("--port", "0", "--data-dir", str(tmp_path))
    try:
        url = json.loads(proc.stdout.readline())["url"]  # then the pipe is not read until the end

        async def send_all() -> list[int]:
            timeout = aiohttp.ClientTimeout(total=20)  # no answer is a failure
            async with aiohttp.ClientSession(timeout=timeout) as http:
                gate = asyncio.Semaphore(32)

                async def one(i: int) -> int:
                    async with gate, http.post(f"{url}/hooks/unread", data=b'{"n": %d}' % i) as resp:
                        await resp.read()
                        return resp.status

                statuses = await asyncio.gather(*(one(i) for i in range(n)))
                async with http.get(url + "/healthz") as resp:
                    assert resp.status == 200 and await resp.json() == {"status": "ok"}
                return statuses

        statuses = asyncio.run(send_all())
        assert statuses == [200] * n
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        captured = sum(1 for line in lines if line.get("fact") == "CaptureRecorded")
        dropped = sum(line["count"] for line in lines if line.get("fact") == "FactsDropped")
        assert dropped > 0 or captured == n
        assert {"fact": "ServiceStopping", "reason": "signal"} in lines
    finally:
        proc.kill()
