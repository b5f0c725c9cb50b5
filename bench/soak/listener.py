"""An operator listening to an alarm's call over WebRTC, as the console does (aiortc).

Counts the audio frames received and the gaps in their timestamps: a gap is
audio lost between the gateway and the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import aiohttp
import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

OPUS_FRAME = 960
"""Samples per 20 ms frame at 48 kHz (the timestamps' clock)."""


def loopback_only() -> None:
    """aioice leaves 127.0.0.1 out of its host candidates; a loopback run needs it."""
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


@dataclass
class Heard:
    alarm_id: str
    frames: int = 0
    gaps: int = 0
    """Frames missing between consecutive received frames."""
    connected: bool = False


async def _count(track: MediaStreamTrack, heard: Heard) -> None:
    last: int | None = None
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            heard.frames += 1
            pts = frame.pts or 0
            if last is not None and pts - last > OPUS_FRAME:
                heard.gaps += (pts - last) // OPUS_FRAME - 1
            last = pts


async def listen(
    session: aiohttp.ClientSession, base: str, token: str, alarm_id: str, until: asyncio.Event
) -> Heard:
    """Open a listen leg on ``alarm_id``, count what arrives until ``until`` is set."""
    heard = Heard(alarm_id)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    counters: list[asyncio.Task[None]] = []
    pc.on("track", lambda track: counters.append(asyncio.create_task(_count(track, heard))))
    pc.addTrack(AudioStreamTrack())  # the console's (disabled) microphone
    try:
        await pc.setLocalDescription(await pc.createOffer())
        async with session.post(
            f"{base}/api/v1/alarms/{alarm_id}/audio/offer",
            json={"type": "offer", "sdp": pc.localDescription.sdp},
            headers={"Authorization": f"Bearer {token}"},
        ) as answer:
            if answer.status != 200:
                return heard
            sdp = (await answer.json())["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        heard.connected = True
        await until.wait()
    finally:
        await pc.close()
        for task in counters:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return heard
