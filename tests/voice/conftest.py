"""A real gateway app with real SIP workers on free ports; sipp and test speech from tests/sip."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from gateway.alarm.machine import TimelineEntry
from gateway.alarm.types import AlarmType
from gateway.api.keys import BUS, STORE, VOICE
from gateway.api.schemas import alarm_message
from gateway.app import make_app
from gateway.auth import token_hash
from gateway.config.schema import DialplanSection, Settings, SpeechSection, VoiceSection
from gateway.sip.config import SipConfig
from gateway.store.records import NewAlarm
from gateway.store.store import Store
from tests.conftest import AiohttpClient, Client, eventually
from tests.sip.conftest import (
    TAP_RATE,
    RunSipp,
    Sipp,
    Speech,
    free_udp_port,
    probe,
    rtp_base,
    sipp,
    speech,
)

__all__ = ["probe", "sipp", "speech"]  # fixtures shared with tests/sip
PHONE = "sip:phone-1@127.0.0.1"
"""sipp's first phone calls from sip:phone-1@127.0.0.1:<its port>."""

StartGateway = Callable[..., Awaitable[Client]]


@pytest.fixture
def voice_gateway(settings: Settings, aiohttp_client: AiohttpClient) -> StartGateway:
    """Start the app with one SIP worker; phone-1 registered unless ``phone=False``."""

    async def start(
        *,
        phone: bool = True,
        speech: bool = False,
        media_timeout: float = 5.0,
        dialplans: Path | None = None,
        language: str | None = None,
        trusted_edges: tuple[str, ...] = (),
    ) -> Client:
        configured = settings.model_copy(
            update={
                "voice": VoiceSection(enabled=True),
                "dialplan": DialplanSection(
                    enabled=dialplans is not None, directory=dialplans or Path()
                ),
                "speech": SpeechSection(enabled=speech, language="en"),
                "sip": SipConfig(
                    workers=1,
                    base_port=0,
                    rtp_base_port=rtp_base(),
                    rtp_ports_per_worker=40,
                    tap_rate=TAP_RATE,
                    media_timeout=media_timeout,
                    trusted_edges=trusted_edges,
                ),
            }
        )
        client = await aiohttp_client(make_app(configured))
        if phone:
            await client.app[STORE].add_device(
                "phone-1",
                token_hash("phone-1"),
                datetime.now(UTC),
                sip_uri=PHONE,
                language=language,
            )
        return client

    return start


def sip_target(app: web.Application) -> str:
    """host:port of the app's first SIP worker."""
    supervisor = app[VOICE].supervisor
    assert supervisor is not None
    return f"127.0.0.1:{supervisor.worker_ports()[0]}"


async def called_back(store: Store, answering: Sipp, alarm_id: str) -> tuple[TimelineEntry, ...]:
    """Wait for the callback INVITE (auto-answer headers checked) at the phone listening in
    ``answering`` and for its ``voice_connected``; returns the alarm's timeline, whose
    ``voice_lost`` precedes the last ``voice_connected``."""
    await eventually(lambda: "INVITE sip:" in answering.log(), within=30)
    invite = answering.log().split("INVITE sip:", 1)[1].split("\n----", 1)[0]
    assert "Answer-Mode: Auto" in invite
    assert f"X-Alarm-Id: {alarm_id}" in invite
    timeline: tuple[TimelineEntry, ...] = ()
    async with asyncio.timeout(10):
        while [e.kind for e in timeline].count("voice_connected") < 2:  # the call, the callback
            await asyncio.sleep(0.1)
            stored = await store.get_alarm(alarm_id)
            assert stored is not None
            timeline = stored.timeline
    kinds = [e.kind for e in timeline]
    assert kinds.index("voice_lost") < len(kinds) - 1 - kinds[::-1].index("voice_connected")
    return timeline


async def alarm_call(app: web.Application, sipp: RunSipp, speech: Speech) -> tuple[str, int, Sipp]:
    """A fall alarm raised and published as the API does (the dialplan takes it up), its
    phone calling and held in the call; returns the alarm id, the phone's SIP port (where a
    callback reaches it) and its sipp."""
    store, voice = app[STORE], app[VOICE]
    now = datetime.now(UTC)
    alarm, _ = await store.raise_alarm(
        NewAlarm("phone-1", AlarmType.FALL, now, None, None, "http"), now
    )
    app[BUS].publish(alarm_message(alarm))
    phone_port = free_udp_port()
    caller = await sipp(
        "uac_alarm.xml", sip_target(app), port=phone_port,
        keys={"alarm_id": alarm.id, "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": "30000"},
    )  # fmt: skip
    await eventually(lambda: voice.phone_call(alarm.id) is not None, within=10)
    return alarm.id, phone_port, caller
