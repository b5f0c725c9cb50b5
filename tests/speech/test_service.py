"""The asyncio service: worker processes, per-call pipelines, failure handling."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from gateway.speech import synth
from gateway.speech.events import (
    AnalysisDegraded,
    Assessment,
    AssessmentChanged,
    Cue,
    CueKind,
    SpeechEvent,
    TranscriptSegment,
)
from gateway.speech.service import SpeechConfig, SpeechService

pytestmark = pytest.mark.integration

RATE = 8000
FRAME = 320


@pytest.fixture
async def service() -> AsyncIterator[SpeechService]:
    speech = SpeechService(SpeechConfig(workers=1))
    await speech.start()
    assert speech.available, speech.unavailable_reason
    yield speech
    await speech.stop()


def frames(seconds_of_speech: str) -> list[bytes]:
    audio = np.concatenate(
        (synth.silence(0.5, RATE), synth.piper(seconds_of_speech, RATE), synth.silence(1, RATE))
    )
    pcm = synth.to_pcm(audio)
    return [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]


async def test_call_is_transcribed_and_assessed_without_blocking_the_loop(
    service: SpeechService,
) -> None:
    events: list[SpeechEvent] = []
    pipeline = service.open_call("c1", language="en", sample_rate=RATE, on_event=events.append)
    slowest = 0.0
    for frame in frames("Help me, I can't breathe."):
        started = time.perf_counter()
        pipeline.feed(frame)
        slowest = max(slowest, time.perf_counter() - started)
    pipeline.close()
    async with asyncio.timeout(60):
        await pipeline.wait_closed()
    assert slowest < 0.005, f"feed() took {slowest * 1000:.1f} ms"
    finals = [e for e in events if isinstance(e, TranscriptSegment) and e.final]
    assert finals and "help" in finals[0].text.lower()
    keywords = {(e.category, e.kind) for e in events if isinstance(e, Cue)}
    assert ("help", CueKind.KEYWORD) in keywords
    assert ("injury", CueKind.KEYWORD) in keywords
    changes = [e for e in events if isinstance(e, AssessmentChanged)]
    assert [c.assessment for c in changes] == [Assessment.DISTRESS]
    assert pipeline.assessment is Assessment.DISTRESS


async def test_worker_crash_is_reported_and_a_new_worker_takes_new_calls(
    service: SpeechService,
) -> None:
    events: list[SpeechEvent] = []
    pipeline = service.open_call("c1", language="en", sample_rate=RATE, on_event=events.append)
    (pid,) = service.worker_pids
    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(30):
        await pipeline.wait_closed()
    (degraded,) = [e for e in events if isinstance(e, AnalysisDegraded)]
    assert degraded.component == "worker"
    assert degraded.message == (
        "speech worker exited (code -9); this call goes on without analysis"
    )
    pipeline.feed(b"\x00\x00" * 160)  # ignored, no error
    assert service.worker_pids not in ([], [pid])  # a replacement is starting
    later: list[SpeechEvent] = []
    second = service.open_call("c2", language="en", sample_rate=RATE, on_event=later.append)
    for frame in frames("Leave me alone!"):
        second.feed(frame)
    second.close()
    async with asyncio.timeout(60):
        await second.wait_closed()
    assert second.assessment is Assessment.DISTRESS


async def test_service_not_started_degrades_instead_of_failing() -> None:
    events: list[SpeechEvent] = []
    pipeline = SpeechService().open_call(
        "c1", language="en", sample_rate=RATE, on_event=events.append
    )
    pipeline.feed(b"\x00\x00" * 160)
    pipeline.close()
    await pipeline.wait_closed()
    assert events == [
        AnalysisDegraded("worker", "no speech analysis: speech service is not started")
    ]


async def test_unknown_language_keeps_acoustic_analysis(service: SpeechService) -> None:
    events: list[SpeechEvent] = []
    pipeline = service.open_call("c1", language="de", sample_rate=RATE, on_event=events.append)
    pipeline.feed(synth.to_pcm(synth.silence(1, RATE)))
    pipeline.close()
    async with asyncio.timeout(30):
        await pipeline.wait_closed()
    degraded = [e for e in events if isinstance(e, AnalysisDegraded)]
    assert [d.component for d in degraded] == ["lexicon", "stt"]
    assert "no lexicon shipped for language 'de'" in degraded[0].message
    assert "no whisper model is configured for language 'de'" in degraded[1].message


async def test_failing_callback_does_not_stop_the_analysis(service: SpeechService) -> None:
    seen: list[SpeechEvent] = []

    def fragile(event: SpeechEvent) -> None:
        seen.append(event)
        raise RuntimeError("consumer bug")

    pipeline = service.open_call("c1", language="en", sample_rate=RATE, on_event=fragile)
    for frame in frames("Fire! There is smoke everywhere."):
        pipeline.feed(frame)
    pipeline.close()
    async with asyncio.timeout(60):
        await pipeline.wait_closed()
    assert pipeline.assessment is Assessment.DISTRESS
    assert len(seen) > 2


async def test_same_call_reopened_before_the_first_closed(service: SpeechService) -> None:
    first_events: list[SpeechEvent] = []
    second_events: list[SpeechEvent] = []
    first = service.open_call("c1", language="en", sample_rate=RATE, on_event=first_events.append)
    first.close()
    second = service.open_call("c1", language="en", sample_rate=RATE, on_event=second_events.append)
    for frame in frames("Help me!"):
        second.feed(frame)
    second.close()
    async with asyncio.timeout(60):
        await first.wait_closed()
        await second.wait_closed()
    assert not any(isinstance(e, Cue) for e in first_events)
    assert second.assessment is Assessment.DISTRESS


def test_config_refuses_zero_workers() -> None:
    with pytest.raises(ValueError, match="workers: expected at least 1, got 0"):
        SpeechConfig(workers=0)


ORPHAN_SCRIPT = """
import multiprocessing, sys, time
from gateway.speech.worker import EngineConfig, run_worker

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    inbox = context.Queue()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=run_worker, args=(EngineConfig(preload=()), inbox, send))
    child.start()
    receive.recv()  # WorkerReady
    print(child.pid, flush=True)
    time.sleep(60)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_worker_exits_when_the_gateway_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(ORPHAN_SCRIPT)
    child = 0
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    ) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            assert _running(child)
            parent.kill()
            parent.wait(10)
            deadline = time.monotonic() + 10
            while _running(child) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _running(child), "the worker outlived the killed gateway"
        finally:
            parent.kill()
            if child and _running(child):
                os.kill(child, signal.SIGKILL)
