"""A running service whose disk refuses writes: captures get 503 with Retry-After, `/v1` writes 503
STORE_NOT_WRITABLE, the facts say so once, and it recovers by itself; on a real full tmpfs, nothing acknowledged
with a 2xx is lost across a restart."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from dataclasses import replace

import aiohttp
import pytest
from receiver_support import AUTH, running
from store_faults import Faults

from katya_tui.core.facts import StoreNotWritable, StoreWritable
from katya_tui.core.service import Service
from katya_tui.core.store import Store
from katya_tui.serve import fact_line

TIMEOUT = aiohttp.ClientTimeout(total=30)  # no answer is a failure, not a hang


async def test_captures_and_api_writes_get_503_while_writes_fail_and_200_after(settings, monkeypatch):
    async with running(settings) as svc, aiohttp.ClientSession(timeout=TIMEOUT) as http:
        facts = svc.bus.subscribe(accept=lambda f: isinstance(f, (StoreNotWritable, StoreWritable)))
        assert svc.store is not None
        faults = Faults(monkeypatch, svc.store)
        svc.store.journal.retry_s = 60  # (recovery comes from the next commit here)

        faults.arm("mid", errno.ENOSPC)
        async with http.post(f"{svc.url}/hooks/full/one", json={"event": "x", "data": {}}) as r:
            assert r.status == 503
            assert r.headers["Retry-After"] == "5"
            body = await r.json()
            assert body["code"] == 503 and "No space left on device" in body["message"]
        async with http.put(
            f"{svc.url}/v1/endpoints/full", json={"response": {"status": 202}}, headers=AUTH
        ) as r:
            assert r.status == 503
            assert r.headers["Retry-After"] == "5"
            err = (await r.json())["error"]
            assert err["code"] == "STORE_NOT_WRITABLE" and "No space left on device" in err["message"]
        async with http.get(f"{svc.url}/v1/captures", headers=AUTH) as r:
            assert r.status == 200  # reads go on
        assert svc.store.not_writable is not None
        [fact] = facts.drain()  # once, however many writes fail
        assert isinstance(fact, StoreNotWritable) and "No space left on device" in fact.reason
        line = fact_line(fact)
        assert line.startswith(b'{"fact":"StoreNotWritable","reason":"No space left on device')

        faults.heal()
        async with http.post(f"{svc.url}/hooks/full/two", json={"event": "x", "data": {}}) as r:
            assert r.status == 202  # (the endpoint's config, written with this commit)
        assert svc.store.not_writable is None
        assert [type(f).__name__ for f in facts.drain()] == ["StoreWritable"]
        data_dir = svc.settings.data_dir

    store = Store(data_dir)
    docs = {d["path"]: d for d in store.all("captures")}
    assert docs["/hooks/full/one"]["response"]["status"] == 503  # its recorded answer is the one it got
    assert docs["/hooks/full/two"]["response"]["status"] == 202
    store.close()


@contextlib.contextmanager
def small_tmpfs(path, size="2m"):
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        denied = os.geteuid() != 0 or "permission denied" in done.stderr.lower()
        if denied:
            pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")
        raise AssertionError(f"mount failed: {done.stderr}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


async def post(http: aiohttp.ClientSession, url: str, i: int) -> tuple[int, dict[str, str]]:
    body = {"event": "message", "data": {"n": i, "pad": "x" * 10_000}}
    async with http.post(f"{url}/hooks/full/{i}", json=body) as r:
        await r.read()
        return r.status, dict(r.headers)


async def test_a_disk_that_fills_and_empties_again_loses_nothing_acknowledged(tmp_path, settings):
    with small_tmpfs(tmp_path / "mnt", "4m") as mnt:
        data_dir = mnt / "data"
        filler = mnt / "filler"
        filler.write_bytes(b"\0" * 2_000_000)  # freed later: room for the 30 below
        acked: set[str] = set()
        refused = 0
        svc = Service(replace(settings, data_dir=data_dir), headless=True)  # as `serve` runs it
        await svc.start()
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
                for i in range(
                    1_000
                ):  # ~2 MB free, 10 KB webhooks (each stored with its event) fill it well before this
                    status, headers = await post(http, svc.url, i)
                    if 200 <= status < 300:
                        acked.add(f"/hooks/full/{i}")
                    else:
                        assert status == 503 and headers["Retry-After"], (status, headers)
                        refused += 1
                        if refused >= 10:
                            break
                assert refused == 10 and len(acked) > 50
                assert svc.store is not None and "No space left on device" in (svc.store.not_writable or "")
                status, _ = await post(http, svc.url, 10_000)
                assert status == 503  # still full: still refused

                filler.unlink()
                for i in range(20_000, 20_030):  # room again: every one is acknowledged
                    status, _ = await post(http, svc.url, i)
                    assert status == 200, i
                    acked.add(f"/hooks/full/{i}")
                assert svc.store.not_writable is None
        finally:
            await svc.stop()

        store = Store(data_dir)
        try:
            assert store.report.torn_bytes == 0  # no fragment left in the journal
            paths = {d["path"]: d["response"]["status"] for d in store.all("captures")}
        finally:
            store.close()
        assert acked <= set(paths), sorted(acked - set(paths))[:5]  # every 2xx is there
        assert all(200 <= paths[p] < 300 for p in acked)
        assert all(paths[p] == 503 for p in set(paths) - acked)  # the refused ones, if stored, say 503
