"""WebRTC signalling over HTTP with a real aiortc peer; legs end when access ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

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
    alarm = await (await api.client.get(base, headers=op)).json()
    audio = [
        (e["actor"], e["data"]["text"])
        for e in alarm["timeline"]
        if e["kind"] == "noted" and e["data"]["kind"] == "audio"
    ]
    assert audio == [
        ("operator-1", "listening"),
        ("supervisor-1", "listening"),
        ("operator-1", "talking"),
    ]


async def test_hang_up_is_recorded_once(api: Api, peers: list[RTCPeerConnection]) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    await api.client.post(f"{base}/accept", headers=op)
    await connect(api, peers, alarm_id, Role.OPERATOR)
    assert (await api.client.delete(f"{base}/audio", headers=op)).status == 204
    assert (await api.client.delete(f"{base}/audio", headers=op)).status == 204
    alarm = await (await api.client.get(base, headers=op)).json()
    texts = [e["data"].get("text") for e in alarm["timeline"] if e["kind"] == "noted"]
    assert texts == ["listening", "stopped listening"]
    assert api.client.app[HUB].legs(alarm_id) == []
