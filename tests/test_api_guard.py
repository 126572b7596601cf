"""The management surfaces refuse foreign browsers and hosts, and need the token; /hooks and /healthz don't."""

from __future__ import annotations

import httpx


async def test_healthz_needs_no_token(service):
    async with httpx.AsyncClient(base_url=service.url) as c:
        r = await c.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_v1_needs_the_right_token(service):
    async with httpx.AsyncClient(base_url=service.url) as c:
        missing = await c.get("/v1/nothing-here")
        wrong = await c.get("/v1/nothing-here", headers={"Authorization": "Bearer nope"})
        right = await c.get("/v1/nothing-here", headers={"Authorization": "Bearer test-token-123"})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "UNAUTHORIZED"
    assert wrong.status_code == 401 and "wrong token" in wrong.json()["error"]["message"]
    assert right.status_code == 404 and right.json()["success"] is False


async def test_foreign_origin_and_host_are_refused(service):
    auth = {"Authorization": "Bearer test-token-123"}
    async with httpx.AsyncClient(base_url=service.url) as c:
        evil = await c.get("/healthz", headers={"Origin": "https://evil.example"})
        rebinding = await c.get("/v1/nothing", headers={**auth, "Host": f"evil.example:{service.port}"})
        own = await c.get("/healthz", headers={"Origin": f"http://localhost:{service.port}"})
        other_port = await c.get("/healthz", headers={"Origin": f"http://127.0.0.1:{service.port + 1}"})
        no_port = await c.get("/healthz", headers={"Origin": "http://localhost"})  # port 80's page, not ours
        other_scheme = await c.get("/healthz", headers={"Origin": f"https://localhost:{service.port}"})
    assert evil.status_code == 403 and evil.json()["error"]["code"] == "FORBIDDEN_ORIGIN"
    assert rebinding.status_code == 403 and rebinding.json()["error"]["code"] == "FORBIDDEN_HOST"
    assert own.status_code == 200
    assert other_port.status_code == no_port.status_code == other_scheme.status_code == 403
