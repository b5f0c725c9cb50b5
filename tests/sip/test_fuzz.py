"""A short fuzz run of a real SIP worker over raw UDP (the long one: bench/fuzz/sip.py):
malformed requests neither kill it nor stop it answering OPTIONS and deciding INVITEs."""

from __future__ import annotations

import asyncio
import random

import pytest

from bench.fuzz.sip import Refuser, batch, healthy
from bench.fuzz.sipwire import Probe
from tests.sip.conftest import StartSupervisor

pytestmark = pytest.mark.integration


async def test_malformed_requests_leave_the_worker_up_and_answering(
    start_supervisor: StartSupervisor,
) -> None:
    refuser = Refuser()
    supervisor, _ = await start_supervisor(refuser)
    pid = supervisor.worker_pid(0)
    probe = Probe.open(("127.0.0.1", supervisor.worker_ports()[0]))
    rng = random.Random(20261204)  # the same mutants each run
    try:
        for _ in range(2):
            sent: list[bytes] = []
            await asyncio.to_thread(batch, rng, probe, sent, 60)
            assert await asyncio.to_thread(healthy, probe) is None
    finally:
        probe.close()
    assert supervisor.worker_pid(0) == pid
    assert refuser.deaths == []
    assert refuser.offered > 2  # INVITEs that pjsua2 accepted reached the decision
