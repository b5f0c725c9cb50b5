"""How a caller's SIP identity is compared with the registered devices."""

from __future__ import annotations

import pytest

from gateway.voice import sip_identity


@pytest.mark.parametrize(
    ("value", "identity"),
    [
        ('"Agent 7" <sip:a7@Example.org:5062>;tag=1', "sip:a7@example.org"),
        ("<sip:phone-1@127.0.0.1:5555>", "sip:phone-1@127.0.0.1"),
        ("SIPS:Bob@Secure.example.org;transport=tls", "sips:Bob@secure.example.org"),
        ("<sip:agent@[2001:db8::1]:5060>", "sip:agent@[2001:db8::1]"),
        ("sip:pbx.example.org", "sip:pbx.example.org"),
    ],
)
def test_port_and_parameters_do_not_change_who_calls(value: str, identity: str) -> None:
    assert sip_identity(value) == identity
