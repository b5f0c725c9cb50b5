"""WebRTC signalling over HTTP with a real aiortc peer; legs end when access ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from gateway.api.keys import VOICE
from gateway.sip.events import CallConnected, CallFinished, CallKind, CallRef
from gateway.store.records import Role
from gateway.web.live import HUB
from tests.api.test_alarms import create
from tests.conftest import Api

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("loopback_ice")]


@pytest.fixture
async def peers() -> AsyncIterator[list[RTCPeerConnection]]:
    opened: list[RTCPeerConnection] = []
    yield opened
    for pc in opened:
        await pc.close()


async def connect(api: Api, peers: list[RTCPeerConnection], alarm_id: str, role: Role) -> None:
    """A browser stand-in: offer with a (silent) microphone, apply the gateway's answer."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peers.append(pc)
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    answer = await api.client.post(
        f"/api/v1/alarms/{alarm_id}/audio/offer",
        json={"type": "offer", "sdp": pc.localDescription.sdp},
        headers=api.staff(role),
    )
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert body["type"] == "answer" and "m=audio" in body["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))


async def expect_hearing(api: Api, alarm_id: str, expected: set[str]) -> None:
    """Within 3 s, exactly ``expected`` have a leg on the alarm (the watch follows the bus)."""
    for _ in range(60):
        now = {leg.operator for leg in api.client.app[HUB].legs(alarm_id)}
        if now == expected:
            break
        await asyncio.sleep(0.05)
    assert now == expected


async def test_release_hangs_up_the_handler_and_closure_everyone(
    api: Api, peers: list[RTCPeerConnection]
) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    await api.client.post(f"{base}/accept", headers=op)
    await connect(api, peers, alarm_id, Role.OPERATOR)
    await connect(api, peers, alarm_id, Role.SUPERVISOR)
    await expect_hearing(api, alarm_id, {"operator-1", "supervisor-1"})
    talk = await api.client.post(f"{base}/audio/mode", json={"talk": True}, headers=op)
    assert await talk.json() == {"talk": True}

    await api.client.post(f"{base}/release", json={"reason": "break"}, headers=op)
    await expect_hearing(api, alarm_id, {"supervisor-1"})  # monitoring goes on

    sup = api.staff(Role.SUPERVISOR)
    await api.client.post(f"{base}/accept", headers=sup)
    await api.client.post(f"{base}/close", json={"outcome": "agent_safe"}, headers=sup)
    await expect_hearing(api, alarm_id, set())
    alarm = await wait_for_entries(api, alarm_id, "listen_ended", 2)
    audio = [
        (e["kind"], e["actor"], e["data"].get("text", e["data"].get("channel")))
        for e in alarm["timeline"]
        if e["kind"] in ("listen_started", "listen_ended")
        or (e["kind"] == "noted" and e["data"]["kind"] == "audio.mode")
    ]
    assert audio == [
        ("listen_started", "operator-1", "webrtc"),
        ("listen_started", "supervisor-1", "webrtc"),
        ("noted", "operator-1", "webrtc: talk"),
        ("listen_ended", "operator-1", "webrtc"),
        ("listen_ended", "supervisor-1", "webrtc"),
    ]


async def wait_for_entries(api: Api, alarm_id: str, kind: str, count: int) -> dict[str, Any]:
    """The alarm once its timeline holds ``count`` entries of ``kind`` (written in background)."""
    for _ in range(60):
        answer = await api.client.get(f"/api/v1/alarms/{alarm_id}", headers=api.staff())
        alarm: dict[str, Any] = await answer.json()
        if sum(e["kind"] == kind for e in alarm["timeline"]) >= count:
            break
        await asyncio.sleep(0.05)
    return alarm


async def test_hang_up_is_recorded_once(api: Api, peers: list[RTCPeerConnection]) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    await api.client.post(f"{base}/accept", headers=op)
    await connect(api, peers, alarm_id, Role.OPERATOR)
    assert (await api.client.delete(f"{base}/audio", headers=op)).status == 204
    assert (await api.client.delete(f"{base}/audio", headers=op)).status == 204
    alarm = await wait_for_entries(api, alarm_id, "listen_ended", 1)
    kinds = [e["kind"] for e in alarm["timeline"] if e["kind"].startswith("listen")]
    assert kinds == ["listen_started", "listen_ended"]
    assert api.client.app[HUB].legs(alarm_id) == []


async def test_the_hub_follows_the_voice_channel(api: Api, peers: list[RTCPeerConnection]) -> None:
    """Caller audio reaches the hub through the voice service, and a call's end hangs up."""
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    await api.client.post(f"{base}/accept", headers=op)
    await connect(api, peers, alarm_id, Role.OPERATOR)
    app = api.client.app
    leg = app[HUB].leg(alarm_id, "operator-1")
    assert leg is not None
    voice = app[VOICE]  # driven as the SIP supervisor drives it
    call = CallRef("call-1", CallKind.INCOMING, alarm_id, worker=0)
    voice.on_call_event(CallConnected(call, "PCMU"))
    assert voice.phone_call(alarm_id) == "call-1"
    voice.on_audio("call-1", bytes(640), 16000)
    assert leg.source.dropped == 0 and len(leg.source._frames) == 1
    voice.on_call_event(CallFinished(call, 200, "BYE"))
    await expect_hearing(api, alarm_id, set())
