"""Shared fixtures: a temporary data dir, settings on port 0, a started service, a delivery sink."""

from __future__ import annotations

import pytest
from dispatcher_support import Sink

from katya_tui.config import load_settings
from katya_tui.core.service import Service


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir):
    return load_settings({"port": 0, "data_dir": str(data_dir), "token": "test-token-123"}, env={})


@pytest.fixture
async def service(settings):
    svc = Service(settings)
    await svc.start()
    yield svc
    await svc.stop()


@pytest.fixture
async def sink():
    """A local target for deliveries (`dispatcher_support.Sink`); a module may define its own `sink`."""
    s = await Sink().start()
    yield s
    await s.stop()
