"""Fuzz a real SIP worker with malformed requests over raw UDP.

Batches of mutated INVITEs and OPTIONS (headers dropped, doubled, garbled or
overlong, broken SDP, bit flips, truncation, garbage) go to one pjsua2 worker
run by the real supervisor. After each batch a clean OPTIONS must get 200 and
a clean INVITE its final answer (403 from the handler, which refuses every
call), from the same worker process: a restart or silence is a finding.

    .venv/bin/python -m bench.fuzz.sip --minutes 10
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path

from bench.fuzz.common import arguments
from bench.fuzz.sipwire import Probe, invite, mutate, request
from gateway.sip.config import SipConfig
from gateway.sip.events import CallDecision, CallEvent, Reject, WorkerDied
from gateway.sip.messages import IncomingCall
from gateway.sip.supervisor import SipSupervisor

BATCH = 200
PAUSE = 0.04
"""Seconds between messages: about 12 new calls a second, under the rate at which pjsua2
runs out of sockets (a flood, tests/sip/test_flood.py): this run is about content."""


class Refuser:
    """The main process's side: refuses every call, counts what reached it."""

    def __init__(self) -> None:
        self.offered = 0
        self.deaths: list[WorkerDied] = []

    async def on_incoming(self, call: IncomingCall) -> CallDecision:
        self.offered += 1
        return Reject(403, "Forbidden")

    def on_call_event(self, event: CallEvent) -> None:
        if isinstance(event, WorkerDied):
            self.deaths.append(event)

    def on_audio(self, call_id: str, pcm: bytes, rate: int) -> None:
        """No call is ever answered."""


def batch(rng: random.Random, probe: Probe, sent: list[bytes], count: int = BATCH) -> None:
    """Send ``count`` mutated requests, ACKing what needs it; ``sent`` records them."""
    target, local = probe.target, probe.local
    for _ in range(count):
        method = rng.choice(("INVITE", "INVITE", "INVITE", "OPTIONS", "BYE", "CANCEL"))
        base = invite(target, local) if method == "INVITE" else request(method, target, local)
        data = mutate(rng, base)
        sent.append(data)
        probe.send(data)
        probe.drain()
        time.sleep(PAUSE)


def healthy(probe: Probe) -> str | None:
    """None when the worker answers an OPTIONS with 200 and an INVITE with 403."""
    probe.drain()
    options = probe.ask(request("OPTIONS", probe.target, probe.local))
    if options != 200:
        return f"OPTIONS answered {options}"
    answer = probe.ask(invite(probe.target, probe.local))
    if answer != 403:
        return f"INVITE answered {answer}"
    return None


async def one_worker() -> tuple[SipSupervisor, Refuser]:
    """One real worker under the real supervisor, on free ports, refusing every call."""
    handler = Refuser()
    config = SipConfig(workers=1, base_port=0, rtp_base_port=random.randrange(20000, 30000, 2),
                       rtp_ports_per_worker=40)  # fmt: skip
    supervisor = SipSupervisor(config, handler)
    await supervisor.start()
    return supervisor, handler


async def run(minutes: float, seed: int) -> dict[str, object]:
    supervisor, handler = await one_worker()
    pid = supervisor.worker_pid(0)
    probe = Probe.open(("127.0.0.1", supervisor.worker_ports()[0]))
    rng = random.Random(seed)
    findings: list[dict[str, object]] = []
    batches = messages = 0
    deadline = time.monotonic() + minutes * 60
    try:
        while time.monotonic() < deadline:
            sent: list[bytes] = []
            await asyncio.to_thread(batch, rng, probe, sent)
            batches += 1
            messages += len(sent)
            problem = await asyncio.to_thread(healthy, probe)
            if supervisor.worker_pid(0) != pid or handler.deaths:
                problem = f"the worker died ({problem or 'then answered again'})"
            if problem is not None:
                findings.append({"batch": batches, "problem": problem,
                                 "inputs_hex": [m.hex() for m in sent]})  # fmt: skip
                print(f"FINDING batch {batches}: {problem}", file=sys.stderr)
                handler.deaths.clear()
                async with asyncio.timeout(120):  # a dead worker comes back after its back-off
                    while not supervisor.worker_ports()[0]:  # noqa: ASYNC110
                        await asyncio.sleep(0.2)
                pid = supervisor.worker_pid(0)
                probe.close()
                probe = Probe.open(("127.0.0.1", supervisor.worker_ports()[0]))
    finally:
        probe.close()
        codes = await supervisor.stop()
    return {
        "parser": "sip",
        "minutes": minutes,
        "seed": seed,
        "runs": messages,
        "batches": batches,
        "offered_to_handler": handler.offered,
        "worker_deaths": sum("died" in str(f["problem"]) for f in findings),
        "unhandled": len(findings),
        "clean_exit": all(code == 0 for code in codes.values()),
        "findings": findings,
    }


def main() -> None:
    args = arguments(__doc__ or "")
    summary = asyncio.run(run(args.minutes, seed=random.randrange(1 << 32)))
    text = json.dumps(summary, indent=2)
    print(text)
    report: Path | None = args.report
    if report is not None:
        report.write_text(text + "\n")
    sys.exit(1 if summary["unhandled"] else 0)


if __name__ == "__main__":
    main()
