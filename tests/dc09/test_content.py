from __future__ import annotations

import pytest

from gateway.dc09.content import (
    ContactIdEvent,
    Qualifier,
    SiaEvent,
    adm_cid_data,
    parse_adm_cid_data,
    parse_sia_data,
    sia_data,
)
from gateway.dc09.errors import FrameError, LocalProtocolError


def test_sia_block_round_trip() -> None:
    event = SiaEvent("1234", "PA", 1, 1)
    assert sia_data(event) == "#1234|Nri1/PA001"
    assert parse_sia_data("#1234|Nri1/PA001") == event


def test_contact_id_block_round_trip() -> None:
    event = ContactIdEvent("ABC123", Qualifier.RESTORE, 120, 1, 7)
    assert adm_cid_data(event) == "#ABC123|3120 01 007"
    assert parse_adm_cid_data("#ABC123|3120 01 007") == event


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: sia_data(SiaEvent("1234", "pa", 1, 1)), "SIA code must be two upper-case"),
        (lambda: sia_data(SiaEvent("1234", "PA", 1, 10000)), "SIA area and zone must be 0-9999."),
        (
            lambda: adm_cid_data(ContactIdEvent("1234", Qualifier.NEW, 99, 1, 1)),
            "Contact ID event must be 100-999, got 99.",
        ),
        (
            lambda: adm_cid_data(ContactIdEvent("1234", Qualifier.NEW, 120, 100, 1)),
            "Contact ID group must be 0-99 and zone 0-999.",
        ),
    ],
)
def test_builders_refuse_out_of_range_values(build: object, message: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        build()  # type: ignore[operator]
    assert str(info.value).startswith(message)


def test_parsers_name_the_block() -> None:
    with pytest.raises(FrameError, match=r"^Not a SIA DC-03 event block: '#1234\|1120'\.$"):
        parse_sia_data("#1234|1120")
    with pytest.raises(FrameError, match=r"^Not a Contact ID event block: 'x'\.$"):
        parse_adm_cid_data("x")
