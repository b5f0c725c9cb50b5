"""How a caller's SIP identity is compared with the registered devices."""

from __future__ import annotations

import pytest

from gateway.voice import callback_uri, sip_identity


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


@pytest.mark.parametrize(
    ("contact", "uri"),
    [
        ("<sip:a7@10.1.2.3:5062;transport=udp>;expires=60", "sip:a7@10.1.2.3:5062;transport=udp"),
        ('"Agent 7" <sip:a7@127.0.0.1:40123>', "sip:a7@127.0.0.1:40123"),
        ("sip:a7@127.0.0.1:5090;expires=30", "sip:a7@127.0.0.1:5090"),
    ],
)
def test_callbacks_go_where_the_phone_listens(contact: str, uri: str) -> None:
    assert callback_uri(contact) == uri
