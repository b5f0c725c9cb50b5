# ruff: noqa: E501  (tables of exact error sentences read best one per line)
"""The [sip] table: defaults, per-worker ports and clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.sip.config import SipConfig


def test_each_worker_gets_its_own_sip_port_and_rtp_range() -> None:
    config = SipConfig(workers=3, base_port=5070, rtp_base_port=40000, rtp_ports_per_worker=100)
    settings = [config.worker_settings(i) for i in range(3)]
    assert [s.sip_port for s in settings] == [5070, 5071, 5072]
    assert [s.rtp_port for s in settings] == [40000, 40100, 40200]
    assert all(s.rtp_port_range == 100 for s in settings)
    assert settings[0].public_host == "127.0.0.1"


def test_port_zero_lets_every_worker_pick_a_free_port() -> None:
    assert SipConfig(base_port=0).worker_settings(1).sip_port == 0


def test_settings_round_trip_as_json() -> None:
    settings = SipConfig(public_host="gw.example").worker_settings(0)
    assert type(settings).model_validate_json(settings.model_dump_json()) == settings


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"codecs": ["opus/48000"]}, "unknown codec 'opus/48000'; choose from G722/16000, PCMU/8000, PCMA/8000"),
        ({"bind_address": "localhost"}, "expected an IP address such as 127.0.0.1"),
        ({"tap_rate": 44100}, "expected 8000 or 16000"),
        ({"phone_slots": 5}, "Input should be less than or equal to 4"),
        ({"rtp_base_port": 65000, "workers": 4}, "rtp_base_port + workers * rtp_ports_per_worker exceeds 65535"),
        ({"color": "red"}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_options_are_explained(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        SipConfig.model_validate(options)
    assert message in str(info.value)
