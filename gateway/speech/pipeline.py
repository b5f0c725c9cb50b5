"""Pure per-call analysis: transcripts and acoustic cues in, cues and assessment out.

``CallAnalyzer`` holds no clock, no thread and no model. The signal stage (VAD,
speech-to-text, acoustic cues; see ``worker.py``) feeds it ``SignalEvent``
values carrying audio offsets; it spots lexicon phrases, watches for silence
and keeps the assessment the operator sees.

The assessment is a function of the evidence so far, by priority:

1. any distress evidence (distress phrase, shouting) -> ``DISTRESS``. It never
   goes back down by itself: a "false alarm" said after a scream may be coerced,
   and only the operator may conclude;
2. a cancellation phrase -> ``CALM_FALSE_ALARM_CLAIMED``;
3. no voice for ``no_response_after_s`` -> ``NO_RESPONSE`` (until voice returns);
4. otherwise ``UNCLEAR``.

Impacts are listed as evidence but change nothing alone: a dropped phone and a
fall sound alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.speech.events import (
    AnalysisDegraded,
    Assessment,
    AssessmentChanged,
    AudioProgress,
    Cue,
    CueKind,
    SignalEvent,
    SpeechEvent,
    TranscriptSegment,
)
from gateway.speech.lexicon import Lexicon, Match, Meaning, Phrase, tokenize


@dataclass(frozen=True, slots=True)
class AnalyzerConfig:
    """Tuning of the per-call analysis."""

    no_response_after_s: float = 15.0
    """Seconds without voice before "no response" (monitoring centres listen >= 10 s)."""

    def __post_init__(self) -> None:
        if self.no_response_after_s <= 0:
            raise ValueError(
                f"no_response_after_s: expected seconds > 0, got {self.no_response_after_s}"
            )


def _distress(cue: Cue, lexicon: Lexicon) -> bool:
    if cue.kind is CueKind.SHOUTING:
        return True
    return cue.kind is CueKind.KEYWORD and lexicon.categories.get(cue.category) is Meaning.DISTRESS


def _cancellation(cue: Cue) -> bool:
    return cue.kind is CueKind.KEYWORD and cue.category == Meaning.CANCELLATION.value


def _tokens_with_times(segment: TranscriptSegment) -> tuple[tuple[str, ...], list[float]]:
    """Tokens of a segment and, per token, the end time of the word it came from."""
    if not segment.words:
        tokens = tokenize(segment.text)
        return tokens, [segment.end] * len(tokens)
    tokens_out: list[str] = []
    ends: list[float] = []
    for word in segment.words:
        for token in tokenize(word.text):
            tokens_out.append(token)
            ends.append(word.end)
    return tuple(tokens_out), ends


class CallAnalyzer:
    """Live analysis of one call; feed it signal events in audio order."""

    def __init__(self, lexicon: Lexicon, config: AnalyzerConfig | None = None) -> None:
        self.lexicon = lexicon
        self.config = config or AnalyzerConfig()
        self.assessment = Assessment.UNCLEAR
        self.cues: list[Cue] = []
        self._utterance_hits: set[Phrase] = set()
        """Phrases already reported for the utterance in progress (partials, then final)."""
        self._silent_since = 0.0
        self._silent = False

    def handle(self, event: SignalEvent) -> list[SpeechEvent]:
        """Digest one signal event; return what the operator should be told, in order."""
        out: list[SpeechEvent] = []
        if isinstance(event, TranscriptSegment):
            out.append(event)
            out.extend(self._keywords(event))
        elif isinstance(event, Cue):
            self.cues.append(event)
            out.append(event)
        elif isinstance(event, AudioProgress):
            out.extend(self._progress(event))
        elif isinstance(event, AnalysisDegraded):
            out.append(event)
        changed = self._reassess(event)
        if changed is not None:
            out.append(changed)
        return out

    def _keywords(self, segment: TranscriptSegment) -> list[Cue]:
        tokens, ends = _tokens_with_times(segment)
        cues = []
        for match in self.lexicon.find(tokens):
            if match.phrase in self._utterance_hits:
                continue
            self._utterance_hits.add(match.phrase)
            cue = self._keyword_cue(match, segment, ends[match.end - 1])
            self.cues.append(cue)
            cues.append(cue)
        if segment.final:
            self._utterance_hits.clear()
        return cues

    @staticmethod
    def _keyword_cue(match: Match, segment: TranscriptSegment, end: float) -> Cue:
        # each tolerated recognition error lowers confidence a little
        confidence = max(0.0, segment.confidence * (1.0 - 0.15 * match.edits))
        return Cue(
            CueKind.KEYWORD,
            round(end, 3),
            category=match.phrase.category,
            text=match.heard if match.edits == 0 else f"{match.heard} (~{match.phrase.text})",
            confidence=round(confidence, 2),
        )

    def _progress(self, progress: AudioProgress) -> list[Cue]:
        voice_end = progress.voice_end
        if voice_end is not None and voice_end > self._silent_since:
            self._silent_since = voice_end
            self._silent = False
        limit = self.config.no_response_after_s
        if progress.in_voice or self._silent or progress.offset - self._silent_since < limit:
            return []
        self._silent = True
        since = "the start of the call" if progress.voice_end is None else "the last words"
        cue = Cue(
            CueKind.NO_RESPONSE,
            round(self._silent_since + limit, 3),
            text=f"no voice for {limit:g} s since {since}",
        )
        self.cues.append(cue)
        return [cue]

    def _reassess(self, event: SignalEvent) -> AssessmentChanged | None:
        distress = tuple(c for c in self.cues if _distress(c, self.lexicon))
        cancelled = tuple(c for c in self.cues if _cancellation(c))
        impacts = tuple(c for c in self.cues if c.kind is CueKind.IMPACT)
        if distress:
            assessment, evidence = Assessment.DISTRESS, distress + impacts
        elif cancelled:
            assessment, evidence = Assessment.CALM_FALSE_ALARM_CLAIMED, cancelled
        elif self._silent:
            no_response = tuple(c for c in self.cues if c.kind is CueKind.NO_RESPONSE)
            assessment, evidence = Assessment.NO_RESPONSE, impacts + no_response[-1:]
        else:
            assessment, evidence = Assessment.UNCLEAR, impacts
        if assessment is self.assessment:
            return None
        previous, self.assessment = self.assessment, assessment
        return AssessmentChanged(assessment, previous, _offset_of(event), evidence)


def _offset_of(event: SignalEvent) -> float:
    if isinstance(event, TranscriptSegment):
        return event.end
    if isinstance(event, Cue | AudioProgress):
        return event.offset
    return 0.0
