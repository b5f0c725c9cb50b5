"""Loopback-only ICE for WebRTC tests: aioice otherwise skips 127.0.0.1."""

from __future__ import annotations

import aioice.ice
import pytest


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
