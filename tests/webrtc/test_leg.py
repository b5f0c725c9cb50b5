"""WebRTC legs: framing of the caller's audio, and a real aiortc peer on loopback."""

from __future__ import annotations

import asyncio
import fractions
import time

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame

from gateway.media.pcm import Resampler, best_lag, to_pcm, to_samples
from gateway.webrtc.leg import (
    SAMPLES_PER_FRAME,
    AudioHub,
    PcmSourceTrack,
    SignallingError,
    mono_pcm,
)


def signal(rate: int, seconds: float, seed: int = 1) -> np.ndarray:
    """Speech-like test audio: a few tones with random phases under a slow envelope."""
    t = np.arange(int(rate * seconds)) / rate
    rng = np.random.default_rng(seed)
    tones = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) for f in (310, 520, 830, 1270))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return np.asarray(0.15 * tones * envelope)


def frames_of(samples: np.ndarray, rate: int) -> list[bytes]:
    step = rate // 50
    return [to_pcm(samples[i : i + step]) for i in range(0, len(samples) - step + 1, step)]


async def test_source_turns_8k_frames_into_48k_frames_and_plays_silence_when_starved() -> None:
    track = PcmSourceTrack()
    tone = signal(8000, 0.1)
    frames = frames_of(tone, 8000)
    track.feed(frames[0], 8000)
    received = [await track.recv()]
    for frame in frames[1:4]:
        track.feed(frame, 8000)
    received += [await track.recv() for _ in range(4)]
    assert all(f.samples == SAMPLES_PER_FRAME and f.sample_rate == 48000 for f in received)
    loud = [float(np.abs(to_samples(mono_pcm(f))).max()) for f in received]
    assert min(loud[:4]) > 0.05  # the four fed frames
    assert loud[4] == 0.0  # then silence, not a stall
    assert [f.pts for f in received] == [i * SAMPLES_PER_FRAME for i in range(5)]


async def test_source_starts_from_the_newest_frame_not_a_backlog() -> None:
    track = PcmSourceTrack()
    for value in (1000, 2000, 3000):
        track.feed(np.full(160, value, "<i2").tobytes(), 8000)
    first = np.frombuffer(mono_pcm(await track.recv()), "<i2")
    assert abs(int(first[-1]) - 3000) < 100  # the backlog of older frames was skipped
    assert float(np.abs(to_samples(mono_pcm(await track.recv()))).max()) == 0.0
    track.stop()
    track.stop()


def test_source_bounds_its_queue_by_dropping_the_oldest_frames() -> None:
    track = PcmSourceTrack()
    for _ in range(8):
        track.feed(bytes(640), 16000)
    assert track.dropped == 5


def test_source_and_hub_refuse_unknown_rates() -> None:
    with pytest.raises(ValueError, match="sample rate must be one of"):
        PcmSourceTrack().feed(bytes(100), 11025)
    with pytest.raises(ValueError, match="sink rate must be one of"):
        AudioHub(sink_rate=44100)


def test_mono_pcm_averages_interleaved_stereo() -> None:
    frame = AudioFrame.from_ndarray(
        np.array([[1000, 3000, -2000, 0]], dtype="<i2"), format="s16", layout="stereo"
    )
    assert np.frombuffer(mono_pcm(frame), "<i2").tolist() == [2000, -1000]


@pytest.mark.parametrize(
    ("sdp", "message"),
    [
        ("v=0\r\n", r"the offer has no audio section \(m=audio\)"),
        ("m=audio\r\n", r"the offer was refused: malformed SDP \(AssertionError\)"),
        (
            "v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            "the offer was refused: ICE username fragment or password is missing",
        ),
    ],
)
async def test_bad_offers_are_refused_and_leave_no_leg(sdp: str, message: str) -> None:
    closed: list[str] = []
    hub = AudioHub(on_closed=lambda leg: closed.append(leg.operator))
    with pytest.raises(SignallingError, match=message):
        await hub.open_leg("a1", "op", sdp)
    assert hub.legs("a1") == []
    assert closed == []  # never answered: nobody listened


class ToneTrack(MediaStreamTrack):
    """A browser microphone stand-in: 48 kHz test audio, paced in real time."""

    kind = "audio"

    def __init__(self, samples: np.ndarray) -> None:
        super().__init__()
        self._frames = frames_of(samples, 48000)
        self._i = 0
        self._start = time.monotonic()

    async def recv(self) -> AudioFrame:
        wait = self._start + self._i * 0.02 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        pcm = self._frames[self._i % len(self._frames)]
        frame = AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(pcm)
        frame.pts, frame.sample_rate = self._i * 960, 48000
        frame.time_base = fractions.Fraction(1, 48000)
        self._i += 1
        return frame


@pytest.mark.integration
@pytest.mark.usefixtures("loopback_ice")
async def test_caller_audio_reaches_the_peer_and_talk_mode_gates_the_microphone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[str] = []
    hub = AudioHub(sink_rate=16000, on_closed=lambda leg: closed.append(leg.operator))
    sink: list[bytes] = []
    failures: list[bytes] = []

    def flaky_sink(alarm_id: str, pcm: bytes, rate: int) -> None:
        assert (alarm_id, rate) == ("a1", 16000)
        if not failures:  # a failing SIP side once must not end the leg
            failures.append(pcm)
            raise RuntimeError("sink failed")
        sink.append(pcm)

    hub.add_talk_listener(flaky_sink)
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    heard: list[bytes] = []
    pumps: list[asyncio.Task[None]] = []

    async def listen(track: MediaStreamTrack) -> None:
        while True:
            frame = await track.recv()
            assert isinstance(frame, AudioFrame)
            heard.append(mono_pcm(frame))

    client.on("track", lambda track: pumps.append(asyncio.create_task(listen(track))))
    client.addTrack(ToneTrack(signal(48000, 1.0, seed=2)))
    try:
        await client.setLocalDescription(await client.createOffer())
        answer = await hub.open_leg("a1", "op", client.localDescription.sdp)
        await client.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        caller = signal(16000, 2.0)
        started = time.monotonic()
        for i, frame in enumerate(frames_of(caller, 16000)):
            hub.feed("a1", frame, 16000)
            await asyncio.sleep(max(0.0, started + (i + 1) * 0.02 - time.monotonic()))
        leg = hub.leg("a1", "op")
        assert leg is not None and leg.frames_muted > 20
        assert sink == []  # listening: the agent hears nothing
        hub.set_talking("a1", "op", True)
        await asyncio.sleep(1.0)
        hub.set_talking("a1", "op", False)
        talked = len(sink)
        await asyncio.sleep(0.5)
        assert len(sink) == talked  # back to listening: nothing more
        assert len(failures) == 1
        assert 25 <= talked <= 75  # ~1 s of 20 ms frames (a loaded machine bunches them)
        assert all(len(f) == 640 for f in sink)
        assert float(np.abs(to_samples(b"".join(sink))).max()) > 0.1

        received = Resampler(48000, 16000).process(to_samples(b"".join(heard)))
        # window by window, so a frame dropped under load shifts one window, not all
        windows = [caller[i : i + 4000] for i in range(0, len(caller) - 4000 + 1, 4000)]
        scores = [best_lag(w, received, max_lag=len(received) - len(w))[1] for w in windows]
        assert float(np.median(scores)) > 0.8, scores
    finally:
        for task in pumps:
            task.cancel()
        await client.close()
        await hub.close()
    assert hub.legs("a1") == []
    assert closed == ["op"]
    assert "operator audio listener failed" in caplog.text
