"""A SIP INVITE flood from one source at one worker.

pjsua2 builds each INVITE's media sockets before the worker sees the call, and
its socket table (64 entries, freed 0.5 s after use) runs out at a few dozen new
calls per second: pjlib then aborts the worker. The gateway's part is to contain
that: the supervisor restarts the worker, the other workers keep answering phones,
and the flooded one answers again once the flood stops. Stopping the flood itself
belongs to the SIP edge in front (Kamailio ``pike``), see docs/reliability.md.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.fuzz.sipwire import Probe, flood, invite, request
from gateway.sip.events import Answer, CallDecision, Reject
from gateway.sip.messages import IncomingCall
from tests.sip.conftest import FakeHandler, RunSipp, Speech, StartSupervisor

pytestmark = pytest.mark.integration


def legit_only(call: IncomingCall) -> CallDecision:
    return Answer("LEGIT") if call.alarm_id == "LEGIT" else Reject(403, "Forbidden")


async def test_invite_flood_at_one_worker_leaves_the_others_answering_and_it_comes_back(
    start_supervisor: StartSupervisor, sipp: RunSipp, speech: Speech
) -> None:
    supervisor, handler = await start_supervisor(
        FakeHandler(decide=legit_only), workers=2, restart_backoff=0.2
    )
    flooded, spared = supervisor.worker_ports()
    flooding = asyncio.create_task(
        asyncio.to_thread(flood, ("127.0.0.1", flooded), 4.0, 300, "127.0.0.2")
    )
    await asyncio.sleep(1.0)  # the flood is on
    phone = await sipp(
        "uac_alarm.xml", f"127.0.0.1:{spared}", keys={"alarm_id": "LEGIT", "codecs": "0"},
        fill={"AUDIO": str(speech.ulaw), "HOLD_MS": "500"},
    )  # fmt: skip
    assert await phone.wait() == 0, "the legitimate phone was not answered during the flood"
    assert [c.alarm_id for c in handler.incoming if c.alarm_id == "LEGIT"] == ["LEGIT"]
    sent, _ = await flooding
    assert sent > 600

    async def answers_again() -> tuple[int | None, int | None]:
        port = supervisor.worker_ports()[0]
        if not port:
            return None, None  # restarting
        probe = Probe.open(("127.0.0.1", port))
        try:
            options = await asyncio.to_thread(
                probe.ask, request("OPTIONS", probe.target, probe.local)
            )
            call = await asyncio.to_thread(
                probe.ask, invite(probe.target, probe.local, headers=(("X-Alarm-Id", "NOPE"),))
            )
            return options, call
        finally:
            probe.close()

    async with asyncio.timeout(30):
        while await answers_again() != (200, 403):  # noqa: ASYNC110 (OPTIONS, INVITE decided)
            await asyncio.sleep(0.5)
