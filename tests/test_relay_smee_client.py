"""The real `smee-client` (npm, v5; `.ci/run` installs it into `.cache/node`) follows a katya-tui channel
unchanged: it forwards each capture to a target, resumes with Last-Event-ID after a lost stream, and shows the
smee.io caveat (a pretty-printed body arrives re-serialised, so its signature fails at the target)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from pathlib import Path

import aiohttp
import pytest
from relay_support import SECRET, WAIT, relay_endpoint, signed

SMEE = Path(__file__).parent.parent / ".cache" / "node" / "node_modules" / ".bin" / "smee"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed: the real smee-client cannot run"),
    pytest.mark.skipif(
        NODE is not None and not SMEE.exists(),
        reason=f"smee-client is not installed in {SMEE.parent.parent}: run .ci/run, or "
        "npm install --prefix .cache/node smee-client@5.0.0",
    ),
]


@contextlib.asynccontextmanager
async def smee(url: str, target: str):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # (undici's EnvHttpProxyAgent)
    proc = await asyncio.create_subprocess_exec(
        str(NODE),
        str(SMEE),
        "--url",
        url,
        "--target",
        target,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(WAIT):  # smee-client says it connected, or the test fails
            while not any(line.startswith("Connected to") for line in seen):
                line = await proc.stdout.readline()
                assert line, f"smee-client ended: {seen}"
                seen.append(line.decode().strip())
        yield proc, seen
    finally:
        proc.terminate()
        with contextlib.suppress(ProcessLookupError):
            async with asyncio.timeout(WAIT):
                await proc.wait()


def _sink(service) -> list[dict]:
    assert service.store is not None
    docs = [d for d in service.store.records("captures") if d["endpoint"] == "sink"]
    return [service.store.record("captures", d["id"]) for d in docs]


async def _until(cond) -> None:
    async with asyncio.timeout(WAIT):
        while not cond():
            await asyncio.sleep(0.02)


async def test_real_smee_client_follows_a_katya_channel(service):
    channel = await relay_endpoint(service, "gh", secrets=[SECRET], scheme="github")
    service.receiver.endpoints.put({"name": "sink", "secrets": [SECRET], "scheme": "github"})
    compact = b'{"action":"opened","number":1}'
    pretty = json.dumps({"action": "closed", "number": 2}, indent=2).encode()
    async with (
        smee(f"{service.url}/relay/{channel}", f"{service.url}/hooks/sink") as (_proc, _log),
        aiohttp.ClientSession() as http,
    ):
        r = await http.post(f"{service.url}/hooks/gh?x=1", data=compact, headers=signed("github", compact))
        assert r.status == 200
        await _until(lambda: len(_sink(service)) == 1)
        [first] = _sink(service)
        assert first["body"] == compact.decode() and first["query"] == "x=1"
        assert first["verdict"]["status"] == "valid"  # compact JSON survives smee-client's JSON.stringify
        names = [k.lower() for k, _ in first["headers"]]
        assert "x-hub-signature-256" in names and "katya" not in names  # (no raw block for smee-client)

        r = await http.post(f"{service.url}/hooks/gh", data=pretty, headers=signed("github", pretty))
        await _until(lambda: len(_sink(service)) == 2)
        second = _sink(service)[1]
        assert second["body"] == json.dumps(json.loads(pretty), separators=(",", ":"))
        assert second["verdict"]["status"] == "invalid"  # the caveat: smee-client re-serialises
        assert any("pretty-printed" in line for line in second["verdict"]["diagnosis"])

        # the stream breaks; smee-client reconnects with Last-Event-ID and gets what it missed, once
        await service.channels.stop()
        await _until(lambda: service.channels.streams == 0)  # so the next one can only come by the resume
        late = b'{"action":"late","number":3}'
        r = await http.post(f"{service.url}/hooks/gh", data=late, headers=signed("github", late))
        assert r.status == 200
        await _until(lambda: len(_sink(service)) == 3)
        await asyncio.sleep(0.5)
        assert [c["body"] for c in _sink(service)][2:] == [late.decode()]
