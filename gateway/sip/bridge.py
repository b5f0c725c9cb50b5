"""Who hears whom around one phone call: operator leg modes as conference-bridge links.

Pure: the worker keeps the set of links it has applied and applies only the
difference returned by :func:`link_changes`, so a mode change is one or two
``startTransmit``/``stopTransmit`` calls and never interrupts other audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

TAP = "tap"
"""The Python port of the phone call: it hears the phone only (speech analysis and
recording want the phone's voice alone) and talks like a TALK leg (a WebRTC
operator's voice injected by the main process)."""

Link = tuple[str, str]
"""(source, sink): call ids, or :data:`TAP`. Bridge links are one-way."""


class LegMode(StrEnum):
    """What an operator leg does in a phone call's conference.

    Barging in is switching a supervisor's LISTEN leg to TALK.
    """

    LISTEN = "listen"
    """Hears the phone and every talking party; nobody hears it (silent listening)."""
    WHISPER = "whisper"
    """Hears everybody; heard by the other operator legs, never by the phone."""
    TALK = "talk"
    """Hears everybody and is heard by everybody."""


def links(phone: str, legs: Mapping[str, LegMode]) -> frozenset[Link]:
    """Every bridge link the conference of ``phone`` with ``legs`` needs."""
    talkers = {phone, TAP} | {leg for leg, mode in legs.items() if mode is LegMode.TALK}
    result: set[Link] = {(phone, TAP)}
    for leg, mode in legs.items():
        result.update((source, leg) for source in talkers if source != leg)
        if mode is LegMode.WHISPER:
            result.update((leg, other) for other in legs if other != leg)
    result.update((talker, phone) for talker in talkers if talker != phone)
    return frozenset(result)


def link_changes(before: frozenset[Link], after: frozenset[Link]) -> tuple[list[Link], list[Link]]:
    """(links to start, links to stop), each sorted so the worker acts deterministically."""
    return sorted(after - before), sorted(before - after)
