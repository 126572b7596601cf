"""The dispatcher's shortcuts give exactly what the general code gives: stored shapes, times, signatures."""

from __future__ import annotations

import math
import random
import time
from dataclasses import fields

from dispatcher_support import Sink, settle
from hypothesis import given
from hypothesis import strategies as st

from katya_tui.core import signing
from katya_tui.core.dispatcher import profiles, retry
from katya_tui.core.models import Attempt, Delivery, iso
from katya_tui.core.service import Service


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_iso_ms_is_models_iso(ts):
    assert profiles.iso_ms(ts) == iso(ts)


def test_iso_ms_at_the_rounding_edges():
    edges = [
        s + f
        for s in (0, 1, 1_763_912_345, 2**31)
        for f in (0.0, 0.0005, 0.9995, 0.9999994, 0.9999995, 0.9999996, 0.4999995, 0.0000005, 0.0000015)
    ]
    edges += [math.nextafter(1_763_912_345.9999995, 0), math.nextafter(1_763_912_345.9999995, 2e9), 12, -1.5]
    edges += [1_763_912_345 + ms / 1000 + us / 1e6 for ms in range(1000) for us in (0, 499, 500, 501, 999)]
    assert [profiles.iso_ms(t) for t in edges] == [iso(t) for t in edges]


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40).filter(str.strip))
def test_katya_signature_is_signing_sign(body, secret):
    signed = dict(signing.sign("katya", body, secret, now=time.time()).headers)
    assert profiles.katya_signature(body, secret) == signed["X-Katya-Signature"]


def test_katya_signature_refuses_an_empty_secret():
    for secret in ("", "  "):
        try:
            profiles.katya_signature(b"{}", secret)
        except signing.SigningConfigError:
            continue
        raise AssertionError("an empty secret must not sign")


def test_judge_remembers_outcomes_without_changing_them():
    for status, error in [
        (200, None),
        (503, None),
        (None, "timeout"),
        (302, None),
        (404, None),
        (429, None),
    ] * 2:
        assert retry.judge(status, error) == retry.judge.__wrapped__(status, error)


async def test_stored_deliveries_and_attempts_have_the_models_fields(settings):
    sink = await Sink().start()
    service = Service(settings)
    await service.start()
    try:
        service.dispatcher.create_webhook({"name": "s", "url": sink.url, "events": ["*"], "secret": "sec"})
        service.publish_event("message.created", {"n": random.random()}, source="api")
        did = service.dispatcher.last_fan_out[0]
        doc = await settle(lambda: (d := service.dispatcher.deliveries.get(did)) and d["attempts"] and d)
        assert sorted(doc) == sorted(f.name for f in fields(Delivery))  # (whole: large fields come from disk)
        assert list(doc["attempts"][0]) == [f.name for f in fields(Attempt)]
        assert doc["attempts"][0]["request_headers"][0] == ["Content-Type", "application/json"]
    finally:
        await service.stop()
        await sink.stop()


async def test_the_subscription_list_shows_the_last_delivery(settings):
    sink = await Sink().start()
    service = Service(settings)
    await service.start()
    try:
        hook = service.dispatcher.create_webhook(
            {"name": "s", "url": sink.url, "events": ["*"], "secret": "sec"}
        )
        assert service.dispatcher.list_webhooks()[0]["lastDelivery"] is None
        service.publish_event("message.created", {"n": 1}, source="api")
        await sink.wait_for(1)
        listed = await settle(lambda: (h := service.dispatcher.list_webhooks()[0])["lastDelivery"] and h)
        assert listed["id"] == hook["id"]
    finally:
        await service.stop()
        await sink.stop()
