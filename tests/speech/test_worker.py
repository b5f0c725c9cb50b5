"""The signal chain with real VAD and speech-to-text on generated telephone audio."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import pytest

from gateway.speech import synth
from gateway.speech.audio import Samples
from gateway.speech.events import (
    AnalysisDegraded,
    Assessment,
    AudioProgress,
    Cue,
    CueKind,
    SpeechEvent,
    TranscriptSegment,
)
from gateway.speech.lexicon import load_lexicon
from gateway.speech.pipeline import AnalyzerConfig, CallAnalyzer
from gateway.speech.stt import SttKind
from gateway.speech.vad import make_vad
from gateway.speech.worker import (
    CallAudio,
    CallClosed,
    CallEvents,
    CallProcessor,
    CallWorker,
    CloseCall,
    EngineConfig,
    ModelCache,
    OpenCall,
)

RATE = 8000
FRAME = 320  # 20 ms at 8 kHz, as the voice channel delivers it
CONFIG = EngineConfig()


@pytest.fixture(scope="module")
def cache() -> ModelCache:
    return ModelCache(CONFIG)


def analyse(cache: ModelCache, audio: Samples, no_response_after_s: float = 15.0) -> CallAnalyzer:
    """Run 8 kHz audio through VAD, Whisper, cues and the analyzer, frame by frame."""
    processor = CallProcessor(RATE, make_vad(CONFIG.vad), cache.stream("en"), CONFIG)
    analyzer = CallAnalyzer(load_lexicon("en"), AnalyzerConfig(no_response_after_s))
    pcm = synth.to_pcm(audio)
    for first in range(0, len(pcm), FRAME):
        for event in processor.feed(pcm[first : first + FRAME]):
            analyzer.handle(event)
    for event in processor.finish():
        analyzer.handle(event)
    return analyzer


LINE_SOUNDS: dict[str, Callable[[], Samples]] = {
    "silence": lambda: synth.silence(8, RATE),
    "white_noise": lambda: synth.white_noise(8, RATE, -20),
    "hum_50hz": lambda: synth.hum(8, RATE),
    "dtmf": lambda: np.concatenate([synth.dtmf("0123456789*#", RATE)] * 3),
    "ringback": lambda: synth.ringback(8, RATE),
}


@pytest.mark.parametrize("name", sorted(LINE_SOUNDS))
def test_line_sounds_give_no_distress_and_no_transcript(cache: ModelCache, name: str) -> None:
    analyzer = analyse(cache, LINE_SOUNDS[name](), no_response_after_s=60)
    assert analyzer.cues == []
    assert analyzer.assessment is Assessment.UNCLEAR


def test_distress_phrase_in_noise_gives_distress(cache: ModelCache) -> None:
    speech = synth.piper("Help me! Somebody call the police, he has a knife.", RATE)
    audio = np.concatenate(
        (synth.silence(1, RATE), synth.mix(speech, synth.white_noise(1, RATE), 15.0),
         synth.silence(1, RATE))
    )  # fmt: skip
    analyzer = analyse(cache, audio)
    assert analyzer.assessment is Assessment.DISTRESS
    categories = {c.category for c in analyzer.cues if c.kind is CueKind.KEYWORD}
    assert {"help", "threat"} <= categories
    duration = audio.size / RATE
    assert all(0 < c.offset <= duration for c in analyzer.cues)


def test_false_alarm_claim_is_recognised(cache: ModelCache) -> None:
    speech = synth.piper("Sorry, it was a false alarm. I pressed it by mistake.", RATE)
    analyzer = analyse(cache, np.concatenate((synth.silence(1, RATE), speech)))
    assert analyzer.assessment is Assessment.CALM_FALSE_ALARM_CLAIMED


def test_long_silence_gives_no_response(cache: ModelCache) -> None:
    analyzer = analyse(cache, synth.white_noise(12, RATE, -45), no_response_after_s=10)
    assert analyzer.assessment is Assessment.NO_RESPONSE
    assert [(c.kind, c.offset) for c in analyzer.cues] == [(CueKind.NO_RESPONSE, 10.0)]


def test_progress_is_reported_regularly() -> None:
    processor = CallProcessor(RATE, make_vad(CONFIG.vad), None, CONFIG)
    pcm = synth.to_pcm(synth.silence(2, RATE))
    events = [e for i in range(0, len(pcm), FRAME) for e in processor.feed(pcm[i : i + FRAME])]
    offsets = [e.offset for e in events if isinstance(e, AudioProgress)]
    assert len(offsets) == 4
    assert offsets[-1] == pytest.approx(1.5, abs=0.05)


@pytest.fixture
def worker() -> Iterator[tuple[CallWorker, Connection]]:
    receive, send = multiprocessing.Pipe(duplex=False)
    yield CallWorker(EngineConfig(stt=SttKind.VOSK), send), receive
    receive.close()
    send.close()


def replies(receive: Connection) -> list[Any]:
    out = []
    while receive.poll(0.5):
        out.append(receive.recv())
    return out


def test_worker_reports_missing_model_and_goes_on_with_acoustic_analysis(
    worker: tuple[CallWorker, Connection],
) -> None:
    handler, receive = worker
    handler.handle(OpenCall("c1", "fr", RATE))
    (opened,) = replies(receive)
    assert isinstance(opened, CallEvents)
    (degraded,) = opened.events
    assert isinstance(degraded, AnalysisDegraded)
    assert degraded.component == "stt"
    assert "no vosk model is configured for language 'fr'" in degraded.message
    handler.handle(CallAudio("c1", synth.to_pcm(synth.silence(1, RATE))))
    (audio,) = replies(receive)
    assert isinstance(audio, CallEvents)
    assert any(isinstance(e, AudioProgress) for e in audio.events)


def test_worker_confines_a_failing_call(worker: tuple[CallWorker, Connection]) -> None:
    handler, receive = worker
    handler.handle(OpenCall("bad", "fr", RATE))
    handler.handle(OpenCall("good", "fr", RATE))
    replies(receive)
    handler.handle(CallAudio("bad", b"\x00"))  # not whole samples
    handler.handle(CallAudio("bad", b"\x00\x00"))  # ignored from now on
    handler.handle(CallAudio("good", synth.to_pcm(synth.silence(0.6, RATE))))
    handler.handle(CloseCall("good"))
    out = replies(receive)
    failure = out[0]
    assert isinstance(failure, CallEvents)
    assert failure.call_id == "bad"
    events: list[SpeechEvent | AudioProgress] = list(failure.events)
    assert len(events) == 1
    assert isinstance(events[0], AnalysisDegraded)
    assert events[0].message == (
        "speech analysis stopped for this call: "
        "AudioFormatError('PCM chunk of 1 bytes is not whole 16-bit samples')"
    )
    assert [type(r) for r in out[1:]] == [CallEvents, CallEvents, CallClosed]
    assert not any(isinstance(e, TranscriptSegment | Cue) for r in out[1:3] for e in r.events)


def test_worker_behind_skips_partials_but_keeps_finals() -> None:
    receive, send = multiprocessing.Pipe(duplex=False)
    handler = CallWorker(EngineConfig(), send)
    speech = synth.piper("Help me, I have fallen and I cannot get up.", RATE)
    pcm = synth.to_pcm(np.concatenate((synth.silence(0.5, RATE), speech)))
    segments: dict[bool, list[TranscriptSegment]] = {}
    for behind in (False, True):
        handler.behind = behind
        handler.handle(OpenCall(f"c-{behind}", "en", RATE))
        for first in range(0, len(pcm), FRAME):
            handler.handle(CallAudio(f"c-{behind}", pcm[first : first + FRAME]))
        handler.handle(CloseCall(f"c-{behind}"))
        segments[behind] = [
            e for r in replies(receive) if isinstance(r, CallEvents)
            for e in r.events if isinstance(e, TranscriptSegment)
        ]  # fmt: skip
    receive.close()
    send.close()
    assert any(not s.final for s in segments[False])
    assert segments[True]
    assert all(s.final for s in segments[True])
    assert "help" in " ".join(s.text for s in segments[True]).lower()
