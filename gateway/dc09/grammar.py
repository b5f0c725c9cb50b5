"""DC-09 lexical constants, written once (SIA DC-09-2013 §5.5).

A frame is ``<LF><crc:4><0LLL>"<id>"<seq:4>R<rcvr>L<line>#<acct>[<data>]<xdata>_<ts><CR>``;
CRC and length cover everything from the first ``"`` up to, not including, the CR.
"""

from __future__ import annotations

import re
from enum import StrEnum

LF = 0x0A
CR = 0x0D

HEX = frozenset("0123456789ABCDEFabcdef")

TIMESTAMP_FORMAT = "%H:%M:%S,%m-%d-%Y"
"""``_HH:MM:SS,MM-DD-YYYY`` (§5.5.1.9), always UTC on the wire here."""
TIMESTAMP_LENGTH = 19

SEQUENCE_MAX = 9999
"""Sequence numbers run 0001-9999 then wrap to 0001; 0000 is the NAK's (§5.5.1.5)."""

RECEIVER_DIGITS = (1, 6)
LINE_DIGITS = (1, 6)
ACCOUNT_DIGITS = (3, 16)

XDATA_IDENTIFIER = re.compile(r"[A-Z]")
XDATA_MAX = 256
"""Longest value any xdata field may hold (``I``, ``V``: 256 characters)."""

# Characters that delimit DC-09 fields and so may not appear inside data or xdata.
RESERVED = frozenset("[]")

PAD_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
"""Pad characters before the ``|`` of encrypted content: anything but ``| [ ]``."""


class Token(StrEnum):
    """The quoted ID token (§5.5.1.4): messages and receiver answers."""

    SIA_DCS = "SIA-DCS"
    ADM_CID = "ADM-CID"
    NULL = "NULL"
    ACK = "ACK"
    NAK = "NAK"
    DUH = "DUH"
    RSP = "RSP"

    @property
    def is_answer(self) -> bool:
        """True for the tokens a receiver sends back."""
        return self in {Token.ACK, Token.NAK, Token.DUH, Token.RSP}


def is_hex(text: str, digits: tuple[int, int]) -> bool:
    """True if ``text`` is hexadecimal with a length within ``digits``."""
    return digits[0] <= len(text) <= digits[1] and all(ch in HEX for ch in text)


def is_field_text(text: str) -> bool:
    """True if ``text`` is printable ASCII without the ``[`` ``]`` block delimiters."""
    return all(" " <= ch <= "~" and ch not in RESERVED for ch in text)
