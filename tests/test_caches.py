"""Process-wide caches are bounded (`functools.lru_cache` with a size, or an object's own bounded dict)."""

from __future__ import annotations

from katya_tui.core.dispatcher import profiles, retry
from katya_tui.core.receiver.endpoints import default_config
from katya_tui.core.receiver.respond import Responder
from katya_tui.core.signing import _engine


def test_module_caches_have_a_size():
    for cached in (
        _engine._keys_of_texts,
        _engine._plain,
        profiles._day_time,
        profiles._katya_mac,
        retry.judge,
    ):
        assert cached.cache_parameters()["maxsize"] is not None, cached


def test_answers_for_any_number_of_endpoint_names_keep_a_bounded_memory():
    responder = Responder()
    for i in range(12_000):
        plan = responder.answer(default_config(f"name{i}"), "POST", b"{}")
        assert plan.status == 200
    assert len(responder._plans) <= 10_000
