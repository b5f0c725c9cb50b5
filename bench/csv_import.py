"""Benchmark: a 10,000-row CSV of agents and devices through ``POST /api/v1/imports/agents``.

The gateway's app runs in this process on a loopback port, with a fresh SQLite
database (``synchronous = FULL``, the default). Ten tenants hold 1,000
licences each, so the file uses every licence and the licence check counts
them all. Timed, each from the request to the answer: a dry run
(``mode=validate``), the import (every row checked, then one transaction), and
the same file again (nothing changes, no new secrets).

    .venv/bin/python -m bench.csv_import --rows 10000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bench.common import machine
from gateway.api.keys import STORE
from gateway.app import make_app, utc_now
from gateway.auth import hash_password
from gateway.config.schema import (
    DialplanSection,
    GatewaySection,
    Settings,
    SpeechSection,
    VoiceSection,
)
from gateway.store.records import Role

TENANTS = 10
PASSWORD = "bench-password"


def sheet(rows: int) -> str:
    """``rows`` agents, one device each, spread over the tenants, sites and groups."""
    out = io.StringIO()
    out.write(
        "agent_id,name,tenant,site,agent_group,language,phone,safety_notes,device_id,sip_uri\n"
    )
    for i in range(rows):
        notes = f'"asthma; inhaler in the left pocket, agent {i}"' if i % 10 == 0 else ""
        out.write(
            f"agent-{i:05d},Agent {i},dr-{i % TENANTS:02d},site-{i % 37},team-{i % 11},"
            f"{'fr' if i % 3 else 'en'},+336{i:08d},{notes},phone-{i:05d},"
            f"sip:phone-{i:05d}@pbx.example\n"
        )
    return out.getvalue()


async def run(rows: int, root: Path) -> dict[str, Any]:
    settings = Settings(
        gateway=GatewaySection(data_dir=root / "data"),
        voice=VoiceSection(enabled=False),
        speech=SpeechSection(enabled=False),
        dialplan=DialplanSection(enabled=False),
    )
    client = TestClient(TestServer(make_app(settings)))
    await client.start_server()
    try:
        store = client.app[STORE]
        await store.add_user("bench-admin", Role.ADMIN, hash_password(PASSWORD), utc_now())
        login = await client.post(
            "/api/v1/sessions", json={"name": "bench-admin", "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
        per_tenant = -(-rows // TENANTS)
        for t in range(TENANTS):
            body = {"name": f"dr-{t:02d}", "licences": per_tenant}
            assert (await client.post("/api/v1/tenants", json=body, headers=headers)).status == 201
        data = sheet(rows).encode()
        timings: dict[str, float] = {}
        answers: dict[str, Any] = {}
        for step, mode in (("validate", "validate"), ("import", "all"), ("reimport", "all")):
            started = time.perf_counter()
            answer = await client.post(
                "/api/v1/imports/agents",
                params={"mode": mode},
                data=data,
                headers={**headers, "Content-Type": "text/csv"},
            )
            answers[step] = await answer.json()
            timings[f"{step}_s"] = round(time.perf_counter() - started, 2)
            assert answer.status == 200, answers[step]["message"]
        assert answers["import"]["devices"]["created"] == rows
        assert answers["reimport"]["devices"]["unchanged"] == rows
        assert answers["reimport"]["credentials"] == []
    finally:
        await client.close()
    return {
        "rows": rows,
        "bytes": len(data),
        **timings,
        "imported": answers["import"]["message"],
        "reimported": answers["reimport"]["message"],
        "machine": machine(),
        "load_average": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        print(json.dumps(asyncio.run(run(args.rows, Path(root))), indent=2))


if __name__ == "__main__":
    main()
