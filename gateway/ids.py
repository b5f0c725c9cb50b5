"""Identifiers: time-ordered, URL- and SIP-header-safe, hard to guess."""

from __future__ import annotations

import secrets

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_alarm_id(now_ms: int) -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits.

    Sorting ids sorts alarms by reception, which keeps indexes and logs readable.
    """
    value = (now_ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_secret() -> str:
    """A bearer secret (device or session token): 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)
