"""`katya-tui trigger`, `send` and `resend` as a user runs them (the CLI runs in a thread beside the service)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

from click.testing import CliRunner
from dispatcher_support import TOKEN, fast_policy, free_port, settle

from katya_tui.cli import main


async def run(*args: str, env: dict | None = None):
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, main, list(args), env={"KATYA_TUI_TOKEN": None, **(env or {})}
    )


async def test_trigger_publishes_through_the_api(service, sink, tmp_path):
    service.dispatcher.create_webhook({"name": "s", "url": sink.url, "events": ["message.*"]})
    r = await run("trigger", "message.created", "--count", "3", "--url", service.url, "--token", TOKEN)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) == 3 and all(
        line.startswith("evt_") and line.endswith("-> 1 delivery") for line in lines
    )
    await sink.wait_for(3)
    bodies = [json.loads(x.body) for x in sink.received]
    assert {b["id"] for b in bodies} == {line.split()[0] for line in lines}
    assert len({json.dumps(b["data"]) for b in bodies}) == 3  # a fresh sample each time

    data = tmp_path / "data.json"
    data.write_text('{"id": "msg_from_file"}')
    kept = service.settings.data_dir / "token"  # the token the instance keeps, private as it makes it
    kept.write_text(TOKEN + "\n")
    kept.chmod(0o600)
    r = await run(
        "trigger",
        "message.updated",
        "--data",
        f"@{data}",
        "--url",
        service.url,
        "--data-dir",
        str(service.settings.data_dir),
    )
    assert r.exit_code == 0, r.output
    await sink.wait_for(4)
    assert json.loads(sink.received[3].body)["data"] == {"id": "msg_from_file"}


async def test_the_tools_find_an_instance_that_picked_its_port_through_its_data_dir(service, sink):
    """`--port 0` picks a free port: trigger, resend and replay read the address the instance keeps in its data
    dir, unless --url, --host or --port says otherwise."""
    service.dispatcher.create_webhook({"name": "s", "url": sink.url, "events": ["message.*"]})
    data_dir = str(service.settings.data_dir)
    r = await run("trigger", "message.created", "--data-dir", data_dir, "--token", TOKEN)
    assert r.exit_code == 0, r.output
    await sink.wait_for(1)
    elsewhere = free_port()
    r = await run(
        "trigger", "message.created", "--data-dir", data_dir, "--token", TOKEN, "--port", str(elsewhere)
    )
    assert r.exit_code == 1 and f"127.0.0.1:{elsewhere}" in r.output


async def test_trigger_errors_are_clear(service, tmp_path):
    r = await run("trigger", "message.craeted", "--url", service.url, "--token", TOKEN)
    assert r.exit_code == 2 and "did you mean 'message.created'" in r.output
    r = await run("trigger", "message.created", "--data", "{nope", "--url", service.url, "--token", TOKEN)
    assert r.exit_code == 2 and "not valid JSON" in r.output
    r = await run("trigger", "message.created", "--url", f"http://127.0.0.1:{free_port()}", "--token", TOKEN)
    assert r.exit_code == 1 and "cannot reach" in r.output
    r = await run("trigger", "message.created", "--url", service.url, "--token", "wrong-token-1")
    assert r.exit_code == 1 and "401" in r.output
    r = await run("trigger", "message.created", "--url", service.url, "--data-dir", str(tmp_path / "empty"))
    assert r.exit_code == 2 and "no API token" in r.output


async def test_send_signs_and_prints_the_answer(sink):
    r = await run(
        "send",
        sink.url,
        "--type",
        "user.created",
        "--secret",
        "s3cret",
        "--profile",
        "admin",
        "--data",
        '{"user_id": 123, "username": "testuser"}',
    )
    assert r.exit_code == 0, r.output
    assert "< 200 OK" in r.output and "> X-Webhook-Event: user.created" in r.output
    got = sink.received[0]
    expected = hmac.new(
        b"s3cret",
        json.dumps({"user_id": 123, "username": "testuser"}, sort_keys=True).encode(),
        hashlib.sha256,
    ).hexdigest()
    assert got.header("X-Webhook-Signature") == f"sha256={expected}"
    sink.default = 503
    r = await run("send", sink.url)
    assert r.exit_code == 1 and "< 503" in r.output and "secret: whsec_" in r.output
    r = await run("send", f"http://127.0.0.1:{free_port()}/", "--secret", "x")
    assert r.exit_code == 1 and "refused" in r.output


async def test_resend_through_the_instance(service, sink):
    sink.plan = [400]
    service.dispatcher.create_webhook(
        {"name": "s", "url": sink.url, "events": ["*"], "retryPolicy": fast_policy()}
    )
    service.publish_event("message.created", {"id": "m"}, source="test")
    did = service.dispatcher.last_fan_out[0]
    await settle(lambda: service.dispatcher.deliveries.get(did)["state"] == "failed")
    r = await run("resend", did, "--url", service.url, "--token", TOKEN)
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"{did}  delivered  attempt 2: 200")
    r = await run("resend", "dlv_nope", "--url", service.url, "--token", TOKEN)
    assert r.exit_code == 1 and "404" in r.output
