"""The pure per-call analyzer: keyword cues and assessment transitions."""

from __future__ import annotations

import pytest

from gateway.speech.events import (
    AnalysisDegraded,
    Assessment,
    AssessmentChanged,
    AudioProgress,
    Cue,
    CueKind,
    SpeechEvent,
    TranscriptSegment,
    Word,
)
from gateway.speech.lexicon import load_lexicon
from gateway.speech.pipeline import AnalyzerConfig, CallAnalyzer


def analyzer(language: str = "en", no_response_after_s: float = 10.0) -> CallAnalyzer:
    return CallAnalyzer(load_lexicon(language), AnalyzerConfig(no_response_after_s))


def said(text: str, start: float, end: float, final: bool = True) -> TranscriptSegment:
    return TranscriptSegment(start, end, text, "whisper", 0.8, final)


def heard(offset: float, voice_end: float | None, in_voice: bool = False) -> AudioProgress:
    return AudioProgress(offset, voice_end, in_voice)


def changes(events: list[SpeechEvent]) -> list[Assessment]:
    return [e.assessment for e in events if isinstance(e, AssessmentChanged)]


def test_distress_phrase_gives_keyword_cue_and_distress() -> None:
    a = analyzer()
    out = a.handle(said("Help me, he has a knife!", 2.0, 4.0))
    assert out[0] == said("Help me, he has a knife!", 2.0, 4.0)
    cues = [e for e in out if isinstance(e, Cue)]
    assert [(c.category, c.text, c.offset) for c in cues] == [
        ("help", "help me", 4.0),
        ("threat", "he has a knife", 4.0),
    ]
    change = out[-1]
    assert isinstance(change, AssessmentChanged)
    assert (change.assessment, change.previous, change.offset) == (
        Assessment.DISTRESS,
        Assessment.UNCLEAR,
        4.0,
    )
    assert change.evidence == tuple(cues)


def test_word_timings_place_the_cue_at_the_end_of_the_phrase() -> None:
    words = (
        Word("please", 1.0, 1.3, 0.9),
        Word("help", 1.4, 1.6, 0.9),
        Word("me", 1.6, 1.7, 0.9),
        Word("now", 1.8, 2.0, 0.9),
    )
    segment = TranscriptSegment(1.0, 2.0, "please help me now", "vosk", 0.9, True, words)
    cue = next(e for e in analyzer().handle(segment) if isinstance(e, Cue))
    assert (cue.offset, cue.text) == (1.7, "help me")


def test_tolerated_recognition_error_lowers_confidence_and_shows_the_phrase() -> None:
    cue = next(e for e in analyzer().handle(said("call an ambulence", 0, 1)) if isinstance(e, Cue))
    assert cue.text == "call an ambulence (~call an ambulance)"
    assert cue.confidence == pytest.approx(0.8 * 0.85)


def test_cancellation_claims_false_alarm() -> None:
    a = analyzer("fr")
    out = a.handle(said("C'est une fausse alerte, tout va bien", 1.0, 3.0))
    assert changes(out) == [Assessment.CALM_FALSE_ALARM_CLAIMED]
    assert a.assessment is Assessment.CALM_FALSE_ALARM_CLAIMED


def test_distress_is_never_downgraded_by_a_later_cancellation() -> None:
    a = analyzer()
    a.handle(said("leave me alone", 1.0, 2.0))
    out = a.handle(said("false alarm, everything is fine", 5.0, 7.0))
    assert changes(out) == []
    assert a.assessment is Assessment.DISTRESS


def test_distress_after_cancellation_wins() -> None:
    a = analyzer()
    a.handle(said("false alarm", 1.0, 2.0))
    assert changes(a.handle(said("help", 3.0, 3.5))) == [Assessment.DISTRESS]


def test_shouting_is_distress_but_an_impact_alone_is_not() -> None:
    a = analyzer()
    assert changes(a.handle(Cue(CueKind.IMPACT, 1.0, text="peak -3 dBFS"))) == []
    assert a.assessment is Assessment.UNCLEAR
    out = a.handle(Cue(CueKind.SHOUTING, 2.0, text="-6 dBFS, 500 Hz"))
    change = out[-1]
    assert isinstance(change, AssessmentChanged)
    assert change.assessment is Assessment.DISTRESS
    assert [c.kind for c in change.evidence] == [CueKind.SHOUTING, CueKind.IMPACT]


def test_no_voice_from_the_start_gives_no_response_once_then_voice_clears_it() -> None:
    a = analyzer(no_response_after_s=10.0)
    assert a.handle(heard(5.0, None)) == []
    out = a.handle(heard(10.5, None))
    assert out[0] == Cue(
        CueKind.NO_RESPONSE, 10.0, text="no voice for 10 s since the start of the call"
    )
    assert changes(out) == [Assessment.NO_RESPONSE]
    assert a.handle(heard(20.5, None)) == []  # reported once per silence
    assert changes(a.handle(heard(21.0, 20.8, in_voice=True))) == [Assessment.UNCLEAR]


def test_silence_after_speech_counts_from_the_last_words() -> None:
    a = analyzer(no_response_after_s=10.0)
    a.handle(heard(4.0, 3.0, in_voice=True))
    assert a.handle(heard(12.0, 3.0)) == []
    out = a.handle(heard(13.5, 3.0))
    assert out[0] == Cue(CueKind.NO_RESPONSE, 13.0, text="no voice for 10 s since the last words")
    assert changes(out) == [Assessment.NO_RESPONSE]


def test_no_response_does_not_override_a_claimed_false_alarm() -> None:
    a = analyzer()
    a.handle(said("false alarm", 1.0, 2.0))
    assert changes(a.handle(heard(30.0, 2.0))) == []
    assert a.assessment is Assessment.CALM_FALSE_ALARM_CLAIMED


def test_partials_then_final_report_a_phrase_once_per_utterance() -> None:
    a = analyzer()
    first = a.handle(said("help", 1.0, 1.5, final=False))
    again = a.handle(said("help me", 1.0, 2.0, final=False))
    final = a.handle(said("help me", 1.0, 2.0, final=True))
    cue_texts = [[e.text for e in out if isinstance(e, Cue)] for out in (first, again, final)]
    assert cue_texts == [["help"], ["help me"], []]
    later = a.handle(said("help", 5.0, 5.5))
    assert [e.text for e in later if isinstance(e, Cue)] == ["help"]


def test_negated_distress_is_ignored() -> None:
    a = analyzer()
    out = a.handle(said("I'm not hurt, I don't need help", 0, 2))
    assert [(e.category, e.text) for e in out if isinstance(e, Cue)] == [
        ("cancellation", "i do not need help")
    ]


def test_degraded_analysis_passes_through_without_changing_the_assessment() -> None:
    a = analyzer()
    event = AnalysisDegraded("stt", "model missing")
    assert a.handle(event) == [event]
    assert a.assessment is Assessment.UNCLEAR


def test_config_refuses_non_positive_silence() -> None:
    with pytest.raises(ValueError, match="no_response_after_s: expected seconds > 0, got 0"):
        AnalyzerConfig(0)
