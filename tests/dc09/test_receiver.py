from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.dc09.errors import (
    CrcError,
    TimestampWindowError,
    UnknownAccountError,
    UnsupportedMessageError,
)
from gateway.dc09.frame import Frame, parse_frame
from gateway.dc09.grammar import Token
from gateway.dc09.receiver import Received, Receiver, Rejected, check_timestamp
from tests.dc09.vectors import KEY_128, load

T = datetime(2026, 12, 4, 21, 15, 30, tzinfo=UTC)


def decide(receiver: Receiver, raw: bytes, now: datetime = T) -> Received | Rejected:
    receiver.receive_data(raw)
    decision = receiver.next_event(now)
    assert decision is not None
    return decision


def test_valid_frame_gets_an_ack_echoing_sequence_and_route() -> None:
    decision = decide(Receiver({"1234": None}), load("sia_dcs_panic.bin"))
    assert isinstance(decision, Received)
    assert parse_frame(decision.answer) == Frame(Token.ACK, 42, "1", "1", "1234")


def test_encrypted_frame_gets_an_encrypted_ack() -> None:
    decision = decide(Receiver({"1234": KEY_128}), load("sia_dcs_aes128.bin"))
    assert isinstance(decision, Received)
    answer = parse_frame(decision.answer, KEY_128)
    assert (answer.token, answer.encrypted, answer.timestamp) == (Token.ACK, True, T)


@pytest.mark.parametrize(
    ("accounts", "raw", "error", "message"),
    [
        (
            {"9999": None},
            "sia_dcs_panic.bin",
            UnknownAccountError,
            "Account 1234 is not served here.",
        ),
        (
            {"1234": KEY_128},
            "sia_dcs_panic.bin",
            UnknownAccountError,
            "Account 1234 must send encrypted.",
        ),
        (
            {"1234": None},
            "pysiaalarm_ack.bin",
            UnknownAccountError,
            "A transmitter sent the answer ACK.",
        ),
        (
            {"1234": None},
            "crc_invalid.bin",
            CrcError,
            "CRC field says 0000 but the message computes to 8BEA.",
        ),
    ],
)
def test_rejections_answer_nak(
    accounts: dict[str, bytes | None], raw: str, error: type[Exception], message: str
) -> None:
    receiver = Receiver(accounts)
    decision = decide(receiver, load(raw))
    assert isinstance(decision, Rejected)
    assert type(decision.error) is error and str(decision.error) == message
    nak = parse_frame(decision.answer)
    assert (nak.token, nak.sequence, nak.timestamp) == (Token.NAK, 0, T)
    assert receiver.rejected == {error.__name__: 1}


def test_unknown_token_answers_duh() -> None:
    decision = decide(Receiver({"1234": None}), load("token_invalid.bin"))
    assert isinstance(decision, Rejected)
    assert isinstance(decision.error, UnsupportedMessageError)
    assert parse_frame(decision.answer).token is Token.DUH


@pytest.mark.parametrize(
    ("skew", "message"),
    [
        (
            -41,
            "Timestamp 21:14:49,12-04-2026 is 41 s behind the receiver clock "
            "(at most 40 s allowed).",
        ),
        (
            21,
            "Timestamp 21:15:51,12-04-2026 is 21 s ahead of the receiver clock "
            "(at most 20 s allowed).",
        ),
    ],
)
def test_timestamp_window_is_checked_against_the_given_time(skew: int, message: str) -> None:
    frame = Frame(Token.NULL, 1, "0", account="1234", timestamp=T + timedelta(seconds=skew))
    with pytest.raises(TimestampWindowError) as info:
        check_timestamp(frame, T)
    assert str(info.value) == message
    check_timestamp(frame, T + timedelta(seconds=skew))


@pytest.mark.parametrize("skew", [-40, 0, 20])
def test_timestamp_window_edges_are_accepted(skew: int) -> None:
    check_timestamp(Frame(Token.NULL, 1, "0", timestamp=T + timedelta(seconds=skew)), T)


def test_encrypted_frames_need_a_timestamp() -> None:
    frame = Frame(Token.NULL, 1, "0", account="1234", encrypted=True)
    with pytest.raises(TimestampWindowError, match=r"^Encrypted message has no timestamp\.$"):
        check_timestamp(frame, T)


def test_nothing_until_a_whole_frame_arrived() -> None:
    receiver = Receiver({"1234": None})
    raw = load("null_poll.bin")
    receiver.receive_data(raw[:10])
    assert receiver.next_event(T) is None
    receiver.receive_data(raw[10:])
    assert isinstance(receiver.next_event(T), Received)
