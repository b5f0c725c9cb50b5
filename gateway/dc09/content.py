"""The data block inside ``[...]``: SIA DC-03 events and Ademco Contact ID (DC-05).

``sia_data``/``adm_cid_data`` build the block a transmitter sends;
``parse_sia_data``/``parse_adm_cid_data`` read it back (receivers, tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from gateway.dc09.errors import FrameError, LocalProtocolError
from gateway.dc09.frame import XData
from gateway.dc09.grammar import Token


class Qualifier(IntEnum):
    """Contact ID event qualifier (DC-05 §4)."""

    NEW = 1
    RESTORE = 3
    STATUS = 6


@dataclass(frozen=True, slots=True)
class SiaEvent:
    """``#acct|Nri<area>/<code><zone>``: one SIA DC-03 event."""

    account: str
    code: str
    area: int
    zone: int


@dataclass(frozen=True, slots=True)
class ContactIdEvent:
    """``#acct|QEEE GG ZZZ``: qualifier, event code, group (partition), zone."""

    account: str
    qualifier: Qualifier
    event: int
    group: int
    zone: int


_SIA_CODE = re.compile(r"[A-Z]{2}")
_SIA_DATA = re.compile(
    r"#(?P<acct>[0-9A-F]{3,16})\|N(?:ri(?P<area>\d{1,4})/)?(?P<code>[A-Z]{2})(?P<zone>\d{0,4})"
)
_CID_DATA = re.compile(
    r"#(?P<acct>[0-9A-F]{3,16})\|(?P<q>[136])(?P<ev>\d{3}) (?P<gg>\d{2}) (?P<zzz>\d{3})"
)


def sia_data(event: SiaEvent) -> str:
    """The DC-03 block, e.g. ``#1234|Nri1/PA001``."""
    if not _SIA_CODE.fullmatch(event.code):
        raise LocalProtocolError(f"SIA code must be two upper-case letters, got {event.code!r}.")
    if not 0 <= event.area <= 9999 or not 0 <= event.zone <= 9999:
        raise LocalProtocolError("SIA area and zone must be 0-9999.")
    return f"#{event.account}|Nri{event.area}/{event.code}{event.zone:03d}"


def adm_cid_data(event: ContactIdEvent) -> str:
    """The Contact ID block, e.g. ``#1234|1120 01 001``."""
    if not 100 <= event.event <= 999:
        raise LocalProtocolError(f"Contact ID event must be 100-999, got {event.event}.")
    if not 0 <= event.group <= 99 or not 0 <= event.zone <= 999:
        raise LocalProtocolError("Contact ID group must be 0-99 and zone 0-999.")
    code = f"{event.qualifier.value}{event.event:03d}"
    return f"#{event.account}|{code} {event.group:02d} {event.zone:03d}"


def parse_sia_data(data: str) -> SiaEvent:
    """Read a DC-03 block; FrameError (field ``data``) if it is not one."""
    match = _SIA_DATA.fullmatch(data)
    if match is None:
        raise FrameError(f"Not a SIA DC-03 event block: {data!r}.", "data", 0)
    area = match["area"]
    return SiaEvent(match["acct"], match["code"], int(area) if area else 0, int(match["zone"] or 0))


def parse_adm_cid_data(data: str) -> ContactIdEvent:
    """Read a Contact ID block; FrameError (field ``data``) if it is not one."""
    match = _CID_DATA.fullmatch(data)
    if match is None:
        raise FrameError(f"Not a Contact ID event block: {data!r}.", "data", 0)
    return ContactIdEvent(
        match["acct"],
        Qualifier(int(match["q"])),
        int(match["ev"]),
        int(match["gg"]),
        int(match["zzz"]),
    )


@dataclass(frozen=True, slots=True)
class Message:
    """What to send, before the transmitter adds sequence, route and timestamp."""

    token: Token
    account: str
    data: str = ""
    xdata: tuple[XData, ...] = ()
