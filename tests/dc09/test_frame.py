from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.dc09.errors import (
    CrcError,
    Dc09Error,
    DecryptError,
    FrameError,
    LocalProtocolError,
    UnknownAccountError,
    UnsupportedMessageError,
)
from gateway.dc09.frame import Frame, XData, crc16, parse_frame
from gateway.dc09.grammar import Token
from tests.dc09.vectors import KEY_128, KEY_256, VECTORS, fixed_pad, load

T = datetime(2026, 12, 4, 21, 15, 30, tzinfo=UTC)


def test_crc16_is_arc() -> None:
    # CRC-16/ARC check value from the CRC catalogue
    assert crc16(b"123456789") == 0xBB3D


def test_panic_sample_fields_and_round_trip() -> None:
    raw = load("sia_dcs_panic.bin")
    frame = parse_frame(raw)
    assert frame == Frame(
        token=Token.SIA_DCS,
        sequence=42,
        line="1",
        receiver="1",
        account="1234",
        data="#1234|Nri1/PA001",
        xdata=(
            XData("X", "2.294481"),
            XData("Y", "48.858370"),
            XData("I", "SOS"),
            XData("V", "https://gw.example/alarms/7"),
            XData("H", "21:15:10,12-04-2026"),
        ),
        timestamp=T,
    )
    assert frame.serialize() == raw


@pytest.mark.parametrize(
    ("name", "token", "sequence", "data"),
    [
        ("adm_cid_fall.bin", Token.ADM_CID, 7, "#ABC123|1101 01 001"),
        ("null_poll.bin", Token.NULL, 9999, ""),
        # written by an independent DC-09 implementation: checks our CRC and layout
        ("independent_test_report.bin", Token.SIA_DCS, 1, "#1234|NRR|Atest"),
        ("independent_empty.bin", Token.SIA_DCS, 1, ""),
        ("pysiaalarm_ack.bin", Token.ACK, 42, ""),
        ("pysiaalarm_nak.bin", Token.NAK, 0, ""),
    ],
)
def test_plain_samples_round_trip(name: str, token: Token, sequence: int, data: str) -> None:
    raw = load(name)
    frame = parse_frame(raw)
    assert (frame.token, frame.sequence, frame.data) == (token, sequence, data)
    assert frame.serialize() == raw


def test_pysiaalarm_generic_nak_reads_line_before_receiver() -> None:
    frame = parse_frame(load("pysiaalarm_generic_nak.bin"))
    assert frame.token is Token.NAK
    assert frame.timestamp == T
    assert frame.account is None


@pytest.mark.parametrize(
    ("name", "key", "code"),
    [("sia_dcs_aes128.bin", KEY_128, "HA"), ("sia_dcs_aes256.bin", KEY_256, "QA")],
)
def test_encrypted_samples(name: str, key: bytes, code: str) -> None:
    raw = load(name)
    frame = parse_frame(raw, key)
    assert frame.encrypted
    assert frame.data == f"#1234|Nri1/{code}001"
    assert frame.timestamp == T
    assert frame.serialize(key, fixed_pad) == raw


def test_encrypted_ack_from_pysiaalarm_has_no_bar_after_pad() -> None:
    frame = parse_frame(load("pysiaalarm_encrypted_ack.bin"), lambda account: KEY_128)
    assert (frame.token, frame.sequence, frame.encrypted) == (Token.ACK, 3, True)
    assert frame.timestamp == T


def test_encrypted_frame_with_wrong_key() -> None:
    with pytest.raises(DecryptError) as info:
        parse_frame(load("sia_dcs_aes128.bin"), b"FEDCBA9876543210")
    assert (info.value.field, info.value.offset) == ("data", 33)


def test_encrypted_frame_without_key() -> None:
    with pytest.raises(UnknownAccountError, match=r"^No key is configured for account 1234\.$"):
        parse_frame(load("sia_dcs_aes128.bin"), lambda account: None)


INVALID = [
    (
        "crc_invalid.bin",
        CrcError,
        "CRC field says 0000 but the message computes to 8BEA.",
        "crc",
        1,
    ),
    (
        "length_invalid.bin",
        FrameError,
        "Length field says 1 but the message has 141 characters.",
        "length",
        5,
    ),
    ("no_lf_invalid.bin", FrameError, "Frame does not start with LF.", "start", 0),
    ("token_invalid.bin", UnsupportedMessageError, "Unknown ID token 'SIA-XYZ'.", "id", 10),
    ("sequence_invalid.bin", FrameError, "Sequence is not 4 decimal digits.", "sequence", 18),
    (
        "line_invalid.bin",
        FrameError,
        "Line prefix 'L' with 1-6 hexadecimal digits is missing.",
        "line",
        24,
    ),
    ("account_invalid.bin", FrameError, "Account is not 3-16 hexadecimal digits.", "account", 26),
    ("data_unclosed_invalid.bin", FrameError, "Data block is not closed by ']'.", "data", 32),
    (
        "xdata_invalid.bin",
        FrameError,
        "Extended data does not start with an upper-case letter.",
        "xdata",
        49,
    ),
    (
        "timestamp_invalid.bin",
        FrameError,
        "Timestamp is not _HH:MM:SS,MM-DD-YYYY.",
        "timestamp",
        49,
    ),
    ("not_ascii_invalid.bin", FrameError, "Byte 0xE9 is not printable ASCII.", "frame", 53),
    ("aes_not_hex_invalid.bin", DecryptError, "Encrypted data is not hexadecimal.", "data", 33),
    (
        # pysiaalarm 3.2.2 echoes a missing receiver number as "None"
        "pysiaalarm_ack_no_receiver_invalid.bin",
        FrameError,
        "Line prefix 'L' with 1-6 hexadecimal digits is missing.",
        "line",
        18,
    ),
    (
        "pysiaalarm_bad_crc_answer_invalid.bin",
        FrameError,
        "Frame is shorter than 10 bytes.",
        "length",
        0,
    ),
]


@pytest.mark.parametrize(("name", "kind", "message", "field", "offset"), INVALID)
def test_invalid_samples(
    name: str, kind: type[FrameError], message: str, field: str, offset: int
) -> None:
    with pytest.raises(kind) as info:
        parse_frame(load(name), KEY_128)
    assert type(info.value) is kind
    assert str(info.value) == message
    assert (info.value.field, info.value.offset) == (field, offset)


def test_every_invalid_sample_is_covered() -> None:
    names = {path.name for path in VECTORS.glob("*_invalid.bin")}
    assert names == {row[0] for row in INVALID}


def test_duh_answer_for_unknown_token() -> None:
    with pytest.raises(UnsupportedMessageError) as info:
        parse_frame(load("token_invalid.bin"))
    assert info.value.response is Token.DUH


def test_missing_cr() -> None:
    with pytest.raises(FrameError, match=r"^Frame does not end with CR\.$"):
        parse_frame(load("null_poll.bin")[:-1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sequence": 10000}, "Sequence must be 0-9999, got 10000."),
        ({"line": "XYZ"}, "Line must be 1-6 hexadecimal digits, got 'XYZ'."),
        ({"receiver": "1234567"}, "Receiver must be 1-6 hexadecimal digits, got '1234567'."),
        ({"account": "12"}, "Account must be 3-16 hexadecimal digits, got '12'."),
        ({"data": "a]b"}, "Data must be printable ASCII without '[' or ']'."),
        ({"timestamp": datetime(2026, 1, 1)}, "Timestamp must be timezone-aware (UTC)."),
    ],
)
def test_frame_refuses_bad_fields(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"token": Token.SIA_DCS, "sequence": 1, "line": "0"}
    fields.update(kwargs)
    with pytest.raises(LocalProtocolError) as info:
        Frame(**fields)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_xdata_refuses_bad_values() -> None:
    with pytest.raises(LocalProtocolError, match=r"^xdata identifier must be one upper-case"):
        XData("i", "text")
    with pytest.raises(LocalProtocolError, match=r"^xdata I must be at most 256 printable"):
        XData("I", "x" * 257)


def test_encrypted_frame_needs_a_key() -> None:
    frame = Frame(Token.NULL, 1, "0", account="1234", timestamp=T, encrypted=True)
    with pytest.raises(LocalProtocolError, match=r"^Encrypted frames need a key\.$"):
        frame.serialize()


# --- properties ----------------------------------------------------------------------------

hexes = st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=6)
printable = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="[]"),
    max_size=40,
)
frames = st.builds(
    Frame,
    token=st.sampled_from(Token),
    sequence=st.integers(0, 9999),
    line=hexes,
    receiver=st.none() | hexes,
    account=st.none() | st.text(alphabet="0123456789ABCDEF", min_size=3, max_size=16),
    data=printable,
    xdata=st.lists(
        st.builds(XData, identifier=st.sampled_from("XYIVHZ"), value=printable), max_size=4
    ).map(tuple),
    timestamp=st.none()
    | st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ).map(lambda t: t.replace(microsecond=0)),
    encrypted=st.booleans(),
)


@given(frames, st.sampled_from([KEY_128, b"0123456789ABCDEF01234567", KEY_256]))
def test_round_trip(frame: Frame, key: bytes) -> None:
    assert parse_frame(frame.serialize(key), key) == frame


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_dc09_errors(data: bytes) -> None:
    with contextlib.suppress(Dc09Error):
        parse_frame(data, KEY_128)


@given(st.sampled_from(sorted(p.name for p in VECTORS.glob("*.bin"))), st.data())
def test_truncated_or_flipped_samples_raise_only_dc09_errors(
    name: str, data: st.DataObject
) -> None:
    raw = bytearray(load(name))
    cut = data.draw(st.integers(0, len(raw)))
    mutated = raw[:cut] + raw[cut + 1 :] if data.draw(st.booleans()) else raw[:cut]
    if mutated and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    with contextlib.suppress(Dc09Error):
        parse_frame(bytes(mutated), KEY_128)
