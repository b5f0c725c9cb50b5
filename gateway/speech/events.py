"""Values the speech analysis emits: transcripts, cues and the live assessment.

All offsets are seconds of call audio from the first frame fed, so evidence can
be replayed against the recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CueKind(StrEnum):
    """What was noticed. Values are the wire names stored with the alarm."""

    KEYWORD = "keyword"
    """A lexicon phrase was recognised; ``category`` says which meaning."""
    SHOUTING = "shouting"
    """Loud voiced sound with a raised pitch (shouting, screaming)."""
    IMPACT = "impact"
    """A sudden loud transient (fall, blow, object dropped)."""
    NO_RESPONSE = "no_response"
    """No voice for the configured number of seconds."""


class Assessment(StrEnum):
    """The advice shown to the operator; it never closes or dispatches anything."""

    UNCLEAR = "unclear"
    DISTRESS = "distress"
    CALM_FALSE_ALARM_CLAIMED = "calm_false_alarm_claimed"
    NO_RESPONSE = "no_response"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its timing in the call audio."""

    text: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """Recognised text of one utterance, partial while it is still being spoken."""

    start: float
    end: float
    text: str
    engine: str
    """``whisper`` or ``vosk``."""
    confidence: float
    """0..1; the engine's own estimate (word mean for Vosk, exp(avg_logprob) for Whisper)."""
    final: bool
    words: tuple[Word, ...] = ()
    """Per-word timings where the engine gives them (Vosk finals)."""


@dataclass(frozen=True, slots=True)
class Cue:
    """One piece of evidence, tied to where it happened in the audio."""

    kind: CueKind
    offset: float
    """Seconds of call audio where the cue happened (end of the keyword)."""
    category: str = ""
    """Lexicon category for keywords (``help``, ``cancellation``...), else empty."""
    text: str = ""
    """What was heard or measured, for the operator (``"au secours"``, ``"-4 dBFS, 420 Hz"``)."""
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class AssessmentChanged:
    """The assessment moved; ``evidence`` lists the cues that justify the new value."""

    assessment: Assessment
    previous: Assessment
    offset: float
    evidence: tuple[Cue, ...]


@dataclass(frozen=True, slots=True)
class AudioProgress:
    """Periodic heartbeat from the signal stage: how far audio was analysed."""

    offset: float
    """Seconds of call audio analysed so far."""
    voice_end: float | None
    """End of the last voiced stretch, or None when no voice was heard yet."""
    in_voice: bool
    """Voice is being heard right now."""


@dataclass(frozen=True, slots=True)
class AnalysisDegraded:
    """Part of the analysis stopped working; the alarm goes on without it."""

    component: str
    """``stt`` (speech-to-text), ``worker`` (the analysis process) or ``backlog``."""
    message: str


SpeechEvent = TranscriptSegment | Cue | AssessmentChanged | AnalysisDegraded
"""What a call's pipeline hands to its callback."""

SignalEvent = TranscriptSegment | Cue | AudioProgress | AnalysisDegraded
"""What the signal stage (VAD, STT, acoustic cues) produces for the analyzer."""
