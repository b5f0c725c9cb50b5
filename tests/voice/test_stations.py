"""An operator's SIP station joins an alarm's live call through the API, then barges in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gateway.alarm.events import Accepted
from gateway.alarm.types import AlarmType
from gateway.api.keys import STORE, VOICE
from gateway.auth import hash_password, token_hash
from gateway.store.records import NewAlarm, Role
from tests.conftest import eventually
from tests.sip.conftest import RunSipp, Speech, free_udp_port
from tests.voice.conftest import StartGateway, sip_target

pytestmark = pytest.mark.integration


async def test_station_listens_then_talks_and_every_step_is_in_the_timeline(
    voice_gateway: StartGateway, sipp: RunSipp, speech: Speech
) -> None:
    client = await voice_gateway()
    app = client.app
    store = app[STORE]
    now = datetime.now(UTC)
    await store.add_user("ana", Role.OPERATOR, hash_password("x" * 12), now)
    ana = await store.user_by_name("ana")
    assert ana is not None
    await store.add_session(token_hash("ana-session"), ana.id, now, now + timedelta(hours=1))
    staff = {"Authorization": "Bearer ana-session"}
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.SOS, now, None, None, "http"), now
    )
    phone = await sipp(
        "uac_alarm.xml",
        sip_target(app),
        keys={"alarm_id": alarm.id, "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": "15000"},
    )
    await eventually(lambda: app[VOICE].phone_call(alarm.id) is not None, within=10)
    base = f"/api/v1/alarms/{alarm.id}/stations"
    station_port = free_udp_port()
    station = await sipp("uas_phone.xml", "", port=station_port, fill={"AUDIO": str(speech.ulaw)})
    await asyncio.sleep(0.3)  # sipp binds its port

    body = {"uri": f"sip:desk@127.0.0.1:{station_port}", "mode": "listen"}
    refused = await client.post(base, json=body, headers=staff)
    assert refused.status == 403  # accept the alarm first
    await store.apply(alarm.id, Accepted("ana"), "ana", datetime.now(UTC))

    joined = await client.post(base, json=body, headers=staff)
    assert joined.status == 201, await joined.text()
    leg = (await joined.json())["leg_id"]
    phone_call = app[VOICE].phone_call(alarm.id)
    for wrong in (phone_call, "no-such-leg"):  # only this alarm's station legs are reachable
        assert (await client.delete(f"{base}/{wrong}", headers=staff)).status == 404
        moved = await client.post(f"{base}/{wrong}/mode", json={"mode": "talk"}, headers=staff)
        assert moved.status == 404
    assert app[VOICE].phone_call(alarm.id) == phone_call  # the phone's call is still up
    switched = await client.post(f"{base}/{leg}/mode", json={"mode": "talk"}, headers=staff)
    assert (await switched.json())["mode"] == "talk"
    left = await client.delete(f"{base}/{leg}", headers=staff)
    assert left.status == 204
    await station.wait(20)
    phone.process.kill()

    stored = await store.get_alarm(alarm.id)
    assert stored is not None
    steps = [
        (e.kind, e.data.get("mode") or e.data.get("text"))
        for e in stored.timeline
        if e.kind in ("listen_started", "noted", "listen_ended")
    ]
    assert steps == [
        ("listen_started", "listen"),
        ("noted", f"station {leg}: talk"),
        ("listen_ended", None),
    ]
    told = [e.kind.value for e in await store.outbox_after(0)]
    assert "listen.started" in told
    assert "listen.ended" in told
    audited = [(e.actor, e.source, e.action) for e in await store.audit_entries()]
    assert audited == [
        ("ana", "127.0.0.1", "listen.start"),
        ("ana", "127.0.0.1", "talk.start"),
        ("ana", "127.0.0.1", "listen.stop"),
    ]
    invite = station.log().split("INVITE sip:", 1)[1].split("\n----", 1)[0]
    assert f"X-Alarm-Id: {alarm.id}" in invite
