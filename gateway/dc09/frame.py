"""DC-09 frames: ``parse_frame`` (bytes -> Frame) and ``Frame.serialize`` (Frame -> bytes).

Pure functions only: no clock, no sockets. Offsets in errors count from the LF.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.dc09 import crypto
from gateway.dc09.errors import (
    CrcError,
    FrameError,
    LocalProtocolError,
    UnknownAccountError,
    UnsupportedMessageError,
)
from gateway.dc09.grammar import (
    ACCOUNT_DIGITS,
    CR,
    HEX,
    LF,
    LINE_DIGITS,
    PAD_ALPHABET,
    RECEIVER_DIGITS,
    SEQUENCE_MAX,
    TIMESTAMP_FORMAT,
    TIMESTAMP_LENGTH,
    XDATA_IDENTIFIER,
    XDATA_MAX,
    Token,
    is_field_text,
    is_hex,
)

KeyLookup = Callable[[str | None], bytes | None]
"""Returns the AES key of an account (None: the account has no key / is unknown)."""

PadSource = Callable[[int], str]

MIN_FRAME = 10
"""LF, CRC, length and CR alone take 10 bytes."""


def crc16(data: bytes) -> int:
    """CRC-16/ARC (poly 0x8005 reflected, init 0), the CRC of DC-09 §5.5.1.2."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def random_pad(count: int) -> str:
    """Unpredictable pad characters, so equal plaintexts encrypt differently."""
    return "".join(secrets.choice(PAD_ALPHABET) for _ in range(count))


@dataclass(frozen=True, slots=True)
class XData:
    """One extended-data field (DC-09 §5.5.1.7), e.g. ``[Y48.858370]``."""

    identifier: str
    """One upper-case letter: X longitude, Y latitude, I text, V reference, H time..."""
    value: str

    def __post_init__(self) -> None:
        if not XDATA_IDENTIFIER.fullmatch(self.identifier):
            raise LocalProtocolError(
                f"xdata identifier must be one upper-case letter, got {self.identifier!r}."
            )
        if len(self.value) > XDATA_MAX or not is_field_text(self.value):
            raise LocalProtocolError(
                f"xdata {self.identifier} must be at most {XDATA_MAX} printable ASCII "
                "characters without '[' or ']'."
            )


@dataclass(frozen=True, slots=True)
class Frame:
    """One DC-09 message or answer, decrypted. Field names follow the spec."""

    token: Token
    sequence: int
    """0001-9999; 0000 only in NAK answers."""
    line: str
    """Line prefix, 1-6 hex digits (``L``)."""
    receiver: str | None = None
    """Receiver number, 1-6 hex digits (``R``), if sent."""
    account: str | None = None
    """Account prefix (``#``), 3-16 hex digits; None in a NAK."""
    data: str = ""
    """What stands between ``[`` and ``]``, e.g. ``#1234|Nri1/PA501``."""
    xdata: tuple[XData, ...] = ()
    timestamp: datetime | None = None
    """UTC time of transmission (``_HH:MM:SS,MM-DD-YYYY``); seconds precision."""
    encrypted: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.sequence <= SEQUENCE_MAX:
            raise LocalProtocolError(f"Sequence must be 0-9999, got {self.sequence}.")
        if self.receiver is not None and not is_hex(self.receiver, RECEIVER_DIGITS):
            raise LocalProtocolError(
                f"Receiver must be 1-6 hexadecimal digits, got {self.receiver!r}."
            )
        if not is_hex(self.line, LINE_DIGITS):
            raise LocalProtocolError(f"Line must be 1-6 hexadecimal digits, got {self.line!r}.")
        if self.account is not None and not is_hex(self.account, ACCOUNT_DIGITS):
            raise LocalProtocolError(
                f"Account must be 3-16 hexadecimal digits, got {self.account!r}."
            )
        if not is_field_text(self.data):
            raise LocalProtocolError("Data must be printable ASCII without '[' or ']'.")
        if self.timestamp is not None and self.timestamp.tzinfo is None:
            raise LocalProtocolError("Timestamp must be timezone-aware (UTC).")

    def serialize(self, key: bytes | None = None, pad: PadSource = random_pad) -> bytes:
        """Encode with CRC and length; encrypted frames need the account's ``key``."""
        head = f'"{"*" if self.encrypted else ""}{self.token.value}"{self.sequence:04d}'
        if self.receiver is not None:
            head += f"R{self.receiver}"
        head += f"L{self.line}"
        if self.account is not None:
            head += f"#{self.account}"
        tail = self.data + "]" + "".join(f"[{x.identifier}{x.value}]" for x in self.xdata)
        if self.timestamp is not None:
            tail += "_" + self.timestamp.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
        if self.encrypted:
            if key is None:
                raise LocalProtocolError("Encrypted frames need a key.")
            count = -(len(tail) + 1) % crypto.BLOCK
            tail = crypto.encrypt(key, f"{pad(count)}|{tail}")
        body = f"{head}[{tail}".encode("ascii")
        if len(body) > 0xFFFF:
            raise LocalProtocolError(f"Frame is too long ({len(body)} characters).")
        return b"\n%04X%04X%s\r" % (crc16(body), len(body), body)


def parse_frame(raw: bytes, keys: bytes | KeyLookup | None = None) -> Frame:
    """Decode one whole frame, LF to CR included; raise a ``Dc09Error`` subclass if invalid.

    ``keys`` is the key for encrypted content, or a function from account to key.
    """
    if not raw or raw[0] != LF:
        raise FrameError("Frame does not start with LF.", "start", 0)
    if raw[-1] != CR:
        raise FrameError("Frame does not end with CR.", "end", len(raw) - 1)
    if len(raw) < MIN_FRAME:
        raise FrameError(f"Frame is shorter than {MIN_FRAME} bytes.", "length", 0)
    for index, byte in enumerate(raw):
        if byte > 0x7E or (byte < 0x20 and index not in (0, len(raw) - 1)):
            raise FrameError(f"Byte 0x{byte:02X} is not printable ASCII.", "frame", index)
    text = raw.decode("ascii")
    crc_text, length_text, body = text[1:5], text[5:9], text[9:-1]
    if not is_hex(crc_text, (4, 4)):
        raise FrameError("CRC is not 4 hexadecimal digits.", "crc", 1)
    if not is_hex(length_text, (4, 4)):
        raise FrameError("Length is not 4 hexadecimal digits.", "length", 5)
    if int(length_text, 16) != len(body):
        raise FrameError(
            f"Length field says {int(length_text, 16)} but the message has {len(body)} characters.",
            "length",
            5,
        )
    computed = crc16(body.encode("ascii"))
    if int(crc_text, 16) != computed:
        raise CrcError(
            f"CRC field says {crc_text.upper()} but the message computes to {computed:04X}.",
            "crc",
            1,
        )
    return _Parser(body, 9, keys).frame()


class _Parser:
    """Cursor over the message body (after the length field) that knows its offset."""

    def __init__(self, body: str, base: int, keys: bytes | KeyLookup | None) -> None:
        self.text = body
        self.pos = 0
        self.base = base
        self.keys = keys

    def fail(self, message: str, field: str) -> FrameError:
        return FrameError(message, field, self.base + self.pos)

    def take_hex(self, prefix: str, digits: tuple[int, int]) -> str | None:
        """Read ``prefix`` + hex digits if present (longest run within ``digits``)."""
        if not self.text.startswith(prefix, self.pos):
            return None
        start = self.pos + len(prefix)
        end = start
        while end < len(self.text) and end - start < digits[1] and self.text[end] in HEX:
            end += 1
        if end - start < digits[0]:
            return None
        self.pos = end
        return self.text[start:end]

    def frame(self) -> Frame:
        text = self.text
        if not text.startswith('"'):
            raise self.fail("Message does not start with a quoted ID token.", "id")
        close = text.find('"', 1)
        if close < 0:
            raise self.fail("ID token is not closed by '\"'.", "id")
        name = text[1:close]
        encrypted = name.startswith("*")
        try:
            token = Token(name.removeprefix("*"))
        except ValueError:
            raise UnsupportedMessageError(
                f"Unknown ID token {name!r}.", "id", self.base + 1
            ) from None
        self.pos = close + 1
        digits = text[self.pos : self.pos + 4]
        if len(digits) != 4 or not digits.isdigit():
            raise self.fail("Sequence is not 4 decimal digits.", "sequence")
        sequence = int(digits)
        self.pos += 4
        receiver = self.take_hex("R", RECEIVER_DIGITS)
        line = self.take_hex("L", LINE_DIGITS)
        if line is None:
            raise self.fail("Line prefix 'L' with 1-6 hexadecimal digits is missing.", "line")
        if receiver is None:  # pysiaalarm writes its generic NAK as L0R0
            receiver = self.take_hex("R", RECEIVER_DIGITS)
        # A NAK's "L0A0" reads as line 0A0: the spec's placeholder account is hex too.
        account = self.take_hex("#", ACCOUNT_DIGITS)
        if account is None and text.startswith("#", self.pos):
            raise self.fail("Account is not 3-16 hexadecimal digits.", "account")
        if not text.startswith("[", self.pos):
            raise self.fail("Expected '[' to open the data block.", "data")
        self.pos += 1
        if encrypted:
            content = self.decrypted(account)
            self.text, self.base, self.pos = content, self.base + self.pos, 0
        data, xdata, timestamp = self.tail()
        return Frame(
            token=token,
            sequence=sequence,
            line=line,
            receiver=receiver,
            account=account,
            data=data,
            xdata=xdata,
            timestamp=timestamp,
            encrypted=encrypted,
        )

    def decrypted(self, account: str | None) -> str:
        """Decrypt the rest of the body; drop the pad up to ``|`` (or up to ``]``)."""
        keys = self.keys
        key = keys(account) if callable(keys) else keys
        if key is None:
            raise UnknownAccountError(f"No key is configured for account {account}.")
        plain = crypto.decrypt(key, self.text[self.pos :], self.base + self.pos)
        bar, bracket = plain.find("|"), plain.find("]")
        if bar >= 0 and (bracket < 0 or bar < bracket):
            return plain[bar + 1 :]
        if bracket >= 0:  # answers from pysiaalarm: pad then "]", no "|"
            return plain[bracket:]
        raise FrameError("Decrypted data has no '|' after the pad.", "data", self.base + self.pos)

    def tail(self) -> tuple[str, tuple[XData, ...], datetime | None]:
        """Parse ``data]`` ``[xdata]``* ``_timestamp``? up to the end of the body."""
        text = self.text
        end = text.find("]", self.pos)
        opening = text.find("[", self.pos)
        if end < 0 or 0 <= opening < end:
            raise self.fail("Data block is not closed by ']'.", "data")
        data = text[self.pos : end]
        self.pos = end + 1
        xdata: list[XData] = []
        while text.startswith("[", self.pos):
            end = text.find("]", self.pos)
            if end < 0:
                raise self.fail("Extended data is not closed by ']'.", "xdata")
            item = text[self.pos + 1 : end]
            if not item or not XDATA_IDENTIFIER.fullmatch(item[0]):
                raise self.fail("Extended data does not start with an upper-case letter.", "xdata")
            if len(item) - 1 > XDATA_MAX or not is_field_text(item[1:]):
                raise self.fail(
                    f"Extended data {item[0]} is longer than {XDATA_MAX} characters or "
                    "holds a delimiter.",
                    "xdata",
                )
            xdata.append(XData(item[0], item[1:]))
            self.pos = end + 1
        timestamp = None
        if text.startswith("_", self.pos):
            stamp = text[self.pos + 1 :]
            try:
                if len(stamp) != TIMESTAMP_LENGTH:
                    raise ValueError
                timestamp = datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                raise self.fail("Timestamp is not _HH:MM:SS,MM-DD-YYYY.", "timestamp") from None
            self.pos = len(text)
        if self.pos != len(text):
            raise self.fail("Unexpected characters after the data.", "timestamp")
        return data, tuple(xdata), timestamp
