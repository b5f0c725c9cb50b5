"""Dialplans reload without restart (SIGHUP); a broken file is refused and the running
plan stays in force."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.integration.gateway_process import GatewayProcess

pytestmark = pytest.mark.integration

PLAN = """timezone: Europe/Paris
operator_groups:
  {group}: {{members: [ana], strategy: all_at_once}}
routes:
  - name: everything
    steps:
      - {{offer: {group}, timeout: 60}}
"""


def offered_to(gateway: GatewayProcess, token: str, staff: dict[str, str], n: int) -> str:
    status, body = gateway.request(
        "POST", "/api/v1/alarms", {"type": "sos", "occurred_at": "2026-12-04T08:00:00Z"},
        {"Authorization": f"Bearer {token}", "Idempotency-Key": f"k{n}"},
    )  # fmt: skip
    assert status == 201
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, alarm = gateway.request("GET", f"/api/v1/alarms/{body['id']}", headers=staff)
        groups = [e["data"]["group"] for e in alarm["timeline"] if e["kind"] == "offered"]
        if groups:
            return str(groups[0])
        time.sleep(0.1)
    raise AssertionError("the alarm was never offered")


def test_sighup_reloads_and_a_broken_plan_keeps_the_running_one(
    tmp_path: Path, database_url: str
) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "plan.yaml").write_text(PLAN.format(group="day-team"))
    gateway = GatewayProcess(tmp_path, database_url=database_url)
    gateway.config.write_text(gateway.config.read_text() + f'[dialplan]\ndirectory = "{plans}"\n')
    token = gateway.cli("device", "add", "phone-1")
    gateway.cli(
        "user", "add", "sup", "--role", "supervisor", "--password-stdin", stdin="a long password\n"
    )
    gateway.start()
    try:
        _, session = gateway.request(
            "POST", "/api/v1/sessions", {"name": "sup", "password": "a long password"}
        )
        staff = {"Authorization": f"Bearer {session['token']}"}
        assert offered_to(gateway, token, staff, 1) == "day-team"

        (plans / "plan.yaml").write_text("routes:\n  - name: x\n    steps: [{offer: nobody}]\n")
        assert gateway.process is not None
        gateway.process.send_signal(signal.SIGHUP)
        time.sleep(1)
        log = (tmp_path / "gateway.log").read_text()
        assert "dialplan reload refused, the running plan stays" in log
        assert "plan.yaml" in log  # the file named, with its line
        assert offered_to(gateway, token, staff, 2) == "day-team"

        (plans / "plan.yaml").write_text(PLAN.format(group="night-team"))
        gateway.process.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert offered_to(gateway, token, staff, 3) == "night-team"
    finally:
        gateway.stop()
