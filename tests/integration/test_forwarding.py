"""Alarms reach the monitoring centre's real DC-09 receiver (pysiaalarm) through a
real gateway process, whatever happens to the receiver or the gateway."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import eventually, free_port
from tests.dc09.test_sender import SiaReceiver
from tests.integration.gateway_process import GatewayProcess

pytestmark = pytest.mark.integration


def dc09_config(gateway: GatewayProcess, receiver_port: int) -> None:
    gateway.config.write_text(
        gateway.config.read_text()
        + f"""
[dc09]
account = "1234"
answer_timeout_s = 2.0
connect_timeout_s = 1.0
attempts_per_receiver = 1
retry_delay_s = 0.2
poll_interval_s = 5.0

[[dc09.receivers]]
host = "127.0.0.1"
port = {receiver_port}
receiver = "1"
line = "1"
"""
    )


@pytest.fixture
def gateway(tmp_path: Path, database_url: str) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path, database_url=database_url)
    yield process
    process.stop()


def alarm_of(event: Any) -> str:
    """The alarm id, from the review link the gateway sends in xdata V."""
    links = [x.value for x in event.extended_data or [] if x.identifier == "V"]
    return str(links[0].rsplit("/", 1)[-1])


def by_alarm(events: list[Any]) -> dict[str, list[str]]:
    codes: dict[str, list[str]] = defaultdict(list)
    for event in events:
        codes[alarm_of(event)].append(event.code)
    return codes


def raise_and_cancel(gateway: GatewayProcess, token: str, count: int, tag: str) -> list[str]:
    """``count`` alarms; every third one is then cancelled by its agent."""
    auth = {"Authorization": f"Bearer {token}"}
    ids = []
    for n in range(count):
        status, body = gateway.request(
            "POST",
            "/api/v1/alarms",
            {
                "type": "sos",
                "occurred_at": "2026-12-04T08:00:00Z",
                "location": {"lat": 45.76, "lon": 4.83},
            },
            {**auth, "Idempotency-Key": f"{tag}-{n}"},
        )
        assert status == 201, body
        ids.append(body["id"])
        if n % 3 == 0:
            status, _ = gateway.request("POST", f"/api/v1/alarms/{body['id']}/cancel", None, auth)
            assert status == 200
    return ids


def expected(ids: list[str]) -> dict[str, list[str]]:
    return {alarm_id: ["PA", "OC"] if n % 3 == 0 else ["PA"] for n, alarm_id in enumerate(ids)}


async def test_receiver_down_30_s_while_100_alarms_arrive(gateway: GatewayProcess) -> None:
    port = free_port()
    dc09_config(gateway, port)
    token = gateway.cli("device", "add", "phone-1")
    gateway.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    ids = await asyncio.to_thread(raise_and_cancel, gateway, token, 100, "down")
    await asyncio.sleep(max(0.0, 30 - (loop.time() - started)))  # the receiver stays down 30 s
    receiver = SiaReceiver(port)
    await receiver.start()
    try:
        await eventually(lambda: len(receiver.events) >= 134, within=90)
    finally:
        await receiver.stop()
    got = by_alarm(receiver.events)
    assert got == expected(ids)  # all delivered, in order per alarm, none twice
    assert {e.account for e in receiver.events} == {"1234"}


async def test_gateway_killed_during_delivery_loses_nothing(gateway: GatewayProcess) -> None:
    receiver = SiaReceiver(free_port())
    await receiver.start()
    try:
        dc09_config(gateway, receiver.port)
        token = gateway.cli("device", "add", "phone-1")
        gateway.start()
        ids = await asyncio.to_thread(raise_and_cancel, gateway, token, 60, "kill")
        await eventually(lambda: len(receiver.events) >= 5, within=30)
        gateway.kill()  # mid-delivery: acknowledged events may be sent again, none lost
        delivered_before = len(receiver.events)
        gateway.start()
        await eventually(lambda: len(by_alarm(receiver.events)) == len(ids), within=60)
        await eventually(
            lambda: all(
                len(set(c)) == len(expected(ids)[a]) for a, c in by_alarm(receiver.events).items()
            ),
            within=60,
        )
    finally:
        await receiver.stop()
    got = by_alarm(receiver.events)
    for alarm_id, codes in expected(ids).items():
        # at least once, in order: drop re-sent duplicates and the order must remain
        deduplicated = [c for i, c in enumerate(got[alarm_id]) if c not in got[alarm_id][:i]]
        assert deduplicated == codes
    assert delivered_before < 80  # the kill really happened during delivery


async def test_a_pilot_tenants_alarms_are_handled_but_never_forwarded(
    gateway: GatewayProcess,
) -> None:
    receiver = SiaReceiver(free_port())
    await receiver.start()
    try:
        dc09_config(gateway, receiver.port)
        gateway.cli("tenant", "add", "trial-site", "--pilot")
        pilot = gateway.cli("device", "add", "pilot-phone", "--tenant", "trial-site")
        regular = gateway.cli("device", "add", "regular-phone")
        gateway.cli(
            "user",
            "add",
            "sup",
            "--role",
            "supervisor",
            "--password-stdin",
            stdin="a long password\n",
        )
        gateway.start()
        alarm = {"type": "sos", "occurred_at": "2026-12-04T08:00:00Z"}
        ids = {}
        for name, token in (("pilot", pilot), ("regular", regular)):
            status, body = gateway.request(
                "POST", "/api/v1/alarms", alarm, {"Authorization": f"Bearer {token}"}
            )
            assert status == 201
            ids[name] = body["id"]
        await eventually(lambda: len(receiver.events) >= 1, within=20)
        await asyncio.sleep(2)  # the pilot's event would have gone out by now
    finally:
        await receiver.stop()
    assert [alarm_of(e) for e in receiver.events] == [ids["regular"]]
    _, session = gateway.request(
        "POST", "/api/v1/sessions", {"name": "sup", "password": "a long password"}
    )
    staff = {"Authorization": f"Bearer {session['token']}"}
    _, stored = gateway.request("GET", f"/api/v1/alarms/{ids['pilot']}", headers=staff)
    assert stored["pilot"] is True
    notes = [e["data"].get("text", "") for e in stored["timeline"]]
    assert any("not forwarded to the monitoring centre's receiver" in n for n in notes), notes


BACKUP_PLAN = """timezone: Europe/Paris
operator_groups:
  duty: {members: [ana], strategy: all_at_once}
backup_centres:
  partner-centre: {dc09_receiver: partner}
routes:
  - name: everything
    steps:
      - {offer: duty, timeout: 1}
      - {backup: partner-centre, timeout: 30}
"""


async def test_an_alarm_nobody_accepts_is_handed_to_the_backup_centre(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "plan.yaml").write_text(BACKUP_PLAN)
    backup = SiaReceiver(free_port(), account="5678")
    await backup.start()
    try:
        gateway.config.write_text(
            gateway.config.read_text()
            + f'[dialplan]\ndirectory = "{plans}"\n'
            + '[dc09_backups.partner]\naccount = "5678"\npoll_interval_s = 30.0\n'
            + f'[[dc09_backups.partner.receivers]]\nhost = "127.0.0.1"\nport = {backup.port}\n'
        )
        token = gateway.cli("device", "add", "phone-1")
        gateway.cli(
            "user",
            "add",
            "sup",
            "--role",
            "supervisor",
            "--password-stdin",
            stdin="a long password\n",
        )
        gateway.start()
        status, body = gateway.request(
            "POST", "/api/v1/alarms", {"type": "fall", "occurred_at": "2026-12-04T08:00:00Z"},
            {"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert status == 201
        await eventually(lambda: len(backup.events) == 1, within=20)
    finally:
        await backup.stop()
    [handed] = backup.events
    assert (handed.code, handed.account, alarm_of(handed)) == ("QA", "5678", body["id"])
    _, session = gateway.request(
        "POST", "/api/v1/sessions", {"name": "sup", "password": "a long password"}
    )
    staff = {"Authorization": f"Bearer {session['token']}"}
    texts: list[str] = []

    def handed_over() -> bool:
        _, stored = gateway.request("GET", f"/api/v1/alarms/{body['id']}", headers=staff)
        texts[:] = [str(e["data"].get("text", "")) for e in stored["timeline"]]
        return any("taken by backup centre 'partner-centre'" in t for t in texts)

    await eventually(handed_over, within=10)
