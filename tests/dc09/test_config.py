from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.dc09.config import Dc09Config
from gateway.dc09.grammar import Token
from gateway.dc09.transmitter import Endpoint


def make(**options: Any) -> Dc09Config:
    fields: dict[str, Any] = {
        "receivers": [{"host": "mc1.example", "port": 5000}],
        "account": "abc123",
    }
    fields.update(options)
    return Dc09Config.model_validate(fields)


def test_defaults_and_core_settings() -> None:
    cfg = make(
        receivers=[
            {"host": "mc1.example", "port": 5000, "key": "0123456789ABCDEF", "line": "a"},
            {"host": "mc2.example", "port": 5001, "protocol": "udp", "receiver": "2"},
        ]
    )
    settings = cfg.settings()
    assert settings.account == "ABC123"
    assert settings.endpoints == (
        Endpoint(line="A", receiver="0", key=b"0123456789ABCDEF"),
        Endpoint(line="0", receiver="2", key=None),
    )
    assert (settings.answer_timeout, settings.attempts, settings.poll_interval) == (10.0, 3, 60.0)
    assert cfg.token is Token.SIA_DCS
    assert "0123456789ABCDEF" not in repr(cfg)  # the key never reaches logs


@pytest.mark.parametrize(
    ("options", "location", "message"),
    [
        ({"receivers": []}, ("receivers",), "List should have at least 1 item"),
        ({"account": "worker"}, ("account",), "String should match pattern"),
        (
            {"receivers": [{"host": "h", "port": 1, "key": "short"}]},
            ("receivers", 0, "key"),
            "key must be 16, 24 or 32 ASCII characters, got 5 characters",
        ),
        ({"receivers": [{"host": "h", "port": 0}]}, ("receivers", 0, "port"), "greater than"),
        ({"answer_timeout_s": 0}, ("answer_timeout_s",), "greater than 0"),
        ({"format": "CID"}, ("format",), "Input should be 'SIA-DCS' or 'ADM-CID'"),
        ({"xdata": ["Q"]}, ("xdata", 0), "Input should be 'X', 'Y', 'I', 'V' or 'H'"),
        ({"colour": "red"}, ("colour",), "Extra inputs are not permitted"),
    ],
)
def test_refusals_name_the_key(
    options: dict[str, Any], location: tuple[str | int, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        make(**options)
    [error] = info.value.errors()
    assert error["loc"] == location
    assert message in error["msg"]
