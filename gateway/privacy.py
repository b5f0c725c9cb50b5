"""Personal data kept no longer than needed: what retention and erasure change in a record.

Pure: the store applies these to timeline entries and outbox payloads. An entry
keeps its kind and time (the fact that something was said or heard, when),
only the words are replaced; erasure also drops where the agent was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.store.records import AlarmRecord

REMOVED = "[removed]"
"""What replaces words and names that were removed."""

TRANSCRIPT_KINDS = frozenset({"transcribed", "cue_heard", "assessed"})
"""Timeline kinds holding the caller's words (transcripts, cues, the evidence of advice)."""

POSITION_FIELDS = ("lat", "lon", "accuracy_m")


def _spoken(kind: str, data: Mapping[str, Any]) -> bool:
    """Whether an entry's ``text`` is words heard on the call.

    Besides the speech kinds, a dialplan note of a cue (``noted`` of kind
    ``cue.*``) quotes the evidence.
    """
    if kind in TRANSCRIPT_KINDS:
        return True
    return kind == "noted" and str(data.get("kind", "")).startswith("cue.")


def without_transcript(kind: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entry's data with the words replaced; None if it holds none (or they are gone)."""
    text = data.get("text")
    if not _spoken(kind, data) or not text or text == REMOVED:
        return None
    return {**data, "text": REMOVED}


def without_position(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Timeline data without the agent's position; None if it has none."""
    if "position" not in data:
        return None
    return {k: v for k, v in data.items() if k != "position"}


def payload_without_words(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """An outbox payload (a cue's) with its words replaced; None if it holds none."""
    text = payload.get("text")
    if not isinstance(text, str) or text in ("", REMOVED):
        return None
    return {**payload, "text": REMOVED}


def anonymised_payload(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """An outbox payload without position nor words; None if it holds neither."""
    kept = payload_without_words(payload) or dict(payload)
    kept = {k: v for k, v in kept.items() if k not in POSITION_FIELDS}
    return None if kept == dict(payload) else kept


@dataclass(frozen=True, slots=True)
class PersonalData:
    """Everything the gateway holds about one agent (a data subject's access request)."""

    agent: dict[str, Any]
    devices: list[dict[str, Any]]
    """Their devices, without secrets (token and SIP password hashes)."""
    alarms: list[AlarmRecord]
    """Alarms of their devices, each with its timeline (positions, transcripts)."""


def erased_entry(kind: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """A timeline entry's data after erasure (no position, no words); None if unchanged."""
    placeless = without_position(data)
    wordless = without_transcript(kind, placeless or data)
    return wordless or placeless
