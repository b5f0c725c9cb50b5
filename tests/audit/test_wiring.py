"""Listening, talking, playing a recording, exporting and admin changes each leave an entry."""

from __future__ import annotations

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from gateway.api.keys import RECORDER, STORE
from gateway.audit.chain import AuditEntry
from gateway.store.records import Role
from tests.api.test_alarms import create
from tests.conftest import Api
from tests.webrtc.conftest import loopback_ice

__all__ = ["loopback_ice"]


async def entries(api: Api) -> list[tuple[str, str | None, str, str | None]]:
    """(actor, source, action, target) of every audit entry, oldest first."""
    found: list[AuditEntry] = await api.client.app[STORE].audit_entries()
    return [(e.actor, e.source, e.action, e.target) for e in found]


@pytest.mark.usefixtures("loopback_ice")
async def test_listening_and_talking_from_the_console_are_audited(api: Api) -> None:
    alarm_id = await create(api)
    base = f"/api/v1/alarms/{alarm_id}"
    op = api.staff(Role.OPERATOR)
    assert (await api.client.post(f"{base}/accept", headers=op)).status == 200
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        browser.addTransceiver("audio", direction="sendrecv")
        await browser.setLocalDescription(await browser.createOffer())
        offer = {"type": "offer", "sdp": browser.localDescription.sdp}
        answer = await api.client.post(f"{base}/audio/offer", json=offer, headers=op)
        assert answer.status == 200
        talk = await api.client.post(f"{base}/audio/mode", json={"talk": True}, headers=op)
        assert talk.status == 200
        assert (await api.client.delete(f"{base}/audio", headers=op)).status == 204
    finally:
        await browser.close()
    assert await entries(api) == [
        ("operator-1", "127.0.0.1", "listen.start", alarm_id),
        ("operator-1", "127.0.0.1", "talk.start", alarm_id),
        ("operator-1", "127.0.0.1", "listen.stop", alarm_id),
    ]
    first = (await api.client.app[STORE].audit_entries())[0]
    assert first.details == {"channel": "webrtc", "monitor": False}


async def test_playing_a_recording_is_audited(api: Api) -> None:
    alarm_id = await create(api)
    folder = api.client.app[RECORDER].directory / alarm_id
    folder.mkdir(parents=True)
    (folder / "20261204T100000000000Z.wav").write_bytes(b"RIFF-test")
    played = await api.client.get(
        f"/api/v1/alarms/{alarm_id}/recordings/20261204T100000000000Z.wav",
        headers=api.staff(Role.SUPERVISOR),
    )
    assert played.status == 200
    assert await entries(api) == [("supervisor-1", "127.0.0.1", "recording.play", alarm_id)]
    entry = (await api.client.app[STORE].audit_entries())[0]
    assert entry.details == {"file": "20261204T100000000000Z.wav"}


async def test_admin_changes_and_the_review_export_are_audited(api: Api) -> None:
    admin = api.staff(Role.ADMIN)
    added = await api.client.post(
        "/api/v1/instructions",
        json={"text": "call back", "device_id": "phone-1", "alarm_types": ["sos"]},
        headers=admin,
    )
    instruction_id = str((await added.json())["id"])
    assert (await api.client.delete(f"/api/v1/instructions/{instruction_id}", headers=admin)).ok
    contact = {"name": "Ana", "role": "site manager", "phone": "+33 6 12 34 56 78", "rank": 1}
    added = await api.client.post("/api/v1/contacts", json=contact, headers=admin)
    contact_id = str((await added.json())["id"])
    assert (await api.client.delete(f"/api/v1/contacts/{contact_id}", headers=admin)).ok
    for action in ("rotate", "revoke"):
        assert (await api.client.post(f"/api/v1/devices/phone-1/{action}", headers=admin)).ok
    review = await api.client.get(
        "/api/v1/review/alarms.csv", params={"from": "2026-12-01"}, headers=admin
    )
    assert review.status == 200
    assert await entries(api) == [
        ("admin-1", "127.0.0.1", "admin.instruction.create", instruction_id),
        ("admin-1", "127.0.0.1", "admin.instruction.delete", instruction_id),
        ("admin-1", "127.0.0.1", "admin.contact.create", contact_id),
        ("admin-1", "127.0.0.1", "admin.contact.delete", contact_id),
        ("admin-1", "127.0.0.1", "admin.device.rotate", "phone-1"),
        ("admin-1", "127.0.0.1", "admin.device.revoke", "phone-1"),
        (
            "admin-1",
            "127.0.0.1",
            "export.review_csv",
            review.headers["Content-Disposition"].split('"')[1],
        ),
    ]
    stored = await api.client.app[STORE].audit_entries()
    assert stored[0].details == {"device_id": "phone-1"}
    assert "Ana" not in str([e.details for e in stored])  # ids only, no personal data
