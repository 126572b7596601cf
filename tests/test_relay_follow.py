"""Following a relay channel: a katya-tui follower against another katya-tui over TLS (the same bytes and the
same verdict at both ends, resumed without repeats after a lost connection), and a smee.io-style channel
(rebuilt as smee-client would, and the verdict says so)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import aiohttp
import pytest
import trustme
from aiohttp import web
from aiohttp_sse import sse_response
from relay_support import AUTH, SECRET, WAIT, signed

from katya_tui.config import ConfigError, follow_spec, load_settings
from katya_tui.core.facts import FollowStateChanged
from katya_tui.core.service import Service


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(d / "key.pem"))
    return d


def _settings(tmp_path, name, **options):
    return load_settings(
        {"port": 0, "data_dir": str(tmp_path / name), "token": "test-token-123", **options}, env={}
    )


async def _until(cond, timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):  # no answer in time is a failure
        while not cond():
            await asyncio.sleep(0.02)


def _local(svc: Service) -> list[dict]:
    assert svc.store is not None
    return [svc.store.record("captures", d["id"]) for d in svc.store.records("captures")]


async def test_follow_a_katya_channel_over_tls_bytes_and_verdicts_equal(tmp_path, pki):
    box = Service(
        _settings(
            tmp_path, "box", tls_cert=str(pki / "cert.pem"), tls_key=str(pki / "key.pem"), host="127.0.0.1"
        )
    )
    await box.start()
    laptop = None
    try:
        channel = await _https_relay(box, pki)
        laptop_settings = _settings(
            tmp_path,
            "laptop",
            follow=(f"gh={box.url}/relay/{channel}",),
            tls_ca=str(pki / "ca.pem"),
            upstream_retry_initial=2.0,
        )
        laptop = Service(laptop_settings)
        states = laptop.bus.subscribe(accept=lambda f: isinstance(f, FollowStateChanged))
        await laptop.start()
        laptop.receiver.endpoints.put({"name": "gh", "secrets": [SECRET], "scheme": "github"})
        [follower] = laptop.followers
        await _until(lambda: follower.state == "connected")
        ctx = _ssl(pki)
        pretty = json.dumps(
            {"action": "opened", "n": 1.0, "text": "é"}, indent=2, ensure_ascii=False
        ).encode()
        binary = bytes(range(256))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
            for body in (pretty, binary):
                r = await http.post(f"{box.url}/hooks/gh?x=1", data=body, headers=signed("github", body))
                assert r.status == 200
            await _until(lambda: len(_local(laptop)) == 2)
            # the connection breaks; what arrives meanwhile comes with the resume, once
            await box.channels.stop()
            await _until(lambda: follower.state.startswith("retrying"))
            late = b'{"id":"evt_late","type":"message.created","createdAt":"2024-01-01T12:00:00Z","data":{}}'
            r = await http.post(f"{box.url}/hooks/gh", data=late, headers=signed("github", late))
            assert r.status == 200
            await _until(lambda: len(_local(laptop)) == 3)
            await _until(lambda: follower.state == "connected")
        there = _local(box)
        here = _local(laptop)
        assert [c["body_sha256"] for c in here] == [c["body_sha256"] for c in there]
        assert [c["verdict"]["status"] for c in there] == ["valid"] * 3
        assert [c["verdict"]["status"] for c in here] == ["valid"] * 3
        assert [c["relay"]["id"] for c in here] == [c["id"] for c in there]
        assert all(
            c["relay"]["from"] == f"{box.url}/relay/{channel}" and not c["relay"]["rebuilt"] for c in here
        )
        assert here[0]["path"] == "/hooks/gh" and here[0]["query"] == "x=1" and here[0]["endpoint"] == "gh"
        assert here[1]["body_encoding"] == "base64"
        seen = [f.state for f in states.drain()]
        assert seen[:2] == ["connecting", "connected"] and any(s.startswith("retrying") for s in seen)
        [event] = laptop.store.records("events")  # (the one body that carries an event)
        assert event["source"] == "relay" and event["capture_id"] == here[2]["id"]
        # a restarted follower resumes after the last capture it made: nothing twice
        await laptop.stop()
        laptop = Service(laptop_settings)
        await laptop.start()
        [follower] = laptop.followers
        assert follower.last_id == there[-1]["id"]
        await _until(lambda: follower.state == "connected")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
            r = await http.post(f"{box.url}/hooks/gh", data=b"{}", headers=signed("github", b"{}"))
        await _until(lambda: len(_local(laptop)) == 4)
        await asyncio.sleep(0.2)
        assert len({c["relay"]["id"] for c in _local(laptop)}) == len(_local(laptop)) == 4
    finally:
        if laptop is not None:
            await laptop.stop()
        await box.stop()


async def _https_relay(box: Service, pki) -> str:
    box.receiver.endpoints.put({"name": "gh", "secrets": [SECRET], "scheme": "github", "relay": True})
    channel = box.receiver.endpoints.get("gh")["relay"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_ssl(pki))) as http:
        r = await http.get(f"{box.url}/v1/endpoints/gh", headers=AUTH)
        assert (await r.json())["data"]["relay"] == channel
    return channel


def _ssl(pki):
    import ssl

    return ssl.create_default_context(cafile=str(pki / "ca.pem"))


async def test_follow_a_smee_style_channel_rebuilds_and_explains(tmp_path):
    """A smee.io-shaped server (its ids restart at 0 on every connection): the message is rebuilt as
    smee-client sends it; a Stripe-style pretty body signed by its sender is diagnosed as broken by the relay."""
    from katya_tui.core.signing import sign

    payload = {"id": "evt_1", "object": "event", "amount": 100, "ok": True}
    pretty = json.dumps(payload, indent=2).encode()
    compact = json.dumps(payload, separators=(",", ":")).encode()
    messages = []
    for body in (pretty, compact):
        headers = {k.lower(): v for k, v in sign("stripe", body, SECRET).headers}
        messages.append(
            {
                **headers,
                "host": "smee.io",
                "content-type": "application/json",
                "body": json.loads(body),
                "query": {"q": "1"},
                "timestamp": int(time.time() * 1000),
            }
        )
    connections = []

    async def channel(request: web.Request) -> web.StreamResponse:
        connections.append(request.headers.get("Last-Event-ID"))
        async with sse_response(request) as resp:
            await resp.send("{}", id="0", event="ready")
            for i, m in enumerate(messages, 1):
                await resp.send(json.dumps(m), id=str(i))
        return resp  # ends the stream: the follower reconnects and gets ids 0, 1, 2 again

    app = web.Application()
    app.router.add_get("/chan", channel)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    svc = Service(
        _settings(
            tmp_path, "laptop", follow=(f"stripe=http://127.0.0.1:{port}/chan",), upstream_retry_initial=0.2
        )
    )
    await svc.start()
    try:
        svc.receiver.endpoints.put({"name": "stripe", "secrets": [SECRET], "scheme": "stripe"})
        await _until(lambda: len(_local(svc)) >= 4)  # two connections: smee's ids are no identity
        first, second = _local(svc)[:2]
        assert connections[:2] == [None, None]  # (no Last-Event-ID: smee.io's counters mean nothing later)
        for cap in (first, second):
            assert cap["body"] == compact.decode() and cap["method"] == "POST"
            assert cap["path"] == "/hooks/stripe" and cap["query"] == "q=1"
            assert ["content-length", str(len(compact))] in cap["headers"]
            assert not any(k == "host" for k, _ in cap["headers"])
            assert cap["relay"]["rebuilt"] is True
            assert "rebuilt from a smee.io message" in cap["verdict"]["diagnosis"][0]
        assert first["verdict"]["status"] == "invalid"
        assert first["relay"]["valid_as"] == "pretty-printed JSON (indent 2)"
        assert "fails here only because smee.io re-serialised them" in first["verdict"]["diagnosis"][1]
        assert second["verdict"]["status"] == "valid" and "valid_as" not in second["relay"]
    finally:
        await svc.stop()
        await runner.cleanup()


def test_follow_specs():
    assert follow_spec("https://smee.io/abc") == ("relay", "https://smee.io/abc")
    assert follow_spec("gh=https://box:8765/relay/x?k=a=b") == ("gh", "https://box:8765/relay/x?k=a=b")
    with pytest.raises(ConfigError, match="follow"):
        follow_spec("ftp://nope")
    with pytest.raises(ConfigError, match="follow"):
        load_settings({"follow": ("gh=not a url",)}, env={})
    s = load_settings({"follow": ("https://a/relay/x", "b=http://b/relay/y")}, env={})
    assert replace(s).follow == ("https://a/relay/x", "b=http://b/relay/y")


def test_follow_option_before_or_after_the_command_and_from_the_config(tmp_path):
    """`katya-tui --follow URL` (the group's option, then `run` by default), `serve --follow`, and the config
    file's `follow`, which an absent option leaves alone."""
    from click.testing import CliRunner

    from katya_tui import cli

    seen = []
    original = cli._headless, cli._tui
    cli._headless = cli._tui = seen.append  # (the settings the command would run with)
    try:
        conf = tmp_path / "k.toml"
        conf.write_text('follow = ["gh=https://box/relay/abc"]\n')
        data = ["--data-dir", str(tmp_path / "d"), "--token", "test-token-123"]
        runner = CliRunner()
        assert runner.invoke(cli.main, [*data, "--follow", "https://a/relay/x"]).exit_code == 0
        assert runner.invoke(cli.main, ["serve", *data, "--follow", "b=https://b/relay/y"]).exit_code == 0
        assert runner.invoke(cli.main, ["--config", str(conf), "serve", *data]).exit_code == 0
    finally:
        cli._headless, cli._tui = original
    assert [s.follow for s in seen] == [
        ("https://a/relay/x",),
        ("b=https://b/relay/y",),
        ("gh=https://box/relay/abc",),
    ]
