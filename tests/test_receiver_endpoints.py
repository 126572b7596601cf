"""Endpoint configs: /v1/endpoints CRUD, validation with per-field errors, TOML [[endpoints]], verdicts per scheme."""

from __future__ import annotations

import json

import aiohttp
import pytest
from receiver_support import AUTH, captures, running

from katya_tui.config import ConfigError, load_settings
from katya_tui.core.errors import ValidationFailed
from katya_tui.core.receiver.endpoints import validate_config
from katya_tui.core.signing import SCHEMES, sign

SECRETS = {"standard": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}


async def test_crud_through_the_api(service):
    url = f"{service.url}/v1/endpoints"
    async with aiohttp.ClientSession(headers=AUTH) as s:
        r = await s.post(url, json={"name": "orders", "secrets": ["a-secret"], "scheme": "katya"})
        assert r.status == 201
        created = (await r.json())["data"]
        assert created["tolerance_s"] == 300 and created["response"]["status"] == 200
        assert (await s.post(url, json={"name": "orders"})).status == 409
        r = await s.put(f"{url}/orders", json={"secrets": ["new", "old"], "response": {"status": 202}})
        assert r.status == 200 and (await r.json())["data"]["secrets"] == ["new", "old"]
        r = await s.put(f"{url}/fresh", json={})
        assert r.status == 201
        r = await s.get(url)
        assert [e["name"] for e in (await r.json())["data"]] == ["fresh", "orders"]
        r = await s.get(f"{url}/orders")
        assert (await r.json())["data"]["response"]["status"] == 202
        assert (await s.delete(f"{url}/orders")).status == 204
        assert (await s.delete(f"{url}/orders")).status == 404
        assert (await s.get(f"{url}/orders")).status == 404
    async with aiohttp.ClientSession() as s:
        assert (await s.get(url)).status == 401


async def test_bad_configs_get_per_field_errors(service):
    url = f"{service.url}/v1/endpoints"
    bad = {
        "name": "x",
        "scheme": "rot13",
        "tolerance_s": -1,
        "secrets": [""],
        "forward_to": "ftp://a",
        "response": {"status": 99, "sequence": [500, "explode"], "delay_ms": "soon"},
        "validate": "xml",
        "rate_limit": {"requests": 0},
        "routes": [{"match": "", "to": "nope"}],
        "colour": "red",
    }
    async with aiohttp.ClientSession(headers=AUTH) as s:
        r = await s.post(url, json=bad)
        assert r.status == 422
        fields = (await r.json())["error"]["fields"]
        assert set(fields) == {
            "scheme",
            "tolerance_s",
            "secrets",
            "forward_to",
            "response.status",
            "response.sequence",
            "response.delay_ms",
            "validate",
            "rate_limit.requests",
            "routes[0].match",
            "routes[0].to",
            "colour",
        }
        r = await s.put(f"{url}/a", json={"name": "b"})
        assert r.status == 422 and "name" in (await r.json())["error"]["fields"]
        r = await s.post(url, data=b"{nope")
        assert r.status == 400 and (await r.json())["error"]["code"] == "INVALID_JSON"
        assert (await s.get(url)).status == 200  # nothing was stored
        assert (await (await s.get(url)).json())["data"] == []


def test_validate_config_fills_defaults_and_rejects_bad_names():
    cfg = validate_config({"name": "a.b-c_1", "secrets": "one"})
    assert cfg["secrets"] == ["one"] and cfg["scheme"] == "auto" and cfg["response"]["mode"] == "answer"
    with pytest.raises(ValidationFailed) as e:
        validate_config({"name": "../etc"})
    assert "name" in e.value.fields


def test_toml_endpoints_are_checked_when_settings_load(tmp_path):
    path = tmp_path / "katya.toml"
    path.write_text('[[endpoints]]\nname = "gh"\nscheme = "github"\nsecrets = ["s"]\n', encoding="utf-8")
    settings = load_settings({"config": str(path)}, env={})
    assert settings.endpoints[0]["name"] == "gh"
    path.write_text('[[endpoints]]\nname = "gh"\nscheme = "nope"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings({"config": str(path)}, env={})
    assert e.value.key == "endpoints[0].scheme"


async def test_toml_endpoints_are_live_and_kept(settings):
    eps = ({"name": "gh", "scheme": "github", "secrets": ["toml-secret"]},)
    async with running(settings, endpoints=eps) as svc:
        assert svc.receiver.endpoints.get("gh")["secrets"] == ["toml-secret"]
        svc.receiver.endpoints.put({"name": "api-made"})
    async with running(settings) as svc:
        assert {e["name"] for e in svc.receiver.endpoints.list()} == {"gh", "api-made"}


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_each_scheme_signed_with_the_endpoints_secret_is_valid(service, scheme):
    secret = SECRETS.get(scheme, "endpoint-secret-1")
    service.receiver.endpoints.put({"name": "ep", "secrets": ["rotated-out-1", secret], "scheme": scheme})
    payload = json.dumps({"event": "message", "data": {"id": "m1", "text": "Привет"}}).encode()
    signed = sign(scheme, payload, secret)
    async with aiohttp.ClientSession() as s:
        r = await s.post(f"{service.url}/hooks/ep", data=signed.body, headers=signed.headers)
        assert r.status == 200
        bad = sign(scheme, payload, "some-other-secret" if scheme != "standard" else "whsec_" + "A" * 32)
        await s.post(f"{service.url}/hooks/ep", data=bad.body, headers=bad.headers)
    wrong, right = await captures(service)
    assert right["verdict"]["status"] == "valid", right["verdict"]
    assert right["verdict"]["scheme"] == scheme and right["verdict"]["secret"] == "#2"
    assert wrong["verdict"]["status"] == "invalid" and wrong["verdict"]["diagnosis"]


async def test_auto_scheme_and_another_endpoints_secret_are_explained(service):
    service.receiver.endpoints.put({"name": "billing", "secrets": ["billing-secret"], "scheme": "katya"})
    service.receiver.endpoints.put({"name": "shop", "secrets": ["shop-secret"]})
    signed = sign("katya", b'{"a":1}', "billing-secret")
    async with aiohttp.ClientSession() as s:
        await s.post(f"{service.url}/hooks/shop", data=signed.body, headers=signed.headers)
    [row] = await captures(service)
    assert row["verdict"]["status"] == "invalid" and row["verdict"]["scheme"] == "katya"
    assert any("billing" in line for line in row["verdict"]["diagnosis"]), row["verdict"]["diagnosis"]


async def test_publish_verified_only_keeps_forged_requests_out_of_the_stream(service):
    service.receiver.endpoints.put(
        {"name": "strict", "secrets": ["s3cret"], "scheme": "katya", "publish": "verified"}
    )

    def envelope(i):
        return f'{{"id":"evt_v{i}","type":"message.created","createdAt":"2024-01-01T00:00:00Z","data":{{}}}}'.encode()

    good = sign("katya", envelope(1), "s3cret")
    forged = sign("katya", envelope(2), "not-the-secret")
    async with aiohttp.ClientSession() as s:
        for body, signed in ((envelope(1), good), (envelope(2), forged)):
            r = await s.post(f"{service.url}/hooks/strict", data=body, headers=dict(signed.headers))
            assert r.status == 200
    caps = service.store.all("captures")
    assert [c["verdict"]["status"] for c in caps] == ["valid", "invalid"]  # both captured
    assert [e["id"] for e in service.store.all("events")] == ["evt_v1"]  # only the valid one published
    with pytest.raises(ValidationFailed) as err:
        service.receiver.endpoints.put({"name": "x", "publish": "some"})
    assert "publish" in err.value.fields
