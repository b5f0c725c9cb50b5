"""One WebRTC audio leg per operator per alarm, and the per-alarm hub that feeds them.

The caller's audio arrives as 20 ms s16 mono PCM frames at 8 or 16 kHz (from
the SIP side) through :meth:`AudioHub.feed`; every browser listening to that
alarm hears it. Browser microphone audio goes to the alarm's sink, as 20 ms
s16 mono frames at the sink's rate, only while that operator is in talk mode:
listening is silent by default, so the agent never hears an operator who has
not chosen to talk.

Resampling uses :mod:`gateway.media.pcm` (stateful, exact 20 ms framing) so a
frame in gives exactly one 960-sample 48 kHz frame out, with constant delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from gateway.media.pcm import FRAME_MS, RATES, Reframer

log = logging.getLogger("gateway.webrtc")

#: Receives audio of an alarm: (alarm id, s16le mono PCM, sample rate). The same shape
#: as ``gateway.voice.AudioListener``, so the hub plugs into the voice channel as is.
AlarmAudio = Callable[[str, bytes, int], None]

BROWSER_RATE = 48000
SAMPLES_PER_FRAME = BROWSER_RATE * FRAME_MS // 1000
#: Caller frames queued for one browser before the oldest is dropped: the phone and
#: the browser clocks drift, and this bounds the delay that drift can add (60 ms).
MAX_QUEUED_FRAMES = 3


class WebRtcError(Exception):
    """Root of the WebRTC leg errors; messages name what is wrong."""


class SignallingError(WebRtcError, ValueError):
    """The browser's offer cannot be used (malformed SDP, no audio)."""


class PcmSourceTrack(MediaStreamTrack):
    """Audio to the browser: 48 kHz mono frames made from fed 8/16 kHz PCM.

    Paced by its own 20 ms clock; plays silence when nothing was fed in time,
    so a gap on the phone side never stalls the browser's jitter buffer.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._frames: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        self._reframer = Reframer(BROWSER_RATE)
        self._start: float | None = None
        self._pts = 0
        self.dropped = 0

    def feed(self, pcm: bytes, rate: int) -> None:
        """Queue caller audio (any length, s16le mono at 8, 16 or 48 kHz)."""
        if rate not in RATES:
            raise ValueError(f"sample rate must be one of {RATES}, got {rate}")
        for frame in self._reframer.push(pcm, rate):
            if len(self._frames) == self._frames.maxlen:
                self.dropped += 1
            self._frames.append(frame)

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
            while len(self._frames) > 1:  # start from the newest audio, not a backlog
                self._frames.popleft()
        else:
            self._pts += SAMPLES_PER_FRAME
            wait = self._start + self._pts / BROWSER_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        pcm = self._frames.popleft() if self._frames else bytes(SAMPLES_PER_FRAME * 2)
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES_PER_FRAME)
        frame.planes[0].update(pcm)
        frame.pts = self._pts
        frame.sample_rate = BROWSER_RATE
        frame.time_base = fractions.Fraction(1, BROWSER_RATE)
        return frame


def mono_pcm(frame: AudioFrame) -> bytes:
    """A decoded frame (s16, interleaved, any channel count) as s16le mono."""
    channels = len(frame.layout.channels)
    samples = frame.to_ndarray().reshape(-1, channels).astype(np.int32)
    return bytes(samples.mean(axis=1).astype("<i2").tobytes())


@dataclass(eq=False)
class Leg:
    """One browser's peer connection on one alarm."""

    alarm_id: str
    operator: str
    pc: RTCPeerConnection
    source: PcmSourceTrack
    #: listening as a supervisor (silent monitoring), not as the handling operator
    monitor: bool = False
    talking: bool = False
    #: the browser's offer was answered (the leg existed for the operator)
    answered: bool = False
    #: operator frames delivered to the sink (talk mode) and discarded (listen mode)
    frames_sent: int = 0
    frames_muted: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)


class AudioHub:
    """Every WebRTC leg of every alarm: caller audio fans out, operator talk fans in.

    The voice channel calls :meth:`feed` with the caller's frames and
    :meth:`call_ended` when the call is over; :meth:`add_talk_listener` says
    where operator speech goes (the phone, the recorder). ``on_closed`` hears
    of every answered leg that ends, whatever the reason, for the timeline.
    """

    def __init__(
        self, sink_rate: int = 16000, on_closed: Callable[[Leg], None] | None = None
    ) -> None:
        if sink_rate not in RATES:
            raise ValueError(f"sink rate must be one of {RATES}, got {sink_rate}")
        self.sink_rate = sink_rate
        self._on_closed = on_closed
        self._legs: dict[tuple[str, str], Leg] = {}
        self._talk_listeners: list[AlarmAudio] = []
        self._closing: set[asyncio.Task[None]] = set()

    # --- the voice side -------------------------------------------------------------

    def feed(self, alarm_id: str, pcm: bytes, rate: int) -> None:
        """Caller audio for ``alarm_id``: every browser listening hears it."""
        for leg in self.legs(alarm_id):
            leg.source.feed(pcm, rate)

    def call_ended(self, alarm_id: str) -> None:
        """The alarm's call is over: hang up its browsers (from a synchronous callback)."""
        task = asyncio.get_running_loop().create_task(self.close_alarm(alarm_id))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def add_talk_listener(self, listener: AlarmAudio) -> None:
        """``listener`` gets operator speech: 20 ms frames at ``sink_rate``, talk mode only."""
        self._talk_listeners.append(listener)

    # --- the console side -----------------------------------------------------------

    def legs(self, alarm_id: str) -> list[Leg]:
        return [leg for (a, _), leg in self._legs.items() if a == alarm_id]

    def leg(self, alarm_id: str, operator: str) -> Leg | None:
        return self._legs.get((alarm_id, operator))

    async def open_leg(
        self, alarm_id: str, operator: str, offer_sdp: str, *, monitor: bool = False
    ) -> str:
        """Answer the browser's offer; replaces this operator's previous leg on the alarm."""
        if "m=audio" not in offer_sdp:
            raise SignallingError("the offer has no audio section (m=audio)")
        await self.close_leg(alarm_id, operator)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        leg = Leg(alarm_id, operator, pc, PcmSourceTrack(), monitor=monitor)
        self._legs[(alarm_id, operator)] = leg

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                task = asyncio.create_task(self._pump_operator(leg, track))
                leg._tasks.add(task)
                task.add_done_callback(leg._tasks.discard)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info(
                "webrtc leg %s",
                pc.connectionState,
                extra={"alarm_id": alarm_id, "operator": operator},
            )
            if pc.connectionState in ("failed", "closed"):
                await self.close_leg(alarm_id, operator, only=leg)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            pc.addTrack(leg.source)  # the answering side adds its track after the offer
            await pc.setLocalDescription(await pc.createAnswer())
            leg.answered = True
        except Exception as exc:  # aiortc's SDP parser also fails with asserts and KeyErrors
            await self.close_leg(alarm_id, operator, only=leg)
            detail = str(exc) or f"malformed SDP ({type(exc).__name__})"
            raise SignallingError(f"the offer was refused: {detail}") from None
        return str(pc.localDescription.sdp)

    def set_talking(self, alarm_id: str, operator: str, talking: bool) -> Leg | None:
        """Switch between listen (silent) and talk; None when there is no such leg."""
        leg = self.leg(alarm_id, operator)
        if leg is not None:
            leg.talking = talking
        return leg

    async def close_leg(self, alarm_id: str, operator: str, only: Leg | None = None) -> bool:
        """Hang up this operator's leg (``only`` that one, if given); True if one was open."""
        leg = self._legs.get((alarm_id, operator))
        if leg is None or (only is not None and leg is not only):
            return False
        del self._legs[(alarm_id, operator)]
        leg.talking = False
        leg.source.stop()
        for task in tuple(leg._tasks):
            task.cancel()
        await leg.pc.close()
        if leg.answered and self._on_closed is not None:
            self._on_closed(leg)
        return True

    async def close_alarm(self, alarm_id: str) -> None:
        """Hang up every leg of an alarm (closed, or its call ended)."""
        for leg in self.legs(alarm_id):
            await self.close_leg(alarm_id, leg.operator)

    async def close(self) -> None:
        for task in tuple(self._closing):
            await task
        for alarm_id, operator in tuple(self._legs):
            await self.close_leg(alarm_id, operator)

    async def _pump_operator(self, leg: Leg, track: MediaStreamTrack) -> None:
        """Read the browser's microphone; pass it on only in talk mode."""
        reframer = Reframer(self.sink_rate)
        extra = {"alarm_id": leg.alarm_id, "operator": leg.operator}
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                if not leg.talking:
                    leg.frames_muted += 1
                    continue
                try:
                    frames = reframer.push(mono_pcm(frame), frame.sample_rate)
                except ValueError:  # a codec clock we cannot resample: nothing to pass on
                    log.exception("operator audio dropped", extra=extra)
                    return
                for out in frames:
                    leg.frames_sent += 1
                    for listener in self._talk_listeners:
                        try:
                            listener(leg.alarm_id, out, self.sink_rate)
                        except Exception:  # a failing listener must not end the leg
                            log.exception("operator audio listener failed", extra=extra)
