"""Privacy: transcripts purged after their retention, one agent's data exported and erased."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.alarm.events import Accepted, Closed, CueHeard, Noted, Position, Transcribed
from gateway.alarm.types import AlarmType, Outcome
from gateway.api.keys import SETTINGS, STORE
from gateway.app import make_app
from gateway.backoffice.agents import Agent, DeviceSecrets
from gateway.cli import _open_store, main
from gateway.config.load import load_settings
from gateway.config.schema import Settings
from gateway.privacy import (
    REMOVED,
    anonymised_payload,
    erased_entry,
    without_position,
    without_transcript,
)
from gateway.recorder import purge_transcripts
from gateway.store.records import NewAlarm, Role
from gateway.store.store import Store
from tests.conftest import AiohttpClient, Api

T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


def test_words_are_replaced_and_the_fact_kept() -> None:
    said = {"text": "help me", "start": 1.0, "end": 2.0}
    assert without_transcript("transcribed", said) == {**said, "text": REMOVED}
    assert without_transcript("transcribed", {**said, "text": REMOVED}) is None  # once only
    assert without_transcript("cue_heard", {"cue": "keyword", "text": "help"}) == {
        "cue": "keyword",
        "text": REMOVED,
    }
    assert without_transcript("noted", {"kind": "cue.distress", "text": "help"}) is not None
    assert without_transcript("noted", {"kind": "note", "text": "operator's note"}) is None
    assert without_transcript("accepted", {"operator": "ann"}) is None
    raised = {"alarm_type": "sos", "position": {"lat": 1.0, "lon": 2.0}}
    assert without_position(raised) == {"alarm_type": "sos"}
    assert erased_entry("raised", raised) == {"alarm_type": "sos"}
    assert erased_entry("transcribed", said) == {**said, "text": REMOVED}
    assert erased_entry("closed", {"outcome": "false_alarm"}) is None
    payload = {"alarm_type": "sos", "lat": 1.0, "lon": 2.0, "accuracy_m": 5.0, "text": "help"}
    assert anonymised_payload(payload) == {"alarm_type": "sos", "text": REMOVED}
    assert anonymised_payload({"alarm_type": "sos"}) is None


async def _closed_alarm_with_words(store: Store, device_id: str, closed: datetime) -> str:
    """An alarm raised at ``closed`` - 10 min with a position, words heard, then closed."""
    at = closed - timedelta(minutes=10)
    new = NewAlarm(device_id, AlarmType.SOS, at, Position(48.8, 2.3, 10.0), 50, "http")
    alarm, _ = await store.raise_alarm(new, at)
    for event in (
        Transcribed("help me I fell", 0.5, 2.0, "whisper", 0.9),
        CueHeard("keyword", 0.7, "distress", "help", 0.9),
        Noted("cue.distress", "help me"),
        Noted("note", "agent answered"),
        Accepted("ann"),
    ):
        await store.apply(alarm.id, event, "speech", at)
    await store.apply(alarm.id, Closed(Outcome.FALSE_ALARM), "ann", closed)
    return alarm.id


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", reference_base="https://gw/")
    await opened.add_device("phone-1", "a" * 64, T0)
    yield opened
    await opened.close()


def _texts(timeline: Any) -> dict[str, str]:
    return {e.kind if e.kind != "noted" else e.data["kind"]: e.data.get("text") for e in timeline}


async def test_purge_blanks_words_of_alarms_closed_past_the_retention_and_logs_them(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    now = T0 + timedelta(days=400)
    old = await _closed_alarm_with_words(store, "phone-1", T0)
    recent = await _closed_alarm_with_words(store, "phone-1", now - timedelta(days=364))
    caplog.set_level(logging.INFO, logger="gateway.recording")
    assert await purge_transcripts(store, 365, now) == {old: 3}
    record = next(r for r in caplog.records if r.getMessage().startswith("transcripts purged"))
    assert record.__dict__["alarm_ids"] == [old] and record.__dict__["entries"] == 3
    purged = await store.get_alarm(old)
    assert purged is not None
    assert _texts(purged.timeline) == {
        "raised": None,
        "transcribed": REMOVED,
        "cue_heard": REMOVED,
        "cue.distress": REMOVED,
        "note": "agent answered",
        "accepted": None,
        "closed": None,
    }
    transcribed = next(e for e in purged.timeline if e.kind == "transcribed")
    assert transcribed.at == T0 - timedelta(minutes=10) and transcribed.data["engine"] == "whisper"
    kept = await store.get_alarm(recent)
    assert kept is not None and _texts(kept.timeline)["transcribed"] == "help me I fell"
    assert await purge_transcripts(store, 365, now) == {}  # nothing twice
    assert await purge_transcripts(store, 365, now + timedelta(days=2)) == {recent: 3}


async def test_the_running_gateway_purges_on_its_clock(
    settings: Settings, aiohttp_client: AiohttpClient
) -> None:
    """Fake clock: an alarm closed today has its words blanked once a year has passed."""
    now = [datetime.now(UTC)]
    recording = settings.recording.model_copy(update={"purge_interval_s": 0.05})
    fast = settings.model_copy(update={"recording": recording})
    client = await aiohttp_client(make_app(fast, clock=lambda: now[0]))
    store = client.app[STORE]
    await store.add_device("p", "b" * 64, now[0])
    alarm_id = await _closed_alarm_with_words(store, "p", now[0])
    await asyncio.sleep(0.2)
    alarm = await store.get_alarm(alarm_id)
    assert alarm is not None and _texts(alarm.timeline)["transcribed"] != REMOVED
    now[0] += timedelta(days=366)

    async def words() -> str | None:
        found = await store.get_alarm(alarm_id)
        assert found is not None
        return _texts(found.timeline)["transcribed"]

    async with asyncio.timeout(5):
        while await words() != REMOVED:  # noqa: ASYNC110 (the store has no change event)
            await asyncio.sleep(0.05)


async def _agent_with_an_alarm(api: Api) -> str:
    """Ann, tenant north, with a phone; an alarm of hers with position, words, recording."""
    app = api.client.app
    store = app[STORE]
    await store.add_tenant("north", T0)
    ann = Agent("ann", "Ann Example", "north", phone="+33612345678", safety_notes="asthma")
    await store.add_agent(ann, T0)
    secrets = DeviceSecrets.issue("ann-phone", "gw")
    await store.add_agent_device("ann-phone", "ann", secrets, T0, label="Ann's phone")
    alarm_id = await _closed_alarm_with_words(store, "ann-phone", datetime.now(UTC))
    folder = app[SETTINGS].gateway.data_dir / "recordings" / alarm_id
    folder.mkdir(parents=True)
    (folder / "20261204T100000000000Z.wav").write_bytes(b"RIFF")
    return alarm_id


async def test_admin_exports_then_erases_one_agent_and_the_alarm_stays_anonymous(
    api: Api,
) -> None:
    alarm_id = await _agent_with_an_alarm(api)
    admin = api.staff(Role.ADMIN)
    exported = await api.client.get("/api/v1/agents/ann/personal-data", headers=admin)
    assert exported.status == 200
    data = await exported.json()
    assert data["agent"]["name"] == "Ann Example" and data["agent"]["phone"] == "+33612345678"
    assert [d["id"] for d in data["devices"]] == ["ann-phone"]
    assert "token_hash" not in data["devices"][0] and "sip_ha1" not in data["devices"][0]
    [alarm] = data["alarms"]
    assert alarm["id"] == alarm_id and alarm["location"]["lat"] == 48.8
    assert "help me I fell" in json.dumps(alarm["timeline"])
    assert data["recordings"] == {alarm_id: ["20261204T100000000000Z.wav"]}

    erased = await api.client.post("/api/v1/agents/ann/erase", headers=admin)
    assert erased.status == 200
    assert await erased.json() == {
        "agent_id": "ann",
        "alarms": [alarm_id],
        "recordings_removed": [f"{alarm_id}/20261204T100000000000Z.wav"],
    }
    after = await (await api.client.get("/api/v1/agents/ann/personal-data", headers=admin)).json()
    text = json.dumps(after)
    for personal in ("Ann Example", "+33612345678", "asthma", "Ann's phone", "help", "48.8"):
        assert personal not in text, personal
    assert after["agent"]["name"] == REMOVED and after["recordings"] == {}
    [kept] = after["alarms"]
    assert (kept["type"], kept["state"], kept["outcome"]) == ("sos", "closed", "false_alarm")
    assert kept["location"] is None and len(kept["timeline"]) == 7
    outbox = await api.client.app[STORE].outbox_after(0)
    assert all("lat" not in e.payload for e in outbox if e.alarm_id == alarm_id)
    again = await api.client.post("/api/v1/agents/ann/erase", headers=admin)
    assert again.status == 200 and (await again.json())["recordings_removed"] == []
    actions = [e.action for e in await api.client.app[STORE].audit_entries()]
    assert actions.count("privacy.export") == 2 and actions.count("privacy.erase") == 2
    for path in ("/api/v1/agents/nobody/personal-data", "/api/v1/agents/nobody/erase"):
        method = api.client.get if path.endswith("data") else api.client.post
        assert (await method(path, headers=admin)).status == 404
    supervisor = api.staff(Role.SUPERVISOR)
    refused = await api.client.get("/api/v1/agents/ann/personal-data", headers=supervisor)
    assert refused.status == 403


def test_cli_exports_and_erases_an_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "gw.toml"
    cfg.write_text(f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n')

    async def seed() -> None:
        store = await _open_store(load_settings(cfg))
        try:
            await store.add_tenant("north", T0)
            await store.add_agent(Agent("ann", "Ann Example", "north", phone="+3361"), T0)
            secrets = DeviceSecrets.issue("ann-phone", "gw")
            await store.add_agent_device("ann-phone", "ann", secrets, T0)
            await _closed_alarm_with_words(store, "ann-phone", T0)
        finally:
            await store.close()

    asyncio.run(seed())
    assert main(["agent", "export", "ann", "--config", str(cfg)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["agent"]["name"] == "Ann Example" and len(exported["alarms"]) == 1
    assert main(["agent", "erase", "ann", "--config", str(cfg)]) == 0
    assert "1 alarms kept anonymous, 0 recordings deleted" in capsys.readouterr().err
    assert main(["agent", "export", "ann", "--config", str(cfg)]) == 0
    assert "Ann Example" not in capsys.readouterr().out
    assert main(["agent", "erase", "nobody", "--config", str(cfg)]) == 1
    assert "no agent 'nobody'" in capsys.readouterr().err
    assert main(["agent", "export", "nobody", "--config", str(cfg)]) == 1
