"""Frame a TCP byte stream into DC-09 frames (LF ... CR), whatever the reads' sizes.

TCP may split one frame over several reads or join several in one. The buffer
keeps partial data, returns whole frames one at a time, drops bytes outside
frames (remembering the last run for diagnostics) and caps a frame's size so a
peer that never sends CR cannot grow memory without bound.
"""

from __future__ import annotations

from gateway.dc09.errors import FrameTooLongError
from gateway.dc09.grammar import CR, LF

DEFAULT_MAX_FRAME = 4096


class StreamBuffer:
    """Accumulates received bytes; ``next_frame()`` yields whole frames in order."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < 10:
            raise ValueError(f"max_frame must be at least 10 bytes, got {max_frame}.")
        self.max_frame = max_frame
        self._data = bytearray()
        self.discarded = 0
        """Bytes dropped so far because they were not inside a frame."""
        self.last_discarded = b""
        """The latest run of dropped bytes (e.g. an unframed ``"NAK"``), at most 64 bytes."""

    def receive_data(self, data: bytes) -> None:
        """Append bytes as read from the transport."""
        self._data += data

    def next_frame(self) -> bytes | None:
        """The next complete frame with its LF and CR, or None until more data arrives.

        Raises FrameTooLongError once per oversized frame, then resynchronises on
        the next LF.
        """
        data = self._data
        start = data.find(LF)
        if start < 0:
            self._discard(len(data))
            return None
        self._discard(start)
        for index in range(1, min(len(data), self.max_frame)):
            byte = data[index]
            if byte == CR:
                frame = bytes(data[: index + 1])
                del data[: index + 1]
                return frame
            if byte == LF:  # a new frame starts before this one ended: drop the stub
                self._discard(index)
                return self.next_frame()
        if len(data) >= self.max_frame:
            self._discard(self.max_frame)
            raise FrameTooLongError(
                f"No CR within {self.max_frame} bytes of the LF.", "end", self.max_frame - 1
            )
        return None

    def _discard(self, count: int) -> None:
        if count:
            self.last_discarded = bytes(self._data[:count][-64:])
            self.discarded += count
            del self._data[:count]
