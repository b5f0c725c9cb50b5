"""The phones: a looping distress clip played by sipp UACs, and what the recording kept.

Each call is one sipp process (the tests' ``uac_alarm.xml`` scenario) sending
X-Alarm-Id and streaming the clip in a loop as G.711 until it hangs up. The
clip is 1 s of silence, "Help me!" (the distress word the cue latency is
measured from), a sentence, then silence up to ``LOOP_S``.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.soak.figures import frame_drift
from gateway.media.pcm import Samples, best_lag, resample, to_samples
from gateway.speech import synth
from gateway.speech.audio import Samples as Speech

SCENARIO = Path(__file__).parents[2] / "tests" / "sip" / "scenarios" / "uac_alarm.xml"
RATE = 8000
TAP_RATE = 16000
LOOP_S = 10.0
LEAD_S = 1.0
PAUSE_S = 2.0
"""Silence after "Help me!": the utterance ends there, as the latency target assumes."""
FRAME = TAP_RATE // 50


@dataclass(frozen=True)
class Clip:
    ulaw: Path
    keyword_end_s: float
    """End of "Help me!" from the start of the clip."""
    reference: Samples
    """The clip as the gateway should hear it (decoded G.711, at the tap's rate)."""


def _speak(text: str) -> Speech:
    if synth.piper_available():
        return synth.piper(text, RATE)
    return synth.espeak(text, "en", RATE)


def _voiced_end(samples: Speech) -> float:
    """Seconds to the end of the last 20 ms window louder than -40 dBFS."""
    size = RATE // 50
    loud = [
        i for i in range(0, len(samples) - size + 1, size)
        if np.sqrt(np.mean(samples[i : i + size] ** 2)) > 0.01
    ]  # fmt: skip
    return (loud[-1] + size) / RATE if loud else 0.0


def make_clip(folder: Path) -> Clip:
    """Synthesise the clip (Piper when installed, else espeak-ng) as a raw µ-law file."""
    help_me = _speak("Help me!")
    sentence = _speak("I have fallen and I cannot get up. Please send someone.")
    parts = [synth.silence(LEAD_S, RATE), help_me, synth.silence(PAUSE_S, RATE), sentence]
    speech = np.concatenate(parts)
    loop = np.concatenate((speech, synth.silence(max(0.0, LOOP_S - len(speech) / RATE), RATE)))
    raw, ulaw, decoded = folder / "clip.raw", folder / "clip.ul", folder / "clip-decoded.raw"
    raw.write_bytes(synth.to_pcm(loop))
    pcm_in = ["-t", "raw", "-e", "signed", "-b", "16", "-r", str(RATE), "-c", "1"]
    subprocess.run(["sox", *pcm_in, str(raw), "-t", "ul", str(ulaw)], check=True, timeout=30)
    subprocess.run(
        ["sox", "-t", "ul", "-r", str(RATE), "-c", "1", str(ulaw), *pcm_in, str(decoded)],
        check=True,
        timeout=30,
    )
    reference = to_samples(resample(decoded.read_bytes(), RATE, TAP_RATE))
    return Clip(ulaw, LEAD_S + _voiced_end(help_me), reference)


def scenario(folder: Path, clip: Clip, hold_s: float) -> Path:
    """The tests' alarm phone scenario, streaming ``clip`` in a loop for ``hold_s``."""
    text = SCENARIO.read_text().replace("@AUDIO@,1,0", f"{clip.ulaw},-1,0")
    path = folder / f"uac-{hold_s:g}.xml"
    path.write_text(text.replace("@HOLD_MS@", str(int(hold_s * 1000))))
    return path


async def call(scenario_file: Path, worker_port: int, alarm_id: str, log: Path) -> int:
    """One call from a fresh sipp UAC; its exit code once it has hung up (0 = clean)."""
    args = [
        "-sf", str(scenario_file), "-m", "1", "-l", "1",
        "-i", "127.0.0.1", "-p", str(free_udp_port()),
        "-mi", "127.0.0.1", "-mp", str(free_udp_port()),
        "-nostdin", "-timeout", "300s", "-timeout_error", "-key", "alarm_id", alarm_id,
        "-key", "codecs", "0 8", f"127.0.0.1:{worker_port}",
    ]  # fmt: skip
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            "sipp", *args, cwd=scenario_file.parent, stdout=subprocess.DEVNULL, stderr=out
        )
        try:
            return await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def free_udp_port() -> int:
    """A UDP port free now (sipp binds its SIP and RTP sockets over UDP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def continuity(recording: Path, clip: Clip, step_s: float = 2.5) -> tuple[int, int, int]:
    """(frames lost, frames inserted, points aligned) in a call's recording (phone channel).

    Voiced 0.5 s windows every ``step_s`` are each located in the looping clip;
    a steady offset means every frame arrived once, a step means frames went
    missing (or were inserted).
    """
    with wave.open(str(recording)) as wav:
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    phone = stereo[0::2].astype(np.float64) / 32768
    loop = len(clip.reference)
    tiled = np.concatenate((clip.reference, clip.reference))
    size = TAP_RATE // 2
    offsets = []
    for start in range(0, len(phone) - size + 1, int(step_s * TAP_RATE)):
        window = phone[start : start + size]
        if np.sqrt(np.mean(window**2)) < 0.01:
            continue
        position, score = best_lag(window, tiled, loop)
        if score > 0.8:
            offsets.append((position - start) % loop)
    lost, inserted = frame_drift(offsets, FRAME, loop)
    return lost, inserted, len(offsets)
