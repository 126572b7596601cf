"""TLS: https and wss on the one port with --tls-cert/--tls-key, trusted by the commands that talk to the
instance; bad certificate files are usage errors; a token file others can read is refused."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import pytest
import trustme
import websockets

from katya_tui.config import TokenFileUnsafe, ensure_token, load_settings
from katya_tui.core.service import Service

ROOT = Path(__file__).parent.parent
TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 and localhost, as PEM files."""
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = {"ca": d / "ca.pem", "cert": d / "cert.pem", "key": d / "key.pem", "junk": d / "junk.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    leaf.cert_chain_pems[0].write_to_path(str(files["cert"]))
    leaf.private_key_pem.write_to_path(str(files["key"]))
    files["junk"].write_text("not a certificate\n")
    return files


def _client_ctx(pki: dict[str, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki["ca"]))


@pytest.fixture
async def tls_service(tmp_path, pki):
    s = load_settings(
        {
            "port": 0,
            "data_dir": str(tmp_path / "data"),
            "token": TOKEN,
            "tls_cert": str(pki["cert"]),
            "tls_key": str(pki["key"]),
        },
        env={},
    )
    svc = Service(s)
    await svc.start()
    yield svc
    await svc.stop()


async def _captures(http: aiohttp.ClientSession, svc: Service) -> list[dict]:
    async with http.get(f"{svc.url}/v1/captures", headers=AUTH) as r:
        assert r.status == 200
        return (await r.json())["data"]


async def test_https_webhook_api_and_wss_feed(tls_service, pki):
    svc = tls_service
    assert svc.url == f"https://127.0.0.1:{svc.port}" and svc.ws_url == f"wss://127.0.0.1:{svc.port}/v1/ws"
    ctx = _client_ctx(pki)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
        async with http.post(f"{svc.url}/hooks/tls", data=b'{"over":"tls"}') as r:
            assert r.status == 200
        [cap] = await _captures(http, svc)
        assert cap["endpoint"] == "tls"
        async with http.get(f"{svc.url}/v1/captures") as r:  # the token is still needed over https
            assert r.status == 401
    async with websockets.connect(
        svc.ws_url, ssl=ctx, additional_headers=AUTH, ping_interval=None, open_timeout=10
    ) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "connection" and hello["status"] == "connected"


async def test_plain_http_to_the_tls_port_fails_cleanly(tls_service, pki):
    svc = tls_service
    # the handshake fails and the server closes the connection: no answer in clear, and no hang
    reader, writer = await asyncio.open_connection("127.0.0.1", svc.port)
    writer.write(b"POST /hooks/plain HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    async with asyncio.timeout(10):
        answer = await reader.read()  # until the server closes
    writer.close()
    assert not answer.startswith(b"HTTP/1.1 2")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_client_ctx(pki))) as http:
        async with http.post(f"{svc.url}/hooks/after", data=b"{}") as r:  # still serving
            assert r.status == 200
        assert [c["endpoint"] for c in await _captures(http, svc)] == ["after"]


async def test_origin_check_compares_the_scheme(tls_service, pki):
    svc = tls_service
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_client_ctx(pki))) as http:
        statuses = {}
        for origin in (f"https://127.0.0.1:{svc.port}", f"http://127.0.0.1:{svc.port}", "https://127.0.0.1"):
            async with http.get(f"{svc.url}/v1/captures", headers={**AUTH, "Origin": origin}) as r:
                statuses[origin] = r.status
    assert statuses == {
        f"https://127.0.0.1:{svc.port}": 200,
        f"http://127.0.0.1:{svc.port}": 403,
        "https://127.0.0.1": 403,  # port 443's page, not ours
    }


def _cli(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "katya_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_serve_with_tls_and_trigger_against_it(tmp_path, pki):
    tls = ("--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"]))
    proc = _cli("serve", "--port", "0", "--data-dir", str(tmp_path), *tls, KATYA_TUI_TOKEN=TOKEN)
    try:
        ready = json.loads(proc.stdout.readline())
        port = ready["url"].rsplit(":", 1)[1]
        assert ready["url"] == f"https://127.0.0.1:{port}"
        assert ready["ws_url"] == f"wss://127.0.0.1:{port}/v1/ws"
        with urllib.request.urlopen(ready["url"] + "/healthz", timeout=5, context=_client_ctx(pki)) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        common = ("--port", port, "--token", TOKEN)
        results = {}
        url = ("--url", ready["url"])
        for name, trust, env in (
            ("ca", ("--ca", str(pki["ca"])), {}),  # the CA that issued the certificate
            ("own-cert", tls, {}),  # the same options as the server: its certificate is trusted as it is
            ("env", url, {"SSL_CERT_FILE": str(pki["ca"])}),  # OpenSSL's own variable
            ("none", url, {}),  # a certificate the system does not trust
        ):
            t = _cli("trigger", "message.created", *common, *trust, **env)
            out, err = t.communicate(timeout=60)
            results[name] = (t.returncode, out, err)
        assert results["ca"][0] == 0 and "message.created" in results["ca"][1], results["ca"]
        assert results["own-cert"][0] == results["env"][0] == 0, results
        code, _, err = results["none"]
        assert code == 1 and "--ca" in err and err.strip().count("\n") == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("which", "bad", "says"),
    [
        ("--tls-cert", "missing", "file not found"),
        ("--tls-cert", "junk", "not a PEM certificate"),
        ("--tls-key", "junk", "not a PEM private key"),
        ("--tls-key", "cert", "not a PEM private key"),
    ],
)
def test_a_bad_certificate_or_key_is_a_usage_error_naming_the_file(tmp_path, pki, which, bad, says):
    files = {"--tls-cert": str(pki["cert"]), "--tls-key": str(pki["key"])}
    files[which] = str(pki.get(bad, tmp_path / "missing.pem"))
    args = [a for kv in files.items() for a in kv]
    proc = _cli("serve", "--port", "0", "--data-dir", str(tmp_path / "data"), *args, KATYA_TUI_TOKEN=TOKEN)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and out == ""
    assert files[which] in err and says in err and which.strip("-").replace("-", "_") in err


def test_cert_without_key_is_a_usage_error(tmp_path, pki):
    proc = _cli("serve", "--data-dir", str(tmp_path), "--tls-cert", str(pki["cert"]), KATYA_TUI_TOKEN=TOKEN)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--tls-key" in err


def test_a_token_file_others_can_read_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    token = data / "token"
    token.write_text("kept-token-123\n")
    token.chmod(0o644)
    with pytest.raises(TokenFileUnsafe, match=f"chmod 600 {token}"):
        ensure_token(load_settings({"data_dir": str(data)}, env={}))
    env = {"KATYA_TUI_TOKEN": ""}
    serve = _cli("serve", "--port", "0", "--data-dir", str(data), **env)
    _, err = serve.communicate(timeout=30)
    assert serve.returncode == 1 and err.strip().count("\n") == 0
    assert f"chmod 600 {token}" in err and "0644" in err
    trigger = _cli("trigger", "message.created", "--data-dir", str(data), **env)
    _, err = trigger.communicate(timeout=30)
    assert trigger.returncode == 1 and f"chmod 600 {token}" in err
    assert (token.stat().st_mode & 0o777) == 0o644  # refused, not quietly tightened
    token.chmod(0o600)  # the fix the message gives
    assert ensure_token(load_settings({"data_dir": str(data)}, env={})).token == "kept-token-123"


async def test_the_demo_generator_reaches_its_own_tls_port(tmp_path, pki):
    s = load_settings(
        {
            "port": 0,
            "data_dir": str(tmp_path / "data"),
            "token": TOKEN,
            "tls_cert": str(pki["cert"]),
            "tls_key": str(pki["key"]),
            "demo_rate": 50,
            "fsync": False,
        },
        env={},
    )
    svc = Service(s)
    await svc.start()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_client_ctx(pki))) as http:
            async with asyncio.timeout(20):
                while not any(c["endpoint"] == "demo" for c in await _captures(http, svc)):
                    await asyncio.sleep(0.1)
    finally:
        await svc.stop()
