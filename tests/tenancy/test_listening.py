"""Listening only exists inside an alarm: no route reaches a device's audio otherwise,
and listen or talk on a closed or unknown alarm is refused."""

from __future__ import annotations

from pathlib import Path

from gateway.app import make_app
from gateway.config.schema import GatewaySection, Settings
from gateway.store.records import Role
from tests.conftest import Api

AUDIO_WORDS = ("audio", "stations", "listen", "talk", "monitor")


def test_every_audio_route_names_an_alarm(tmp_path: Path) -> None:
    app = make_app(Settings(gateway=GatewaySection(data_dir=tmp_path)))
    audio = sorted(
        {
            route.resource.canonical
            for route in app.router.routes()
            if route.resource is not None
            and any(word in route.resource.canonical for word in AUDIO_WORDS)
        }
    )
    assert audio  # the console and station routes exist
    assert all(path.startswith("/api/v1/alarms/{alarm_id}/") for path in audio), audio


async def test_listen_and_talk_are_refused_on_a_closed_or_unknown_alarm(api: Api) -> None:
    raised = await api.client.post(
        "/api/v1/alarms",
        json={"type": "sos", "occurred_at": "2026-12-04T10:00:00+01:00"},
        headers=api.device(),
    )
    alarm_id = (await raised.json())["id"]
    operator, supervisor = api.staff(Role.OPERATOR), api.staff(Role.SUPERVISOR)
    offer = {"type": "offer", "sdp": "v=0"}
    station = {"uri": "sip:desk@127.0.0.1", "mode": "listen"}
    refused = await api.client.post(
        f"/api/v1/alarms/{alarm_id}/audio/offer", json=offer, headers=operator
    )
    assert refused.status == 403  # open, but not handled by this operator
    base = f"/api/v1/alarms/{alarm_id}"
    assert (await api.client.post(f"{base}/accept", headers=operator)).status == 200
    closing = await api.client.post(
        f"{base}/close", json={"outcome": "false_alarm"}, headers=operator
    )
    assert closing.status == 200
    attempts = [
        ("/audio/offer", offer, operator),
        ("/audio/offer", offer, supervisor),
        ("/audio/mode", {"talk": True}, operator),
        ("/stations", station, supervisor),
        ("/stations", {**station, "mode": "talk"}, operator),
    ]
    for suffix, body, who in attempts:
        closed = await api.client.post(f"{base}{suffix}", json=body, headers=who)
        assert closed.status == 409, suffix
        assert "closed" in (await closed.json())["error"]["message"]
        unknown = await api.client.post(f"/api/v1/alarms/nope{suffix}", json=body, headers=who)
        assert unknown.status == 404, suffix
