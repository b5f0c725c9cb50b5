"""`alarm-gateway demo` runs its main job: console up, credentials work, the simulated
phone's alarm arrives with its voice call attached."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.gateway_process import GatewayProcess
from tests.sip.conftest import rtp_base

pytestmark = pytest.mark.integration


def test_demo_serves_the_console_and_a_speaking_phone_alarm(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, voice=True)
    gateway.config.write_text(
        f'[gateway]\ndata_dir = "{tmp_path / "data"}"\n[http]\nport = {gateway.port}\n'
        f"[sip]\nbase_port = 0\nrtp_base_port = {rtp_base()}\n"
    )
    out = (tmp_path / "demo.out").open("w")
    demo = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "demo", "--config", str(gateway.config)],
        stdout=out,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while "operator:" not in text and time.monotonic() < deadline:
            time.sleep(0.2)
            text = (tmp_path / "demo.out").read_text()
        match = re.search(r"operator:\s+(\S+) / (\S+)", text)
        assert match, text
        assert f"console:    {gateway.url}/console" in text
        status, session = gateway.request(
            "POST", "/api/v1/sessions", {"name": match[1], "password": match[2]}
        )
        assert status == 201
        staff = {"Authorization": f"Bearer {session['token']}"}
        kinds: list[str] = []
        while "voice_connected" not in kinds and time.monotonic() < deadline:
            time.sleep(0.5)
            _, listing = gateway.request("GET", "/api/v1/alarms", headers=staff)
            if listing["alarms"]:
                alarm_id = listing["alarms"][0]["id"]
                _, alarm = gateway.request("GET", f"/api/v1/alarms/{alarm_id}", headers=staff)
                kinds = [e["kind"] for e in alarm["timeline"]]
        assert "voice_connected" in kinds
        assert alarm["type"] == "fall"
        with urllib.request.urlopen(f"{gateway.url}/console", timeout=10) as page:
            assert page.status == 200
    finally:
        demo.terminate()
        demo.wait(timeout=30)
        out.close()
    assert demo.returncode == 0
