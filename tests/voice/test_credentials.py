"""Phones with SIP credentials prove them to the SIP worker (digest, RFC 3261 22)."""

from __future__ import annotations

import pytest

from gateway.alarm.types import AlarmType
from gateway.api.keys import STORE
from gateway.sip.digest import ha1
from tests.sip.conftest import RunSipp, SipProbe
from tests.voice.conftest import StartGateway, sip_target

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("password", "answered"), [("correct horse", True), ("wrong", False)])
async def test_a_credentialed_phone_is_challenged_and_only_its_password_opens_the_call(
    voice_gateway: StartGateway, sipp: RunSipp, password: str, answered: bool
) -> None:
    app = (await voice_gateway()).app
    store = app[STORE]
    await store.set_sip_credentials(
        "phone-1", "agent-7", ha1("agent-7", "alarm-gateway", "correct horse")
    )
    phone = await sipp(
        "uac_credentials.xml",
        sip_target(app),
        fill={"HOLD_MS": "500"},
        options=("-au", "agent-7", "-ap", password),
    )
    assert await phone.wait() == 0, phone.log()
    log = phone.log()
    assert "SIP/2.0 401 Unauthorized" in log
    assert 'WWW-Authenticate: Digest realm="alarm-gateway"' in log
    alarms = await store.list_alarms()
    if answered:
        [alarm] = alarms
        assert (alarm.device_id, alarm.alarm_type) == ("phone-1", AlarmType.SOS)
    else:
        assert "SIP/2.0 403 Wrong SIP credentials" in log
        assert alarms == []


@pytest.mark.parametrize(("trusted", "status"), [((), "403 Forbidden"), (("127.0.0.1",), "200 OK")])
async def test_the_edge_header_names_the_device_only_from_a_trusted_edge(
    voice_gateway: StartGateway, probe: SipProbe, trusted: tuple[str, ...], status: str
) -> None:
    app = (await voice_gateway(trusted_edges=trusted)).app
    await app[STORE].set_sip_credentials("phone-1", "agent-7", "0" * 32)
    port = int(sip_target(app).rsplit(":", 1)[1])
    invite = probe.invite(port, extra="X-Authenticated-Device: agent-7\r\n")
    assert f"SIP/2.0 {status}" in await probe.exchange(port, invite)
