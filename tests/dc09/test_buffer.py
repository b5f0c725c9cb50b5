from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.dc09.buffer import StreamBuffer
from gateway.dc09.errors import FrameTooLongError
from tests.dc09.vectors import load

ACK = load("pysiaalarm_ack.bin")
NAK = load("pysiaalarm_nak.bin")


def frames(buffer: StreamBuffer) -> list[bytes]:
    out = []
    while (frame := buffer.next_frame()) is not None:
        out.append(frame)
    return out


def test_joined_frames_come_out_one_by_one() -> None:
    buffer = StreamBuffer()
    buffer.receive_data(ACK + NAK)
    assert frames(buffer) == [ACK, NAK]


@given(st.lists(st.integers(1, 20), min_size=1, max_size=30))
def test_any_split_gives_the_same_frames(sizes: list[int]) -> None:
    stream = ACK + NAK + ACK
    buffer = StreamBuffer()
    got: list[bytes] = []
    position = 0
    for size in [*sizes, len(stream)]:
        buffer.receive_data(stream[position : position + size])
        position += size
        got += frames(buffer)
    assert got == [ACK, NAK, ACK]


def test_bytes_outside_frames_are_dropped_and_remembered() -> None:
    buffer = StreamBuffer()
    buffer.receive_data(b'"NAK"' + ACK)
    assert frames(buffer) == [ACK]
    assert (buffer.discarded, buffer.last_discarded) == (5, b'"NAK"')


def test_unfinished_frame_restarts_at_next_lf() -> None:
    buffer = StreamBuffer()
    buffer.receive_data(b"\n1234" + ACK)
    assert frames(buffer) == [ACK]
    assert buffer.discarded == 5


def test_oversized_frame_raises_once_then_resynchronises() -> None:
    buffer = StreamBuffer(max_frame=64)
    buffer.receive_data(b"\n" + b"A" * 100)
    with pytest.raises(FrameTooLongError) as info:
        buffer.next_frame()
    assert str(info.value) == "No CR within 64 bytes of the LF."
    assert (info.value.field, info.value.offset) == ("end", 63)
    buffer.receive_data(b"AAAA" + ACK)
    assert frames(buffer) == [ACK]


def test_max_frame_must_hold_a_frame() -> None:
    with pytest.raises(ValueError, match=r"^max_frame must be at least 10 bytes, got 4\.$"):
        StreamBuffer(max_frame=4)
