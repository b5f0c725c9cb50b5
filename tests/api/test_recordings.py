"""Supervisors list and play an alarm's recordings; nobody else, and no path tricks."""

from __future__ import annotations

from gateway.api.keys import RECORDER
from gateway.store.records import Role
from tests.conftest import Api


async def test_supervisor_plays_a_recording_operator_cannot(api: Api) -> None:
    raised = await api.client.post(
        "/api/v1/alarms",
        json={"type": "sos", "occurred_at": "2026-12-04T10:00:00+01:00"},
        headers=api.device(),
    )
    alarm_id = (await raised.json())["id"]
    folder = api.client.app[RECORDER].directory / alarm_id
    folder.mkdir(parents=True)
    (folder / "20261204T100000000000Z.wav").write_bytes(b"RIFF-test")
    (api.client.app[RECORDER].directory / "secret.wav").write_bytes(b"not an alarm's")
    base = f"/api/v1/alarms/{alarm_id}/recordings"
    assert (await api.client.get(base, headers=api.staff(Role.OPERATOR))).status == 403
    listing = await api.client.get(base, headers=api.staff(Role.SUPERVISOR))
    assert await listing.json() == {"recordings": ["20261204T100000000000Z.wav"]}
    played = await api.client.get(
        f"{base}/20261204T100000000000Z.wav", headers=api.staff(Role.SUPERVISOR)
    )
    assert played.status == 200
    assert played.headers["Content-Type"] == "audio/wav"
    assert await played.read() == b"RIFF-test"
    for name in ("..%2Fsecret.wav", "nothing.wav"):
        answer = await api.client.get(f"{base}/{name}", headers=api.staff(Role.SUPERVISOR))
        assert answer.status == 404
