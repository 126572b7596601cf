"""`katya-tui replay ID` against a running instance (the CLI runs in a thread beside the service)."""

from __future__ import annotations

import asyncio

import aiohttp
from click.testing import CliRunner
from receiver_support import TOKEN, Sink, captures

from katya_tui.cli import main
from katya_tui.core.signing import sign


async def run(*args: str):
    env = {"KATYA_TUI_TOKEN": None, "KATYA_TUI_DATA_DIR": None, "KATYA_TUI_CONFIG": None}
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


async def test_replay_verbatim_resigned_and_edited_from_the_command_line(service):
    service.receiver.endpoints.put({"name": "gh", "secrets": ["gh-secret"], "scheme": "github"})
    signed = sign("github", b'{"action":"opened"}', "gh-secret")
    async with aiohttp.ClientSession() as s:
        await s.post(f"{service.url}/hooks/gh", data=signed.body, headers=[*signed.headers, ("X-Extra", "1")])
    [orig] = await captures(service)
    async with Sink(status=204, body=b"") as sink:
        r = await run("replay", orig["id"], "--to", sink.url + "/gh", "--url", service.url, "--token", TOKEN)
        assert r.exit_code == 0, r.output
        assert (
            f"replay of {orig['id']}" in r.output and "<-- 204" in r.output and "signature valid" in r.output
        )
        r = await run(
            "replay",
            orig["id"],
            "--to",
            sink.url + "/gh",
            "--body",
            '{"action":"closed"}',
            "--resign",
            "--header",
            "X-Extra:",
            "--header",
            "X-New: yes",
            "--url",
            service.url,
            "--token",
            TOKEN,
        )
        assert r.exit_code == 0, r.output
    first, second = sink.requests
    assert first["body"] == b'{"action":"opened"}' and ("X-Extra", "1") in first["headers"]
    assert second["body"] == b'{"action":"closed"}' and ("X-New", "yes") in second["headers"]
    assert not any(k == "X-Extra" for k, _ in second["headers"])
    assert "signature valid" in r.output


async def test_replay_errors_exit_1_with_a_reason(service):
    async with aiohttp.ClientSession() as s:
        await s.post(f"{service.url}/hooks/x", data=b"x")
    [orig] = await captures(service)
    r = await run("replay", orig["id"], "--url", service.url, "--token", TOKEN)
    assert r.exit_code == 1 and "forward_to" in r.output
    r = await run(
        "replay", "cap_missing", "--to", "http://127.0.0.1:9/", "--url", service.url, "--token", TOKEN
    )
    assert r.exit_code == 1 and "not found" in r.output
    r = await run("replay", orig["id"], "--to", "http://127.0.0.1:9/", "--url", service.url, "--token", TOKEN)
    assert r.exit_code == 1 and "refused" in r.output
    r = await run("replay", orig["id"], "--header", "no colon", "--url", service.url, "--token", TOKEN)
    assert r.exit_code == 2 and "Name: value" in r.output
