"""Speech advice for live alarm calls: caller audio in, transcript, cues and assessment out.

The advisor opens a speech pipeline when an alarm's call starts delivering audio,
records what the analysis finds in the alarm's timeline, pushes it live to the
consoles, and tells the dialplans when the caller sounds in distress. It only
advises: nothing here changes an alarm's state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gateway.alarm.events import AlarmEvent, Assessed, CueHeard, Noted, Transcribed
from gateway.journal import Journal
from gateway.speech.events import (
    AnalysisDegraded,
    Assessment,
    AssessmentChanged,
    Cue,
    SpeechEvent,
    TranscriptSegment,
)
from gateway.speech.service import SpeechPipeline, SpeechService

log = logging.getLogger("gateway.speech")

DistressCallback = Callable[[str, str], None]
"""Called with (alarm id, evidence) when the assessment turns to distress."""


class SpeechAdvisor:
    """One speech pipeline per alarm with a live call."""

    def __init__(
        self,
        service: SpeechService,
        journal: Journal,
        *,
        language: Callable[[str], str],
        on_distress: DistressCallback | None = None,
    ) -> None:
        """``language(alarm_id)`` chooses the recognition language of an alarm's call."""
        self._service = service
        self._journal = journal
        self._bus = journal.bus
        self._clock = journal.clock
        self._language = language
        self._on_distress = on_distress
        self._pipelines: dict[str, SpeechPipeline] = {}

    def on_audio(self, alarm_id: str, pcm: bytes, rate: int) -> None:
        """A voice listener: 20 ms of the caller's audio (never blocks)."""
        pipeline = self._pipelines.get(alarm_id)
        if pipeline is None:
            pipeline = self._service.open_call(
                alarm_id,
                language=self._language(alarm_id),
                sample_rate=rate,
                on_event=lambda event: self._on_event(alarm_id, event),
            )
            self._pipelines[alarm_id] = pipeline
        pipeline.feed(pcm)

    def call_ended(self, alarm_id: str) -> None:
        pipeline = self._pipelines.pop(alarm_id, None)
        if pipeline is not None:
            pipeline.close()

    def close_all(self) -> None:
        for alarm_id in list(self._pipelines):
            self.call_ended(alarm_id)

    def _on_event(self, alarm_id: str, event: SpeechEvent) -> None:
        at = self._clock().isoformat()
        if isinstance(event, TranscriptSegment):
            self._bus.publish(
                {
                    "type": "transcript",
                    "alarm_id": alarm_id,
                    "speaker": "caller",
                    "text": event.text,
                    "final": event.final,
                    "start": event.start,
                    "end": event.end,
                    "engine": event.engine,
                    "confidence": event.confidence,
                    "at": at,
                }
            )
            if event.final and event.text.strip():
                self._record(
                    alarm_id,
                    Transcribed(event.text, event.start, event.end, event.engine, event.confidence),
                )
        elif isinstance(event, Cue):
            label = _label(event)
            self._bus.publish(
                {
                    "type": "cue",
                    "alarm_id": alarm_id,
                    "cue": event.kind.value,
                    "category": event.category,
                    "label": label,
                    "offset": event.offset,
                    "confidence": event.confidence,
                    "at": at,
                }
            )
            self._record(
                alarm_id,
                CueHeard(
                    event.kind.value, event.offset, event.category, event.text, event.confidence
                ),
            )
        elif isinstance(event, AssessmentChanged):
            evidence = "; ".join(f"{_label(c)} at {c.offset:.1f} s" for c in event.evidence)
            self._bus.publish(
                {
                    "type": "assessment",
                    "alarm_id": alarm_id,
                    "assessment": event.assessment.value,
                    "evidence": evidence,
                    "at": at,
                }
            )
            self._record(alarm_id, Assessed(event.assessment.value, evidence))
            if event.assessment is Assessment.DISTRESS and self._on_distress is not None:
                self._on_distress(alarm_id, evidence)
        elif isinstance(event, AnalysisDegraded):
            log.warning(
                "speech analysis degraded (%s): %s",
                event.component,
                event.message,
                extra={"alarm_id": alarm_id},
            )
            self._record(alarm_id, Noted("speech.degraded", event.message))

    def _record(self, alarm_id: str, event: AlarmEvent) -> None:
        self._journal.record_soon(alarm_id, event, "speech")


def _label(cue: Cue) -> str:
    """What the operator reads: ``keyword help: "au secours"``, ``shouting: -4 dBFS``."""
    name = f"{cue.kind.value} {cue.category}".strip()
    return f"{name}: {cue.text}" if cue.text else name
