"""An alarm acknowledged with 201 survives kill -9 of the gateway."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gateway_process import GatewayProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway(tmp_path: Path, database_url: str) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path, database_url=database_url)
    yield process
    process.stop()


def test_alarm_survives_kill_9_right_after_201(gateway: GatewayProcess) -> None:
    token = gateway.cli("device", "add", "phone-7", "--label", "Agent 7")
    gateway.cli(
        "user", "add", "sup", "--role", "supervisor", "--password-stdin", stdin="a long password\n"
    )
    gateway.start()
    alarm = {
        "type": "no_movement",
        "occurred_at": "2026-12-04T08:00:00Z",
        "location": {"lat": 43.6, "lon": 1.44, "accuracy_m": 30},
    }
    ids = []
    for n in range(5):
        status, body = gateway.request(
            "POST",
            "/api/v1/alarms",
            alarm,
            {"Authorization": f"Bearer {token}", "Idempotency-Key": f"k{n}"},
        )
        assert status == 201, body
        ids.append(body["id"])
    gateway.kill()  # immediately after the last 201

    gateway.start()
    status, session = gateway.request(
        "POST", "/api/v1/sessions", {"name": "sup", "password": "a long password"}
    )
    assert status == 201
    staff = {"Authorization": f"Bearer {session['token']}"}
    for alarm_id in ids:
        status, stored = gateway.request("GET", f"/api/v1/alarms/{alarm_id}", headers=staff)
        assert status == 200
        assert stored["type"] == "no_movement"
        assert stored["location"]["lat"] == 43.6
        assert stored["timeline"][0]["kind"] == "raised"
    # the phone retries after the crash: same key, same alarm, nothing duplicated
    status, again = gateway.request(
        "POST",
        "/api/v1/alarms",
        alarm,
        {"Authorization": f"Bearer {token}", "Idempotency-Key": "k4"},
    )
    assert status == 201
    assert again["id"] == ids[-1]
    status, listing = gateway.request("GET", "/api/v1/alarms", headers=staff)
    assert len(listing["alarms"]) == 5


def test_bad_config_is_refused_with_line(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path)
    gateway.config.write_text("[http]\nport = 'x'\n")
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "--config", str(gateway.config)],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{gateway.config}:2 http->port: Input should be a valid integer" in done.stderr.decode()
